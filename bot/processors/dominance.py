"""Dominance: talk-time shares, Gini, the dominant speaker, monologue requests, and the roster."""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import CancelFrame, EndFrame, Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.analytics.dominance import DominanceParams, DominanceTracker, MonologueDetector, MonologueParams
from bot.analytics.roster import Roster
from bot.core.frames import (
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    RoomEndedFrame,
    SpeakingStateFrame,
)
from bot.processors.safety import no_events, safely


class Dominance(FrameProcessor):
    """Feeds a :class:`DominanceTracker`, a :class:`MonologueDetector` and the :class:`Roster`.

    The roster lives here because a leave reports the participant's session talk time, which is
    this tracker's, and because the tracker needs every join anyway (silent participants count in
    the Gini). One owner, no shared mutable state between processors.

    Reads ``SpeakingStateFrame``, ``MediaTickFrame`` (scores and monologue checks run on ticks,
    never on every frame), ``ParticipantJoinedFrame`` / ``ParticipantLeftFrame`` and
    ``RoomEndedFrame`` / ``EndFrame`` (final score). Every frame is forwarded unchanged; events
    derived from a frame go out ahead of it.

    Frames pushed: ``EnvelopeFrame`` with ``RoomParticipantJoined``, ``RoomParticipantLeft``
    (with ``talk_time_ms``), ``RoomDominanceScore`` (``trigger`` change / periodic / final) and
    ``RoomInterruptRequest(reason="monologue")``.

    Example::

        Dominance(params=DominanceParams(periodic_ms=30_000), monologue=MonologueParams(monologue_ms=20_000))
    """

    def __init__(
        self,
        *,
        params: DominanceParams | None = None,
        monologue: MonologueParams | None = None,
        tracker: DominanceTracker | None = None,
        detector: MonologueDetector | None = None,
        roster: Roster | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        params: dominance thresholds and emission rules; ``DominanceParams()`` by default.
        monologue: monologue thresholds; ``MonologueParams()`` by default.
        tracker, detector, roster: ready instances (tests, or to share the roster); they
            override ``params`` / ``monologue``.
        """
        super().__init__(**kwargs)
        self.tracker = tracker or DominanceTracker(params)
        self.detector = detector or MonologueDetector(monologue)
        self.roster = roster or Roster()
        self._last_ms = 0
        self._finished = False

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        events: list[Any] = []
        if isinstance(frame, CancelFrame):
            pass  # stop at once
        elif isinstance(frame, EndFrame):  # no RoomEndedFrame came: totals up to the last tick
            events = safely("dominance", lambda: self._finish(self._last_ms), no_events())
        elif direction is FrameDirection.DOWNSTREAM and not self._finished:
            events = safely("dominance", lambda: self._observe(frame), no_events())
        for payload in events:
            at = getattr(payload, "media_time_ms", None)
            media_ms = self._last_ms if at is None else at
            await self.push_frame(EnvelopeFrame(payload=payload, media_time_ms=media_ms))
        await self.push_frame(frame, direction)

    def _observe(self, frame: Frame) -> list[Any]:
        if isinstance(frame, SpeakingStateFrame):
            self._last_ms = max(self._last_ms, frame.media_time_ms)
            args = (frame.media_time_ms, frame.participant_id, frame.speaking, frame.duration_ms)
            self.tracker.speaking(*args)
            self.detector.speaking(*args)
        elif isinstance(frame, MediaTickFrame):
            self._last_ms = max(self._last_ms, frame.media_time_ms)
            return [*self.detector.tick(frame.media_time_ms), *self.tracker.tick(frame.media_time_ms)]
        elif isinstance(frame, ParticipantJoinedFrame):
            self.tracker.join(frame.media_time_ms, frame.participant_id)
            joined = self.roster.join(frame.media_time_ms, frame.participant_id, frame.display_name)
            return [joined] if joined else []
        elif isinstance(frame, ParticipantLeftFrame):
            talk_ms = self.tracker.leave(frame.media_time_ms, frame.participant_id)
            self.detector.leave(frame.media_time_ms, frame.participant_id)
            left = self.roster.leave(frame.media_time_ms, frame.participant_id, talk_time_ms=talk_ms)
            return [left] if left else []
        elif isinstance(frame, RoomEndedFrame):
            return self._finish(max(self._last_ms, frame.media_time_ms))
        return []

    def _finish(self, media_time_ms: int) -> list[Any]:
        if self._finished:
            return []
        self._finished = True
        self._last_ms = media_time_ms
        return list(self.tracker.finish(media_time_ms))
