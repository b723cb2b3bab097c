"""Reading bots' stdout: one line, one envelope, validated against the spec.

Each line is parsed once (orjson) and validated once against a per-topic model: the
``bot.events.Envelope`` with ``payload`` typed as the topic's generated model (``bot.generated.MODELS``).
``meta.seq`` is checked per session: a jump counts the missing values as gaps, a repeat (or a step
back) as a duplicate. A garbage or invalid line is counted and logged (where and which rule, never
its content: it may carry PII), and never stops anything.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from loguru import logger
from pydantic import BaseModel, ValidationError, create_model

from bot.events import Envelope, SpecRegistry
from bot.events.inbound import first_error
from bot.generated import MODELS
from bot.generated.topics import Topic
from supervisor.logbudget import LogBudget
from supervisor.metrics import Metrics
from supervisor.provenance import Provenance

TOO_LONG = b"\x00too-long\x00"
"""Stands for a line over the reader's limit (its bytes were skipped)."""

MAX_SESSIONS_TRACKED = 64


def envelope_models() -> dict[str, type[BaseModel]]:
    """Per topic: the envelope model whose ``payload`` is that topic's payload model."""
    models: dict[str, type[BaseModel]] = {}
    for topic, payload_model in MODELS.items():
        name = "Envelope_" + topic.value.replace(".", "_")
        models[topic.value] = create_model(name, __base__=Envelope, payload=(payload_model, ...))
    return models


@dataclass
class StreamStats:
    """What one room's stdout produced (across the room's bot restarts)."""

    lines: int = 0
    ingested: int = 0
    garbage: int = 0
    invalid: int = 0
    refused: int = 0
    gaps: int = 0
    duplicates: int = 0
    last_seq: dict[str, int] = field(default_factory=dict)  # per session id
    last_error: str | None = None
    log_budgets: dict[str, LogBudget] = field(default_factory=dict)
    """Per kind of warning (rejected, refused, seq): a flooding bot's lines are counted, not all logged."""

    def warn(self, kind: str, room: str, message: str) -> None:
        """Log ``message`` for this room within the kind's :class:`LogBudget`."""
        budget = self.log_budgets.get(kind)
        if budget is None:
            budget = self.log_budgets[kind] = LogBudget()
        ok, skipped = budget.take()
        if ok:
            logger.bind(room=room).warning(message + LogBudget.suffix(skipped))

    def as_dict(self) -> dict[str, Any]:
        return {
            "lines": self.lines,
            "ingested": self.ingested,
            "garbage": self.garbage,
            "invalid": self.invalid,
            "refused": self.refused,
            "seqGaps": self.gaps,
            "seqDuplicates": self.duplicates,
        }


class Ingestor:
    """Validates lines and keeps the ingestion metrics. One per supervisor, shared by every room."""

    def __init__(
        self, registry: SpecRegistry, metrics: Metrics, *, clock_ms: Callable[[], float] | None = None
    ) -> None:
        self.registry = registry
        self.metrics = metrics
        self.spec_version = registry.spec_version
        self._validators = {
            topic: model.__pydantic_validator__
            for topic, model in envelope_models().items()
            if topic in registry.topics
        }
        self._clock_ms = clock_ms or (lambda: time.time() * 1000.0)

    def ingest(
        self, line: bytes, stats: StreamStats, *, room: str = "-", expect: Provenance | None = None
    ) -> dict[str, Any] | None:
        """The envelope of ``line`` as a dict when it is valid (and, with ``expect``, from the room
        that wrote it: :mod:`supervisor.provenance`), else ``None`` (counted and logged)."""
        m = self.metrics
        stats.lines += 1
        if line is TOO_LONG:
            self._reject(stats, room, "garbage", "line over the length limit")
            return None
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            if not line.strip():
                stats.lines -= 1
                return None  # a blank line is not worth a count
            self._reject(stats, room, "garbage", f"not JSON ({str(exc).split(':')[0]})")
            return None
        if not isinstance(data, dict):
            self._reject(stats, room, "garbage", f"a JSON {type(data).__name__}, not an envelope object")
            return None
        topic = data.get("topic")
        validator = self._validators.get(topic) if isinstance(topic, str) else None
        if validator is None or not isinstance(topic, str):
            self._reject(
                stats,
                room,
                "invalid",
                "unknown topic" if isinstance(topic, str) else "no string topic",
                reason="unknown_topic",
            )
            return None
        try:
            validator.validate_python(data)
        except ValidationError as exc:  # a pointer and the rule, never content (key names sanitized)
            self._reject(stats, room, "invalid", f"{topic}: {first_error(exc, 'envelope')}")
            return None
        if expect is not None:
            field_name = expect.mismatch(data, self.registry)
            if field_name is not None:
                stats.refused += 1
                stats.last_error = f"{topic}: {field_name} is not this room's"
                m.lines["refused"] += 1
                m.refused[field_name] += 1
                m.dropped["identity_mismatch"] += 1
                stats.warn(
                    "refused",
                    room,
                    f"stdout line {stats.lines} refused: a {topic} envelope whose {field_name} is not this room's",
                )
                return None
        # ---- valid
        stats.ingested += 1
        m.lines["ok"] += 1
        runtime = data["runtime"]
        m.published[(runtime, topic)] += 1
        m.latency.observe(topic, max(0.0, self._clock_ms() - data["ts"]))
        self._check_seq(data, stats, room)
        if data["specVersion"] != self.spec_version:
            m.spec_mismatch["envelope"] += 1
        if topic == Topic.CONVERSATION_POLICY_VIOLATION:
            m.violations[data["payload"].get("kind", "unknown")] += 1
        elif topic == Topic.EVENTS_RUNTIME_VERSION_MISMATCH:
            m.spec_mismatch["reported"] += 1
        return data

    def _check_seq(self, data: dict[str, Any], stats: StreamStats, room: str) -> None:
        key = data["sessionId"] if data["runtime"] == "bot" else f"{data['sessionId']}/{data['runtime']}"
        seq = data["meta"]["seq"]
        last = stats.last_seq.get(key, 0)
        if seq == last + 1:
            stats.last_seq[key] = seq
            return
        if seq > last + 1:
            missing = seq - last - 1
            stats.gaps += missing
            self.metrics.seq_gaps += missing
            stats.last_seq[key] = seq
            stats.warn(
                "seq",
                room,
                f"meta.seq jumped from {last} to {seq} in session {key}: {missing} envelope(s) missing",
            )
        else:
            stats.duplicates += 1
            self.metrics.seq_duplicates += 1
            stats.warn("seq", room, f"meta.seq {seq} again (last {last}) in session {key}")
        if len(stats.last_seq) > MAX_SESSIONS_TRACKED:
            stats.last_seq.pop(next(iter(stats.last_seq)))

    def _reject(self, stats: StreamStats, room: str, kind: str, why: str, *, reason: str | None = None) -> None:
        if kind == "garbage":
            stats.garbage += 1
        else:
            stats.invalid += 1
        stats.last_error = why
        self.metrics.lines[kind] += 1
        self.metrics.dropped[reason or kind] += 1
        stats.warn("rejected", room, f"stdout line {stats.lines} rejected ({kind}): {why}")
        return None
