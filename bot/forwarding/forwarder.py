"""The EventBridge forwarder: govern, batch, send, resend what failed, report what was lost.

``Forwarder.submit(envelope)`` is synchronous and never blocks (a bus subscriber, callable from any
thread, also before the event loop runs): it routes the envelope by its topic's spec rule, samples
it, redacts it for ``eventbridge``, turns it into a PutEvents entry and buffers it. A task on the
loop sends batches of at most 10 entries under the size limit, at the latest ``max_delay_s`` after
the oldest entry arrived, at once for ``critical``/``high`` topics. Entries that fail with a
retryable code (``ThrottlingException``, ``InternalFailure``) are resent alone, after a capped
exponential backoff with full jitter; nothing that was accepted is sent twice by the forwarder.
Every loss (too large, evicted from the full buffer, rejected, retries exhausted, left at shutdown)
is counted (in total and per flow) and reported through ``on_deferred`` as
``forwarding.delivery.deferred``, one report per flow, reason and topic.

The buffer is fair across *flows* (``submit(envelope, flow=…)``: the supervisor passes the room, the
default is the envelope's session): one room's flood evicts only its own entries, and a session's
lifecycle and summary topics (:data:`SUMMARY_TOPICS`) are never evicted by another room's. See
``bot/forwarding/buffer.py``.

Imports no Pipecat: the supervisor and the bot process (Pipecat Cloud) both run it.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from bot.core.log_budget import LogBudget
from bot.events._log import logger
from bot.events.governance import Redactor, Sampler
from bot.events.registry import SpecRegistry
from bot.forwarding.buffer import DEFAULT_PROTECTED_PER_FLOW, URGENT, Item, PriorityBuffer
from bot.forwarding.entries import (
    DEFAULT_MAX_BYTES,
    DEFAULT_SOURCE,
    MAX_ENTRIES,
    RETRYABLE_CODES,
    build_entry,
    check_bus_name,
    check_source,
    normalize_bus_name,
)
from bot.forwarding.sinks import CALL_RETRYABLE_CODES, SendFailed, Sink
from bot.generated.topics import Topic

DESTINATION: Final = "eventbridge"
DeferredReason = Literal[
    "too_large",
    "buffer_full",
    "evicted",
    "throttled",
    "retry_exhausted",
    "rejected",
    "forwarding_disabled",
    "timed_out",
    "not_connected",
]
"""The reasons of ``forwarding.delivery.deferred`` (the last two are app-message send outcomes)."""

_REPORT_REASON: dict[str, DeferredReason] = {
    "too_large": "too_large",
    "buffer_full": "buffer_full",
    "evicted": "evicted",
    "rejected": "rejected",
    "retry_exhausted": "retry_exhausted",
    "shutdown": "retry_exhausted",
}
"""The reported drop reasons and the topic's enum value each is reported as (closed, duplicate and
sampled drops are counted but never reported)."""

DeferredCallback = Callable[[Any], object]
"""Gets a ``ForwardingDeliveryDeferred`` model; the owner publishes it on its bus (the result is ignored)."""
LOG_BURST: Final = 10
LOG_EVERY: Final = 1000
"""The forwarder's lines about bad entries: the first ``LOG_BURST`` of a kind, then one per ``LOG_EVERY``."""
SUMMARY_TOPICS = frozenset(
    {
        Topic.ASSISTANT_ROOM_JOIN_SUCCEEDED,
        Topic.ASSISTANT_ROOM_JOIN_FAILED,
        Topic.CONVERSATION_POLICY_LOADED,
        Topic.ROOM_VOTE_STARTED,
        Topic.ROOM_VOTE_CLOSED,
        Topic.ROOM_TOPIC_SHIFT_SUGGESTED,
        Topic.FORWARDING_DELIVERY_DEFERRED,
    }
)
"""Topics a session publishes a bounded number of times and a consumer reads as its record
(decisions, agenda moves, which policy governed, what was lost): ``protected`` in the buffer. With
the lifecycle (``critical``) and the final ``room.dominance.score`` (``trigger: final``, the whole
session's shares) they are what another room's flood must never cost a room. High-rate or
per-participant topics (violations, interrupts, joins and leaves, change/periodic scores) are not."""
FlowDeferredCallback = Callable[[Any, str], object]
"""``(model, flow)``: the same report, with the flow (room) whose envelopes were lost."""
DropCallback = Callable[[str, str, int], None]
"""``(reason, topic, count)`` for every envelope not delivered, sampling included."""
DeliveredCallback = Callable[[list[Item], float], None]
"""``(items, monotonic time)`` after the sink accepted them (latency measurements)."""


@dataclass(frozen=True)
class ForwarderConfig:
    """How the forwarder batches, buffers and retries. The defaults follow AWS's limits."""

    source: str = DEFAULT_SOURCE
    bus_name: str | None = None
    max_entries: int = MAX_ENTRIES
    max_delay_s: float = 1.0
    max_batch_bytes: int = DEFAULT_MAX_BYTES
    buffer_entries: int = 2048
    buffer_bytes: int = 16 * 1024 * 1024
    max_in_flight: int = 2
    max_attempts: int = 8
    backoff_base_s: float = 0.1
    backoff_max_s: float = 20.0
    close_timeout_s: float = 5.0
    dedupe_window: int = 8192
    protected_per_flow: int = DEFAULT_PROTECTED_PER_FLOW
    report_interval_s: float = 1.0
    """Losses are reported at once, then at most once per interval (aggregated per flow, reason, topic)."""

    def __post_init__(self) -> None:
        problems = []
        if not 1 <= self.max_entries <= MAX_ENTRIES:
            problems.append(f"max_entries must be 1..{MAX_ENTRIES}")
        if self.max_delay_s < 0:
            problems.append("max_delay_s must be >= 0")
        if self.max_batch_bytes < 256:
            problems.append("max_batch_bytes must be >= 256")
        if self.buffer_entries < self.max_entries:
            problems.append("buffer_entries must be >= max_entries")
        if self.max_in_flight < 1 or self.max_attempts < 1:
            problems.append("max_in_flight and max_attempts must be >= 1")
        if self.backoff_base_s < 0 or self.backoff_max_s < self.backoff_base_s:
            problems.append("backoff must satisfy 0 <= backoff_base_s <= backoff_max_s")
        why = check_source(self.source)
        if why:
            problems.append(f"source {why}")
        bus = normalize_bus_name(self.bus_name)
        why = check_bus_name(bus) if bus else None
        if why:
            problems.append(f"bus_name {why}")
        if problems:
            raise ValueError("; ".join(problems))


@dataclass
class FlowStats:
    """One flow's (room's) share of the counters."""

    accepted: int = 0
    delivered: int = 0
    dropped: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"accepted": self.accepted, "delivered": self.delivered, "dropped": dict(self.dropped)}


@dataclass
class ForwarderStats:
    """Counters since start; ``dropped`` is keyed by reason."""

    submitted: int = 0
    not_forwarded: int = 0
    accepted: int = 0
    delivered: int = 0
    batches: int = 0
    failed_batches: int = 0
    retried: int = 0
    reports: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    error_codes: Counter[str] = field(default_factory=Counter)
    flows: dict[str, FlowStats] = field(default_factory=dict)
    """Per flow (room) while the owner keeps it (``Forwarder.forget_flow``)."""

    def flow(self, name: str) -> FlowStats:
        stats = self.flows.get(name)
        if stats is None:
            stats = self.flows[name] = FlowStats()
        return stats

    def as_dict(self) -> dict[str, Any]:
        return {
            "submitted": self.submitted,
            "notForwarded": self.not_forwarded,
            "accepted": self.accepted,
            "delivered": self.delivered,
            "batches": self.batches,
            "failedBatches": self.failed_batches,
            "retried": self.retried,
            "reports": self.reports,
            "dropped": dict(self.dropped),
            "errorCodes": dict(self.error_codes),
        }


class Forwarder:
    """Batches eventbridge-destined envelopes into a sink. See the module docstring.

    Example::

        forwarder = Forwarder(registry, DryRunSink("forward.jsonl"), salt=salt)
        await forwarder.start()
        bus.subscribe("*", forwarder.submit)
        ...
        await forwarder.close()
    """

    def __init__(
        self,
        registry: SpecRegistry,
        sink: Sink,
        *,
        config: ForwarderConfig | None = None,
        redactor: Redactor | None = None,
        sampler: Sampler | None = None,
        salt: str | bytes = b"",
        on_deferred: DeferredCallback | None = None,
        on_flow_deferred: FlowDeferredCallback | None = None,
        on_drop: DropCallback | None = None,
        on_delivered: DeliveredCallback | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.registry = registry
        self.sink = sink
        self.config = config or ForwarderConfig()
        self.redactor = redactor or Redactor(registry, salt)
        self.sampler = sampler or Sampler(registry)
        self.on_deferred = on_deferred
        self.on_flow_deferred = on_flow_deferred
        self.on_drop = on_drop
        self.on_delivered = on_delivered
        self.stats = ForwarderStats()
        self._source = self.config.source
        self._bus_name = normalize_bus_name(self.config.bus_name)
        self._limit = self.config.max_batch_bytes
        self._rules = {tid: rule for tid, rule in registry.topics.items() if DESTINATION in rule.destinations}
        self._buffer = PriorityBuffer(
            max_entries=self.config.buffer_entries,
            max_bytes=self.config.buffer_bytes,
            protected_per_flow=self.config.protected_per_flow,
        )
        self._lock = threading.Lock()
        self._seen: dict[str, OrderedDict[str, None]] = {}
        """Per flow, the last ``dedupe_window`` ids: one room's volume never pushes another's ids out,
        and one room's id never makes another room's envelope a duplicate."""
        self._reports: dict[tuple[str, str, str], list[int]] = {}
        self._rng = rng or random.Random()
        self._log_budgets: dict[str, LogBudget] = {}
        self._last_report = -float("inf")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._in_flight: dict[asyncio.Task[None], list[Item]] = {}
        self._in_flight_items = 0
        self._urgent = False
        self._force = 0
        self._closing = False
        self._closed = False
        self._failures = 0
        self._backoff_until = 0.0

    # ---- intake (any thread, never blocks)
    def submit(self, envelope: dict[str, Any], flow: str | None = None) -> bool:
        """Offer one envelope of ``flow`` (a room; default: its session); ``True`` when it was buffered."""
        topic = envelope.get("topic")
        rule = self._rules.get(topic) if isinstance(topic, str) else None
        if rule is None:
            self.stats.not_forwarded += 1
            return False
        topic = rule.id
        if flow is None:
            flow = str(envelope.get("sessionId", ""))
        with self._lock:
            self.stats.submitted += 1
            if self._closed or self._closing:
                self._drop("closed", topic, 1, flow, report=False)
                return False
            envelope_id = envelope.get("id", "")
            seen = self._seen.get(flow)
            if seen is None:
                seen = self._seen[flow] = OrderedDict()
            if envelope_id in seen:
                self._drop("duplicate", topic, 1, flow, report=False)
                return False
            seen[envelope_id] = None
            if len(seen) > self.config.dedupe_window:
                seen.popitem(last=False)
        if not self.sampler.keep(rule, DESTINATION):
            with self._lock:
                self._drop("sampled", topic, 1, flow, report=False)
            return False
        copy = self.redactor.apply(envelope, rule, DESTINATION)
        if rule.sample_rate < 1.0 and rule.priority != "critical":
            copy = {**copy, "meta": {**copy["meta"], "sampleRate": rule.sample_rate}}
        entry, size = build_entry(copy, source=self._source, bus_name=self._bus_name)
        if size >= self._limit:
            with self._lock:
                self._drop("too_large", topic, 1, flow, size=size)
            self._log_limited(
                "too_large",
                "warning",
                f"{topic} entry is {size} bytes, not under the {self._limit}-byte PutEvents limit; not forwarded",
            )
            self._kick()
            return False
        item = Item(
            entry=entry,
            size=size,
            topic=topic,
            priority=rule.priority,
            envelope_id=envelope_id,
            ts=int(envelope.get("ts", 0)),
            enqueued=time.monotonic(),
            flow=flow,
            protected=is_summary(topic, envelope),
        )
        with self._lock:
            admitted, evicted = self._buffer.push(item)
            for gone in evicted:
                self._drop("evicted", gone.topic, 1, gone.flow)
            if admitted:
                self.stats.accepted += 1
                self.stats.flow(flow).accepted += 1
            else:
                self._drop("buffer_full", topic, 1, flow)
            wake = admitted and (
                len(self._buffer) == 1
                or rule.priority in URGENT
                or self._buffer.ready_batch(self.config.max_entries, self._limit)
            )
            wake = wake or bool(evicted) or not admitted
            if rule.priority in URGENT:
                self._urgent = True
            self._idle.clear()
        if wake:
            self._kick()
        return admitted

    __call__ = submit

    def flow_stats(self, flow: str) -> dict[str, Any]:
        """``flow``'s counters: accepted, delivered, dropped by reason (zeros for an unknown flow)."""
        with self._lock:
            stats = self.stats.flows.get(flow)
            return (stats or FlowStats()).as_dict() | {"buffered": self._buffer.flow_len(flow)}

    def forget_flow(self, flow: str) -> None:
        """Stop keeping ``flow``'s counters (the owner forgot the room): bounded memory."""
        with self._lock:
            self.stats.flows.pop(flow, None)
            self._seen.pop(flow, None)

    def _drop(
        self, reason: str, topic: str, n: int, flow: str = "", *, report: bool = True, size: int | None = None
    ) -> None:
        """Count (and queue a report of) ``n`` undelivered envelopes. Call with the lock held."""
        self.stats.dropped[reason] += n
        if reason != "duplicate":
            self.stats.flow(flow).dropped[reason] += n
        if report:
            key = (flow, reason, topic)
            pending = self._reports.get(key)
            if pending is None:
                self._reports[key] = [n, size if size is not None else -1]
            else:
                pending[0] += n
                if size is not None:
                    pending[1] = max(pending[1], size)
        if self.on_drop is not None:
            try:
                self.on_drop(reason, topic, n)
            except Exception as exc:  # the owner's counter must not break intake
                logger().error(f"forwarder on_drop failed: {exc!r}")

    def _log_limited(self, kind: str, level: str, message: str) -> None:
        """Log the first :data:`LOG_BURST` lines of a kind, then one per :data:`LOG_EVERY` (all are
        counted in ``stats``): a flood of bad entries must not become a flood of log lines."""
        budget = self._log_budgets.get(kind)
        if budget is None:
            budget = self._log_budgets[kind] = LogBudget(burst=LOG_BURST, every=LOG_EVERY)
        log, skipped = budget.take()
        if log:
            getattr(logger(), level)(message + LogBudget.suffix(skipped))

    def _kick(self) -> None:
        loop = self._loop
        if loop is None:
            return  # not started: start() looks at the buffer
        if threading.get_ident() == self._thread:
            self._wake.set()
            return
        try:
            loop.call_soon_threadsafe(self._wake.set)
        except RuntimeError:
            pass  # the loop is closed

    # ---- lifecycle
    async def start(self) -> Forwarder:
        """Start the sending task on the running loop (envelopes submitted before are kept)."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._thread = threading.get_ident()
            self._task = asyncio.create_task(self._run(), name="eventbridge-forwarder")
            self._wake.set()
        return self

    async def __aenter__(self) -> Forwarder:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    @property
    def in_flight(self) -> int:
        return self._in_flight_items

    @property
    def fill_ratio(self) -> float:
        return min(1.0, self._buffer.fill_ratio)

    # Why ASYNC109 is silenced (flush, close): ``timeout`` bounds one phase, not the call. On expiry flush answers
    # False and close still drops and counts what is left; a caller's asyncio.timeout would cancel that.
    async def flush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109
        """Send everything buffered now (backoff still applies); ``True`` when nothing is left."""
        if self._task is None:
            await self.start()
        self._force += 1
        try:
            self._wake.set()
            try:
                await asyncio.wait_for(self._wait_idle(), timeout)
            except TimeoutError:
                return False
            return True
        finally:
            self._force -= 1

    async def _wait_idle(self) -> None:
        while True:
            with self._lock:
                if not self._buffer and not self._in_flight_items:
                    return
                self._idle.clear()
            await self._idle.wait()

    async def close(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Refuse new envelopes, send what is buffered within ``timeout`` (default
        ``config.close_timeout_s``), then count and report whatever is left as lost."""
        if self._closed:
            return
        if self._task is None:
            await self.start()
        timeout = self.config.close_timeout_s if timeout is None else timeout
        with self._lock:
            self._closing = True
        emptied = await self.flush(timeout)
        with self._lock:
            self._closed = True
            left = self._buffer.drain()
            for item in left:
                self._drop("shutdown", item.topic, 1, item.flow)
            lost_in_flight = self._in_flight_items
        tasks = tuple(self._in_flight)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if left or not emptied:
            logger().warning(
                f"forwarder closed with {len(left)} entries unsent and {lost_in_flight} in flight after {timeout:g}s"
            )
        self._emit_reports()
        if self._task is not None:
            self._wake.set()
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        try:
            await self.sink.close()
        except Exception as exc:
            logger().warning(f"closing the {self.sink.name} sink failed: {exc!r}")

    # ---- the sending task
    async def _run(self) -> None:
        while not self._closed:  # close() also cancels; this ends the loop should a cancel be lost
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug here must not silently stop forwarding
                logger().opt(exception=exc).error(f"eventbridge forwarder: {exc!r}; going on")
                await asyncio.sleep(0.1)

    async def _step(self) -> None:
        """Send one batch if one is due, else wait until one is (or something changes)."""
        cfg = self.config
        now = time.monotonic()
        if self._reports and now >= self._last_report + cfg.report_interval_s:
            self._emit_reports()
        with self._lock:
            pending = len(self._buffer)
            due = self._due_at(now) if pending else None
            can_send = len(self._in_flight) < cfg.max_in_flight
            if pending == 0 and not self._in_flight_items:
                self._idle.set()
            if due is not None and due <= now and can_send:
                batch = self._buffer.take(cfg.max_entries, self._limit)
                self._urgent = self._buffer.has_urgent()
                self._in_flight_items += len(batch)
            else:
                batch = []
        if batch:
            task = asyncio.create_task(self._send(batch))
            self._in_flight[task] = batch
            task.add_done_callback(self._sent)
            return
        self._wake.clear()
        wait = None if due is None or not can_send else max(0.0, due - now)
        if self._reports:  # losses waiting for the next report interval
            report_in = max(0.0, self._last_report + cfg.report_interval_s - now)
            wait = report_in if wait is None else min(wait, report_in)
        try:  # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancel racing its timeout
            async with asyncio.timeout(wait):
                await self._wake.wait()
        except TimeoutError:
            pass

    def _sent(self, task: asyncio.Task[None]) -> None:
        batch = self._in_flight.pop(task, [])
        if task.cancelled():  # close() gave up on it: the sink may or may not have taken it
            with self._lock:
                for item in batch:
                    self._drop("shutdown", item.topic, 1, item.flow)
        self._wake.set()  # a sending slot is free

    def _due_at(self, now: float) -> float:
        """When the next batch should go. Call with the lock held and the buffer non-empty."""
        cfg = self.config
        if self._urgent or self._force or self._closing or self._buffer.ready_batch(cfg.max_entries, self._limit):
            due = now
        else:
            oldest = self._buffer.oldest_enqueued()
            due = (oldest if oldest is not None else now) + cfg.max_delay_s
        return max(due, self._backoff_until)

    async def _send(self, batch: list[Item]) -> None:
        entries = [item.entry for item in batch]
        try:
            try:
                results = await self.sink.send(entries)
                if len(results) != len(batch):  # a sink bug; without this check zip() would drop the tail
                    logger().error(f"{self.sink.name} sink answered {len(results)} results for {len(batch)} entries")
                    results = ["InternalFailure"] * len(batch)
            except SendFailed as exc:
                results = [exc.code if exc.retryable else f"!{exc.code}" for _ in batch]
                self._log_limited(
                    "call_failed",
                    "warning",
                    f"PutEvents call failed ({exc.code}, {'will retry' if exc.retryable else 'not retryable'}): {exc.message}",
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a sink bug: treat as a retryable whole-call failure
                logger().opt(exception=exc).error(f"{self.sink.name} sink raised {exc!r}")
                results = ["InternalFailure"] * len(batch)
            self._settle(batch, results)
        finally:
            with self._lock:
                self._in_flight_items -= len(batch)
            self._wake.set()

    def _settle(self, batch: list[Item], results: list[str | None]) -> None:
        now = time.monotonic()
        delivered: list[Item] = []
        retry: list[Item] = []
        cfg = self.config
        with self._lock:
            self.stats.batches += 1
            for item, code in zip(batch, results, strict=True):
                if code is None:
                    delivered.append(item)
                    continue
                final = code.startswith("!")
                code = code.lstrip("!")
                self.stats.error_codes[code] += 1
                item.attempts += 1
                if final or (code not in RETRYABLE_CODES and code not in CALL_RETRYABLE_CODES):
                    self._drop("rejected", item.topic, 1, item.flow)
                    self._log_limited(
                        "rejected", "error", f"EventBridge rejected a {item.topic} entry ({code}); not retried"
                    )
                elif item.attempts >= cfg.max_attempts or self._closed:
                    self._drop("retry_exhausted", item.topic, 1, item.flow)
                else:
                    retry.append(item)
            self.stats.delivered += len(delivered)
            for item in delivered:
                self.stats.flow(item.flow).delivered += 1
            if len(delivered) < len(batch):
                self.stats.failed_batches += 1
            if retry:
                self.stats.retried += len(retry)
                self._failures += 1
                ceiling = min(cfg.backoff_max_s, cfg.backoff_base_s * (2 ** (self._failures - 1)))
                self._backoff_until = max(self._backoff_until, now + self._rng.uniform(0, ceiling))  # full jitter
                refused, evicted = self._buffer.push_front_all(retry)
                for gone in evicted:
                    self._drop("evicted", gone.topic, 1, gone.flow)
                for item in refused:
                    self._drop("buffer_full", item.topic, 1, item.flow)
                self._urgent = self._urgent or any(item.priority in URGENT for item in retry)
            elif delivered:
                self._failures = 0
        if delivered and self.on_delivered is not None:
            try:
                self.on_delivered(delivered, now)
            except Exception as exc:
                logger().error(f"forwarder on_delivered failed: {exc!r}")

    def _emit_reports(self) -> None:
        """Turn the losses counted since the last call into ``forwarding.delivery.deferred``."""
        with self._lock:
            if not self._reports:
                return
            reports, self._reports = self._reports, {}
            self._last_report = time.monotonic()
        if self.on_deferred is None and self.on_flow_deferred is None:
            return
        from bot.generated import ForwardingDeliveryDeferred

        for (flow, reason, topic), (count, size) in reports.items():
            model = ForwardingDeliveryDeferred(
                destination=DESTINATION,
                count=count,
                reason=_REPORT_REASON[reason],
                topic=topic,
                size_bytes=size if size >= 0 else None,
                limit_bytes=self._limit if reason == "too_large" else None,
            )
            self.stats.reports += 1
            try:
                if self.on_flow_deferred is not None:
                    self.on_flow_deferred(model, flow)
                elif self.on_deferred is not None:
                    self.on_deferred(model)
            except Exception as exc:
                logger().error(f"forwarder on_deferred failed: {exc!r}")


def is_summary(topic: str, envelope: dict[str, Any]) -> bool:
    """Whether the buffer protects this envelope (:data:`SUMMARY_TOPICS`, or the final dominance score)."""
    if topic in SUMMARY_TOPICS:
        return True
    if topic == Topic.ROOM_DOMINANCE_SCORE:
        payload = envelope.get("payload")
        return isinstance(payload, dict) and payload.get("trigger") == "final"
    return False
