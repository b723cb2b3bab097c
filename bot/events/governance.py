"""Per-destination governance: redaction, sampling and size limits, all driven by the spec."""

from __future__ import annotations

import hashlib
import random
from typing import Any

from bot.events.registry import Redaction, SpecRegistry, TopicRule


class Redactor:
    """Applies a topic's redactions for one destination to a copy of the envelope.

    ``hash`` is a salted SHA-256 (the salt from the ``PRISM_PII_SALT`` setting), so a destination
    can join on a pseudonym without seeing the id; changing the salt breaks those joins, by design.
    """

    def __init__(self, registry: SpecRegistry, salt: str | bytes = b"") -> None:
        self._registry = registry
        self._salt = salt.encode() if isinstance(salt, str) else salt

    @property
    def salted(self) -> bool:
        """Whether hashes are salted; unsalted ones can be recomputed from a guessed id."""
        return bool(self._salt)

    def apply(self, envelope: dict[str, Any], rule: TopicRule, destination: str) -> dict[str, Any]:
        """The envelope as ``destination`` may see it (the same object when nothing is redacted)."""
        redactions = rule.redactions.get(destination, ())
        if not redactions:
            return envelope
        payload = envelope["payload"]
        removed: list[str] = []
        for redaction in redactions:
            payload = self._apply_one(payload, redaction.parts, redaction, removed, "/payload")
        copy = dict(envelope)
        copy["payload"] = payload
        if removed:  # keep what an earlier hop already removed (the bot for stdout, then the forwarder)
            earlier = (envelope.get("pii") or {}).get("redacted", [])
            copy["pii"] = {"level": rule.pii_level, "redacted": [*earlier, *(p for p in removed if p not in earlier)]}
        return copy

    def _apply_one(self, node: Any, parts: tuple[str, ...], redaction: Redaction, removed: list[str], at: str) -> Any:
        """Copy-on-write walk: only containers on the path are copied."""
        if not parts:
            return node
        head, rest = parts[0], parts[1:]
        if head == "*" and not rest and isinstance(node, list):  # every item of a list of strings
            out = []
            for i, item in enumerate(node):
                if item is None or redaction.action == "drop":
                    out.append(item)
                    continue
                out.append(self._registry.mask if redaction.action == "mask" else self.pseudonym(str(item)))
                removed.append(f"{at}/{i}")
            return out
        if head == "*":
            if isinstance(node, list):
                return [self._apply_one(item, rest, redaction, removed, f"{at}/{i}") for i, item in enumerate(node)]
            if isinstance(node, dict):
                return {k: self._apply_one(v, rest, redaction, removed, f"{at}/{k}") for k, v in node.items()}
            return node
        if not isinstance(node, dict) or head not in node:
            return node
        copy = dict(node)
        if rest:
            copy[head] = self._apply_one(node[head], rest, redaction, removed, f"{at}/{head}")
            return copy
        value = node[head]
        if redaction.action == "drop":
            del copy[head]
        elif value is None:
            return node
        elif redaction.action == "mask":
            copy[head] = self._registry.mask
        elif isinstance(value, dict):  # a map whose keys are data (a tally by option): hash the keys
            copy[head] = {self.pseudonym(str(k)): v for k, v in value.items()}
        else:
            copy[head] = self.pseudonym(str(value))
        removed.append(f"{at}/{head}")
        return copy

    def pseudonym(self, value: str) -> str:
        digest = hashlib.sha256(self._salt + value.encode("utf-8")).hexdigest()
        return self._registry.hash_prefix + digest


class Sampler:
    """Keeps a ``sampleRate`` fraction of a topic's envelopes for a sampled destination.

    ``critical`` topics are never sampled, and stdout is never sampled (its ``meta.seq`` must stay
    contiguous so the supervisor can prove nothing was lost).
    """

    def __init__(self, registry: SpecRegistry, *, seed: int | None = None) -> None:
        self._registry = registry
        self._random = random.Random(seed)

    def keep(self, rule: TopicRule, destination: str) -> bool:
        if rule.sample_rate >= 1.0 or rule.priority == "critical":
            return True
        if destination not in self._registry.sampled_destinations:
            return True
        return self._random.random() < rule.sample_rate
