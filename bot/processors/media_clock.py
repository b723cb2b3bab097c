"""MediaClockStamper: puts room media time on frames a live transport pushes, and ticks the clock.

Pipecat's ``DailyTransport`` pushes audio, transcripts and app messages without Prism's media-time
stamp; analytics need one (ARCHITECTURE principle 2). Placed right after ``room.input()``, this
processor stamps them from the room's clock and pushes ``MediaTickFrame`` every 100 ms.
"""

from __future__ import annotations

import asyncio
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

from bot.core.frames import MediaTickFrame, ParticipantLeftFrame
from bot.core.media import SampleClock, media_time_of, samples_to_ms, stamp

__all__ = ["AudioTimeline", "MediaClockStamper"]


class AudioTimeline:
    """Media time of each participant's audio chunks: counted in samples, anchored at arrival.

    The first chunk of a participant is placed so that it *ends* when it arrived
    (``now_ms - chunk length``); each later chunk starts where the previous one ended
    (:class:`bot.core.media.SampleClock`), so network jitter does not move audio around. When a
    stream falls ``resync_ms`` or more behind the clock (a muted or stalled track sent nothing
    for a while), it is re-anchored at the clock. Downstream, ``ParticipantVAD`` takes these
    stamps as they are.

    Example::

        timeline = AudioTimeline()
        timeline.place("alice", now_ms=1020, num_samples=320, sample_rate=16000)  # → 1000
        timeline.place("alice", now_ms=1045, num_samples=320, sample_rate=16000)  # → 1020
    """

    def __init__(self, *, resync_ms: int = 1000) -> None:
        self._resync_ms = resync_ms
        self._clocks: dict[str, SampleClock] = {}

    def place(self, participant_id: str, *, now_ms: int, num_samples: int, sample_rate: int) -> int:
        """The media time (ms) at which this chunk starts."""
        if sample_rate <= 0:
            return max(0, now_ms)
        arrival_start = max(0, now_ms - samples_to_ms(num_samples, sample_rate))
        clock = self._clocks.get(participant_id)
        if clock is None or clock.sample_rate != sample_rate:
            clock = self._clocks[participant_id] = SampleClock(sample_rate, anchor_ms=arrival_start)
            return clock.place(num_samples)
        if arrival_start - clock.now_ms >= self._resync_ms:
            return clock.place(num_samples, arrival_start)
        return clock.place(num_samples)

    def forget(self, participant_id: str) -> None:
        """Drop a participant's stream (they left; a rejoin starts a new anchor)."""
        self._clocks.pop(participant_id, None)


class MediaClockStamper(FrameProcessor):
    """Stamps unstamped input frames with room media time and pushes ``MediaTickFrame``s.

    Stamps (downstream, only frames without a media time yet):

    - ``UserAudioRawFrame`` / ``InputAudioRawFrame``: per participant, by :class:`AudioTimeline`
      (sample counts on a :class:`bot.core.media.SampleClock`, anchored at first arrival), which
      ``ParticipantVAD`` then uses as they are;
    - ``TranscriptionFrame``, ``InterimTranscriptionFrame``, ``InputTransportMessageFrame``
      (``DailyInputTransportMessageFrame`` included): the clock's time on arrival.

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
        self.last_tick_ms = 0

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
            self._stamp(frame)
            if isinstance(frame, ParticipantLeftFrame):
                self._timeline.forget(frame.participant_id)
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
