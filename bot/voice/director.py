"""VoiceDirector: what the facilitator says aloud, when its audio may play, and when it yields.

Plain logic on the room's media time (no asyncio, no Pipecat, no HTTP). The ``bot.processors.voice``
adapters feed it the room's speaking state, events and ticks, carry its synthesis requests to a
Pipecat TTS service and its audio to the transport's output.

Manners (docs/pipeline.md, "The facilitator's voice"):

- **What.** Wrap-up prompts, agenda time-box notices, topic-shift suggestions, an invitation to
  the quietest participant when someone dominates (the policy's share nudge), LLM facilitator
  messages to the room, and interrupt requests (monologue, the policy's turn limit) when the policy
  allows (``facilitation.voice``). With the LLM facilitator on, its text for the same trigger (it
  has passed ``PolicyOutputGate``) replaces the template if it comes within ``llm_wait_ms``.
  Every text passes the content guard (channel ``bot``) before it is synthesized.
- **When.** Synthesis starts as soon as an utterance is chosen (so audio is ready when a gap
  comes); playback starts only when nobody is speaking and the room has been silent for
  ``gap_ms`` (``interrupt_gap_ms`` after the interrupted speaker's own pause), never within
  ``facilitation.voiceMinGapMs`` of the bot's previous utterance, and never when it would take the
  bot's share of all talk past ``facilitation.voiceMaxShare``.
- **Yielding.** A participant's speech start while the bot plays stops the bot at the media time
  the room learned of it (``Cut``); the rest of the utterance is dropped (``barge_in``).
- **Publishing.** ``FacilitatorSpeechStarted`` / ``FacilitatorSpeechStopped`` (text length, never
  the text) and ``RoomInterruptExecuted`` (executed, or skipped with the reason).

The bot's own audio never enters the room's analytics: the director only emits it; nothing feeds
it back to the VAD, shares or overlaps (the adapters sit after every analytic).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.generated import (
    FacilitatorMessage,
    FacilitatorSpeechStarted,
    FacilitatorSpeechStopped,
    RoomInterruptExecuted,
    RoomInterruptRequest,
    RoomTopicShiftSuggested,
    RoomWrapupPrompt,
)
from bot.policy.snapshot import LoadedPolicy
from bot.voice import phrases

__all__ = ["Audio", "Cut", "SkipReason", "StopReason", "Utterance", "UtteranceKind", "VoiceDirector", "VoiceParams"]

UtteranceKind = Literal["wrapup", "time_box", "topic_shift", "nudge", "interrupt", "facilitation"]
"""``facilitator.speech.*`` ``kind``: what the bot says."""
StopReason = Literal["completed", "barge_in", "error", "ended"]
"""``facilitator.speech.stopped`` ``reason``."""
SkipReason = Literal["policy", "barge_in", "stopped_speaking", "rate_limited", "tts_error", "expired"]
"""``room.interrupt.executed`` ``skipReason``: why an interrupt request was not carried out."""

PRIORITY = {"interrupt": 0, "wrapup": 1, "time_box": 2, "topic_shift": 3, "nudge": 4, "facilitation": 5}
"""Lower plays first; an utterance of a kind replaces a queued one of the same kind."""
TTL_MS = {"interrupt": 15_000, "wrapup": 30_000, "time_box": 30_000, "topic_shift": 20_000, "nudge": 20_000}
PENDING_HOLD_MS = 300
"""A provisional onset (``speech_pending``) not confirmed within this long was not speech."""
LLM_REASONS = {"monologue": "interrupt", "policy": "interrupt", "wrapup": "wrapup", "time_box": "time_box"}
"""FacilitatorMessage reasons that answer a trigger the voice already queued (the brain's reasons)."""


@dataclass(frozen=True)
class VoiceParams:
    """Turn-taking and bounds of the voice.

    Parameters:
        gap_ms: the room must have been silent this long before the bot starts.
        interrupt_gap_ms: for an interruption, the interrupted speaker's pause this long is enough.
        interrupt_stale_ms: an interruption not spoken this long after its target stopped is
            dropped (they stopped on their own).
        llm_wait_ms: with the LLM facilitator on, wait this long for its phrasing of a trigger.
        ttl_ms: an utterance not started this long after its reason is dropped (``expired``).
        max_queue: utterances waiting at most.
        max_utterance_ms: audio longer than this is cut (bounded talk per utterance).
        min_audio_ms: buffered audio needed before playback starts while synthesis goes on.
        prompts, interrupts: what the policy lets the voice say (``facilitation.voice``).
        max_share, min_gap_ms: the policy's ``voiceMaxShare`` and ``voiceMinGapMs``.
        nudge_style: wording of spoken nudges.
        llm_phrasing: the LLM facilitator is on and may phrase the triggers.
    """

    gap_ms: int = 700
    interrupt_gap_ms: int = 500
    interrupt_stale_ms: int = 2_000
    llm_wait_ms: int = 6_000
    ttl_ms: int | None = None
    max_queue: int = 4
    max_utterance_ms: int = 12_000
    min_audio_ms: int = 400
    prompts: bool = True
    interrupts: bool = True
    max_share: float = 0.2
    min_gap_ms: int = 15_000
    nudge_style: str = "gentle"
    llm_phrasing: bool = False

    @classmethod
    def from_policy(cls, loaded: LoadedPolicy, **overrides: Any) -> VoiceParams:
        f = loaded.policy.facilitation
        values: dict[str, Any] = {
            "prompts": f.voice != "off",
            "interrupts": f.voice == "prompts_and_interrupts",
            "max_share": f.voice_max_share,
            "min_gap_ms": f.voice_min_gap_ms,
            "nudge_style": "gentle" if f.nudge_style == "silent" else f.nudge_style,
        }
        values.update(overrides)
        return cls(**values)


@dataclass(frozen=True)
class Audio:
    """Bot audio to send: PCM int16 mono at ``sample_rate``, starting at ``media_time_ms``."""

    media_time_ms: int
    pcm: bytes
    sample_rate: int


@dataclass(frozen=True)
class Cut:
    """Stop the bot's audio at ``media_time_ms``: drop anything sent for later (barge-in)."""

    media_time_ms: int


@dataclass
class Utterance:
    """One thing the bot will say, from its reason to its last sample."""

    id: str
    kind: UtteranceKind
    text: str
    created_ms: int
    expires_ms: int
    target: str | None = None
    request: RoomInterruptRequest | None = None
    llm_until: int | None = None
    state: str = "queued"  # queued → synthesizing → playing → done
    audio: bytearray = field(default_factory=bytearray)
    sample_rate: int = 0
    synth_done: bool = False
    failed: bool = False
    played: int = 0  # bytes sent
    start_ms: int | None = None
    cursor_ms: float = 0.0  # media time where the next sample goes

    @property
    def buffered_ms(self) -> int:
        return (len(self.audio) - self.played) * 500 // self.sample_rate if self.sample_rate else 0

    @property
    def audio_ms(self) -> int:
        return len(self.audio) * 500 // self.sample_rate if self.sample_rate else 0


class VoiceDirector:
    """Decides what the bot says and when; turns TTS audio into media-timed output.

    Example::

        director = VoiceDirector(load_policy(None), VoiceParams(gap_ms=700))
        director.event(30_000, RoomWrapupPrompt(remaining_ms=60_000, message="..."))
        utterance = director.next_synthesis()        # → synthesize utterance.text
        director.tts_audio(pcm, 24_000); director.tts_done()
        out = director.advance(31_000, 31_100)       # → [FacilitatorSpeechStarted, Audio(...)]
    """

    def __init__(self, loaded: LoadedPolicy, params: VoiceParams | None = None) -> None:
        self.params = params or VoiceParams.from_policy(loaded)
        self.guard = loaded.guard
        self.queue: list[Utterance] = []
        self.synthesizing: Utterance | None = None
        self.playing: Utterance | None = None
        self.names: dict[str, str | None] = {}
        self.speaking: dict[str, int] = {}  # participant → onset
        self.pending: dict[str, int] = {}  # participant → when a provisional onset was seen
        self.talk_ms: dict[str, int] = {}
        self.last_speaker: str | None = None
        self.silent_since: int | None = 0  # media time the room last became silent (None: someone speaks)
        self.bot_talk_ms = 0
        self.last_bot_end_ms: int | None = None
        self.now = 0
        self.finished = False
        self.ended = False
        self.stats: Counter[str] = Counter()
        self._next_id = 1
        self._out: list[Any] = []

    # -- the room -------------------------------------------------------------------------------

    def joined(self, media_time_ms: int, participant_id: str, name: str | None) -> None:
        self.names[participant_id] = name
        self.talk_ms.setdefault(participant_id, 0)

    def left(self, media_time_ms: int, participant_id: str) -> None:
        self.names.pop(participant_id, None)
        self._stopped_speaking(media_time_ms, participant_id, 0)

    def speech_pending(self, onset_ms: int, participant_id: str, decided_ms: int) -> None:
        """A participant may be starting to speak (provisional, ~100 ms before confirmation).

        The bot does not start while it is unresolved and, if it is speaking, yields now.
        """
        known = max(onset_ms, decided_ms)
        self.now = max(self.now, known)
        self.pending[participant_id] = known
        self._barge_in(known)

    def _barge_in(self, known: int) -> None:
        u = self.playing
        if u is not None and u.start_ms is not None:
            stop = max(u.start_ms, min(known, int(u.cursor_ms)))
            self.stats["barge_ins"] += 1
            self._out.append(Cut(stop))
            self._finish(u, stop, "barge_in")

    def speaking_started(self, onset_ms: int, participant_id: str, decided_ms: int | None = None) -> None:
        """A participant started speaking at ``onset_ms``; the room knew at ``decided_ms``.

        While the bot plays, this is a barge-in: the bot stops at ``decided_ms`` (never before its
        own start), the rest of the utterance is dropped.
        """
        known = max(onset_ms, decided_ms or onset_ms)
        self.now = max(self.now, known)
        self.pending.pop(participant_id, None)
        took_floor = not self.speaking  # starting in silence takes the floor; a backchannel does not
        self._others_took_floor(participant_id)
        self.speaking[participant_id] = onset_ms
        self.silent_since = None
        if took_floor:
            self.last_speaker = participant_id
        self._barge_in(known)

    def speaking_stopped(self, end_ms: int, participant_id: str, duration_ms: int) -> None:
        self._stopped_speaking(end_ms, participant_id, duration_ms)

    def _stopped_speaking(self, end_ms: int, participant_id: str, duration_ms: int) -> None:
        if self.speaking.pop(participant_id, None) is None:
            return
        self.talk_ms[participant_id] = self.talk_ms.get(participant_id, 0) + max(0, duration_ms)
        if not self.speaking:
            self.silent_since = end_ms

    def _others_took_floor(self, participant_id: str) -> None:
        """Someone else started after an interruption's target stopped: the target yielded on
        their own (a backchannel while the target still speaks does not count)."""
        for u in list(self.queue):
            if (
                u.kind == "interrupt"
                and u is not self.playing
                and u.target != participant_id
                and u.target not in self.speaking
                and self.last_speaker == u.target
            ):
                self._skip(u, "stopped_speaking")

    # -- what to say ----------------------------------------------------------------------------

    def event(self, media_time_ms: int | None, payload: Any) -> None:
        """An event on its way to the sink: may queue an utterance (or answer one with LLM text)."""
        now = self.now if media_time_ms is None else max(self.now, media_time_ms)
        p = self.params
        if isinstance(payload, RoomInterruptRequest):
            if payload.reason not in ("monologue", "policy"):
                return
            if not p.interrupts:
                self._publish_skip(payload, now, "policy", None)
                return
            target = payload.target_participant_id
            text = phrases.interrupt(self._name(target), payload.reason, self._name(self._quietest(exclude=target)))
            self._queue(now, "interrupt", text, target=target, request=payload, llm=True)
            return
        if not p.prompts:
            return
        if isinstance(payload, RoomWrapupPrompt):
            self._queue(now, "wrapup", phrases.wrapup(payload.remaining_ms), llm=True)
        elif isinstance(payload, RoomTopicShiftSuggested):
            if payload.reason == "time_box":
                self._queue(now, "time_box", phrases.time_box(payload.current_item, payload.next_item), llm=True)
            else:
                self._queue(now, "topic_shift", phrases.topic_shift(payload.next_item))
        elif isinstance(payload, FacilitatorMessage):
            self._message(now, payload)

    def _message(self, now: int, message: FacilitatorMessage) -> None:
        if message.reason == "nudge":
            # The policy's share nudge goes (as chat) to the one who dominates; aloud, the bot
            # invites the quietest participant instead of naming the dominant one to the room.
            quiet = self._quietest(exclude=message.participant_id)
            if quiet is not None:
                self._queue(now, "nudge", phrases.nudge_quiet(self._name(quiet), self.params.nudge_style), target=quiet)
            return
        if message.audience != "room":
            return
        kind = LLM_REASONS.get(message.reason)
        if kind is not None:
            for u in self.queue:
                if u.kind == kind and u.state == "queued" and u.llm_until is not None:
                    u.text, u.llm_until = message.text, None
                    self.stats["llm_phrased"] += 1
                    return
            return  # its trigger was already spoken (or skipped): do not say it twice
        self._queue(now, "topic_shift" if message.reason == "topic_shift" else "facilitation", message.text)

    def _queue(
        self,
        now: int,
        kind: UtteranceKind,
        text: str,
        *,
        target: str | None = None,
        request: RoomInterruptRequest | None = None,
        llm: bool = False,
    ) -> None:
        if self.finished:
            return
        check = self.guard.check(text, "bot")
        if check.action not in (None, "warn") or not (check.text or "").strip():
            self.stats["blocked"] += 1
            if request is not None:
                self._publish_skip(request, now, "policy", None)
            return
        p = self.params
        ttl = p.ttl_ms if p.ttl_ms is not None else TTL_MS.get(kind, 15_000)
        u = Utterance(
            id=f"u{self._next_id}",
            kind=kind,
            text=check.text or text,
            created_ms=now,
            expires_ms=now + ttl + (p.llm_wait_ms if llm and p.llm_phrasing else 0),
            target=target,
            request=request,
            llm_until=now + p.llm_wait_ms if llm and p.llm_phrasing else None,
        )
        self._next_id += 1
        for old in [q for q in self.queue if q.kind == kind and q.state == "queued"]:
            self._skip(old, "expired")
        self.queue.append(u)
        self.queue.sort(key=lambda q: (PRIORITY.get(q.kind, 9), q.created_ms))
        while len(self.queue) > p.max_queue:
            self._skip(self.queue[-1], "expired")
        self.stats["queued"] += 1

    def _quietest(self, exclude: str | None = None) -> str | None:
        present = [pid for pid in self.names if pid != exclude and pid not in self.speaking]
        if not present:
            return None
        return min(present, key=lambda pid: (self.talk_ms.get(pid, 0), pid))

    def _name(self, participant_id: str | None) -> str | None:
        return self.names.get(participant_id) if participant_id else None

    # -- synthesis ------------------------------------------------------------------------------

    def next_synthesis(self) -> Utterance | None:
        """The utterance to synthesize now (one at a time, the most urgent first), or None."""
        if self.synthesizing is not None or self.finished:
            return None
        for u in self.queue:
            if u.state == "queued" and (u.llm_until is None or self.now >= u.llm_until):
                u.state = "synthesizing"
                u.llm_until = None
                self.synthesizing = u
                self.stats["synthesized"] += 1
                return u
            if u.state == "queued":
                return None  # the most urgent one waits for its LLM phrasing; keep the order
        return None

    def tts_audio(self, pcm: bytes, sample_rate: int) -> None:
        u = self.synthesizing
        if u is None or u.failed or u.state == "done":
            return  # a dropped utterance's synthesis still streams: its audio goes nowhere
        if u.sample_rate and sample_rate != u.sample_rate:
            return  # a service never changes rate mid-utterance; ignore rather than garble
        u.sample_rate = sample_rate
        limit = p_bytes(self.params.max_utterance_ms, sample_rate)
        room = max(0, limit - len(u.audio))
        u.audio += pcm[: room - room % 2]

    def tts_done(self) -> None:
        u, self.synthesizing = self.synthesizing, None
        if u is None:
            return
        u.synth_done = True
        if not u.audio and not u.failed and u.state != "done":
            self.tts_failed("no audio", u)

    def tts_failed(self, error: str, u: Utterance | None = None) -> None:
        """The TTS service failed (HTTP error, timeout): the room goes on, the error is counted."""
        u = u or self.synthesizing
        if u is None:
            return
        if self.synthesizing is u:
            self.synthesizing = None
        if u.state == "done":
            return  # already dropped: nothing was lost
        self.stats["tts_errors"] += 1
        u.failed = u.synth_done = True
        if u is self.playing:
            self._finish(u, int(u.cursor_ms), "error")
        elif u in self.queue:
            self._skip(u, "tts_error")

    # -- playback -------------------------------------------------------------------------------

    def advance(self, now_ms: int, until_ms: int) -> list[Any]:
        """The room's media clock is at ``now_ms``: start, continue or end the bot's speech, with
        audio sent up to ``until_ms``. Returns events and ``Audio``/``Cut`` in order."""
        self.now = max(self.now, now_ms)
        now = self.now
        self._expire(now)
        if self.playing is None and not self.finished:
            self._maybe_start(now)
        u = self.playing
        if u is not None:
            end = max(until_ms, now)
            want = p_bytes(int(end - u.cursor_ms), u.sample_rate)
            avail = len(u.audio) - u.played
            n = min(want, avail)
            n -= n % 2
            if n > 0:
                chunk = bytes(u.audio[u.played : u.played + n])
                self._out.append(Audio(int(u.cursor_ms), chunk, u.sample_rate))
                u.played += n
                u.cursor_ms += n * 500 / u.sample_rate
            elif u.cursor_ms < now:
                u.cursor_ms = now  # underrun: the rest plays from now (a pause, never overlap)
            if u.synth_done and u.played >= len(u.audio) and now >= int(u.cursor_ms):
                self._finish(u, int(u.cursor_ms), "error" if u.failed else "completed")
        out, self._out = self._out, []
        return out

    def drain(self) -> list[Any]:
        """Events produced outside ``advance`` (barge-ins, skips)."""
        out, self._out = self._out, []
        return out

    def finish(self, media_time_ms: int) -> list[Any]:
        """The room ends: stop speaking, drop what waits."""
        if not self.finished:
            self.finished = True
            self.ended = True
            if self.playing is not None:
                u = self.playing
                stop = min(max(media_time_ms, u.start_ms or 0), int(u.cursor_ms))
                self._out.append(Cut(stop))
                self._finish(u, stop, "ended")
            for u in list(self.queue):
                self._skip(u, "expired")
        return self.drain()

    def summary(self) -> str:
        """One log line: what the voice did in this room (errors included, so they are counted)."""
        keys = ("spoken", "barge_ins", "tts_errors", "blocked", "share_limited", "llm_phrased")
        counts = " ".join(f"{k}={self.stats.get(k, 0)}" for k in keys)
        skipped = {k.split(".", 1)[1]: v for k, v in sorted(self.stats.items()) if k.startswith("skipped.")}
        return f"{counts} bot_talk_ms={self.bot_talk_ms} skipped={skipped or {}}"

    def _expire(self, now: int) -> None:
        for u in list(self.queue):
            if u is self.playing:
                continue
            if now >= u.expires_ms:
                self._skip(u, "expired")
            elif u.kind == "interrupt" and u.target not in self.speaking and self.last_speaker == u.target:
                if self.silent_since is not None and now - self.silent_since > self.params.interrupt_stale_ms:
                    self._skip(u, "stopped_speaking")

    def _ready(self, u: Utterance) -> bool:
        return bool(u.audio) and (u.synth_done or u.buffered_ms >= self.params.min_audio_ms)

    def _maybe_start(self, now: int) -> None:
        if self.speaking or self.silent_since is None:
            return
        for pid, seen in list(self.pending.items()):
            if now - seen >= PENDING_HOLD_MS:
                del self.pending[pid]  # it was not speech (a cough, a click)
        if self.pending:
            return
        p = self.params
        if self.last_bot_end_ms is not None and now - self.last_bot_end_ms < p.min_gap_ms:
            return
        for u in self.queue:
            if u.state != "synthesizing" or not self._ready(u):
                continue
            gap = p.interrupt_gap_ms if u.kind == "interrupt" and self.last_speaker == u.target else p.gap_ms
            if now - self.silent_since < gap:
                return
            est = u.audio_ms if u.synth_done else max(u.audio_ms, len(u.text) * 65)
            total = sum(self.talk_ms.values()) + self.bot_talk_ms
            if (self.bot_talk_ms + est) > p.max_share * (total + est):
                self.stats["share_limited"] += 1
                self._skip(u, "rate_limited")
                continue
            self._start(u, now)
            return

    def _start(self, u: Utterance, now: int) -> None:
        u.state = "playing"
        u.start_ms = now
        u.cursor_ms = float(now)
        self.playing = u
        self.stats["spoken"] += 1
        self._out.append(
            FacilitatorSpeechStarted(
                utterance_id=u.id,
                kind=u.kind,
                text_length=min(1000, len(u.text)),
                target_participant_id=u.target,
                media_time_ms=now,
                gap_ms=max(0, now - (self.silent_since or 0)),
                latency_ms=max(0, now - u.created_ms),
            )
        )

    def _finish(self, u: Utterance, end_ms: int, reason: StopReason) -> None:
        start = u.start_ms if u.start_ms is not None else end_ms
        duration = max(0, end_ms - start)
        self.bot_talk_ms += duration
        self.last_bot_end_ms = end_ms
        self.playing = None
        u.state = "done"
        if u in self.queue:
            self.queue.remove(u)
        total = sum(self.talk_ms.values()) + self.bot_talk_ms
        self.stats[f"stopped.{reason}"] += 1
        self._out.append(
            FacilitatorSpeechStopped(
                utterance_id=u.id,
                kind=u.kind,
                text_length=min(1000, len(u.text)),
                target_participant_id=u.target,
                media_time_ms=end_ms,
                reason=reason,
                duration_ms=duration,
                bot_talk_ms=self.bot_talk_ms,
                bot_share=round(self.bot_talk_ms / total, 4) if total else 0.0,
            )
        )
        if u.request is not None:
            if reason == "completed":
                self._out.append(
                    RoomInterruptExecuted(
                        target_participant_id=u.request.target_participant_id,
                        method="speech",
                        latency_ms=max(0, start - u.created_ms),
                        outcome="executed",
                        request_reason=u.request.reason,
                        utterance_id=u.id,
                        media_time_ms=start,
                    )
                )
            else:
                skip: SkipReason = (
                    "barge_in" if reason == "barge_in" else "tts_error" if reason == "error" else "expired"
                )
                self._publish_skip(u.request, end_ms, skip, u, created_ms=u.created_ms)

    def _skip(self, u: Utterance, reason: SkipReason) -> None:
        if u in self.queue:
            self.queue.remove(u)
        u.state = "done"  # a synthesis in flight runs out (``tts_done``); its audio is dropped
        self.stats[f"skipped.{reason}"] += 1
        if u.request is not None:
            self._publish_skip(u.request, self.now, reason, None, created_ms=u.created_ms)

    def _publish_skip(
        self,
        request: RoomInterruptRequest,
        now: int,
        reason: SkipReason,
        u: Utterance | None,
        *,
        created_ms: int | None = None,
    ) -> None:
        since = created_ms if created_ms is not None else (request.media_time_ms or now)
        self._out.append(
            RoomInterruptExecuted(
                target_participant_id=request.target_participant_id,
                method="speech",
                latency_ms=max(0, now - since),
                outcome="skipped",
                skip_reason=reason,
                request_reason=request.reason,
                utterance_id=u.id if u is not None else None,
                media_time_ms=now,
            )
        )


def p_bytes(ms: int, sample_rate: int) -> int:
    """Bytes of int16 mono PCM spanning ``ms`` at ``sample_rate`` (rounded down to a sample)."""
    return max(0, ms) * sample_rate // 1000 * 2
