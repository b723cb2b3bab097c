"""The policy step: read and verify the ConversationPolicy snapshot, install the inbound limiter.

A bad snapshot fails the session (stage ``policy``) before a Daily room's join (a simulated room
has joined already: its join is its scenario's load, ``bot.session.lifecycle``). The policy is published
(``conversation.policy.loaded``) later, when it takes effect as the pipeline starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config.settings import Settings
    from bot.events import EventRuntime
    from bot.policy import InboundRateLimiter, LoadedPolicy

__all__ = ["load_session_policy"]


def load_session_policy(settings: Settings, runtime: EventRuntime) -> tuple[LoadedPolicy, InboundRateLimiter]:
    """The session's policy (``--policy`` or the safe default) and its inbound rate limiter,
    already installed on the runtime's inbound validator. Raises ``PolicyError``."""
    from bot.policy import InboundRateLimiter, load_policy

    loaded = load_policy(settings.policy)
    bus = runtime.bus
    limiter = InboundRateLimiter(loaded, on_violation=lambda v: bus.publish(v, media_time_ms=v.media_time_ms))
    runtime.inbound.rate_limiter = limiter
    return loaded, limiter
