"""The live feed of one room for browsers: a bounded backlog and bounded subscribers.

Every envelope the supervisor ingests from a room's bot is offered to the room's :class:`RoomFeed`
as the browsers in a Daily room would see it (the topic's ``app_message`` redactions applied; not
sampled, so ``meta.seq`` stays contiguous per session on this feed). The feed keeps the last
``backlog`` envelopes so a page that connects late, or reconnects with ``Last-Event-ID`` (the
envelope's ``meta.seq``), gets what it missed without duplicates.

Memory is bounded per room: ``backlog`` entries plus ``queue`` entries per subscriber, at most
``max_subscribers`` subscribers. A subscriber whose queue fills (its connection cannot keep up) is
*dropped*: its stream ends with a ``dropped`` event naming the last seq it was sent, and it resumes
from the backlog when it reconnects. A publisher never waits for a subscriber.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson

from bot.events import SpecRegistry
from bot.events.governance import Redactor

DESTINATION = "app_message"
"""The feed shows what browsers in a Daily room are allowed to see."""


@dataclass(frozen=True, slots=True)
class FeedItem:
    """One envelope on the feed: its session, ``meta.seq`` (the SSE event id) and JSON text."""

    session_id: str
    seq: int
    data: str


class Subscriber:
    """One connected stream: a bounded queue the publisher fills and the connection drains."""

    def __init__(self, queue_size: int) -> None:
        self.queue: asyncio.Queue[FeedItem | None] = asyncio.Queue(maxsize=queue_size)
        self.overflowed = asyncio.Event()
        """Set when the queue was full: the stream must end (the client resumes from the backlog)."""

    def offer(self, item: FeedItem | None) -> None:
        if self.overflowed.is_set():
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed.set()


@dataclass
class FeedStats:
    published: int = 0
    dropped_subscribers: int = 0
    refused_subscribers: int = 0

    def add(self, other: FeedStats) -> None:
        """Accumulate ``other`` (a forgotten feed's counts) into this one."""
        self.published += other.published
        self.dropped_subscribers += other.dropped_subscribers
        self.refused_subscribers += other.refused_subscribers


class TooManySubscribers(Exception):
    pass


@dataclass
class RoomFeed:
    """Backlog and subscribers of one room (see the module docstring)."""

    backlog_size: int
    queue_size: int
    max_subscribers: int
    backlog: deque[FeedItem] = field(init=False)
    subscribers: set[Subscriber] = field(default_factory=set)
    session_id: str | None = None
    ended: bool = False
    stats: FeedStats = field(default_factory=FeedStats)

    def __post_init__(self) -> None:
        self.backlog = deque(maxlen=self.backlog_size)

    def publish(self, item: FeedItem) -> None:
        """Append to the backlog and offer to every subscriber; never waits."""
        if item.session_id != self.session_id:
            # a new bot session (a restart): its seq starts again at 1, so the old backlog cannot
            # be resumed into; pages see the new session in the envelopes and start over
            self.session_id = item.session_id
            self.backlog.clear()
        self.backlog.append(item)
        self.stats.published += 1
        for sub in list(self.subscribers):
            sub.offer(item)
            if sub.overflowed.is_set():
                self.subscribers.discard(sub)
                self.stats.dropped_subscribers += 1

    def end(self) -> None:
        """The room is over: every stream gets the end marker after what it was sent."""
        self.ended = True
        for sub in list(self.subscribers):
            sub.offer(None)

    def subscribe(self, after_seq: int | None) -> tuple[Subscriber, list[FeedItem], int]:
        """A new subscriber, the backlog items after ``after_seq`` (all when ``None``), and how
        many envelopes after ``after_seq`` are no longer in the backlog (0 when none were lost)."""
        if len(self.subscribers) >= self.max_subscribers:
            self.stats.refused_subscribers += 1
            raise TooManySubscribers(f"{self.max_subscribers} streams are open on this room")
        sub = Subscriber(self.queue_size)
        items = list(self.backlog)
        missed = 0
        if after_seq is not None:
            items = [i for i in items if i.seq > after_seq]
            if items and items[0].seq > after_seq + 1:
                missed = items[0].seq - after_seq - 1
        self.subscribers.add(sub)
        return sub, items, missed

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)


class FeedHub:
    """The feeds of all rooms; turns ingested envelopes into browser-visible feed items."""

    def __init__(
        self,
        registry: SpecRegistry,
        *,
        salt: str = "",
        backlog: int = 2048,
        queue: int = 256,
        max_subscribers: int = 64,
    ) -> None:
        self._registry = registry
        self._redactor = Redactor(registry, salt)
        self.backlog = backlog
        self.queue = queue
        self.max_subscribers = max_subscribers
        self.feeds: dict[str, RoomFeed] = {}
        self._forgotten = FeedStats()  # counts of feeds already forgotten: the totals never go down

    def totals(self) -> FeedStats:
        """Counts over every feed so far, forgotten ones included (Prometheus counters must not
        decrease when an old room is forgotten)."""
        total = FeedStats()
        total.add(self._forgotten)
        for feed in self.feeds.values():
            total.add(feed.stats)
        return total

    def feed(self, room_id: str) -> RoomFeed:
        feed = self.feeds.get(room_id)
        if feed is None:
            feed = self.feeds[room_id] = RoomFeed(self.backlog, self.queue, self.max_subscribers)
        return feed

    def publish(self, room_id: str, envelope: dict[str, Any]) -> None:
        """Offer a validated envelope (from the room's bot) to the room's feed."""
        rule = self._registry.rule(envelope["topic"])
        if rule is None:
            return
        visible = self._redactor.apply(envelope, rule, DESTINATION)
        item = FeedItem(
            session_id=str(envelope["sessionId"]), seq=int(envelope["meta"]["seq"]), data=orjson.dumps(visible).decode()
        )
        self.feed(room_id).publish(item)

    def end(self, room_id: str) -> None:
        self.feed(room_id).end()

    def forget(self, room_id: str) -> None:
        feed = self.feeds.pop(room_id, None)
        if feed is not None:
            feed.end()
            self._forgotten.add(feed.stats)
