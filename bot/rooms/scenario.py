"""Scenario files for the simulated room: load, validate and decode them into typed objects.

Everything is checked before playback starts (ARCHITECTURE principle 5): a bad file stops the run
with one :class:`~bot.core.errors.ScenarioError` naming the file, the event index and the field. Audio
clips are decoded here, converted to the room rate and mono, so the player only slices arrays.
This module imports no Pipecat: tests and benchmarks read ground truth from it cheaply.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal, NoReturn, overload

import numpy as np

from bot.core.errors import ScenarioError

__all__ = [
    "DEFAULT_SAMPLE_RATE",
    "DEFAULT_TAIL_MS",
    "EVENT_TYPES",
    "NOISE_KINDS",
    "STEP_MS",
    "SUPPORTED_SAMPLE_RATES",
    "AgendaItem",
    "AppMessageEvent",
    "ChatEvent",
    "ClipError",
    "EnvelopeSpec",
    "Event",
    "JoinEvent",
    "LeaveEvent",
    "NoiseEvent",
    "Participant",
    "Scenario",
    "SpeechEvent",
    "iter_segments",
    "load_clip",
    "load_scenario",
    "noise_samples",
    "parse_scenario",
]

STEP_MS = 20
"""Playback granularity: one audio chunk per participant every 20 ms, like Daily's tracks."""

SUPPORTED_SAMPLE_RATES = (8000, 16000)
"""The rates Silero VAD accepts; a room plays at one of them."""

DEFAULT_SAMPLE_RATE = 16000
DEFAULT_TAIL_MS = 2000
"""``durationMs`` defaults to the end of the last event plus this much."""

EVENT_TYPES = ("join", "leave", "speech", "chat", "noise", "app_message")
NOISE_KINDS = ("white", "pink", "tone")
NOISE_BLOCK = 1 << 21
"""Samples generated at a time (131 s at 16 kHz): pink noise is shaped per block of this size."""

MAX_ROOM_MS = 4 * 3_600_000
"""Longest simulated room (``durationMs``, or where its last event ends): 4 h of media."""
MAX_NOISE_MS = 3_600_000
"""Longest noise event, and the most noise a file may hold in total: 1 h (generated at load as
int16, 2 bytes a sample: 115 MB at 16 kHz)."""
MAX_EVENTS = 100_000
"""Events in one file (the 1,000-person benchmark room has about 10,000)."""

_TOP_LEVEL_KEYS = ("name", "description", "sampleRate", "durationMs", "participants", "agenda", "events")
_NOISE_SEED = 0x5EED
"""Noise of event ``i`` is drawn from ``default_rng(_NOISE_SEED + i)``: the same file always plays the same samples."""


# --------------------------------------------------------------------------------------------
# Typed scenario
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Participant:
    """Someone who can join the room; ``name`` is the display name Daily would report."""

    id: str
    name: str


@dataclass(frozen=True)
class AgendaItem:
    """One agenda entry with its time box, for the agenda/wrap-up processors."""

    title: str
    timebox_ms: int


@dataclass(frozen=True, kw_only=True, eq=False)
class Event:
    """Something that happens to one participant at ``at_ms`` of room media time.

    ``index`` is the event's position in the file's ``events`` list, so errors and test failures
    can point back at the line a person wrote.
    """

    type: ClassVar[str] = ""
    index: int
    at_ms: int
    participant: str

    @property
    def end_ms(self) -> int:
        """When the event is over (equal to ``at_ms`` for instantaneous events)."""
        return self.at_ms


@dataclass(frozen=True, kw_only=True, eq=False)
class JoinEvent(Event):
    """The participant enters the room; their (silent) audio stream starts."""

    type: ClassVar[str] = "join"


@dataclass(frozen=True, kw_only=True, eq=False)
class LeaveEvent(Event):
    """The participant leaves; their audio stream stops."""

    type: ClassVar[str] = "leave"


@dataclass(frozen=True, kw_only=True, eq=False)
class SoundEvent(Event):
    """An event that plays samples on the participant's stream from ``at_ms`` on."""

    samples: np.ndarray = field(repr=False)
    sample_rate: int

    @property
    def start_sample(self) -> int:
        """First sample on the participant's stream."""
        return self.at_ms * self.sample_rate // 1000

    @property
    def end_sample(self) -> int:
        """One past the last sample on the participant's stream."""
        return self.start_sample + len(self.samples)


@dataclass(frozen=True, kw_only=True, eq=False)
class SpeechEvent(SoundEvent):
    """An utterance: a clip played on the participant's stream, then its transcript.

    Parameters:
        audio: the clip path as written in the file (relative to the scenario file).
        audio_path: the resolved clip path.
        text: transcript delivered when the utterance ends (optional; empty or absent: no
            transcript, e.g. a recording without one).
        label: free-form tag for tests (``backchannel``, ``interruption``); the player ignores it.
        samples: the decoded clip, mono int16 at the room rate (read-only).
        sample_rate: the room rate ``samples`` is at.
    """

    type: ClassVar[str] = "speech"
    audio: str
    audio_path: Path
    text: str
    label: str | None = None

    @property
    def end_ms(self) -> int:
        """Utterance end in whole ms (rounded up, so the whole clip lies before it)."""
        return -(-self.end_sample * 1000 // self.sample_rate)

    @property
    def duration_ms(self) -> int:
        """Clip length in whole ms (rounded up)."""
        return self.end_ms - self.at_ms


@dataclass(frozen=True, kw_only=True, eq=False)
class ChatEvent(Event):
    """A Daily Prebuilt chat message typed by the participant."""

    type: ClassVar[str] = "chat"
    text: str


@dataclass(frozen=True, kw_only=True, eq=False)
class NoiseEvent(SoundEvent):
    """Non-speech sound on the participant's stream (a fan, a hum): must not count as speech.

    ``samples`` is generated at load time from a seed derived from ``index``, so it is identical
    on every run and at every speed.
    """

    type: ClassVar[str] = "noise"
    duration_ms: int
    kind: str
    level: float = 0.3
    freq_hz: float = 440.0

    @property
    def end_ms(self) -> int:
        """When the noise stops."""
        return self.at_ms + self.duration_ms


@dataclass(frozen=True)
class EnvelopeSpec:
    """The ``envelope`` form of an ``app_message``: the player wraps it into a browser envelope."""

    topic: str
    payload: Any


@dataclass(frozen=True, kw_only=True, eq=False)
class AppMessageEvent(Event):
    """An app message a browser sends: ``message`` verbatim, or ``envelope`` wrapped by the player.

    Exactly one of the two forms is set; ``envelope is None`` means the raw form (``message`` may
    legitimately be ``null``).
    """

    type: ClassVar[str] = "app_message"
    message: Any = None
    envelope: EnvelopeSpec | None = None

    @property
    def is_raw(self) -> bool:
        """True for the ``message`` form (sent as written, valid or not)."""
        return self.envelope is None


@dataclass(frozen=True, eq=False)
class Scenario:
    """A validated scenario, ready to play.

    Parameters:
        path: the file it was loaded from (as given by the caller).
        name: ``name`` from the file, or the file stem.
        sample_rate: room rate of every participant stream (8000 or 16000).
        duration_ms: when the room ends (``durationMs``, or last event end + 2 s).
        participants: everyone who may join, in stream order (declared, or first join order).
        agenda: the agenda, possibly empty.
        events: every event, sorted stably by ``at_ms``.
    """

    path: Path
    name: str
    sample_rate: int
    duration_ms: int
    participants: tuple[Participant, ...]
    agenda: tuple[AgendaItem, ...]
    events: tuple[Event, ...]

    @property
    def samples_per_step(self) -> int:
        """Samples in one 20 ms chunk at the room rate (320 at 16 kHz)."""
        return self.sample_rate * STEP_MS // 1000

    @property
    def media_duration_ms(self) -> int:
        """Media time actually played: ``duration_ms`` rounded up to the 20 ms step."""
        return -(-self.duration_ms // STEP_MS) * STEP_MS

    @property
    def participant_ids(self) -> tuple[str, ...]:
        """Participant ids in stream order."""
        return tuple(p.id for p in self.participants)

    def display_name(self, participant_id: str) -> str:
        """The participant's display name (their id when the file gives none)."""
        for p in self.participants:
            if p.id == participant_id:
                return p.name
        return participant_id

    def events_of(self, kind: type[Event]) -> list[Any]:
        """Events of one class, in playback order."""
        return [e for e in self.events if isinstance(e, kind)]

    def speech_by_participant(self) -> dict[str, list[SpeechEvent]]:
        """Every participant's utterances in time order, with decoded samples (ground truth)."""
        result: dict[str, list[SpeechEvent]] = {p.id: [] for p in self.participants}
        for event in self.events:
            if isinstance(event, SpeechEvent):
                result[event.participant].append(event)
        return result

    def presence(self) -> dict[str, list[tuple[int, int | None]]]:
        """Per participant, the ``(join_ms, leave_ms or None)`` intervals they are in the room."""
        result: dict[str, list[tuple[int, int | None]]] = {p.id: [] for p in self.participants}
        for event in self.events:
            spans = result[event.participant]
            if isinstance(event, JoinEvent):
                spans.append((event.at_ms, None))
            elif isinstance(event, LeaveEvent):
                spans[-1] = (spans[-1][0], event.at_ms)
        return result


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read, validate and decode a scenario file (JSON, or YAML for ``.yaml``/``.yml``).

    Raises:
        ScenarioError: anything that would stop playback, with file, event index and field.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ScenarioError(path, "file not found") from None
    except IsADirectoryError:
        raise ScenarioError(path, "is a directory, not a scenario file") from None
    except OSError as exc:
        raise ScenarioError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScenarioError(path, f"is not UTF-8 text (byte {exc.start})") from None
    data = _parse_text(path, text)
    return parse_scenario(data, path=path)


def parse_scenario(data: Any, *, path: str | os.PathLike[str], base_dir: Path | None = None) -> Scenario:
    """Validate an already-parsed scenario document; ``path`` names it in errors.

    Audio paths resolve against ``base_dir`` (default: the directory of ``path``).
    """
    return _Validator(Path(path), base_dir).scenario(data)


def _parse_text(path: Path, text: str) -> Any:
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise ScenarioError(path, "YAML scenarios need PyYAML (pip install pyyaml)") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problem = getattr(exc, "problem", None) or str(exc)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            raise ScenarioError(path, f"invalid YAML{where}: {problem}") from None
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ScenarioError(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except ValueError as exc:
        raise ScenarioError(path, f"invalid JSON: {exc}") from None


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a JSON number")


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """A short rendering of a bad value for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _allowed(key: str, allowed: tuple[str, ...]) -> bool:
    """Known keys, plus ``x-``/``_`` keys left for comments and tool extensions."""
    return key in allowed or key.startswith(("x-", "_"))


_EVENT_FIELDS: dict[str, tuple[str, ...]] = {
    "join": (),
    "leave": (),
    "speech": ("audio", "text", "label"),
    "chat": ("text",),
    "noise": ("durationMs", "kind", "level", "freqHz"),
    "app_message": ("message", "envelope"),
}


class _Validator:
    """One pass over a parsed document; raises the first problem found."""

    def __init__(self, path: Path, base_dir: Path | None) -> None:
        self.path = path
        self.base_dir = base_dir if base_dir is not None else path.parent
        self.index: int | None = None
        self.noise_ms = 0

    # -- error helpers ---------------------------------------------------------------------

    def fail(self, field_name: str | None, message: str, *, index: int | None = -1) -> NoReturn:
        raise ScenarioError(self.path, message, event_index=self.index if index == -1 else index, field=field_name)

    def object(self, value: Any, name: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            self.fail(name, f"must be an object (got {_show(value)})")
        return value

    def check_keys(self, obj: Mapping[str, Any], allowed: tuple[str, ...], prefix: str = "") -> None:
        for key in obj:
            if not isinstance(key, str) or not _allowed(key, allowed):
                names = ", ".join(allowed) if allowed else "none"
                self.fail(f"{prefix}{key}", f"is not a known field here (known: {names})")

    # The overloads say when the answer cannot be None: a required field, or one with a default.
    @overload
    def int_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = ...,
        minimum: int | None = ...,
        default: int | None = ...,
        required: Literal[True] = ...,
    ) -> int: ...
    @overload
    def int_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = ...,
        minimum: int | None = ...,
        default: int,
        required: bool,
    ) -> int: ...
    @overload
    def int_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = ...,
        minimum: int | None = ...,
        default: None = ...,
        required: bool,
    ) -> int | None: ...
    def int_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = None,
        minimum: int | None = None,
        default: int | None = None,
        required: bool = True,
    ) -> int | None:
        name = name or key
        if key not in obj:
            if required:
                self.fail(name, "is required")
            return default
        value = obj[key]
        if not _is_int(value):
            self.fail(name, f"must be an integer (got {_show(value)})")
        if minimum is not None and value < minimum:
            self.fail(name, f"must be ≥ {minimum} (got {value})")
        checked: int = value
        return checked

    @overload
    def str_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = ...,
        required: Literal[True] = ...,
        non_empty: bool = ...,
        default: str | None = ...,
    ) -> str: ...
    @overload
    def str_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = ...,
        required: bool,
        non_empty: bool = ...,
        default: str,
    ) -> str: ...
    @overload
    def str_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = ...,
        required: bool,
        non_empty: bool = ...,
        default: None = ...,
    ) -> str | None: ...
    def str_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        name: str | None = None,
        required: bool = True,
        non_empty: bool = False,
        default: str | None = None,
    ) -> str | None:
        name = name or key
        if key not in obj:
            if required:
                self.fail(name, "is required")
            return default
        value = obj[key]
        if not isinstance(value, str):
            self.fail(name, f"must be a string (got {_show(value)})")
        if non_empty and not value.strip():
            self.fail(name, "must not be empty")
        return value

    def number_field(
        self,
        obj: Mapping[str, Any],
        key: str,
        *,
        default: float,
        low: float,
        high: float,
        low_open: bool = False,
        high_open: bool = False,
    ) -> float:
        if key not in obj:
            return default
        value = obj[key]
        if not _is_number(value) or not math.isfinite(value):
            self.fail(key, f"must be a number (got {_show(value)})")
        too_low = value <= low if low_open else value < low
        too_high = value >= high if high_open else value > high
        if too_low or too_high:
            lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
            self.fail(key, f"must be in {lo}{low:g}, {high:g}{hi} (got {value:g})")
        return float(value)

    # -- document --------------------------------------------------------------------------

    def scenario(self, data: Any) -> Scenario:
        if not isinstance(data, Mapping):
            self.fail(None, f"must contain a JSON object at the top level (got {_show(data)})")
        self.check_keys(data, _TOP_LEVEL_KEYS)
        name = self.str_field(data, "name", required=False, non_empty=True, default=self.path.stem)
        self.str_field(data, "description", required=False)
        rate = self.int_field(data, "sampleRate", required=False, default=DEFAULT_SAMPLE_RATE)
        if rate not in SUPPORTED_SAMPLE_RATES:
            self.fail("sampleRate", f"must be 8000 or 16000 (got {rate})")
        declared = self.participants(data.get("participants"), "participants" in data)
        agenda = self.agenda(data.get("agenda"), "agenda" in data)
        if "events" not in data:
            self.fail("events", "is required")
        if not isinstance(data["events"], list):
            self.fail("events", f"must be a list (got {_show(data['events'])})")
        if len(data["events"]) > MAX_EVENTS:  # limits are checked before anything is built
            self.fail("events", f"has {len(data['events'])} events; at most {MAX_EVENTS}", index=None)
        declared_ms = data.get("durationMs")
        if isinstance(declared_ms, int) and not isinstance(declared_ms, bool) and declared_ms > MAX_ROOM_MS:
            self.fail(
                "durationMs", f"is {declared_ms} ms; a simulated room lasts at most {MAX_ROOM_MS} ms (4 h)", index=None
            )

        events = [self.event(i, raw, rate, declared) for i, raw in enumerate(data["events"])]
        self.index = None
        events.sort(key=lambda e: e.at_ms)  # stable: file order breaks ties
        participants = declared if declared is not None else self.inferred_participants(events)
        self.check_presence(events)
        self.check_overlaps(events)
        self.index = None

        last_end = max((e.end_ms for e in events), default=0)
        if last_end > MAX_ROOM_MS:
            last = max(events, key=lambda e: e.end_ms)
            self.fail(
                "atMs",
                f"ends at {last_end} ms; a simulated room lasts at most {MAX_ROOM_MS} ms (4 h)",
                index=last.index,
            )
        duration = self.int_field(data, "durationMs", required=False, minimum=1)
        if duration is None:
            duration = last_end + DEFAULT_TAIL_MS
        elif duration < last_end:
            last = max(events, key=lambda e: e.end_ms)
            self.fail(
                "durationMs",
                f"is {duration} but event {last.index} ({last.type}) ends at {last_end} ms",
            )
        return Scenario(
            path=self.path,
            name=name or self.path.stem,
            sample_rate=rate,
            duration_ms=duration,
            participants=participants,
            agenda=agenda,
            events=tuple(events),
        )

    def participants(self, value: Any, present: bool) -> tuple[Participant, ...] | None:
        if not present:
            return None
        if not isinstance(value, list):
            self.fail("participants", f"must be a list (got {_show(value)})")
        seen: set[str] = set()
        result = []
        for i, raw in enumerate(value):
            prefix = f"participants[{i}]"
            obj = self.object(raw, prefix)
            self.check_keys(obj, ("id", "name"), f"{prefix}.")
            pid = self.str_field(obj, "id", name=f"{prefix}.id", non_empty=True)
            if pid in seen:
                self.fail(f"{prefix}.id", f"{_show(pid)} is listed twice")
            seen.add(pid)
            display = self.str_field(obj, "name", name=f"{prefix}.name", required=False, default=pid)
            result.append(Participant(id=pid, name=display))
        return tuple(result)

    def agenda(self, value: Any, present: bool) -> tuple[AgendaItem, ...]:
        if not present:
            return ()
        if not isinstance(value, list):
            self.fail("agenda", f"must be a list (got {_show(value)})")
        items = []
        for i, raw in enumerate(value):
            prefix = f"agenda[{i}]"
            obj = self.object(raw, prefix)
            self.check_keys(obj, ("title", "timeboxMs"), f"{prefix}.")
            title = self.str_field(obj, "title", name=f"{prefix}.title", non_empty=True)
            timebox = self.int_field(obj, "timeboxMs", name=f"{prefix}.timeboxMs", minimum=1)
            items.append(AgendaItem(title=title, timebox_ms=timebox))
        return tuple(items)

    def inferred_participants(self, events: list[Event]) -> tuple[Participant, ...]:
        """With no ``participants`` list, everyone who joins, in first-join order."""
        order: dict[str, None] = {}
        for event in events:
            if isinstance(event, JoinEvent):
                order.setdefault(event.participant)
        return tuple(Participant(id=pid, name=pid) for pid in order)

    # -- events ----------------------------------------------------------------------------

    def event(self, index: int, raw: Any, rate: int, declared: tuple[Participant, ...] | None) -> Event:
        self.index = index
        if not isinstance(raw, Mapping):
            self.fail(None, f"must be an object (got {_show(raw)})")
        if "type" not in raw:
            self.fail("type", "is required")
        kind = raw["type"]
        if kind not in EVENT_TYPES:
            self.fail("type", f"must be one of {', '.join(EVENT_TYPES)} (got {_show(kind)})")
        self.check_keys(raw, ("type", "atMs", "participant", *_EVENT_FIELDS[kind]))
        at_ms = self.int_field(raw, "atMs", minimum=0)
        pid = self.str_field(raw, "participant", non_empty=True)
        if declared is not None and pid not in {p.id for p in declared}:
            known = ", ".join(p.id for p in declared) or "none declared"
            self.fail("participant", f'{_show(pid)} is not in "participants" (known: {known})')
        common: dict[str, Any] = {"index": index, "at_ms": at_ms, "participant": pid}

        if kind == "join":
            return JoinEvent(**common)
        if kind == "leave":
            return LeaveEvent(**common)
        if kind == "chat":
            return ChatEvent(**common, text=self.str_field(raw, "text", non_empty=True))
        if kind == "speech":
            return self.speech(raw, common, rate)
        if kind == "noise":
            return self.noise(raw, common, rate)
        return self.app_message(raw, common)

    def speech(self, raw: Mapping[str, Any], common: dict[str, Any], rate: int) -> SpeechEvent:
        audio = self.str_field(raw, "audio", non_empty=True)
        text = self.str_field(raw, "text", required=False, default="")
        label = self.str_field(raw, "label", required=False)
        audio_path = Path(audio) if Path(audio).is_absolute() else self.base_dir / audio
        try:
            samples = load_clip(audio_path, rate)
        except ClipError as exc:
            self.fail("audio", f"{audio}: {exc}")
        return SpeechEvent(
            **common,
            audio=audio,
            audio_path=audio_path,
            text=text,
            label=label,
            samples=samples,
            sample_rate=rate,
        )

    def noise(self, raw: Mapping[str, Any], common: dict[str, Any], rate: int) -> NoiseEvent:
        duration = self.int_field(raw, "durationMs", minimum=1)
        self.noise_ms += duration
        if duration > MAX_NOISE_MS:  # before a sample is generated: a 10 h noise must not fill memory
            self.fail("durationMs", f"is {duration} ms; a noise event lasts at most {MAX_NOISE_MS} ms (1 h)")
        if self.noise_ms > MAX_NOISE_MS:
            self.fail(
                "durationMs", f"brings the file's noise to {self.noise_ms} ms; at most {MAX_NOISE_MS} ms (1 h) in all"
            )
        kind = raw.get("kind")
        if "kind" not in raw:
            self.fail("kind", "is required")
        if kind not in NOISE_KINDS:
            self.fail("kind", f"must be one of {', '.join(NOISE_KINDS)} (got {_show(kind)})")
        level = self.number_field(raw, "level", default=0.3, low=0.0, high=1.0)
        freq = self.number_field(raw, "freqHz", default=440.0, low=0.0, high=rate / 2, low_open=True, high_open=True)
        samples = noise_samples(
            kind, duration * rate // 1000, rate, level=level, freq_hz=freq, seed=_NOISE_SEED + common["index"]
        )
        return NoiseEvent(
            **common,
            duration_ms=duration,
            kind=kind,
            level=level,
            freq_hz=freq,
            samples=samples,
            sample_rate=rate,
        )

    def app_message(self, raw: Mapping[str, Any], common: dict[str, Any]) -> AppMessageEvent:
        has_message, has_envelope = "message" in raw, "envelope" in raw
        if has_message and has_envelope:
            self.fail("envelope", 'cannot be combined with "message": give exactly one of them')
        if not has_message and not has_envelope:
            self.fail("message", 'or "envelope" is required (raw message, or an envelope to wrap)')
        if has_message:
            return AppMessageEvent(**common, message=raw["message"])
        env = self.object(raw["envelope"], "envelope")
        self.check_keys(env, ("topic", "payload"), "envelope.")
        topic = self.str_field(env, "topic", name="envelope.topic", non_empty=True)
        if "payload" not in env:
            self.fail("envelope.payload", "is required")
        return AppMessageEvent(**common, envelope=EnvelopeSpec(topic=topic, payload=env["payload"]))

    # -- cross-event checks ----------------------------------------------------------------

    def check_presence(self, events: list[Event]) -> None:
        """Joins and leaves alternate per participant; every other event lies inside a stay."""
        stays: dict[str, list[tuple[int, int | None, int]]] = {}  # (join, leave, leave index)
        for event in events:
            if not isinstance(event, (JoinEvent, LeaveEvent)):
                continue
            self.index = event.index
            spans = stays.setdefault(event.participant, [])
            inside = bool(spans) and spans[-1][1] is None
            if isinstance(event, JoinEvent):
                if inside:
                    self.fail(
                        "type",
                        f"is join but {event.participant} is already in the room (joined at {spans[-1][0]} ms)",
                    )
                left = spans[-1][1] if spans else None  # not None: ``inside`` failed above
                if left is not None:
                    after = -(-left // STEP_MS) * STEP_MS
                    if event.at_ms // STEP_MS * STEP_MS < after:
                        self.fail(
                            "atMs",
                            f"must be ≥ {after} to rejoin: {event.participant} left at {left} ms and"
                            f" a rejoin needs the next {STEP_MS} ms step",
                        )
                spans.append((event.at_ms, None, -1))
            else:
                if not inside:
                    self.fail("type", f"is leave but {event.participant} is not in the room at {event.at_ms} ms")
                spans[-1] = (spans[-1][0], event.at_ms, event.index)

        for event in events:
            if isinstance(event, (JoinEvent, LeaveEvent)):
                continue
            self.index = event.index
            spans = [s for s in stays.get(event.participant, []) if s[0] <= event.at_ms]
            if not spans:
                first = stays.get(event.participant)
                hint = f"joins at {first[0][0]} ms" if first else "never joins"
                self.fail("atMs", f"is {event.at_ms} but {event.participant} is not in the room yet ({hint})")
            _join, leave, leave_index = spans[-1]
            if leave is None:
                continue
            if event.at_ms >= leave:
                self.fail("atMs", f"is {event.at_ms} but {event.participant} left at {leave} ms (event {leave_index})")
            if event.end_ms > leave:
                what = "audio" if isinstance(event, SpeechEvent) else "durationMs"
                self.fail(
                    what,
                    f"runs to {event.end_ms} ms, past {event.participant}'s leave at {leave} ms (event {leave_index})",
                )

    def check_overlaps(self, events: list[Event]) -> None:
        """One participant cannot say two utterances at once (different participants may)."""
        speaking: dict[str, SpeechEvent] = {}
        for event in events:
            if not isinstance(event, SpeechEvent):
                continue
            previous = speaking.get(event.participant)
            if previous is not None and event.at_ms < previous.end_ms:
                self.index = event.index
                self.fail(
                    "atMs",
                    f"is {event.at_ms} but {event.participant} is still speaking event"
                    f" {previous.index} until {previous.end_ms} ms",
                )
            speaking[event.participant] = event


# --------------------------------------------------------------------------------------------
# Audio
# --------------------------------------------------------------------------------------------


class ClipError(Exception):
    """A clip that cannot be decoded; the validator turns it into a ``ScenarioError``."""


def load_clip(path: str | os.PathLike[str], sample_rate: int) -> np.ndarray:
    """An audio file as read-only mono int16 samples at ``sample_rate``.

    WAV (any sample format), FLAC and OGG decode with soundfile, Opus/WebM and other FFmpeg
    formats with PyAV (``bot.rooms.audio_files``); channels are averaged and the rate converted
    with soxr. Decoded clips are cached
    per path (invalidated when the file changes), since scenarios reuse clips.

    Raises:
        ClipError: missing, unreadable or unsupported file.
    """
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ClipError(f"file not found (looked for {os.path.abspath(path)})") from None
    except OSError as exc:
        raise ClipError(f"cannot read {path}: {exc.strerror or exc}") from None
    return _decode_clip(str(path.resolve()), st.st_mtime_ns, st.st_size, sample_rate)


@lru_cache(maxsize=256)
def _decode_clip(path: str, _mtime_ns: int, _size: int, sample_rate: int) -> np.ndarray:
    from bot.rooms.audio_files import AudioFileError, decode_audio

    try:
        mono = decode_audio(path, sample_rate)
    except AudioFileError as exc:
        raise ClipError(str(exc)) from None
    mono.setflags(write=False)
    return mono


# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------


def noise_samples(
    kind: str, n: int, sample_rate: int, *, level: float = 0.3, freq_hz: float = 440.0, seed: int = 0
) -> np.ndarray:
    """``n`` read-only int16 samples of white, pink or tone noise peaking at ``level`` of full scale.

    White is uniform; pink is white noise shaped to 1/f in the frequency domain (deterministic,
    exact spectrum, no filter warm-up) per block of :data:`NOISE_BLOCK` samples; tone is a sine at
    ``freq_hz``. Same seed, same samples. Generated block by block straight into the int16 result,
    so memory is the result (2 bytes a sample) plus one block of floats, never float arrays of the
    whole event (a 1 h pink noise once took 2.1 GB to load).
    """
    if kind not in NOISE_KINDS:
        raise ValueError(f"unknown noise kind {kind!r}")
    out = np.zeros(max(0, n), dtype=np.int16)
    rng = np.random.default_rng(seed)
    for start in range(0, max(0, n), NOISE_BLOCK):
        size = min(NOISE_BLOCK, n - start)
        if kind == "white":  # one generator drawn in blocks gives the same stream as one draw
            x = rng.uniform(-1.0, 1.0, size)
        elif kind == "pink":
            spectrum = np.fft.rfft(rng.standard_normal(size))
            freqs = np.fft.rfftfreq(size, d=1.0 / sample_rate)
            spectrum[0] = 0.0
            spectrum[1:] /= np.sqrt(freqs[1:])
            x = np.fft.irfft(spectrum, size)
            peak = float(np.max(np.abs(x)))
            x = x / peak if peak > 0 else x
        else:
            x = np.sin(2.0 * np.pi * freq_hz * np.arange(start, start + size) / sample_rate)
        out[start : start + size] = np.clip(np.round(x * level * 32767.0), -32768, 32767).astype(np.int16)
    out.setflags(write=False)
    return out


def iter_segments(scenario: Scenario, participant_id: str) -> Iterator[SpeechEvent | NoiseEvent]:
    """The participant's sound-making events (speech and noise) in start order."""
    for event in scenario.events:
        if event.participant == participant_id and isinstance(event, (SpeechEvent, NoiseEvent)):
            yield event
