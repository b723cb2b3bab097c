"""Pacing: words per minute and turn counts per participant, from transcripts and speaking state."""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.analytics.pacing import PacingParams, PacingTracker
from bot.core.frames import EnvelopeFrame, ParticipantLeftFrame, SpeakingStateFrame
from bot.core.media import media_time_of


class Pacing(FrameProcessor):
    """Feeds a :class:`PacingTracker` and pushes its updates.

    Reads ``SpeakingStateFrame`` (speaking time, turns), ``TranscriptionFrame`` (words; the update
    point) and ``ParticipantLeftFrame``. Every frame is forwarded unchanged.

    Frames pushed: ``EnvelopeFrame(RoomPacingUpdated)`` after a transcript, once the participant
    has enough speech to measure (thresholds in docs/pipeline.md, "Pacing").

    Example::

        Pacing(params=PacingParams(window_speaking_ms=30_000))
    """

    def __init__(
        self,
        *,
        params: PacingParams | None = None,
        tracker: PacingTracker | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        params: window, bands and thresholds; ``PacingParams()`` by default.
        tracker: a ready tracker (tests, or to read turn counts elsewhere); overrides ``params``.
        """
        super().__init__(**kwargs)
        self.tracker = tracker or PacingTracker(params)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, SpeakingStateFrame):
                self.tracker.speaking(frame.media_time_ms, frame.participant_id, frame.speaking, frame.duration_ms)
            elif isinstance(frame, TranscriptionFrame):
                at = media_time_of(frame)
                if at is not None:
                    for payload in self.tracker.transcript(at, frame.user_id, frame.text):
                        envelope = EnvelopeFrame(payload=payload, media_time_ms=payload.media_time_ms)
                        await self.push_frame(envelope)
            elif isinstance(frame, ParticipantLeftFrame):
                self.tracker.leave(frame.media_time_ms, frame.participant_id)
        await self.push_frame(frame, direction)
