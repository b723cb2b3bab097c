"""Agenda time boxes and the wrap-up prompt, on media time.

``AgendaTracker`` walks an agenda of time-boxed items on the media clock and returns
``RoomTopicShiftSuggested`` when the current item's time box runs out (once per item) and one
``RoomWrapupPrompt`` when the meeting's end is near. No asyncio, no Pipecat.

The walk is time-driven: an item is current from the end of the previous one until its time box
elapses, then the next one is. A real facilitator would also move on when the room changes topic
(lexical cohesion, TextTiling, embeddings: FACILITATION_METRICS §2 "Topic shifts"); ``advance``
is the hook for that (or for a host command) and starts the next item at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.generated import RoomTopicShiftSuggested, RoomWrapupPrompt

__all__ = ["AgendaItem", "AgendaParams", "AgendaTracker", "agenda_items", "wrapup_message"]

MAX_TITLE = 200
"""Schema limit of ``currentItem`` / ``nextItem``."""


@dataclass(frozen=True)
class AgendaItem:
    """One agenda entry: a title and its time box in media milliseconds."""

    title: str
    timebox_ms: int

    def __post_init__(self) -> None:
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError("AgendaItem: title must be a non-empty string")
        if len(self.title) > MAX_TITLE:
            raise ValueError(f"AgendaItem: title must be at most {MAX_TITLE} characters")
        if not isinstance(self.timebox_ms, int) or isinstance(self.timebox_ms, bool) or self.timebox_ms <= 0:
            raise ValueError(f"AgendaItem {self.title!r}: timebox_ms must be a positive integer")


def agenda_items(items: Iterable[AgendaItem | Mapping[str, Any] | Any]) -> tuple[AgendaItem, ...]:
    """Agenda items from ``AgendaItem``s, objects with ``title``/``timebox_ms``, or dicts.

    Dicts may spell the time box ``timebox_ms`` (Python) or ``timeboxMs`` (scenario and context
    JSON).
    """
    out: list[AgendaItem] = []
    for item in items:
        if isinstance(item, AgendaItem):
            out.append(item)
        elif isinstance(item, Mapping):
            title: Any = item.get("title")  # untrusted: AgendaItem.__post_init__ checks both fields
            timebox = item.get("timebox_ms", item.get("timeboxMs"))
            out.append(AgendaItem(title=title, timebox_ms=timebox))
        else:
            out.append(AgendaItem(title=item.title, timebox_ms=item.timebox_ms))
    return tuple(out)


@dataclass(frozen=True)
class AgendaParams:
    """When the meeting starts and ends, and how early to prompt the wrap-up.

    Parameters:
        start_ms: media time the first item starts (the media clock starts when the bot joins).
        meeting_duration_ms: the meeting's planned length; None = the sum of the time boxes.
        wrapup_lead_ms: prompt the wrap-up this long before the meeting's end. None = 2 minutes,
            or 20 % of the meeting when that is shorter: two minutes is enough to agree on
            decisions and owners in an hour's meeting, but would be a third of a 6-minute
            stand-up (and all of the 56 s demo), where a fifth of the time is the share that
            still leaves room to wrap up.
    """

    start_ms: int = 0
    meeting_duration_ms: int | None = None
    wrapup_lead_ms: int | None = None

    def __post_init__(self) -> None:
        if self.start_ms < 0:
            raise ValueError("AgendaParams: start_ms must be >= 0")
        if self.meeting_duration_ms is not None and self.meeting_duration_ms <= 0:
            raise ValueError("AgendaParams: meeting_duration_ms must be > 0")
        if self.wrapup_lead_ms is not None and self.wrapup_lead_ms < 0:
            raise ValueError("AgendaParams: wrapup_lead_ms must be >= 0")


DEFAULT_WRAPUP_LEAD_MS = 120_000
WRAPUP_LEAD_FRACTION = 0.2


def _duration_words(ms: int) -> str:
    seconds = max(0, round(ms / 1000))
    if seconds < 90:
        return f"{seconds} second{'s' if seconds != 1 else ''}"
    minutes = round(seconds / 60)
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def wrapup_message(remaining_ms: int) -> str:
    """What the facilitator tells the room when it is time to wrap up."""
    return (
        f"About {_duration_words(remaining_ms)} left. Time to wrap up: "
        "confirm the decisions, who owns each next step, and anything still open."
    )


class AgendaTracker:
    """Time boxes, topic-shift suggestions and the wrap-up prompt.

    Example::

        at = AgendaTracker([AgendaItem("Status", 30_000), AgendaItem("Risks", 20_000)])
        events = at.tick(30_000)   # RoomTopicShiftSuggested(current_item="Status", next_item="Risks", ...)
    """

    def __init__(
        self, items: Iterable[AgendaItem | Mapping[str, Any] | Any] = (), params: AgendaParams | None = None
    ) -> None:
        """Start the agenda at ``params.start_ms`` with the first item current.

        Args:
            items: the agenda, in order (see :func:`agenda_items`); may be empty.
            params: start, meeting length and wrap-up lead; ``AgendaParams()`` by default.
        """
        self.params = params or AgendaParams()
        self.items = agenda_items(items)
        self._index = 0
        self._item_start = self.params.start_ms
        self._wrapup_sent = False
        planned = sum(item.timebox_ms for item in self.items)
        duration = self.params.meeting_duration_ms or planned
        self.meeting_end_ms: int | None = self.params.start_ms + duration if duration else None
        lead = self.params.wrapup_lead_ms
        if lead is None:
            lead = min(DEFAULT_WRAPUP_LEAD_MS, int(duration * WRAPUP_LEAD_FRACTION))
        self.wrapup_lead_ms = lead

    @property
    def current_item(self) -> AgendaItem | None:
        """The item being discussed, or None before the start or after the last time box."""
        return self.items[self._index] if self._index < len(self.items) else None

    @property
    def current_item_end_ms(self) -> int | None:
        """Media time the current item's time box runs out, or None when no item is current."""
        item = self.current_item
        return None if item is None else self._item_start + item.timebox_ms

    def tick(self, media_time_ms: int) -> list[RoomTopicShiftSuggested | RoomWrapupPrompt]:
        """The media clock advanced: suggest moving on from overrun items; prompt the wrap-up."""
        now = media_time_ms
        out: list[RoomTopicShiftSuggested | RoomWrapupPrompt] = []
        while (item := self.current_item) is not None and now >= self._item_start + item.timebox_ms:
            out.append(self._suggest(now))
            self._next(self._item_start + item.timebox_ms)
        end = self.meeting_end_ms
        if end is not None and not self._wrapup_sent and end - self.wrapup_lead_ms <= now < end:
            self._wrapup_sent = True
            out.append(RoomWrapupPrompt(remaining_ms=end - now, message=wrapup_message(end - now), media_time_ms=now))
        return out

    def advance(self, media_time_ms: int) -> None:
        """Move to the next item now (topic detected, host command); its time box starts now."""
        if self.current_item is not None:
            self._next(media_time_ms)

    def _suggest(self, now: int) -> RoomTopicShiftSuggested:
        item = self.items[self._index]
        nxt = self.items[self._index + 1] if self._index + 1 < len(self.items) else None
        return RoomTopicShiftSuggested(
            current_item=item.title,
            next_item=nxt.title if nxt else None,
            reason="time_box",
            elapsed_ms=max(0, now - self._item_start),
            timebox_ms=item.timebox_ms,
            media_time_ms=max(0, now),
        )

    def _next(self, start_ms: int) -> None:
        self._index += 1
        self._item_start = start_ms
