"""What of an envelope may go to the browsers in the room as a Daily app message.

Daily app messages are capped at 4 KB (docs.daily.co): the whole serialized envelope must fit.
An envelope over the limit is not sent, is counted as dropped, and is reported with
``forwarding.delivery.deferred`` so the loss is visible on stdout.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from bot.events._log import logger
from bot.events.bus import EventBus
from bot.events.governance import Redactor, Sampler
from bot.generated import ForwardingDeliveryDeferred

DESTINATION: Final = "app_message"


class AppMessageForwarder:
    """Routes, samples, redacts and size-checks envelopes for the ``app_message`` destination."""

    def __init__(self, bus: EventBus, redactor: Redactor, sampler: Sampler, *, enabled: bool = True) -> None:
        self._bus = bus
        self._registry = bus.registry
        self._redactor = redactor
        self._sampler = sampler
        self.enabled = enabled
        self.max_bytes = self._registry.max_bytes[DESTINATION]
        self.sent = 0
        self.too_large = 0

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
            self.too_large += 1
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
        self.sent += 1
        return copy
