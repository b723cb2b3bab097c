"""Composed policy snapshots: canonical form, version hash, loading and verification.

A snapshot is what the bot reads (``BOT_POLICY_PATH`` / ``--policy``)::

    {"kind": "prism.policy.snapshot", "schemaVersion": 1, "layers": ["platform", "acme", ...],
     "policy": {...every field explicit...}, "policyVersion": "sha256:<hex>"}

``policyVersion`` is ``sha256:`` + the hex SHA-256 of the RFC 8785 (JCS) form of the snapshot
without its ``policyVersion`` field, so any change to a rule or to the layer list changes it, and
the file's own formatting does not. The file itself is written in that canonical form.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import rfc8785
from pydantic import Field, ValidationError

from bot.core.errors import PolicyError

if TYPE_CHECKING:
    from bot.policy.guard import ContentGuard
    from bot.policy.links import LinkFilter
from bot.policy.compose import PolicyLayer, compose, parse_layers
from bot.policy.errors import from_validation_error, read_json
from bot.policy.model import SCHEMA_VERSION, ConversationPolicy, PolicyModel, rule_ids

__all__ = [
    "DEFAULT_LAYER",
    "SNAPSHOT_KIND",
    "LoadedPolicy",
    "PolicySnapshot",
    "default_policy",
    "load_policy",
    "parse_snapshot",
    "policy_version",
    "snapshot_of",
]

SNAPSHOT_KIND: Final = "prism.policy.snapshot"
DEFAULT_LAYER = "prism-default"
"""The layer name of the built-in safe default (what applies with no policy configured)."""


class PolicySnapshot(PolicyModel):
    kind: Literal["prism.policy.snapshot"] = SNAPSHOT_KIND
    schema_version: Literal[1] = SCHEMA_VERSION
    layers: list[str] = Field(min_length=1, max_length=16)
    policy: ConversationPolicy
    policy_version: str = Field(pattern=r"^sha256:[0-9a-f]{64}$")

    def body(self) -> dict[str, Any]:
        """The hashed part: everything but ``policyVersion``, as JSON values."""
        return self.model_dump(mode="json", by_alias=True, exclude={"policy_version"})

    def canonical_bytes(self) -> bytes:
        """The whole snapshot in RFC 8785 form (what ``compose`` writes)."""
        return rfc8785.dumps(self.model_dump(mode="json", by_alias=True))


def policy_version(body: dict[str, Any]) -> str:
    """``sha256:`` + hex of the RFC 8785 form of ``body``."""
    return "sha256:" + hashlib.sha256(rfc8785.dumps(body)).hexdigest()


def snapshot_of(policy: ConversationPolicy, layers: Sequence[str]) -> PolicySnapshot:
    """A snapshot of ``policy`` with its version computed."""
    body = {
        "kind": SNAPSHOT_KIND,
        "schemaVersion": SCHEMA_VERSION,
        "layers": list(layers),
        "policy": policy.model_dump(mode="json", by_alias=True),
    }
    return PolicySnapshot.model_validate({**body, "policyVersion": policy_version(body)})


def compose_snapshot(layers: Sequence[PolicyLayer]) -> PolicySnapshot:
    """Compose ``layers`` (see :mod:`bot.policy.compose`) into a versioned snapshot."""
    if not layers:
        raise PolicyError("<compose>", None, "give at least one layer")
    if len(layers) > 16:
        raise PolicyError(layers[16].source, None, "at most 16 layers")
    return snapshot_of(compose(layers), [layer.name for layer in layers])


@dataclass(frozen=True)
class LoadedPolicy:
    """A verified policy, ready for the enforcer and the facilitator."""

    policy: ConversationPolicy
    version: str
    layers: tuple[str, ...]
    source: str | None = None
    rules: tuple[str, ...] = field(default=())

    @cached_property
    def guard(self) -> ContentGuard:
        """The compiled content guard: built once per loaded policy and shared by the room's
        enforcer, the output gate, the facilitator and the voice (it holds no state; each RE2
        program may take up to 1 MiB, so four copies per room were four times the memory)."""
        from bot.policy.guard import ContentGuard

        return ContentGuard(self.policy.content)

    @cached_property
    def links(self) -> LinkFilter:
        """The link filter of the bot's own output, built once (see :attr:`guard`)."""
        from bot.policy.links import LinkFilter

        content = self.policy.content
        return LinkFilter(content.allowed_link_hosts, content.replacement)

    @classmethod
    def of(cls, snapshot: PolicySnapshot, source: str | None = None) -> LoadedPolicy:
        """The loaded form of a (verified) snapshot; ``source`` = where it came from."""
        return cls(
            policy=snapshot.policy,
            version=snapshot.policy_version,
            layers=tuple(snapshot.layers),
            source=source,
            rules=tuple(rule_ids(snapshot.policy)),
        )

    @property
    def is_default(self) -> bool:
        """No policy configured: the built-in safe default."""
        return self.source is None

    def loaded_event(self) -> Any:
        """The ``conversation.policy.loaded`` payload to publish."""
        from bot.generated import ConversationPolicyLoaded

        return ConversationPolicyLoaded(
            policy_version=self.version, layers=list(self.layers), rule_count=len(self.rules)
        )


def default_policy() -> LoadedPolicy:
    """The documented safe default (docs/policy.md), as a loaded policy with its own version."""
    return LoadedPolicy.of(snapshot_of(ConversationPolicy(), [DEFAULT_LAYER]), None)


def parse_snapshot(data: Any, source: str | os.PathLike[str] = "<snapshot>") -> PolicySnapshot:
    """Validate a snapshot document and verify its ``policyVersion``; raises ``PolicyError``."""
    source = str(source)
    if not isinstance(data, dict):
        raise PolicyError(source, None, f"a policy snapshot is a JSON object, got {type(data).__name__}")
    if data.get("kind") != SNAPSHOT_KIND:
        if data.get("kind") == "prism.policy.layer":
            raise PolicyError(
                source,
                "kind",
                "is a policy layer; compose it into a snapshot first: python -m bot.policy compose LAYER... -o FILE",
            )
        raise PolicyError(source, "kind", f'must be "{SNAPSHOT_KIND}"')
    try:
        snapshot = PolicySnapshot.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc) from None
    expected = policy_version(snapshot.body())
    if snapshot.policy_version != expected:
        raise PolicyError(
            source,
            "policyVersion",
            f"does not match the snapshot's content (it hashes to {expected}); recompose it, never edit a snapshot by hand",
        )
    return snapshot


def load_policy(path: str | os.PathLike[str] | None) -> LoadedPolicy:
    """The policy from a snapshot file, or the safe default when ``path`` is None or empty.

    The file holds a composed snapshot (``python -m bot.policy compose``), verified against its
    ``policyVersion``; or a JSON list of layers (what the supervisor writes from a request's
    ``policyLayers``), composed here exactly as ``compose`` would (an empty list = the safe
    default). Raises ``PolicyError`` (one line: file, field, what is wrong) for a missing,
    unreadable, malformed, invalid or tampered file.
    """
    if path is None or str(path) == "":
        return default_policy()
    data = read_json(path)
    if isinstance(data, list):
        layers = parse_layers(data, path)
        if not layers:
            return LoadedPolicy.of(snapshot_of(ConversationPolicy(), [DEFAULT_LAYER]), str(Path(path)))
        return LoadedPolicy.of(compose_snapshot(layers), str(Path(path)))
    return LoadedPolicy.of(parse_snapshot(data, path), str(Path(path)))
