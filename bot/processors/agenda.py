"""Agenda: time boxes, topic-shift suggestions and the wrap-up prompt, on the media clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.analytics.agenda import AgendaItem, AgendaParams, AgendaTracker
from bot.core.frames import EnvelopeFrame, MediaTickFrame
from bot.processors.safety import no_events, safely


class Agenda(FrameProcessor):
    """Feeds :class:`AgendaTracker` the media clock and pushes what falls due.

    Reads ``MediaTickFrame``; every frame is forwarded unchanged. Joins and leaves are reported by
    ``Dominance``, which owns the talk time a leave carries.

    Frames pushed: ``EnvelopeFrame(RoomTopicShiftSuggested)`` when an item's time box runs out
    (once per item) and ``EnvelopeFrame(RoomWrapupPrompt)`` once, ``wrapup_lead_ms`` before the
    meeting's end.

    Example::

        Agenda(agenda=[AgendaItem("Status", 300_000), AgendaItem("Risks", 300_000)])
    """

    def __init__(
        self,
        *,
        agenda: Iterable[AgendaItem | Mapping[str, Any] | Any] = (),
        params: AgendaParams | None = None,
        tracker: AgendaTracker | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        agenda: items in order (``AgendaItem``, objects with ``title``/``timebox_ms``, or dicts
            with ``title`` and ``timebox_ms``/``timeboxMs``); empty = no time boxes, no wrap-up
            unless ``params.meeting_duration_ms`` is set.
        params: start, meeting length, wrap-up lead; ``AgendaParams()`` by default.
        tracker: a ready tracker (tests); overrides ``agenda`` and ``params``.
        """
        super().__init__(**kwargs)
        self.tracker = tracker or AgendaTracker(agenda, params)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and isinstance(frame, MediaTickFrame):
            for payload in safely("agenda", lambda: self.tracker.tick(frame.media_time_ms), no_events()):
                await self.push_frame(EnvelopeFrame(payload=payload, media_time_ms=frame.media_time_ms))
        await self.push_frame(frame, direction)
