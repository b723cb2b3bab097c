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

from bot.generated import AssistantRoomJoinFailed, AssistantRoomJoinRequested, AssistantRoomJoinSucceeded

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
    from bot.session.join import JoinFailed, join_with_retries

    logger.warning(f"rejoining room {room.room_id} after the call dropped: {drop.describe()}")
    try:
        await join_with_retries(
            room.rejoin,
            attempts=settings.join_attempts,
            budget_s=settings.join_budget_secs,
            describe_error=lambda e: scrub(str(e)),
            on_requested=lambda a, m: bus.publish(
                AssistantRoomJoinRequested(room_id=room.room_id, attempt=a, max_attempts=m)
            ),
            on_failed=lambda a, err, will, ms: bus.publish(
                AssistantRoomJoinFailed(
                    room_id=room.room_id,
                    attempt=a,
                    error=(err or "rejoin failed")[:500],
                    will_retry=will,
                    retry_in_ms=ms,
                )
            ),
            on_succeeded=lambda a, lat, n: bus.publish(
                AssistantRoomJoinSucceeded(
                    room_id=room.room_id,
                    attempt=a,
                    join_latency_ms=lat,
                    participant_count=n,
                    transcription=room.transcription_status,
                )
            ),
        )
    except JoinFailed as exc:
        logger.warning(f"could not rejoin room {room.room_id}: {exc}")
        return False
    return True
