"""The in-process event bus: validate, envelope, sequence, buffer, dispatch.

``publish`` is the only way an event is born. It stamps a UUIDv7 whose time equals ``ts``, the next
``meta.seq``, keeps the envelope in a bounded ring buffer, and hands it to every matching
subscriber. A subscriber that raises is logged and counted; it never stops the others or the
publisher.
"""

from __future__ import annotations

import inspect
import threading
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.events._log import logger
from bot.events.framing import SessionContext, frame
from bot.events.registry import SpecRegistry
from bot.generated import TopicModel

if TYPE_CHECKING:
    import asyncio

Envelope = dict[str, Any]
Handler = Callable[[Envelope], object]
"""A subscriber: a coroutine function runs as a task; a plain function's return value is ignored."""


@dataclass
class _Subscription:
    pattern: str
    handler: Handler
    is_async: bool

    def matches(self, topic: str) -> bool:
        if self.pattern == "*" or self.pattern == topic:
            return True
        if self.pattern.endswith(".*"):
            return topic.startswith(self.pattern[:-1])
        return False


def _validate_pattern(pattern: str) -> None:
    if pattern == "*":
        return
    body = pattern[:-2] if pattern.endswith(".*") else pattern
    if not body or "*" in body:
        raise ValueError(f"bad subscription pattern {pattern!r}: use an exact topic id, 'prefix.*' or '*'")


class EventBus:
    """Publishes generated payload models as envelopes of one session."""

    def __init__(self, *, registry: SpecRegistry, context: SessionContext, ring_size: int = 2048) -> None:
        if ring_size < 1:
            raise ValueError("ring_size must be at least 1")
        self.registry = registry
        self.context = context
        self.spec_version = registry.spec_version
        self._base = context.envelope_fields()
        self._seq = 0
        self._lock = threading.Lock()
        self._ring: deque[Envelope] = deque(maxlen=ring_size)
        self._subs: list[_Subscription] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.published = 0
        self.dropped = 0
        self.handler_errors = 0
        self.per_topic: Counter[str] = Counter()
        self.occurrences: Counter[str] = Counter()
        """Per topic, what the envelopes stand for: an aggregated one (``payload.count``) counts that many."""
        self.drops_by_reason: Counter[str] = Counter()

    # ---- subscribing
    def subscribe(self, pattern: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(envelope)`` for topics matching ``pattern`` (exact, ``room.*`` or ``*``).

        Returns a function that unsubscribes. Async handlers run as tasks on the running loop.
        """
        _validate_pattern(pattern)
        sub = _Subscription(pattern, handler, inspect.iscoroutinefunction(handler))
        self._subs.append(sub)

        def unsubscribe() -> None:
            if sub in self._subs:
                self._subs.remove(sub)

        return unsubscribe

    # ---- publishing
    def publish(self, payload: TopicModel, *, media_time_ms: int | None = None) -> Envelope:
        """Envelope ``payload`` (an instance of a generated model), record it and dispatch it."""
        if not isinstance(payload, TopicModel):
            raise TypeError(f"publish() takes a generated payload model, not {type(payload).__name__}")
        topic = payload.TOPIC.value
        rule = self.registry.topics.get(topic)
        if rule is None:
            raise ValueError(f"topic {topic!r} is not in the loaded spec {self.spec_version}")
        if self.context.runtime not in rule.origin:
            raise ValueError(
                f"a {self.context.runtime} runtime may not publish {topic} (origin: {', '.join(sorted(rule.origin))})"
            )
        body = payload.to_wire()
        with self._lock:
            self._seq += 1
            envelope = frame(
                topic,
                body,
                spec_version=self.spec_version,
                context_fields=self._base,
                seq=self._seq,
                media_time_ms=media_time_ms,
            )
            self._record(envelope)
        self._dispatch(envelope)
        return envelope

    def adopt(self, envelope: Envelope) -> None:
        """Take in an envelope this session already delivered without the bus: the first one,
        which ``bot.session.boot`` writes to stdout before pydantic is loaded.

        It joins the ring buffer and the counters, so subscribers added later replay it (direct
        forwarding does) and the next ``publish`` continues its sequence. It is not dispatched:
        it is already out. Anything that does not fit this bus is a bug and raises ``ValueError``.
        """
        rule = self.registry.topics.get(envelope.get("topic", ""))
        problems = [
            what
            for what, bad in (
                ("an unknown topic", rule is None),
                ("another origin", rule is not None and self.context.runtime not in rule.origin),
                ("another spec version", envelope.get("specVersion") != self.spec_version),
                ("another session", any(envelope.get(k) != v for k, v in self._base.items())),
            )
            if bad
        ]
        with self._lock:
            if envelope.get("meta", {}).get("seq") != self._seq + 1:
                problems.append(f"seq {envelope.get('meta', {}).get('seq')} where {self._seq + 1} is next")
            if problems:
                raise ValueError(f"cannot adopt {envelope.get('topic')!r}: {', '.join(problems)}")
            self._seq += 1
            self._record(envelope)

    def _record(self, envelope: Envelope) -> None:  # under self._lock
        self._ring.append(envelope)
        self.published += 1
        self.per_topic[envelope["topic"]] += 1
        count = envelope["payload"].get("count") if isinstance(envelope.get("payload"), dict) else None
        self.occurrences[envelope["topic"]] += count if isinstance(count, int) and count > 0 else 1

    def _dispatch(self, envelope: Envelope) -> None:
        topic = envelope["topic"]
        for sub in tuple(self._subs):
            if not sub.matches(topic):
                continue
            try:
                if sub.is_async:
                    self._spawn(sub, envelope)
                else:
                    sub.handler(envelope)
            except Exception as exc:  # a subscriber's bug never reaches the publisher
                self._handler_failed(sub, topic, exc)

    def _spawn(self, sub: _Subscription, envelope: Envelope) -> None:
        import asyncio  # only when an async subscriber exists (the runtime itself needs no event loop)

        loop = asyncio.get_running_loop()  # RuntimeError (counted) when called with no loop
        coro = sub.handler(envelope)
        if not inspect.iscoroutine(coro):  # subscribe() saw a coroutine function: only a wrapper can lie
            raise TypeError(f"async subscriber returned {type(coro).__name__}, not a coroutine")
        task: asyncio.Task[Any] = loop.create_task(coro)
        self._tasks.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            if not t.cancelled() and t.exception() is not None:
                self._handler_failed(sub, envelope["topic"], t.exception())

        task.add_done_callback(done)

    def _handler_failed(self, sub: _Subscription, topic: str, exc: BaseException | None) -> None:
        self.handler_errors += 1
        name = getattr(sub.handler, "__qualname__", repr(sub.handler))
        logger().opt(exception=exc).error(f"event subscriber {name} failed on {topic}: {exc!r}")

    async def drain(self) -> None:
        """Wait for async subscribers still running."""
        import asyncio

        while self._tasks:
            await asyncio.gather(*tuple(self._tasks), return_exceptions=True)

    # ---- accounting
    def count_drop(self, reason: str, n: int = 1) -> None:
        """Record envelopes dropped by declared policy (sampling, size, bounded buffers)."""
        with self._lock:
            self.dropped += n
            self.drops_by_reason[reason] += n

    @property
    def last_seq(self) -> int:
        return self._seq

    @property
    def buffer_fill_percent(self) -> float:
        return round(100.0 * len(self._ring) / (self._ring.maxlen or 1), 2)

    def recent(self, n: int | None = None) -> list[Envelope]:
        """The last ``n`` envelopes from the ring buffer (all by default), oldest first."""
        items = list(self._ring)
        return items if n is None else items[-n:]
