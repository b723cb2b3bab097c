"""MediaClockStamper: puts room media time on frames a live transport pushes, and ticks the clock.

Pipecat's ``DailyTransport`` pushes audio, transcripts and app messages without Prism's media-time
stamp; analytics need one (ARCHITECTURE principle 2). Placed right after ``room.input()``, this
processor stamps them from the room's clock and pushes ``MediaTickFrame`` every 100 ms.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import (
    CancelFrame,
    EndFrame,
    Frame,
    InputAudioRawFrame,
    InputTransportMessageFrame,
    InterimTranscriptionFrame,
    StartFrame,
    TranscriptionFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.core.frames import MediaTickFrame, ParticipantJoinedFrame, ParticipantLeftFrame
from bot.core.media import media_time_of, stamp

__all__ = ["AudioTimeline", "MediaClockStamper"]


_RESOLUTION_MS = 1.0
"""The room clock counts whole milliseconds (rounded down), so an arrival can look up to 1 ms early."""


class _Stream:
    """One participant's audio stream: samples counted from a (slewing) anchor, and recent arrivals."""

    __slots__ = ("anchor_ms", "behind_since_ms", "sample_rate", "samples", "window")

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.samples = 0
        self.anchor_ms = 0.0  # media time of sample 0 as counted now (moves when the stream is corrected)
        self.behind_since_ms: int | None = None  # arrival at which the lag last went above step_ms
        # (arrival ms, arrival start - sample position ms), ascending in the second value: a
        # monotonic deque, so its head is the minimum over the window.
        self.window: deque[tuple[int, float]] = deque()

    def position_ms(self) -> float:
        return self.samples * 1000 / self.sample_rate


class AudioTimeline:
    """Media time of each participant's audio chunks: counted in samples, converging to the room clock.

    A chunk cannot start later than it arrived minus its own length (``arrival start``): audio is
    never delivered before it is recorded. Counting samples from an anchor keeps chunks in order
    and spaced by their length whatever the network jitter; comparing each chunk's counted start
    with its arrival start says whether the stream's anchor is right. The stream's *lag* is the
    smallest ``arrival start - counted start`` over the last ``window_ms`` of arrivals (the
    least-delayed chunk, so jitter, which only ever delays, does not count):

    - lag < 0: the stamps are ahead of the audio (a backlog or burst counted forward, e.g. at
      first arrival): the anchor slews back by at most ``slew`` of each chunk's length (10 %:
      2 ms per 20 ms chunk, 100 ms per second of audio). It never steps back: that would stamp
      two chunks of one person at the same time.
    - lag > ``step_ms`` over a whole window: the stream resumed after a gap (mute/unmute, a
      stalled track) and has been that far behind for ``window_ms``: the anchor steps forward by
      the lag (a step forward is a silence in media time, harmless).
    - ``tolerance_ms`` < lag ≤ ``step_ms``: slew forward at the same bounded rate.
    - a chunk arriving ``resync_ms`` or more behind re-anchors at once (a long mute).

    So after any disturbance a stream is back within ``tolerance_ms`` of the room clock (plus its
    smallest network delay) after ``window_ms`` for gaps, and after ``ahead / (slew × 1000)``
    seconds for bursts (400 ms ahead: 4 s); between chunks its stamps move by at most ``slew`` of
    a chunk. A burst after a short stall (audio held back, then delivered at once) is *not* a
    gap: its chunks' counted stamps are already right, and the window keeps them.

    Example::

        timeline = AudioTimeline()
        timeline.place("alice", now_ms=1020, num_samples=320, sample_rate=16000)  # → 1000
        timeline.place("alice", now_ms=1045, num_samples=320, sample_rate=16000)  # → 1020
    """

    def __init__(
        self,
        *,
        resync_ms: int = 1000,
        window_ms: int = 500,
        step_ms: int = 200,
        tolerance_ms: int = 20,
        slew: float = 0.1,
    ) -> None:
        if not 0 < slew < 1:
            raise ValueError("slew must be between 0 and 1 (a fraction of each chunk's length)")
        self._resync_ms = resync_ms
        self._window_ms = window_ms
        self._step_ms = step_ms
        self._tolerance_ms = tolerance_ms
        self._slew = slew
        self._streams: dict[str, _Stream] = {}

    def place(self, participant_id: str, *, now_ms: int, num_samples: int, sample_rate: int) -> int:
        """The media time (ms) at which this chunk starts."""
        if sample_rate <= 0:
            return max(0, now_ms)
        chunk_ms = num_samples * 1000 / sample_rate
        arrival_start = max(0.0, now_ms - chunk_ms)
        stream = self._streams.get(participant_id)
        if stream is None or stream.sample_rate != sample_rate:
            stream = self._streams[participant_id] = _Stream(sample_rate)
            stream.anchor_ms = arrival_start
        else:
            position = stream.position_ms()
            if arrival_start - (stream.anchor_ms + position) >= self._resync_ms:
                stream.anchor_ms = arrival_start - position
                stream.window.clear()
            else:
                self._observe(stream, now_ms, arrival_start - position)
                self._correct(stream, now_ms, chunk_ms)
        if not stream.window:
            self._observe(stream, now_ms, arrival_start - stream.position_ms())
        start = int(stream.anchor_ms + stream.position_ms())
        stream.samples += num_samples
        return max(0, start)

    def _observe(self, stream: _Stream, now_ms: int, raw: float) -> None:
        window = stream.window
        while window and window[-1][1] >= raw:
            window.pop()
        window.append((now_ms, raw))
        while window[0][0] < now_ms - self._window_ms:
            window.popleft()

    def _correct(self, stream: _Stream, now_ms: int, chunk_ms: float) -> None:
        lag = stream.window[0][1] - stream.anchor_ms
        limit = self._slew * chunk_ms
        if lag <= self._step_ms:
            stream.behind_since_ms = None
        elif stream.behind_since_ms is None:
            stream.behind_since_ms = now_ms
        if lag < -_RESOLUTION_MS:
            stream.anchor_ms -= min(-lag - _RESOLUTION_MS, limit)
        elif stream.behind_since_ms is not None and now_ms - stream.behind_since_ms >= self._window_ms:
            stream.anchor_ms += lag  # behind by more than step_ms for a whole window: a gap, step over it
            stream.behind_since_ms = None
        elif lag > self._tolerance_ms:
            stream.anchor_ms += min(lag - self._tolerance_ms, limit)

    def forget(self, participant_id: str) -> None:
        """Drop a participant's stream (they left; a rejoin starts a new anchor)."""
        self._streams.pop(participant_id, None)


class MediaClockStamper(FrameProcessor):
    """Stamps unstamped input frames with room media time and pushes ``MediaTickFrame``s.

    Stamps (downstream, only frames without a media time yet):

    - ``UserAudioRawFrame`` / ``InputAudioRawFrame``: per participant, by :class:`AudioTimeline`
      (sample counts on a :class:`bot.core.media.SampleClock`, anchored at first arrival), which
      ``ParticipantVAD`` then uses as they are;
    - ``TranscriptionFrame``, ``InterimTranscriptionFrame``, ``InputTransportMessageFrame``
      (``DailyInputTransportMessageFrame`` included): the clock's time on arrival.

    Audio of a participant after their ``ParticipantLeftFrame`` (chunks queued before the leave)
    is dropped until a ``ParticipantJoinedFrame`` for them (a rejoin) comes.

    Frames pushed: ``MediaTickFrame`` every ``tick_ms`` of clock time (on multiples of
    ``tick_ms``; skipped ticks are not replayed), from a task started on ``StartFrame`` and
    stopped on ``EndFrame``/``CancelFrame``. Every frame is forwarded.

    Example::

        Pipeline([room.input(), MediaClockStamper(clock=room.clock.now_ms), ParticipantVAD(), ...])
    """

    def __init__(
        self,
        *,
        clock: Callable[[], int],
        tick_ms: int | None = 100,
        resync_ms: int = 1000,
        **kwargs: Any,
    ) -> None:
        """Create the stamper.

        Args:
            clock: the room's media clock, ms (``DailyRoom.clock.now_ms``).
            tick_ms: period of ``MediaTickFrame``; ``None`` pushes none (the simulated room ticks itself).
            resync_ms: re-anchor a participant's audio when it falls this far behind the clock.
            **kwargs: passed to ``FrameProcessor``.
        """
        super().__init__(**kwargs)
        if tick_ms is not None and tick_ms <= 0:
            raise ValueError("tick_ms must be > 0 or None")
        self._clock = clock
        self._tick_ms = tick_ms
        self._timeline = AudioTimeline(resync_ms=resync_ms)
        self._tick_task: asyncio.Task[None] | None = None
        self._left: set[str] = set()
        self.last_tick_ms = 0
        self.dropped_after_leave = 0
        """Audio chunks of participants who had left (queued before the leave), not passed on."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await self.push_frame(frame, direction)
            self._start_ticks()
            return
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self._stop_ticks()
            await self.push_frame(frame, direction)
            return
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, InputAudioRawFrame) and (getattr(frame, "user_id", "") or "") in self._left:
                # Daily's audio callbacks queue chunks on the input transport's audio task, while
                # the leave is pushed at once: chunks of a participant who left can come after
                # the leave. Passing them on would reopen the stream (here and in the VAD).
                self.dropped_after_leave += 1
                return
            self._stamp(frame)
            if isinstance(frame, ParticipantLeftFrame):
                self._timeline.forget(frame.participant_id)
                self._left.add(frame.participant_id)
            elif isinstance(frame, ParticipantJoinedFrame):
                self._left.discard(frame.participant_id)
        await self.push_frame(frame, direction)

    async def cleanup(self) -> None:
        await self._stop_ticks()
        await super().cleanup()  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated

    def _stamp(self, frame: Frame) -> None:
        if isinstance(frame, InputAudioRawFrame):
            if media_time_of(frame) is None:
                channels = max(1, frame.num_channels)
                samples = len(frame.audio) // (2 * channels)
                pid = getattr(frame, "user_id", "") or ""
                stamp(
                    frame,
                    self._timeline.place(pid, now_ms=self._clock(), num_samples=samples, sample_rate=frame.sample_rate),
                )
        elif isinstance(frame, (TranscriptionFrame, InterimTranscriptionFrame, InputTransportMessageFrame)):
            if media_time_of(frame) is None:
                stamp(frame, self._clock())

    def _start_ticks(self) -> None:
        if self._tick_ms is not None and self._tick_task is None:
            self._tick_task = self.create_task(self._ticks(), name=f"{self}::media_ticks")

    async def _stop_ticks(self) -> None:
        task, self._tick_task = self._tick_task, None
        if task is not None:
            await self.cancel_task(task)

    async def _ticks(self) -> None:
        tick = self._tick_ms
        assert tick is not None
        while True:
            now = self._clock()
            await asyncio.sleep(max(0.001, ((now // tick + 1) * tick - now) / 1000))
            at = self._clock() // tick * tick
            if at > self.last_tick_ms:
                self.last_tick_ms = at
                await self.push_frame(MediaTickFrame(media_time_ms=at))
