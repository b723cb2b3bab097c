"""Validation of envelopes that browsers send to the bot (Daily app messages).

Everything a browser sends is untrusted. A message is accepted only if it parses within size and
depth limits, is an envelope, names a known topic that browsers may publish, and its payload is
valid. Every rejection is counted and reported with ``events.inbound.rejected`` (a reason, never
the content), aggregated per sender and reason (:mod:`bot.events.noise`): the first 3 in a
window are published, the rest of the window comes as one event with ``count``. Nothing here raises on
bad input.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, cast

import orjson
from pydantic import ValidationError

import bot.generated as generated
from bot.events.bus import EventBus
from bot.events.envelope import Envelope
from bot.events.noise import WINDOW_MS, NoiseAggregator
from bot.generated import EventsInboundRejected, EventsRuntimeVersionMismatch, Topic, TopicModel

MAX_BYTES = 4096
MAX_DEPTH = 16
RATE_LIMITED: Final = "rate_limited"


@dataclass(frozen=True)
class Accepted:
    """A valid inbound envelope; ``sender_id`` is Daily's sender, the only identity trusted."""

    topic: Topic
    payload: TopicModel
    sender_id: str
    envelope: dict[str, Any]
    version_matches: bool = True


RejectReason = Literal["not_json", "too_large", "unknown_topic", "origin", "schema", "spec_version", "rate_limited"]
"""The reasons of ``events.inbound.rejected``."""


@dataclass(frozen=True)
class Rejected:
    reason: RejectReason
    detail: str = ""
    topic: str | None = None


@dataclass
class InboundStats:
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Iterative depth check, safe on hostile nesting."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            if depth > limit:
                return True
            stack.extend((v, depth + 1) for v in node)
    return False


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type (``array``, not ``list``)."""
    names = {list: "array", str: "string", bool: "boolean", int: "number", float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _topic_hint(value: Any) -> str | None:
    if (
        isinstance(value, str)
        and 0 < len(value) <= 128
        and all(c.isascii() and (c.isalnum() or c in "._-*") for c in value)
    ):
        return value
    return None


class InboundValidator:
    """Checks browser envelopes and reports every rejection on the bus."""

    def __init__(
        self,
        bus: EventBus,
        *,
        max_bytes: int = MAX_BYTES,
        max_depth: int = MAX_DEPTH,
        rate_limiter: Callable[[str, int | None], bool] | None = None,
        window_ms: int = WINDOW_MS,
    ) -> None:
        self._bus = bus
        self._registry = bus.registry
        self.max_bytes = max_bytes
        self.max_depth = max_depth
        self.rate_limiter = rate_limiter
        self.stats = InboundStats()
        self._mismatches_reported: set[str] = set()
        self.noise = NoiseAggregator(window_ms)
        self._last_ms = 0

    def flush(self, media_time_ms: int, *, final: bool = False) -> None:
        """Publish the summaries of aggregation windows that ended by ``media_time_ms`` (the media
        clock's ticks; ``final`` at the end of the session publishes every open one)."""
        self._last_ms = max(self._last_ms, int(media_time_ms))
        for summary in self.noise.due(self._last_ms, final=final):
            sender_id, reason = cast(tuple[str, RejectReason], summary.key)
            self._bus.publish(
                EventsInboundRejected(
                    reason=reason,
                    sender_id=sender_id,
                    count=summary.count,
                    window_ms=summary.window_ms,
                ),
                media_time_ms=self._last_ms,
            )

    def check(self, raw: Any, sender_id: str, *, media_time_ms: int | None = None) -> Accepted | Rejected:
        """Validate one inbound message (a JSON string/bytes, or the value Daily already parsed)."""
        result = self._check(raw, sender_id or "unknown", media_time_ms)
        if isinstance(result, Rejected):
            self.stats.rejected[result.reason] += 1
            if media_time_ms is not None:
                self._last_ms = max(self._last_ms, int(media_time_ms))
            sender = (sender_id or "unknown")[:128]
            if not self.noise.admit((sender, result.reason), self._last_ms):
                return result  # counted; the window's summary reports it
            self._bus.publish(
                EventsInboundRejected(
                    reason=result.reason,
                    sender_id=sender,
                    topic=result.topic,
                    detail=result.detail[:300] or None,
                    size_bytes=self._size_hint(raw),
                ),
                media_time_ms=media_time_ms,
            )
        else:
            self.stats.accepted += 1
        return result

    @staticmethod
    def _size_hint(raw: Any) -> int | None:
        if isinstance(raw, str):
            return len(raw.encode("utf-8", "surrogatepass"))
        return len(raw) if isinstance(raw, (bytes, bytearray)) else None

    def _check(self, raw: Any, sender_id: str, media_time_ms: int | None) -> Accepted | Rejected:
        if self.rate_limiter is not None and not self.rate_limiter(sender_id, media_time_ms):
            return Rejected(RATE_LIMITED, "/: over the sender's inbound message rate")
        if isinstance(raw, (str, bytes, bytearray)):
            size = len(raw.encode("utf-8", "surrogatepass")) if isinstance(raw, str) else len(raw)
            if size > self.max_bytes:
                return Rejected("too_large", f"/: at most {self.max_bytes} bytes (got {size})")
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                return Rejected("not_json", f"/: must be JSON (invalid at character {exc.pos})")
        else:
            value = raw
        if _depth_exceeds(value, self.max_depth):
            return Rejected("too_large", f"/: at most {self.max_depth} levels of nesting")
        if not isinstance(raw, (str, bytes, bytearray)):
            try:
                size = len(orjson.dumps(value))
            except (orjson.JSONEncodeError, TypeError):
                return Rejected("not_json", "/: must be representable as JSON")
            if size > self.max_bytes:
                return Rejected("too_large", f"/: at most {self.max_bytes} bytes (got {size})")
        if not isinstance(value, dict):
            return Rejected("schema", f"/: must be an object (an envelope), got {_json_type(value)}")

        topic = value.get("topic")
        hint = _topic_hint(topic)
        if not isinstance(topic, str):
            return Rejected("schema", "/topic: required, a string")
        rule = self._registry.rule(topic)
        if rule is None:
            return Rejected("unknown_topic", "/topic: must name a topic of the spec", hint)
        if "browser" not in rule.origin:
            return Rejected("origin", "/topic: must be a topic browsers may publish", hint)
        try:
            envelope = Envelope.model_validate(value)
        except ValidationError as exc:
            return Rejected("schema", first_error(exc, "envelope"), hint)
        if envelope.runtime != "browser":
            return Rejected("origin", "/runtime: must be browser", hint)

        version_matches = envelope.spec_version == self._registry.spec_version
        if not version_matches:
            self._report_version(envelope.spec_version, sender_id, media_time_ms)
        model = generated.MODELS[Topic(topic)]  # all models load on the first inbound message, not at start-up
        try:
            payload = model.model_validate(value["payload"])
        except ValidationError as exc:
            return Rejected("schema" if version_matches else "spec_version", first_error(exc, "payload"), hint)
        return Accepted(Topic(topic), payload, sender_id, value, version_matches)

    def _report_version(self, remote: str, sender_id: str, media_time_ms: int | None) -> None:
        """Once per remote version: a peer on another spec is worth one event, not one per message."""
        if remote in self._mismatches_reported:
            return
        self._mismatches_reported.add(remote)
        self._bus.publish(
            EventsRuntimeVersionMismatch(
                runtime="bot",
                local_spec_version=self._registry.spec_version,
                remote_spec_version=remote,
                source="inbound",
                sender_id=sender_id[:128],
            ),
            media_time_ms=media_time_ms,
        )


def _safe_segment(part: object) -> str:
    """A pointer segment from a validation location. Keys come from the sender, so anything that
    is not a short plain identifier (a name of ours, or an index) is replaced: a browser must not be
    able to smuggle text into our events through a key name."""
    text = str(part)
    if len(text) <= 32 and text.replace("_", "").isascii() and text.replace("_", "").isalnum():
        return text
    return "?"


def first_error(exc: ValidationError, root: str) -> str:
    """A pointer and rule for the first validation error (``/payload/option: missing``); never the
    offending value. Every ``detail`` of ``events.inbound.rejected`` has this shape: a JSON pointer
    into the message (``/`` for the whole of it), a colon, the rule it broke."""
    err = exc.errors(include_url=False, include_input=False)[0]
    path = "/".join(_safe_segment(p) for p in err.get("loc", ()))
    prefix = "/payload" if root == "payload" else ""
    return f"{prefix}/{path}: {err.get('type', 'invalid')}"
