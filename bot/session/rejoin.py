"""Rejoining the room after the connection to Daily was lost, with backoff, while the pipeline runs.

When daily-core gives up reconnecting, the call ends underneath the bot. If the drop is one a
rejoin can fix (``DailyRoom.drop.retryable``: network trouble, not an ejection or an ended
meeting), the session joins the same call again on the same Daily client, with the join's retry
policy (``--join-attempts`` within ``--join-budget-secs``, exponential backoff with full jitter),
and publishes each attempt as ``assistant.room.join.requested | succeeded | failed`` like the first
join. The pipeline, its analytics and the session's totals carry on. When every attempt fails,
the session ends as a dropped call (``bot.session.dropped``: exit 6, ``retryable: true``, so a
supervisor can still start it again).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loguru import logger

if TYPE_CHECKING:
    from bot.config.secrets import SecretScrubber
    from bot.config.settings import Settings
    from bot.events import EventBus

__all__ = ["rejoin_after_drop"]


async def rejoin_after_drop(room: Any, settings: Settings, bus: EventBus, scrub: SecretScrubber) -> bool:
    """Rejoin ``room`` after a retryable drop; True when the bot is back in the call."""
    drop = getattr(room, "drop", None)
    if drop is None or not drop.retryable or not hasattr(room, "rejoin"):
        return False
    from bot.session.join import JoinFailed
    from bot.session.join_room import join_daily_attempts

    logger.warning(f"rejoining room {room.room_id} after the call dropped: {drop.describe()}")
    try:
        await join_daily_attempts(room, room.rejoin, settings, bus, scrub, what="rejoin")
    except JoinFailed as exc:
        logger.warning(f"could not rejoin room {room.room_id}: {exc}")
        return False
    return True
