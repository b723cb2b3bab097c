"""The spec as the runtime sees it: per-topic routing, sampling and redaction rules.

Loaded from ``bot/generated/registry.json`` (written by ``python -m codegen``), which already holds
the effective forwarding of every topic. Only stdlib and orjson: this is on the start-up path.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

REGISTRY_PATH = Path(__file__).resolve().parent.parent / "generated" / "registry.json"
DESTINATIONS = ("stdout", "app_message", "eventbridge")
PRIORITIES = ("critical", "high", "normal", "low")


@dataclass(frozen=True)
class Redaction:
    """One redaction: the payload path (``*`` = every item) and what to do there."""

    pointer: str
    parts: tuple[str, ...]
    action: str  # drop | mask | hash


@dataclass(frozen=True)
class TopicRule:
    """Everything the runtime needs to know about one topic."""

    id: str
    origin: frozenset[str]
    destinations: frozenset[str]
    priority: str
    sample_rate: float
    pii_level: int
    redactions: dict[str, tuple[Redaction, ...]]


class SpecRegistry:
    """Topic rules, destination limits and the PII policy of one spec version."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.spec_version: str = raw["specVersion"]
        self.max_bytes: dict[str, int] = {d: int(raw["destinations"][d]["maxBytes"]) for d in DESTINATIONS}
        self.sampled_destinations = frozenset(d for d in DESTINATIONS if raw["destinations"][d]["sampled"])
        pii = raw["piiPolicy"]
        self.mask: str = pii["mask"]
        self.hash_prefix: str = pii["hash"]["prefix"]
        self.salt_setting: str = pii["hash"]["saltSetting"]
        self.topics: dict[str, TopicRule] = {tid: self._rule(t, pii) for tid, t in raw["topics"].items()}

    @classmethod
    def load(cls, path: Path | str | None = None) -> SpecRegistry:
        return cls(orjson.loads(Path(path or REGISTRY_PATH).read_bytes()))

    @staticmethod
    def _rule(topic: dict[str, Any], pii: dict[str, Any]) -> TopicRule:
        forwarding = topic["forwarding"]
        destinations = frozenset(forwarding["destinations"])
        per_dest: dict[str, list[Redaction]] = {d: [] for d in DESTINATIONS}
        for rule in forwarding.get("redact", []):
            for dest in rule["destinations"]:
                per_dest[dest].append(_redaction(rule["path"], rule["action"]))
        level = topic["pii"]["level"]
        for dest in DESTINATIONS:
            policy = pii["destinations"][dest]
            if level <= policy["maxLevel"]:
                continue
            explicit = {r.pointer for r in per_dest[dest]}
            for path in topic["pii"]["fields"]:
                if path not in explicit:  # fail closed: PII above the destination's level never leaves as-is
                    per_dest[dest].append(_redaction(path, policy["action"]))
        return TopicRule(
            id=topic["id"],
            origin=frozenset(topic["origin"]),
            destinations=destinations,
            priority=forwarding["priority"],
            sample_rate=float(forwarding["sampleRate"]),
            pii_level=level,
            redactions={d: tuple(v) for d, v in per_dest.items()},
        )

    def rule(self, topic: str) -> TopicRule | None:
        return self.topics.get(topic)

    def pii_ceiling(self, destination: str) -> int:
        """The highest PII level ``destination`` may carry as-is (``spec/config/pii.json``)."""
        return int(self.raw["piiPolicy"]["destinations"][destination]["maxLevel"])

    def with_pii_ceiling(self, destination: str, max_level: int | None) -> SpecRegistry:
        """This spec with ``destination`` allowed at most ``max_level`` (never more than the spec allows).

        A deployment lowers a destination's ceiling where it is less private than the spec assumes
        (on Pipecat Cloud stdout is the platform's container log): the fields of topics above it
        are then redacted for that destination with the spec's action, as for any destination.
        """
        if max_level is None or max_level >= self.pii_ceiling(destination):
            return self
        raw = copy.deepcopy(self.raw)
        raw["piiPolicy"]["destinations"][destination]["maxLevel"] = max(0, int(max_level))
        return SpecRegistry(raw)


def _redaction(pointer: str, action: str) -> Redaction:
    parts = tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[2:])
    return Redaction(pointer=pointer, parts=parts, action=action)
