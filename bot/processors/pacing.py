"""Pacing: words per minute and turn counts per participant, from transcripts and speaking state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.analytics.pacing import PacingParams, PacingTracker
from bot.core.frames import EnvelopeFrame, ParticipantLeftFrame, SpeakingStateFrame
from bot.core.media import media_time_of
from bot.processors.safety import no_events, safely


class Pacing(FrameProcessor):
    """Feeds a :class:`PacingTracker` and pushes its updates.

    Reads ``SpeakingStateFrame`` (speaking time, turns), ``TranscriptionFrame`` (words; the update
    point) and ``ParticipantLeftFrame``. Every frame is forwarded unchanged.

    Frames pushed: ``EnvelopeFrame(RoomPacingUpdated)`` after a transcript, once the participant
    has enough speech to measure (thresholds in docs/pipeline.md, "Pacing"); in a room without
    transcripts, one ``no_words`` update per participant after a stop.

    Example::

        Pacing(params=PacingParams(window_speaking_ms=30_000))
    """

    def __init__(
        self,
        *,
        params: PacingParams | None = None,
        tracker: PacingTracker | None = None,
        transcribed: Callable[[], bool] | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        params: window, bands and thresholds; ``PacingParams()`` by default.
        tracker: a ready tracker (tests, or to read turn counts elsewhere); overrides ``params``.
        transcribed: whether the room delivers transcripts now (asked at every speaking change:
            Daily may refuse transcription after the join); None: it does.
        """
        super().__init__(**kwargs)
        self.tracker = tracker or PacingTracker(params)
        self.transcribed = transcribed

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            for payload in safely("pacing", lambda: self._observe(frame), no_events()):
                await self.push_frame(EnvelopeFrame(payload=payload, media_time_ms=payload.media_time_ms))
        await self.push_frame(frame, direction)

    def _observe(self, frame: Frame) -> list[Any]:
        if isinstance(frame, SpeakingStateFrame):
            if self.transcribed is not None:
                self.tracker.transcribed = self.transcribed()  # Daily may refuse it after the join
            return list(
                self.tracker.speaking(frame.media_time_ms, frame.participant_id, frame.speaking, frame.duration_ms)
            )
        elif isinstance(frame, TranscriptionFrame):
            at = media_time_of(frame)
            if at is not None:
                return list(self.tracker.transcript(at, frame.user_id, frame.text))
        elif isinstance(frame, ParticipantLeftFrame):
            self.tracker.leave(frame.media_time_ms, frame.participant_id)
        return []
