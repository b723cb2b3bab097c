"""Overlaps: backchannel, interruption or plain overlap for every episode of simultaneous speech."""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import CancelFrame, EndFrame, Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.analytics.overlaps import OverlapClassifier, OverlapParams
from bot.core.frames import EnvelopeFrame, MediaTickFrame, ParticipantLeftFrame, RoomEndedFrame, SpeakingStateFrame
from bot.processors.safety import no_events, safely


class Overlaps(FrameProcessor):
    """Feeds an :class:`OverlapClassifier` and pushes each decided episode.

    Reads ``SpeakingStateFrame``, ``MediaTickFrame`` (decisions fall due on media time),
    ``ParticipantLeftFrame`` and ``RoomEndedFrame`` / ``EndFrame`` (decide what is still open).
    Every frame is forwarded unchanged; events derived from a frame go out ahead of it.

    Frames pushed: ``EnvelopeFrame(RoomOverlapDetected)``, once per episode, when its kind is
    certain (rules in docs/pipeline.md, "Overlaps").

    Example::

        Overlaps(params=OverlapParams(backchannel=BackchannelRule(max_ms=800)))
    """

    def __init__(
        self,
        *,
        params: OverlapParams | None = None,
        classifier: OverlapClassifier | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        params: thresholds; ``OverlapParams()`` by default.
        classifier: a ready classifier (tests); overrides ``params``.
        """
        super().__init__(**kwargs)
        self.classifier = classifier or OverlapClassifier(params)
        self._last_ms = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        events = safely("overlaps", lambda: self._observe(frame, direction), no_events())
        for payload in events:
            await self.push_frame(EnvelopeFrame(payload=payload, media_time_ms=payload.media_time_ms))
        await self.push_frame(frame, direction)

    def _observe(self, frame: Frame, direction: FrameDirection) -> list[Any]:
        events: list[Any] = []
        if isinstance(frame, CancelFrame):
            pass  # stop at once: nothing more is decided
        elif isinstance(frame, EndFrame):
            events = self.classifier.finish(self._last_ms)
        elif direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, SpeakingStateFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
                events = self.classifier.speaking(
                    frame.media_time_ms, frame.participant_id, frame.speaking, frame.duration_ms
                )
            elif isinstance(frame, MediaTickFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
                events = self.classifier.tick(frame.media_time_ms)
            elif isinstance(frame, ParticipantLeftFrame):
                events = self.classifier.left(frame.media_time_ms, frame.participant_id)
            elif isinstance(frame, RoomEndedFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
                events = self.classifier.finish(frame.media_time_ms)
        return list(events)
