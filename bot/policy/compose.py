"""Policy layers and their composition into one effective policy.

Layers are applied in order: ``platform`` → ``tenant`` → ``assistant`` → ``room``. The built-in
safe default is the start; a ``platform`` layer sets values outright (it owns the defaults); every
later layer can only make the policy stricter where limits are concerned, and replaces settings:

====================  ==========================================================================
merge                 fields
====================  ==========================================================================
strictest (min)       ``turns.maxTurnMs``, ``turns.maxShare``, ``turns.maxBotTurnsPerMinute``
                      (null = no limit, the loosest: a later null changes nothing)
strictest bucket      ``rates.*``, each bucket in ``tools.rates``: smaller capacity, slower refill
union                 ``tools.deny``; ``content.rules`` (same id: phrases and patterns joined, the
                      stricter action, the higher severity, channels joined)
intersection          ``tools.allow`` (null = every tool), ``content.allowedLinkHosts`` (null = any)
later wins            everything else: ``turns.turnRepeatMs``, ``turns.shareMinTalkMs``,
                      ``turns.nudgeCooldownMs``, ``content.replacement``, all of ``facilitation``
====================  ==========================================================================

Only the fields a layer sets take part (absent keys inherit). The composed policy is validated
again as a whole.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, Field, ValidationError

from bot.core.errors import PolicyError
from bot.policy.errors import from_validation_error, read_json
from bot.policy.model import (
    ACTIONS,
    CHANNELS,
    SECTIONS,
    SEVERITIES,
    ContentRule,
    ConversationPolicy,
    PolicyModel,
    TokenBucketSpec,
)

__all__ = ["LAYER_KIND", "LEVELS", "MERGE", "PolicyLayer", "compose", "load_layer", "parse_layer", "parse_layers"]

LAYER_KIND: Final = "prism.policy.layer"
LEVELS: tuple[str, ...] = ("platform", "tenant", "assistant", "room")
"""Layer levels in the order they apply; a stack must not go backwards."""

MERGE: dict[str, dict[str, str]] = {
    "turns": {
        "max_turn_ms": "min",
        "turn_repeat_ms": "set",
        "max_share": "min",
        "share_min_talk_ms": "set",
        "nudge_cooldown_ms": "set",
        "max_bot_turns_per_minute": "min",
    },
    "rates": {"bot_messages": "bucket", "inbound_messages": "bucket", "chat_messages": "bucket"},
    "content": {"rules": "rules", "replacement": "set", "allowed_link_hosts": "intersect"},
    "tools": {"allow": "intersect", "deny": "union", "rates": "buckets"},
    "facilitation": {
        "agenda": "set",
        "wrap_up_lead_ms": "set",
        "nudge_style": "set",
        "summary_every_ms": "set",
        "min_gap_ms": "set",
        "max_transcript_lines": "set",
        "voice": "voice",
        "voice_max_share": "min",
        "voice_min_gap_ms": "max",
    },
}
"""How each field merges over a non-platform layer (a platform layer sets every field it gives)."""


class _LayerHead(BaseModel):
    """The top level of a layer file; sections are checked one by one against the policy model."""

    model_config = {"extra": "forbid", "populate_by_name": True}

    kind: Literal["prism.policy.layer"] = LAYER_KIND
    schema_version: Literal[1] = Field(alias="schemaVersion")
    name: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
    level: Literal["platform", "tenant", "assistant", "room"]
    description: str | None = Field(default=None, max_length=1000)
    turns: dict[str, Any] | None = None
    rates: dict[str, Any] | None = None
    content: dict[str, Any] | None = None
    tools: dict[str, Any] | None = None
    facilitation: dict[str, Any] | None = None


@dataclass(frozen=True)
class PolicyLayer:
    """One parsed layer: for each section it sets, the validated section and the fields it set."""

    name: str
    level: str
    source: str
    sections: Mapping[str, tuple[PolicyModel, frozenset[str]]]
    description: str | None = None
    where: str = ""
    """Position of the layer in a list of layers (``[2]``), prefixed to field names in errors."""

    def field(self, name: str) -> str:
        return f"{self.where}.{name}" if self.where else name


def parse_layer(data: Any, source: str | os.PathLike[str] = "<layer>", *, where: str = "") -> PolicyLayer:
    """Validate a layer document; raises ``PolicyError`` naming the first bad field.

    ``where`` locates the layer inside a list of layers (``[1]``) in error messages.
    """
    source = str(source)

    def here(name: str) -> str:
        return f"{where}.{name}" if where else name

    if not isinstance(data, dict):
        raise PolicyError(source, where or None, f"a policy layer is a JSON object, got {type(data).__name__}")
    if data.get("kind") == "prism.policy.snapshot":
        raise PolicyError(source, here("kind"), "is a composed snapshot, not a layer (compose takes layer files)")
    try:
        head = _LayerHead.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(source, exc, prefix=where) from None
    sections: dict[str, tuple[PolicyModel, frozenset[str]]] = {}
    for section, model in SECTIONS.items():
        given = getattr(head, section)
        if given is None:
            continue
        by_alias = {field.alias or name: name for name, field in model.model_fields.items()}
        for key in given:
            if key not in by_alias:
                known = ", ".join(by_alias)
                raise PolicyError(source, here(f"{section}.{key}"), f"is not a known field here (known: {known})")
        base = model().model_dump(mode="json", by_alias=True)
        try:
            value = model.model_validate({**base, **given})
        except ValidationError as exc:
            raise from_validation_error(source, exc, prefix=here(section)) from None
        sections[section] = (value, frozenset(by_alias[key] for key in given))
    return PolicyLayer(
        name=head.name, level=head.level, source=source, sections=sections, description=head.description, where=where
    )


def parse_layers(data: Any, source: str | os.PathLike[str] = "<layers>") -> list[PolicyLayer]:
    """A JSON list of layer documents (what the supervisor writes to ``BOT_POLICY_PATH``)."""
    if not isinstance(data, list):
        raise PolicyError(str(source), None, f"a list of policy layers is a JSON array, got {type(data).__name__}")
    if len(data) > 16:
        raise PolicyError(str(source), None, f"at most 16 layers, got {len(data)}")
    return [parse_layer(item, source, where=f"[{i}]") for i, item in enumerate(data)]


def load_layer(path: str | os.PathLike[str]) -> PolicyLayer:
    """Read and validate one layer file."""
    return parse_layer(read_json(path), path)


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------


def _min_limit(current: Any, new: Any) -> Any:
    if current is None:
        return new
    if new is None:
        return current
    return min(current, new)


def strictest_bucket(current: TokenBucketSpec | None, new: TokenBucketSpec | None) -> TokenBucketSpec | None:
    """The smaller burst and the slower sustained rate of two buckets; null = no limit."""
    if current is None or new is None:
        return new if current is None else current
    slow = new if new.slower_than(current) else current
    return TokenBucketSpec(
        capacity=min(current.capacity, new.capacity),
        refill_tokens=slow.refill_tokens,
        refill_every_ms=slow.refill_every_ms,
    )


def _joined(a: Sequence[str], b: Sequence[str]) -> list[str]:
    return list(dict.fromkeys([*a, *b]))


def _merge_rule(old: ContentRule, new: ContentRule) -> ContentRule:
    return ContentRule(
        id=old.id,
        phrases=_joined(old.phrases, new.phrases),
        patterns=_joined(old.patterns, new.patterns),
        action=max(old.action, new.action, key=ACTIONS.index),
        severity=max(old.severity, new.severity, key=SEVERITIES.index),
        applies_to=[c for c in CHANNELS if c in old.applies_to or c in new.applies_to],
    )


def _merge_rules(current: list[ContentRule], new: list[ContentRule]) -> list[ContentRule]:
    out = {rule.id: rule for rule in current}
    for rule in new:
        out[rule.id] = _merge_rule(out[rule.id], rule) if rule.id in out else rule
    return list(out.values())


VOICE_ORDER: tuple[str, ...] = ("off", "prompts", "prompts_and_interrupts")
"""``facilitation.voice`` from most to least restrained: a later layer can only restrain it more."""


def _merge_field(kind: str, current: Any, new: Any) -> Any:
    if kind == "set":
        return new
    if kind == "voice":
        return min(current, new, key=VOICE_ORDER.index)
    if kind == "max":
        return max(current, new)
    if kind == "min":
        return _min_limit(current, new)
    if kind == "bucket":
        return strictest_bucket(current, new)
    if kind == "buckets":
        names = _joined(list(current), list(new))
        return {n: strictest_bucket(current.get(n), new.get(n)) for n in names}
    if kind == "union":
        return _joined(current, new)
    if kind == "intersect":
        if current is None or new is None:
            return new if current is None else current
        return [name for name in current if name in new]
    if kind == "rules":
        return _merge_rules(current, new)
    raise AssertionError(f"unknown merge kind {kind}")


def compose(layers: Sequence[PolicyLayer], base: ConversationPolicy | None = None) -> ConversationPolicy:
    """Apply ``layers`` in order onto ``base`` (the built-in safe default); see the module doc."""
    policy = base or ConversationPolicy()
    previous = 0
    for layer in layers:
        index = LEVELS.index(layer.level)
        if index < previous:
            raise PolicyError(
                layer.source,
                layer.field("level"),
                f"{layer.level} layer after a {LEVELS[previous]} layer: layers go platform → tenant → assistant → room",
            )
        previous = index
        updates: dict[str, Any] = {}
        for section, (value, given) in layer.sections.items():
            current = getattr(policy, section)
            try:  # merging can build models (content rules) whose limits the union exceeds
                merged = {
                    name: getattr(value, name)
                    if layer.level == "platform"
                    else _merge_field(MERGE[section][name], getattr(current, name), getattr(value, name))
                    for name in given
                }
            except ValidationError as exc:
                raise from_validation_error(layer.source, exc, prefix=section) from None
            updates[section] = current.model_copy(update=merged)
        policy = policy.model_copy(update=updates)
    try:  # model_copy does not validate: check the result as a whole
        return ConversationPolicy.model_validate(policy.model_dump(mode="json", by_alias=True))
    except ValidationError as exc:
        raise from_validation_error(layers[-1].source if layers else "<policy>", exc) from None
