"""Per-participant speaking state: Silero VAD on each participant's own audio, on media time.

``ParticipantVAD`` feeds participant audio (``UserAudioRawFrame``, or a step of the whole room's
audio as one ``RoomAudioFrame``) to ``SileroStreams`` and ``SpeakingTracker``s and pushes what they
decide as ``SpeakingStateFrame`` and ``room.speaking.*`` envelopes.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from loguru import logger
from pipecat.frames.frames import CancelFrame, EndFrame, Frame, UserAudioRawFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor, FrameProcessorSetup
from pydantic import ValidationError

from bot.analytics.crosstalk import DEFAULT_CROSSTALK, CrosstalkFilter, CrosstalkParams
from bot.analytics.speaking import (
    GateParams,
    SpeakingParams,
    SpeakingTracker,
    SpeechStarted,
    SpeechStopped,
    Transition,
)
from bot.audio.silero_stream import SUPPORTED_RATES, SileroStreams, StreamStats, WindowScore
from bot.core.frames import (
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantLeftFrame,
    RoomAudioFrame,
    RoomEndedFrame,
    SpeakingStateFrame,
    SpeechOnsetFrame,
)
from bot.core.media import SampleClock, media_time_of, samples_to_ms
from bot.core.text import clean
from bot.generated import RoomSpeakingStarted, RoomSpeakingStopped
from bot.processors.safety import internal_error

__all__ = ["DECIDED_KEY", "ParticipantVAD"]

DECIDED_KEY = "prism.decided_ms"
"""``frame.metadata`` key on speaking envelopes: media time of the audio chunk whose window decided
the transition. The envelope leaves the sink while that chunk is the newest audio, so this is the
media time at which it is published (benchmarks/accuracy.py measures detection latency with it);
live, a window that waited for a neighbour's audio (``CROSSTALK_WAIT_MS``) leaves when that audio
comes, up to 100 ms and a chunk later."""


CROSSTALK_WAIT_MS = 100
"""How long (media time: the waiting participant's own audio, or the room's ``MediaTickFrame``) a
scored window may wait for the audio of a talking neighbour to reach its end before its bleed
check, so a neighbour's stalled or late track cannot hold another participant's speaking state
back for longer (plus the chunk or tick that finds it expired)."""


@dataclass(frozen=True)
class _Window:
    """A scored window on its participant's media time, waiting for its bleed check."""

    end_ms: int
    confidence: float | None
    sound: tuple[int, int] | None
    level: float | None


@dataclass(frozen=True)
class _Onset:
    """A start entered but not yet confirmed (``report_onsets``), in order with the transitions."""

    participant_id: str
    media_time_ms: int
    decided_at_ms: int


_Out = Transition | _Onset


@dataclass
class _Participant:
    tracker: SpeakingTracker
    clock: SampleClock  # media time of the stream's samples (indices as SileroStreams counts them)
    onset_reported: int | None = None  # the pending onset already reported (report_onsets)
    waiting: deque[_Window] = field(default_factory=deque)  # scored, not yet observed (_drain)


@dataclass
class _Chunk:
    """One participant's audio chunk, ready for its Silero windows."""

    pid: str
    rate: int
    participant: _Participant | None  # None: the stream must be opened (or reopened) first
    samples: np.ndarray  # mono int16
    stamped: int | None  # the chunk's media time stamp, if any
    before: list[_Out] = field(default_factory=list)  # a rate change's stop, pushed first


class ParticipantVAD(FrameProcessor):
    """Speaking state per participant from each participant's own audio track.

    Each ``UserAudioRawFrame`` goes to that participant's Silero stream (one shared ONNX session,
    model state per participant) and speaking state machine. A ``RoomAudioFrame`` (a step's
    chunks of every participant, from the simulated room) is handled exactly as its chunks would
    be one after the other, except that the windows they complete are scored by one batched model
    run (``SileroStreams.feed_many``); trackers still see the chunks in order. A window's bleed
    check (``bot.analytics.crosstalk``) reads the talking neighbours' audio of the same moment
    (and that of any neighbour whose track sounds then, though its start is not taken yet: only
    the talking ones are waited for):
    a step's chunks all reach the crosstalk filter before any window is checked, and a chunk that
    comes on its own (live) has its scored windows wait, at most ``CROSSTALK_WAIT_MS``, for the
    neighbours' audio to reach them (a tracker may then take several windows in one go). The
    bleed checks read the same audio either way; the decisions matched on every room tried, though
    a waiting window sees its neighbours' trackers a window later than a step at once would. Media time comes from the chunk's
    stamp (``bot.core.media.media_time_of``: the room's, or ``MediaClockStamper``'s on Daily): a
    stamped chunk starts at its stamp, and the participant's :class:`~bot.core.media.SampleClock` only
    places the samples inside and between chunks (window ends, sound spans), so on Daily the
    samples are counted once, by the stamper. An unstamped chunk follows the previous one (the
    first starts at 0). Audio frames are consumed, not forwarded, unless ``forward_audio=True``:
    later processors need only the speaking state, and 20 ms frames from every participant would
    cost each of them per frame.

    Inference runs inline in ``process_frame``: one Silero window is ~80 us, less than the
    100-200 us an executor hop costs (which is what ``SileroVADAnalyzer.analyze_audio`` pays per
    20 ms chunk), and inline calls keep each participant's windows strictly in order without
    locks. A 20 ms chunk completes at most one 32 ms window, and the energy gate skips silent
    windows, so the event loop is held ~80-150 us per speaking participant per window and
    ~10 us per silent one.
    The model is loaded in ``setup()`` through ``asyncio.to_thread``, off the event loop.

    Frames pushed (downstream, on every transition):

    - ``SpeakingStateFrame``: ``speaking=True`` at the onset, ``False`` at the end with
      ``duration_ms``.
    - ``EnvelopeFrame`` carrying ``RoomSpeakingStarted`` / ``RoomSpeakingStopped``.

    A ``ParticipantLeftFrame`` ends that participant's stream (a stop first if they were
    speaking); ``RoomEndedFrame``, ``EndFrame`` and ``CancelFrame`` end every stream. These and
    every other frame are forwarded unchanged.

    Example::

        vad = ParticipantVAD(params=SpeakingParams(hangover_ms=300))
    """

    def __init__(
        self,
        *,
        params: SpeakingParams | None = None,
        gate: GateParams | None = GateParams(),
        forward_audio: bool = False,
        report_onsets: bool = False,
        streams: SileroStreams | None = None,
        crosstalk: CrosstalkParams | None = DEFAULT_CROSSTALK,
        **kwargs: Any,
    ) -> None:
        """Create the processor; the model is loaded in ``setup()``.

        Args:
            params: speaking state machine parameters (``SpeakingParams()`` by default).
            gate: energy gate parameters; ``None`` runs the model on every window.
            forward_audio: also forward the audio frames (``UserAudioRawFrame``, ``RoomAudioFrame``)
                downstream.
            report_onsets: also push a ``SpeechOnsetFrame`` when a participant's speech is
                entered but not yet confirmed (the facilitator's voice yields on it).
            streams: an already loaded ``SileroStreams`` to use (e.g. shared by tests); its own
                gate settings apply and ``gate`` is ignored.
            crosstalk: bleed filter parameters (``bot.analytics.crosstalk``); ``None`` turns it off.
            **kwargs: passed to ``FrameProcessor``.
        """
        super().__init__(**kwargs)
        self._params = params or SpeakingParams()
        self._gate = gate
        self._forward_audio = forward_audio
        self._report_onsets = report_onsets
        self._streams = streams
        self._participants: dict[str, _Participant] = {}
        self._ids: dict[str, str] = {}  # raw user_id -> clean id (the per-20-ms path: clean once per participant)
        self._warned: set[str] = set()
        self._crosstalk_params = crosstalk
        self._crosstalk: dict[int, CrosstalkFilter] = {}  # per sample rate
        self._waiting: set[str] = set()  # participants with windows waiting for a neighbour's audio

    @property
    def stats(self) -> StreamStats:
        """Window counters over every participant so far (seen, inferred, gated, replayed)."""
        return self._streams.stats if self._streams else StreamStats()

    @property
    def speaking(self) -> set[str]:
        """Participants currently speaking."""
        return {pid for pid, p in self._participants.items() if p.tracker.speaking}

    # Pipecat's FrameProcessor.setup (untyped) takes a FrameProcessorSetup where its base BaseObject
    # declares a BaseTaskManager; this override follows FrameProcessor, which is what calls it.
    async def setup(self, setup: FrameProcessorSetup) -> None:  # type: ignore[override]
        """Load the Silero session off the event loop (processors are set up concurrently)."""
        await super().setup(setup)
        if self._streams is None:
            self._streams = await asyncio.to_thread(SileroStreams.load, gate=self._gate)

    @property
    def _silero(self) -> SileroStreams:
        """The loaded streams; using the processor before ``setup()`` is a bug, said plainly."""
        if self._streams is None:
            raise RuntimeError("ParticipantVAD: audio arrived before setup() loaded the Silero model")
        return self._streams

    async def cleanup(self) -> None:
        """Drop every stream's state."""
        await super().cleanup()  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated
        self._participants.clear()
        self._waiting.clear()
        if self._streams is not None:
            self._streams.close_all()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        """Consume participant audio; close streams on leave and end; forward the rest."""
        await super().process_frame(frame, direction)
        if isinstance(frame, (RoomAudioFrame, UserAudioRawFrame)):
            await self._consume(frame.frames if isinstance(frame, RoomAudioFrame) else [frame])
            if self._forward_audio:
                await self.push_frame(frame, direction)
            return
        if isinstance(frame, MediaTickFrame) and self._waiting:  # live: a track that stopped sending
            await self._push_transitions(self._drain_waiting(now_ms=frame.media_time_ms))
        if isinstance(frame, ParticipantLeftFrame):
            await self._push_transitions(self._close(frame.participant_id))
        elif isinstance(frame, (RoomEndedFrame, EndFrame, CancelFrame)):
            for pid in list(self._participants):
                await self._push_transitions(self._close(pid))
        await self.push_frame(frame, direction)

    # -- frames in ----------------------------------------------------------------------------

    async def _consume(self, frames: Sequence[UserAudioRawFrame]) -> None:
        """Chunks in order; consecutive chunks of known participants are scored as one batch.

        A chunk that opens or reopens a stream (a new participant, a rate change) or repeats a
        participant of the current batch first finishes the batch, so every stream opens, closes
        and advances at the same point of the sequence as it would chunk by chunk.
        """
        batch: list[_Chunk] = []
        in_batch: set[str] = set()
        for frame in frames:
            try:
                chunk = self._chunk(frame, batch)
            except Exception as exc:  # counted and logged; the room goes on
                internal_error("participant vad", exc)
                continue
            if chunk is None:
                continue
            if chunk.participant is None or chunk.pid in in_batch:
                await self._flush(batch)
                batch = []
                in_batch.clear()
                try:
                    chunk = self._open_for(chunk)
                except Exception as exc:  # counted and logged; the room goes on
                    internal_error("participant vad", exc)
                    continue
            batch.append(chunk)
            in_batch.add(chunk.pid)
        await self._flush(batch)

    def _chunk(self, frame: UserAudioRawFrame, batch: list[_Chunk]) -> _Chunk | None:
        """The chunk of ``frame``, or ``None`` (said once) for audio the VAD cannot use. Its
        ``participant`` is the open one when it can take the chunk as it is, else ``None``
        (:meth:`_open_for` opens the stream when the chunk's turn comes)."""
        pid = self._ids.get(frame.user_id)  # the same id the join and chat frames carry (bot.core.text)
        if pid is None:
            pid = self._ids[frame.user_id] = clean(frame.user_id)
        if not pid:
            self._warn_once("", "ParticipantVAD: ignoring audio without a user_id")
            return None
        if frame.sample_rate not in SUPPORTED_RATES:
            self._warn_once(pid, f"ParticipantVAD: ignoring {pid}'s {frame.sample_rate} Hz audio")
            return None
        samples = np.frombuffer(frame.audio, dtype=np.int16)
        if frame.num_channels > 1:
            samples = samples.reshape(-1, frame.num_channels).mean(axis=1).astype(np.int16)
        participant = self._participants.get(pid)
        if participant is not None and participant.clock.sample_rate != frame.sample_rate:
            participant = None
        return _Chunk(pid, frame.sample_rate, participant, samples, media_time_of(frame))

    def _open_for(self, chunk: _Chunk) -> _Chunk:
        """Open (or, after a rate change, reopen) the chunk's stream, as its turn comes."""
        pid, stamped, rate = chunk.pid, chunk.stamped, chunk.rate
        participant = self._participants.get(pid)
        before: list[_Out] = []
        if participant is None:
            participant = self._open(pid, rate, stamped or 0)
        elif participant.clock.sample_rate != rate:
            self._warn_once(pid, f"ParticipantVAD: {pid}'s audio changed rate, reopening")
            before = self._close(pid)
            participant = self._open(pid, rate, participant.clock.now_ms if stamped is None else stamped)
        return _Chunk(pid, rate, participant, chunk.samples, stamped, before)

    async def _flush(self, batch: list[_Chunk]) -> None:
        """Score the batch's windows in one go, hand every chunk to the crosstalk filter, then
        observe and push chunk by chunk, in order."""
        if not batch:
            return
        try:
            scores = self._silero.feed_many([(c.pid, c.samples) for c in batch])
        except Exception as exc:  # counted and logged; the room goes on
            internal_error("participant vad", exc)
            scores = [[] for _ in batch]
        for chunk in batch:  # a step's audio of every track reaches the crosstalk filter first
            self._place(chunk)
        for chunk, windows in zip(batch, scores, strict=True):
            transitions: list[_Out] = [*chunk.before]
            try:
                transitions += self._observe(chunk, windows)
            except Exception as exc:  # counted and logged; the room goes on
                internal_error("participant vad", exc)
            if transitions:  # almost never: this is the per-20-ms path
                await self._push_transitions(transitions)

    def _place(self, chunk: _Chunk) -> None:
        """Place the chunk on its participant's clock and hand it to the crosstalk filter."""
        participant = chunk.participant
        assert participant is not None  # batched chunks are open (_consume)
        # The stamp, when there is one, is the chunk's start: nothing is counted on top of it.
        clock = participant.clock
        clock.place(chunk.samples.size, chunk.stamped)
        crosstalk = self._crosstalk_for(clock.sample_rate)
        if crosstalk is not None:
            try:
                crosstalk.push(chunk.pid, chunk.samples, clock.now_ms)
            except Exception as exc:  # counted and logged; the chunk is still scored and observed
                internal_error("participant vad", exc)

    def _observe(self, chunk: _Chunk, windows: list[WindowScore]) -> list[_Out]:
        """Queue the chunk's scored windows (the chunk is placed: ``_place``) and run the trackers
        over every window that can be decided now: others' that were waiting for this chunk's
        audio first (as a whole step at once would have), then this participant's."""
        participant = chunk.participant
        assert participant is not None  # batched chunks are open (_consume)
        clock = participant.clock
        for window in windows:
            sound = None if window.sound is None else (clock.at(window.sound[0]), clock.at(window.sound[1]))
            participant.waiting.append(_Window(clock.at(window.end), window.confidence, sound, window.level))
        out = self._drain_waiting(skip=chunk.pid) if self._waiting else []
        return out + self._drain(chunk.pid, participant)

    def _drain_waiting(self, *, skip: str | None = None, now_ms: int | None = None) -> list[_Out]:
        """``_drain`` every participant with waiting windows, in join order (so runs repeat
        exactly), each on its own: one participant's failure does not drop the others' decisions.
        ``now_ms``: the room's clock (a ``MediaTickFrame``), which moves on the windows of a
        participant whose own audio stopped coming."""
        out: list[_Out] = []
        for pid in [q for q in self._participants if q in self._waiting and q != skip]:
            try:
                out += self._drain(pid, self._participants[pid], now_ms=now_ms)
            except Exception as exc:  # counted and logged; the room goes on
                internal_error("participant vad", exc)
        return out

    def _drain(
        self, pid: str, participant: _Participant, *, force: bool = False, now_ms: int | None = None
    ) -> list[_Out]:
        """Observe ``pid``'s waiting windows in order, up to the first whose bleed check needs a
        talking neighbour's audio that has not arrived yet (live, each track's frames come on
        their own; checked against a neighbour's audio that stops short of the window, the
        correlation misses the bleed: ``kt-meeting``'s first bleed stretch and late onsets,
        docs/vad.md, eighth round). A window waits until its participant's audio, or the room's
        clock (``now_ms``), is ``CROSSTALK_WAIT_MS`` past it; ``force`` decides them all. Each
        window is taken off the queue before it is checked: a check that fails is logged and the
        window counts as not bleed, so it cannot block the queue."""
        crosstalk = self._crosstalk_for(participant.clock.sample_rate)
        out: list[_Out] = []
        waiting = participant.waiting
        now = max(participant.clock.now_ms, now_ms or 0)
        while waiting:
            window = waiting[0]
            confidence, sound, level, bleed = window.confidence, window.sound, window.level, False
            talking: list[str] = []
            if confidence is not None and crosstalk is not None:
                talking = [q for q, other in self._participants.items() if q != pid and other.tracker.active]
                if (
                    talking
                    and not force
                    and not crosstalk.covers(talking, window.end_ms)
                    and now - window.end_ms < CROSSTALK_WAIT_MS
                ):
                    break
            waiting.popleft()
            sounding: list[str] = []
            if confidence is not None and crosstalk is not None:
                wms = participant.tracker.window_ms
                sounding = [
                    q
                    for q in self._participants
                    if q != pid and q not in talking and crosstalk.sounding(q, window.end_ms, wms)
                ]
            if (talking or sounding) and crosstalk is not None:
                try:
                    bleed = crosstalk.is_bleed(
                        pid,
                        window.end_ms,
                        participant.tracker.window_ms,
                        talking,
                        sounding,
                        quiet=not participant.tracker.active,
                    )
                except Exception as exc:  # counted and logged; the window counts as the participant's own
                    internal_error("participant vad", exc)
                if bleed:
                    confidence = sound = level = None  # another participant's voice on this microphone
            out += participant.tracker.observe(window.end_ms, confidence, sound, level, bleed=bleed)
            if self._report_onsets:
                out += self._onset(pid, participant)
        if waiting:
            self._waiting.add(pid)
        else:
            self._waiting.discard(pid)
        self._silero.follow(pid, participant.tracker.loudest_speech_dbfs)  # for the gate, from the next chunk
        return out

    @staticmethod
    def _onset(pid: str, participant: _Participant) -> list[_Out]:
        """The start just entered (``report_onsets``), if it is new: reported window by window,
        so one that is entered and confirmed within a drain is still reported."""
        onset = participant.tracker.pending_onset_ms
        if onset is None or onset == participant.onset_reported:
            return []
        participant.onset_reported = onset
        decided = participant.tracker.last_window_end_ms or onset
        return [_Onset(pid, onset, decided)]

    def _crosstalk_for(self, sample_rate: int) -> CrosstalkFilter | None:
        if self._crosstalk_params is None:
            return None
        filt = self._crosstalk.get(sample_rate)
        if filt is None:
            filt = self._crosstalk[sample_rate] = CrosstalkFilter(sample_rate, self._crosstalk_params)
        return filt

    def _open(self, pid: str, sample_rate: int, anchor_ms: int) -> _Participant:
        self._silero.open(pid, sample_rate=sample_rate)
        window_ms = samples_to_ms(self._silero.window_samples(pid), sample_rate)
        participant = _Participant(
            tracker=SpeakingTracker(pid, params=self._params, window_ms=window_ms),
            clock=SampleClock(sample_rate, anchor_ms=anchor_ms),
        )
        self._participants[pid] = participant
        return participant

    def _close(self, pid: str) -> list[_Out]:
        """End a stream; a speaker's stop is the end of their last speech window, which is
        never later than their audio (so the leave/end frame's own media time is not needed)."""
        participant = self._participants.pop(pid, None)
        if participant is None:
            return []
        out: list[_Out] = []
        try:
            out += self._drain(pid, participant, force=True)
        except Exception as exc:  # counted and logged; the participant is closed all the same
            internal_error("participant vad", exc)
        self._waiting.discard(pid)
        for filt in self._crosstalk.values():
            filt.forget(pid)
        self._silero.close(pid)
        out += participant.tracker.close(participant.clock.now_ms)
        return out + self._drain_waiting()  # no longer a neighbour to wait for

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)

    # -- frames out ---------------------------------------------------------------------------

    async def _push_transitions(self, transitions: list[_Out]) -> None:
        for t in transitions:
            if isinstance(t, _Onset):
                await self.push_frame(
                    SpeechOnsetFrame(
                        participant_id=t.participant_id, media_time_ms=t.media_time_ms, decided_at_ms=t.decided_at_ms
                    )
                )
                continue
            if isinstance(t, SpeechStarted):
                state = SpeakingStateFrame(
                    participant_id=t.participant_id,
                    speaking=True,
                    media_time_ms=t.media_time_ms,
                    decided_at_ms=t.decided_at_ms,
                )
            else:
                state = SpeakingStateFrame(
                    participant_id=t.participant_id,
                    speaking=False,
                    media_time_ms=t.media_time_ms,
                    duration_ms=t.duration_ms,
                    decided_at_ms=t.decided_at_ms,
                )
            await self.push_frame(state)
            envelope = self._envelope(t)
            if envelope is not None:
                # when it was decided (the media time of the audio that decided it), for latency
                envelope.metadata[DECIDED_KEY] = t.decided_at_ms
                await self.push_frame(envelope)

    @staticmethod
    def _envelope(t: Transition) -> EnvelopeFrame | None:
        payload: RoomSpeakingStarted | RoomSpeakingStopped
        try:
            if isinstance(t, SpeechStopped):
                payload = RoomSpeakingStopped(
                    participant_id=t.participant_id,
                    media_time_ms=t.media_time_ms,
                    duration_ms=t.duration_ms,
                )
            else:
                payload = RoomSpeakingStarted(participant_id=t.participant_id, media_time_ms=t.media_time_ms)
        except ValidationError as e:  # e.g. a participant id longer than the spec allows
            logger.warning(f"ParticipantVAD: no envelope for {t}: {e.errors()[0]['msg']}")
            return None
        return EnvelopeFrame(payload=payload, media_time_ms=t.media_time_ms)
