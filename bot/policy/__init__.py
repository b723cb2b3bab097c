"""ConversationPolicy: the model, layer composition, versioned snapshots and enforcement logic.

Plain classes only (no asyncio, no Pipecat); the processors in ``bot/processors/policy.py`` feed
them frames. See docs/policy.md.
"""

from bot.policy.compose import LEVELS, PolicyLayer, compose, load_layer, parse_layer
from bot.policy.enforce import BotOutputGate, InboundRateLimiter, RoomPolicy, ToolGate, violation
from bot.policy.guard import ContentGuard, GuardResult, normalize
from bot.policy.model import ConversationPolicy, TokenBucketSpec, rule_ids
from bot.policy.snapshot import (
    DEFAULT_LAYER,
    LoadedPolicy,
    PolicySnapshot,
    compose_snapshot,
    default_policy,
    load_policy,
    parse_snapshot,
    policy_version,
)

__all__ = [
    "DEFAULT_LAYER",
    "LEVELS",
    "BotOutputGate",
    "ContentGuard",
    "ConversationPolicy",
    "GuardResult",
    "InboundRateLimiter",
    "LoadedPolicy",
    "PolicyLayer",
    "PolicySnapshot",
    "RoomPolicy",
    "TokenBucketSpec",
    "ToolGate",
    "compose",
    "compose_snapshot",
    "default_policy",
    "load_layer",
    "load_policy",
    "normalize",
    "parse_layer",
    "parse_snapshot",
    "policy_version",
    "rule_ids",
    "violation",
]
