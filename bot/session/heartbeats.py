"""``bot.health.heartbeat``: one at join, then one every ``heartbeat_secs`` while the room runs.

Heartbeats report who is in the room from the same ``room.participant.*`` events browsers see,
so a supervisor's picture and the room's agree.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from bot.events import EventBus
from bot.generated import BotHealthHeartbeat, Topic
from bot.processors.safety import internal_errors

__all__ = ["Heartbeats"]


class Heartbeats:
    """Counts participants from the bus and publishes heartbeats on demand or periodically."""

    def __init__(self, bus: EventBus, *, started_at: float, media_now_ms: Callable[[], int]) -> None:
        self.bus = bus
        self.started_at = started_at
        self.media_now_ms = media_now_ms
        self.participants_present = 0
        bus.subscribe("room.participant.*", self._count_participants)

    def _count_participants(self, envelope: dict[str, Any]) -> None:
        if envelope["topic"] == Topic.ROOM_PARTICIPANT_JOINED:
            self.participants_present += 1
        elif envelope["topic"] == Topic.ROOM_PARTICIPANT_LEFT:
            self.participants_present = max(0, self.participants_present - 1)

    def beat(self) -> None:
        """Publish one heartbeat now."""
        bus = self.bus
        bus.publish(
            BotHealthHeartbeat(
                uptime_ms=int((time.monotonic() - self.started_at) * 1000),
                published=bus.published,
                dropped=bus.dropped,
                violations=bus.occurrences.get(Topic.CONVERSATION_POLICY_VIOLATION, 0),  # aggregates count all
                internal_errors=internal_errors(),
                buffer_fill_percent=min(100.0, bus.buffer_fill_percent),
                participants=self.participants_present,
                media_time_ms=self.media_now_ms(),
            )
        )

    async def every(self, interval_secs: float) -> None:
        """Every ``interval_secs`` after the first one, which the session sends right at join."""
        while True:
            await asyncio.sleep(interval_secs)
            self.beat()
