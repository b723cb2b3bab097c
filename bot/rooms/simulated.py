"""SimulatedRoom: a Pipecat transport pair that plays a scenario file instead of joining Daily.

The input pushes what ``DailyTransport`` would push (per-participant ``UserAudioRawFrame`` in 20 ms
chunks, by default gathered per step into one ``RoomAudioFrame``; ``DailyInputTransportMessageFrame``
for chat and app messages) plus Prism's room frames, every one stamped with its media time, so
results do not depend on playback speed. The output
captures outbound app messages instead of sending them.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

import numpy as np
from loguru import logger
from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    InputAudioRawFrame,
    OutputAudioRawFrame,
    OutputTransportMessageFrame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.transports.base_input import BaseInputTransport
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import BaseTransport, TransportParams
from pipecat.transports.daily.transport import DailyInputTransportMessageFrame

from bot.core.errors import ConfigError, ScenarioError
from bot.core.frames import (
    BotAudioCutFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    RoomAudioFrame,
    RoomEndedFrame,
)
from bot.core.media import media_time_of, stamp
from bot.core.text import clean, printable
from bot.rooms.bot_track import BotTrack
from bot.rooms.scenario import (
    STEP_MS,
    AppMessageEvent,
    ChatEvent,
    JoinEvent,
    LeaveEvent,
    NoiseEvent,
    Scenario,
    SpeechEvent,
    load_scenario,
)
from bot.rooms.stdin_messages import StdinMessages

__all__ = [
    "SCENARIO_EPOCH",
    "TICK_MS",
    "ScenarioPlayer",
    "SimulatedRoom",
    "SimulatedRoomInput",
    "SimulatedRoomOutput",
    "browser_envelope",
    "media_iso",
]

TICK_MS = 100
"""A ``MediaTickFrame`` is pushed every 100 ms of media time (not at 0)."""

SCENARIO_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""Wall-clock date of media time 0 in transcript timestamps and chat dates: fixed, so runs compare."""

CHAT_ROOM = "main-room"
"""Daily Prebuilt's room name in ``chat-msg`` app messages."""

AUDIO_SOURCE = "microphone"
"""``transport_source`` of participant audio, as DailyTransport sets it."""

AudioFrames = Literal["room", "participant", "pipecat"]
"""How the simulated room pushes audio (``SimulatedRoom(audio_frames=...)``)."""


def media_iso(media_time_ms: int) -> str:
    """ISO 8601 (UTC, ms, ``Z``) of :data:`SCENARIO_EPOCH` plus ``media_time_ms``."""
    when = SCENARIO_EPOCH + timedelta(milliseconds=media_time_ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def spec_version() -> str:
    """The generated spec version (imported lazily: ``bot.generated`` is written by codegen)."""
    from bot.generated import SPEC_VERSION

    return str(SPEC_VERSION)


def browser_envelope(*, topic: str, payload: Any, participant_id: str, seq: int, version: str) -> dict[str, Any]:
    """The envelope a browser runtime would send for ``topic``/``payload`` (the inbound path).

    ``ts`` is the millisecond timestamp embedded in the uuid7 ``id``, as the browser runtime does.
    """
    import uuid_utils

    uid = uuid_utils.uuid7()
    return {
        "id": str(uid),
        "ts": int(uid.timestamp),
        "topic": topic,
        "specVersion": version,
        "runtime": "browser",
        "sessionId": f"browser-{participant_id}",
        "payload": payload,
        "meta": {"seq": seq},
    }


# --------------------------------------------------------------------------------------------
# The player: scenario -> frames per 20 ms step (plain logic, no asyncio)
# --------------------------------------------------------------------------------------------


@dataclass
class _Due:
    """A frame to push at a step; ``rank`` orders frames due at the same step."""

    rank: int
    at_ms: int
    index: int
    event: Any


class _Stream:
    """One participant's audio stream: mixes the speech and noise overlapping each chunk."""

    def __init__(self, segments: list[SpeechEvent | NoiseEvent], samples_per_step: int) -> None:
        self._segments = sorted(segments, key=lambda s: (s.start_sample, s.index))
        self._next = 0
        self._active: list[SpeechEvent | NoiseEvent] = []
        self._silence = bytes(2 * samples_per_step)

    def chunk(self, s0: int, s1: int) -> bytes:
        """PCM int16 little-endian bytes of samples ``[s0, s1)``."""
        while self._next < len(self._segments) and self._segments[self._next].start_sample < s1:
            self._active.append(self._segments[self._next])
            self._next += 1
        if self._active:
            self._active = [s for s in self._active if s.end_sample > s0]
        if not self._active:
            return self._silence
        if len(self._active) == 1:
            seg = self._active[0]
            if seg.start_sample <= s0 and seg.end_sample >= s1:
                return seg.samples[s0 - seg.start_sample : s1 - seg.start_sample].tobytes()  # int16 already
        mix = np.zeros(s1 - s0, dtype=np.int32)
        for seg in self._active:
            lo, hi = max(s0, seg.start_sample), min(s1, seg.end_sample)
            if lo < hi:
                mix[lo - s0 : hi - s0] += seg.samples[lo - seg.start_sample : hi - seg.start_sample]
        return np.clip(mix, -32768, 32767).astype("<i2").tobytes()


class ScenarioPlayer:
    """Turns a :class:`Scenario` into the frames of each 20 ms step, in push order.

    At each step ``t`` (0, 20, 40, ... up to the media duration) the frames are: transcripts of
    utterances that ended in ``(t-20, t]`` and leaves due by ``t`` (they close audio already played),
    the ``MediaTickFrame`` when ``t`` is a multiple of 100, joins/chats/app messages in ``[t, t+20)``,
    then one ``UserAudioRawFrame`` per joined participant with a microphone (participant order) for
    ``[t, t+20)``. A participant who makes no sound in the whole scenario (no speech, no noise)
    has the microphone off, as most people in a large Daily room do: Daily sends no audio track
    for them, so neither does the simulated room. (A 1,000-person room of mostly silent people
    used to push 50,000 frames of zeros per second of media: 0.1-0.3x real time at speed 0.)
    The last step (``t`` = media duration) carries no audio and ends with ``RoomEndedFrame``.
    Frames are returned unstamped; the transport stamps them with ``t`` as it pushes.
    """

    def __init__(self, scenario: Scenario, *, version: str | None = None) -> None:
        self._scenario = scenario
        self._version = version
        self._sps = scenario.samples_per_step
        self._seq: dict[str, int] = {}
        self._ends: dict[int, list[_Due]] = {}
        self._starts: dict[int, list[_Due]] = {}
        segments: dict[str, list[SpeechEvent | NoiseEvent]] = {p: [] for p in scenario.participant_ids}
        for event in scenario.events:
            if isinstance(event, SpeechEvent):
                segments[event.participant].append(event)
                if event.text:
                    due = -(-event.end_sample // self._sps) * STEP_MS
                    self._ends.setdefault(due, []).append(_Due(0, event.end_ms, event.index, event))
            elif isinstance(event, NoiseEvent):
                segments[event.participant].append(event)
            elif isinstance(event, LeaveEvent):
                due = -(-event.at_ms // STEP_MS) * STEP_MS
                self._ends.setdefault(due, []).append(_Due(1, event.at_ms, event.index, event))
            else:
                rank = 0 if isinstance(event, JoinEvent) else 1
                due = event.at_ms // STEP_MS * STEP_MS
                self._starts.setdefault(due, []).append(_Due(rank, event.at_ms, event.index, event))
        for table in (self._ends, self._starts):
            for items in table.values():
                items.sort(key=lambda d: (d.rank, d.at_ms, d.index))
        self._streams = {pid: _Stream(segs, self._sps) for pid, segs in segments.items() if segs}
        self._joined: set[str] = set()

    def steps(self) -> Iterator[tuple[int, list[Frame]]]:
        """``(media_time_ms, frames)`` for every step, the last one ending the room."""
        end = self._scenario.media_duration_ms
        order = self._scenario.participant_ids
        for t in range(0, end + STEP_MS, STEP_MS):
            frames: list[Frame] = [self._frame(d.event, t) for d in self._ends.get(t, ())]
            if t > 0 and t % TICK_MS == 0:
                frames.append(MediaTickFrame(media_time_ms=t))
            frames.extend(self._frame(d.event, t) for d in self._starts.get(t, ()))
            if t < end:
                s0 = t * self._sps // STEP_MS
                for pid in order:
                    if pid in self._joined and pid in self._streams:  # mic off: no audio track
                        frame = UserAudioRawFrame(
                            audio=self._streams[pid].chunk(s0, s0 + self._sps),
                            sample_rate=self._scenario.sample_rate,
                            num_channels=1,
                            user_id=pid,
                        )
                        frame.transport_source = AUDIO_SOURCE
                        frames.append(frame)
            else:
                frames.append(RoomEndedFrame(media_time_ms=t, reason="completed"))
            yield t, frames

    def _frame(self, event: Any, t: int) -> Frame:
        pid = event.participant
        if isinstance(event, SpeechEvent):
            return TranscriptionFrame(
                text=clean(event.text), user_id=clean(pid), timestamp=media_iso(t), finalized=True
            )
        if isinstance(event, JoinEvent):
            self._joined.add(pid)
            return ParticipantJoinedFrame(
                participant_id=pid, display_name=self._scenario.display_name(pid), media_time_ms=t
            )
        if isinstance(event, LeaveEvent):
            self._joined.discard(pid)
            return ParticipantLeftFrame(participant_id=pid, media_time_ms=t, reason="left")
        if isinstance(event, ChatEvent):
            message = {
                "event": "chat-msg",
                "message": event.text,
                "name": self._scenario.display_name(pid),
                "room": CHAT_ROOM,
                "date": media_iso(t),
            }
            return DailyInputTransportMessageFrame(message=message, participant_id=pid)
        if isinstance(event, AppMessageEvent):
            spec = event.envelope
            if spec is None:  # the raw form (``is_raw``)
                return DailyInputTransportMessageFrame(message=event.message, participant_id=pid)
            seq = self._seq[pid] = self._seq.get(pid, 0) + 1
            envelope = browser_envelope(
                topic=spec.topic,
                payload=spec.payload,
                participant_id=pid,
                seq=seq,
                version=self._version if self._version is not None else spec_version(),
            )
            return DailyInputTransportMessageFrame(message=envelope, participant_id=pid)
        raise TypeError(f"no frame for {event!r}")


# --------------------------------------------------------------------------------------------
# Shared room state
# --------------------------------------------------------------------------------------------


@dataclass
class PlaybackStats:
    """Counters for tests and benchmarks.

    Parameters:
        frames_pushed: frames the input pushed downstream (audio, events, ticks, end).
        audio_frames_pushed: participant audio chunks pushed (``UserAudioRawFrame``s, on their own
            or inside a ``RoomAudioFrame``).
        media_ms_played: media time played so far (audio chunks are counted at their end).
        wall_seconds: wall time from the first step to the last (or to now, while playing).
        completed: the scenario played to its end (``RoomEndedFrame`` pushed).
    """

    frames_pushed: int = 0
    audio_frames_pushed: int = 0
    media_ms_played: int = 0
    wall_seconds: float = 0.0
    completed: bool = False


class _Watermark:
    """How far (in media time) frames have got through the pipeline, as the output sees them.

    The input waits on it when it runs more than ``max_lead_ms`` ahead (backpressure at speed 0).
    """

    def __init__(self) -> None:
        self.media_ms = 0
        self.enabled = True
        self._advanced = asyncio.Event()

    def advance(self, media_time_ms: int) -> None:
        if media_time_ms > self.media_ms:
            self.media_ms = media_time_ms
            self.enabled = True
            self._advanced.set()

    async def wait_within(self, media_time_ms: int, lead_ms: int, *, stall_secs: float) -> None:
        """Wait until the output is within ``lead_ms`` of ``media_time_ms``.

        If nothing stamped reaches the output for ``stall_secs`` (a pipeline whose processors
        consume every stamped frame), stop waiting until the output moves again.
        """
        while self.enabled and media_time_ms - self.media_ms > lead_ms:
            self._advanced.clear()
            try:
                await asyncio.wait_for(self._advanced.wait(), timeout=stall_secs)
            except TimeoutError:
                logger.debug(
                    f"simulated room: output stuck at {self.media_ms} ms for {stall_secs}s;"
                    " backpressure off until it advances"
                )
                self.enabled = False


# --------------------------------------------------------------------------------------------
# Transports
# --------------------------------------------------------------------------------------------


class SimulatedRoomInput(BaseInputTransport):
    """Input half of :class:`SimulatedRoom`: plays the scenario on a media clock after StartFrame.

    Pushes (each stamped with its step's media time via :func:`bot.core.media.stamp`):
    the step's ``UserAudioRawFrame``s (as one ``RoomAudioFrame``, one by one, or through Pipecat's
    audio input path, passthrough, no VAD or resampling: ``SimulatedRoom(audio_frames=...)``),
    ``ParticipantJoinedFrame``/``ParticipantLeftFrame``, ``TranscriptionFrame`` (finalized),
    ``DailyInputTransportMessageFrame`` (broadcast up and down, as Daily does), ``MediaTickFrame``,
    ``RoomEndedFrame``, and finally ``EndWorkerFrame`` so the worker ends the pipeline gracefully.

    Example::

        Pipeline([room.input(), ParticipantVAD(), ..., EnvelopeSink(), room.output()])
    """

    def __init__(self, params: TransportParams, *, room: SimulatedRoom, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._room = room
        self._playback_task: asyncio.Task[None] | None = None

    async def start(self, frame: StartFrame) -> None:
        """Mark the transport ready (creates Pipecat's audio input task), then start playback."""
        await super().start(frame)
        await self.set_transport_ready(frame)
        if self._room.inbound is not None:
            self._room.inbound.start()
        if self._playback_task is None and not self._room.stats.completed:
            self._playback_task = self.create_task(self._play(), name=f"{self}::playback")

    async def stop(self, frame: EndFrame) -> None:
        """Stop playback (normally already finished: playback is what asked for the end)."""
        await self._stop_playback()
        await super().stop(frame)

    async def cancel(self, frame: CancelFrame) -> None:
        """Stop playback right away."""
        await self._stop_playback()
        await super().cancel(frame)

    async def cleanup(self) -> None:
        """Never leave the playback task behind, whatever ended the pipeline."""
        await super().cleanup()  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated
        await self._stop_playback()

    async def _stop_playback(self) -> None:
        task, self._playback_task = self._playback_task, None
        if task is not None and not task.done():
            await self.cancel_task(task)

    async def _play(self) -> None:
        """Play the scenario; a bug in playback ends the room instead of hanging it."""
        try:
            await self._play_steps()
        except Exception as exc:  # a swallowed task error would leave the pipeline running forever
            logger.exception("simulated room: playback failed")
            await self.push_error(f"simulated room playback failed: {exc}", exception=exc)
            await self.push_frame(EndWorkerFrame(reason="scenario playback failed"))

    async def _play_steps(self) -> None:
        room = self._room
        scenario, speed, stats = room.scenario, room.speed, room.stats
        player = ScenarioPlayer(scenario, version=room.spec_version)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        logger.info(
            f"simulated room: playing {scenario.name!r} ({scenario.media_duration_ms} ms,"
            f" {len(scenario.participants)} participants) at speed {speed:g}"
        )
        for media_ms, frames in player.steps():
            if speed > 0:
                delay = t0 + media_ms / 1000.0 / speed - loop.time()
                await asyncio.sleep(delay if delay > 0 else 0)
            else:
                await asyncio.sleep(0)
            if room.max_lead_ms is not None:
                await room.watermark.wait_within(media_ms, room.max_lead_ms, stall_secs=room.stall_secs)
            if room.inbound is not None:
                frames = frames + [
                    DailyInputTransportMessageFrame(message=message, participant_id=sender)
                    for sender, message in room.inbound.drain()
                ]
            audio = 0
            pushed = len(frames)
            gathered: list[UserAudioRawFrame] = []
            for frame in frames:
                stamp(frame, media_ms)
                if isinstance(frame, InputAudioRawFrame):
                    audio += 1
                    if room.audio_frames == "room" and isinstance(frame, UserAudioRawFrame):
                        gathered.append(frame)  # pushed with the rest of the step's audio
                        continue
                    if room.audio_frames == "pipecat":
                        await self.push_audio_frame(frame)
                    else:
                        await self.push_frame(frame)
                    continue
                if gathered:  # the audio (consecutive in a step) goes before what follows it
                    pushed -= len(gathered) - 1
                    await self.push_frame(stamp(RoomAudioFrame(frames=gathered, media_time_ms=media_ms), media_ms))
                    gathered = []
                if isinstance(frame, DailyInputTransportMessageFrame):
                    await self._broadcast(frame, media_ms)
                else:
                    await self.push_frame(frame)
            if gathered:
                pushed -= len(gathered) - 1
                await self.push_frame(stamp(RoomAudioFrame(frames=gathered, media_time_ms=media_ms), media_ms))
            if audio and room.audio_frames == "pipecat":
                # Pipecat's audio task pushes the audio; let it drain so the next step's events
                # cannot overtake this step's audio (same order at every speed).
                await self._audio_in_queue.join()
            stats.frames_pushed += pushed
            stats.audio_frames_pushed += audio
            stats.media_ms_played = min(media_ms + STEP_MS, scenario.media_duration_ms)
            stats.wall_seconds = loop.time() - t0
            if room.on_media_time is not None:
                room.on_media_time(media_ms)
        stats.completed = True
        logger.info(
            f"simulated room: {scenario.name!r} completed: {stats.media_ms_played} ms of media"
            f" in {stats.wall_seconds:.2f}s wall, {stats.frames_pushed} frames"
        )
        await self.push_frame(stamp(EndWorkerFrame(reason="scenario completed"), scenario.media_duration_ms))
        stats.frames_pushed += 1

    async def _broadcast(self, frame: DailyInputTransportMessageFrame, media_ms: int) -> None:
        """Push an app message both ways, like ``DailyInputTransport.push_app_message``."""
        upstream = DailyInputTransportMessageFrame(message=frame.message, participant_id=frame.participant_id)
        stamp(upstream, media_ms)
        frame.broadcast_sibling_id = upstream.id
        upstream.broadcast_sibling_id = frame.id
        await self.push_frame(frame)
        await self.push_frame(upstream, FrameDirection.UPSTREAM)


class SimulatedRoomOutput(BaseOutputTransport):
    """Output half of :class:`SimulatedRoom`: captures app messages and the bot's voice instead of sending them.

    Records each ``OutputTransportMessage[Urgent]Frame`` (and the Daily subclasses, whose
    ``participant_id`` is the recipient; ``None`` = everyone) in ``room.sent_messages``; with
    ``verbose`` also prints one line per message to stderr. The bot's ``OutputAudioRawFrame``s go
    to ``room.bot_track`` at their media time (``BotAudioCutFrame`` truncates it), written as WAV
    at the end when the room has a ``bot_audio`` path. It also reports the media time of frames
    reaching it, which the input uses for backpressure.
    """

    def __init__(self, params: TransportParams, *, room: SimulatedRoom, **kwargs: Any) -> None:
        super().__init__(params, **kwargs)
        self._room = room

    async def start(self, frame: StartFrame) -> None:
        """Nothing to connect to: ready as soon as started."""
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Let the base transport route the frame, then note its media time."""
        if direction == FrameDirection.DOWNSTREAM:
            if isinstance(frame, OutputAudioRawFrame):
                # Recorded on media time, not played on the wall clock (the base would pace it).
                at = media_time_of(frame, default=self._room.watermark.media_ms) or 0
                self._room.bot_track.add(at, frame.audio, frame.sample_rate)
                return
            if isinstance(frame, BotAudioCutFrame):
                self._room.bot_track.cut(frame.media_time_ms)
            elif isinstance(frame, EndFrame):
                self._room.write_bot_audio()
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM:
            media_ms = media_time_of(frame)
            if media_ms is not None:
                self._room.watermark.advance(media_ms)

    async def send_message(self, frame: OutputTransportMessageFrame | OutputTransportMessageUrgentFrame) -> None:
        """Capture the message (and echo it to stderr when verbose); never touches stdout."""
        record = {
            "message": frame.message,
            "recipient": getattr(frame, "participant_id", None),
            "media_time_ms": media_time_of(frame, default=self._room.watermark.media_ms),
        }
        self._room.sent_messages.append(record)
        if self._room.verbose:
            to = record["recipient"] or "*"
            body = json.dumps(record["message"], ensure_ascii=False, separators=(",", ":"), default=str)
            sys.stderr.write(printable(f"[room {record['media_time_ms'] / 1000:9.3f}s → {to}] {body}") + "\n")
            sys.stderr.flush()


class SimulatedRoom(BaseTransport):
    """A room played from a scenario file: the bot's embedded default, test bed and benchmark driver.

    Args:
        scenario: a loaded :class:`Scenario` or the path of a scenario file (loaded and validated
            now, so a bad file fails before any pipeline exists).
        speed: 1.0 = real time, N = N× real time, 0 = as fast as the pipeline keeps up.
        verbose: print each captured outbound app message to stderr.
        max_lead_ms: how far (media ms) the input may run ahead of what reaches the output;
            ``None`` disables backpressure.
        stall_secs: how long the input waits for the output to move before it stops waiting.
        bot_audio: write the bot's voice here as WAV when the room ends (``*.mix.wav`` beside it:
            the room with the bot), aligned to the room's media time.
        audio_frames: how each step's participant audio is pushed. ``"room"`` (default): one
            ``RoomAudioFrame`` holding every participant's ``UserAudioRawFrame`` of the step, so
            the pipeline pays its per-frame costs (a queue hop per processor, observer calls, log
            formatting) once per step instead of once per participant, and ``ParticipantVAD``
            scores the step's windows in one batched model run. ``"participant"``: one
            ``UserAudioRawFrame`` per participant, pushed straight downstream. ``"pipecat"``: the
            same frames through Pipecat's audio input task, exactly the path Daily audio takes
            (that task exists for real devices and costs one ``asyncio.wait_for`` per frame). All
            three carry the same chunks, stamped alike, in the same order.
        inbound: live browser app messages (from the supervisor, on stdin) pushed at the next
            step like the scenario's own ``app_message`` events; ``None`` = the scenario's only.
        name, input_name, output_name: Pipecat object names.

    Example::

        room = SimulatedRoom("bot/scenarios/demo.json", speed=0)
        pipeline = Pipeline([room.input(), ..., room.output()])
    """

    def __init__(
        self,
        scenario: Scenario | str | os.PathLike[str],
        *,
        speed: float = 1.0,
        verbose: bool = False,
        max_lead_ms: int | None = 2000,
        stall_secs: float = 1.0,
        audio_frames: AudioFrames = "room",
        bot_audio: str | os.PathLike[str] | None = None,
        inbound: StdinMessages | None = None,
        name: str | None = None,
        input_name: str | None = None,
        output_name: str | None = None,
    ) -> None:
        super().__init__(name=name, input_name=input_name, output_name=output_name)
        if not isinstance(speed, (int, float)) or isinstance(speed, bool) or not math.isfinite(speed) or speed < 0:
            raise ConfigError(f"speed must be a number ≥ 0 (0 = as fast as possible), got {speed!r}")
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.speed = float(speed)
        self.verbose = verbose
        self.max_lead_ms = max_lead_ms
        self.stall_secs = stall_secs
        if audio_frames not in get_args(AudioFrames):
            raise ConfigError(f"audio_frames must be one of {', '.join(get_args(AudioFrames))}, got {audio_frames!r}")
        self.audio_frames: AudioFrames = audio_frames
        self.inbound = inbound
        self.spec_version = self._resolve_spec_version()
        self.params = TransportParams(
            audio_in_enabled=True,
            audio_in_sample_rate=self.scenario.sample_rate,
            audio_in_channels=1,
            audio_in_passthrough=True,
            audio_out_enabled=False,
            audio_out_end_silence_secs=0,
        )
        self.sent_messages: list[dict[str, Any]] = []
        self.bot_track = BotTrack(self.scenario.sample_rate)
        self.bot_audio = Path(bot_audio) if bot_audio is not None else None
        self.stats = PlaybackStats()
        self.watermark = _Watermark()
        self.on_media_time: Callable[[int], None] | None = None
        """Called with each step's media time once its frames are pushed (the session's heartbeats)."""
        self._input: SimulatedRoomInput | None = None
        self._output: SimulatedRoomOutput | None = None
        self._bot_audio_written = False

    def _resolve_spec_version(self) -> str | None:
        """Envelope-form app messages need the generated spec version: fail now, not mid-room."""
        first = next((e for e in self.scenario.events if isinstance(e, AppMessageEvent) and not e.is_raw), None)
        if first is None:
            return None
        try:
            return spec_version()
        except ImportError as exc:
            raise ScenarioError(
                self.scenario.path,
                f"needs the generated spec version (bot.generated.SPEC_VERSION): {exc}; run python -m codegen",
                event_index=first.index,
                field="envelope",
            ) from None

    def write_bot_audio(self) -> None:
        """Write the bot's track (and the room mix) to ``bot_audio``, if set; once per room."""
        if self.bot_audio is None or self._bot_audio_written:
            return
        self._bot_audio_written = True
        duration = max(self.stats.media_ms_played, self.watermark.media_ms)
        try:
            self.bot_track.write(self.bot_audio, duration_ms=duration, scenario=self.scenario)
            logger.info(f"simulated room: bot audio written to {self.bot_audio}")
        except OSError as exc:
            logger.error(f"simulated room: cannot write the bot audio to {self.bot_audio}: {exc}")

    @property
    def sample_rate(self) -> int:
        """The room rate; pass it as ``PipelineParams(audio_in_sample_rate=...)`` too."""
        return self.scenario.sample_rate

    @property
    def transcribed(self) -> bool:
        """Whether the scenario delivers transcripts: any ``speech`` event with text. An audio-only
        recording (``--tracks``) has none, and pacing then says ``no_words``."""
        return any(isinstance(event, SpeechEvent) and event.text for event in self.scenario.events)

    @property
    def frames_pushed(self) -> int:
        """Frames the input has pushed downstream."""
        return self.stats.frames_pushed

    @property
    def media_ms_played(self) -> int:
        """Media time played so far."""
        return self.stats.media_ms_played

    @property
    def wall_seconds(self) -> float:
        """Wall time playback has taken so far."""
        return self.stats.wall_seconds

    def input(self) -> SimulatedRoomInput:
        """The input processor (one per room)."""
        if self._input is None:
            self._input = SimulatedRoomInput(self.params, room=self, name=self._input_name)
        return self._input

    def output(self) -> SimulatedRoomOutput:
        """The output processor (one per room)."""
        if self._output is None:
            self._output = SimulatedRoomOutput(self.params, room=self, name=self._output_name)
        return self._output
