"""What of an envelope may go to the browsers in the room as a Daily app message, and what became of it.

Daily app messages are capped at 4 KB (docs.daily.co): the whole serialized envelope must fit.
An envelope over the limit is not sent, is counted as dropped, and is reported with
``forwarding.delivery.deferred`` so the loss is visible on stdout.

The room reports each send's outcome back (:meth:`AppMessageForwarder.record`): ``sent``,
``failed`` (Daily answered with an error), ``timed_out`` (no answer within the send's timeout) or
``not_connected`` (signalling interrupted or the call over: Pipecat 1.14 would drop the message
silently). Every loss is counted and reported as ``forwarding.delivery.deferred`` with
``destination: app_message``: the first loss of a kind at once, further ones of that kind at
most once a second (the report's ``count`` covers them all), and the rest at :meth:`flush`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import orjson

from bot.events._log import logger
from bot.events.bus import EventBus
from bot.events.governance import Redactor, Sampler
from bot.generated import ForwardingDeliveryDeferred

DESTINATION: Final = "app_message"

OUTCOMES = ("sent", "failed", "timed_out", "not_connected", "too_large")
"""Every app message the pipeline wanted to send ends in exactly one of these."""

_LOSS_REASON = {"failed": "rejected", "timed_out": "timed_out", "not_connected": "not_connected"}
"""Send outcome → ``forwarding.delivery.deferred`` reason."""

REPORT_INTERVAL_S = 1.0
"""At most one loss report per reason per this interval; the next one (or flush) carries the count."""


class AppMessageForwarder:
    """Routes, samples, redacts and size-checks envelopes for the ``app_message`` destination."""

    def __init__(
        self,
        bus: EventBus,
        redactor: Redactor,
        sampler: Sampler,
        *,
        enabled: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._bus = bus
        self._registry = bus.registry
        self._redactor = redactor
        self._sampler = sampler
        self._monotonic = monotonic
        self.enabled = enabled
        self.max_bytes = self._registry.max_bytes[DESTINATION]
        self.prepared = 0
        self.outcomes: Counter[str] = Counter({outcome: 0 for outcome in OUTCOMES})
        self._pending: Counter[str] = Counter()  # losses not reported yet, by reason
        self._pending_topic: dict[str, str | None] = {}
        self._last_report: dict[str, float] = {}
        self._failing = False

    @property
    def sent(self) -> int:
        """Messages Daily confirmed (not merely handed to the transport)."""
        return self.outcomes["sent"]

    @property
    def too_large(self) -> int:
        return self.outcomes["too_large"]

    @property
    def lost(self) -> int:
        """Messages that did not reach the room: failed, timed out, not connected, too large."""
        return sum(n for outcome, n in self.outcomes.items() if outcome != "sent")

    def record(self, outcome: str, topic: str | None = None, error: str | None = None) -> None:
        """The room's report of one send: count it, and report a loss (rate-limited, never lost)."""
        if outcome not in OUTCOMES or outcome == "too_large":
            raise ValueError(f"unknown app message outcome {outcome!r}")
        self.outcomes[outcome] += 1
        if outcome == "sent":
            if self._failing:
                self._failing = False
                logger().info("app messages are being delivered again")
                self.flush()
            return
        reason = _LOSS_REASON[outcome]
        self._bus.count_drop(f"app_message_{outcome}")
        if not self._failing:
            self._failing = True
            detail = f": {error}" if error else ""
            logger().warning(
                f"app message {topic or ''} not delivered ({outcome}){detail}; losses are reported as forwarding.delivery.deferred"
            )
        self._pending[reason] += 1
        previous = self._pending_topic.get(reason, topic)
        self._pending_topic[reason] = topic if previous == topic else None
        now = self._monotonic()
        if now - self._last_report.get(reason, float("-inf")) >= REPORT_INTERVAL_S:
            self._report(reason, now)

    def flush(self) -> None:
        """Report every loss not reported yet (at the end of the session, or when sends recover)."""
        now = self._monotonic()
        for reason in list(self._pending):
            self._report(reason, now)

    def _report(self, reason: str, now: float) -> None:
        count = self._pending.pop(reason, 0)
        topic = self._pending_topic.pop(reason, None)
        if not count:
            return
        self._last_report[reason] = now
        fields: dict[str, Any] = {"destination": DESTINATION, "count": count, "reason": reason}
        if topic:
            fields["topic"] = topic
        self._bus.publish(ForwardingDeliveryDeferred(**fields))

    def prepare(self, envelope: dict[str, Any]) -> dict[str, Any] | None:
        """The copy to send, or ``None`` when this envelope does not go to browsers."""
        rule = self._registry.topics[envelope["topic"]]
        if DESTINATION not in rule.destinations:
            return None
        if not self.enabled:
            self._bus.count_drop("forwarding_disabled")
            return None
        if not self._sampler.keep(rule, DESTINATION):
            self._bus.count_drop("sampled")
            return None
        copy = self._redactor.apply(envelope, rule, DESTINATION)
        if rule.sample_rate < 1.0 and rule.priority != "critical":
            copy = {**copy, "meta": {**copy["meta"], "sampleRate": rule.sample_rate}}
        size = len(orjson.dumps(copy))
        if size > self.max_bytes:
            self.outcomes["too_large"] += 1
            self._bus.count_drop("app_message_too_large")
            logger().warning(
                f"{envelope['topic']} envelope is {size} bytes, over the {self.max_bytes}-byte app message limit; not sent"
            )
            self._bus.publish(
                ForwardingDeliveryDeferred(
                    destination=DESTINATION,
                    count=1,
                    reason="too_large",
                    topic=envelope["topic"],
                    size_bytes=size,
                    limit_bytes=self.max_bytes,
                )
            )
            return None
        self.prepared += 1
        return copy
