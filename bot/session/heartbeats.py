"""``bot.health.heartbeat``: one at join, then one every ``heartbeat_secs`` while the room runs:
of media time in a simulated room (at any ``--speed``), with a wall-clock backstop
(``bot.session.heartbeat_schedule`` says when).

Heartbeats report who is in the room from the same ``room.participant.*`` events browsers see,
so a supervisor's picture and the room's agree.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bot.events import EventBus
from bot.generated import BotHealthHeartbeat, Topic
from bot.processors.safety import internal_errors
from bot.session.heartbeat_schedule import HeartbeatSchedule

__all__ = ["Heartbeats"]


class Heartbeats:
    """Counts participants from the bus and publishes heartbeats on demand or periodically."""

    def __init__(self, bus: EventBus, *, started_at: float, media_now_ms: Callable[[], int]) -> None:
        self.bus = bus
        self.started_at = started_at
        self.media_now_ms = media_now_ms
        self.participants_present = 0
        self.schedule: HeartbeatSchedule | None = None
        bus.subscribe("room.participant.*", self._count_participants)

    def _count_participants(self, envelope: dict[str, Any]) -> None:
        if envelope["topic"] == Topic.ROOM_PARTICIPANT_JOINED:
            self.participants_present += 1
        elif envelope["topic"] == Topic.ROOM_PARTICIPANT_LEFT:
            self.participants_present = max(0, self.participants_present - 1)

    def beat(self, media_time_ms: int | None = None) -> None:
        """Publish one heartbeat now (at ``media_time_ms``, default the room's media time now)."""
        bus, media = self.bus, self.media_now_ms() if media_time_ms is None else media_time_ms
        if self.schedule is not None:
            self.schedule.sent()
        bus.publish(
            BotHealthHeartbeat(
                uptime_ms=int((time.monotonic() - self.started_at) * 1000),
                published=bus.published,
                dropped=bus.dropped,
                violations=bus.occurrences.get(Topic.CONVERSATION_POLICY_VIOLATION, 0),  # aggregates count all
                internal_errors=internal_errors(),
                buffer_fill_percent=min(100.0, bus.buffer_fill_percent),
                participants=self.participants_present,
                media_time_ms=media,
            ),
            media_time_ms=media,
        )

    def on_media_time(self, media_time_ms: int) -> None:
        """A simulated room's media clock advanced (``SimulatedRoom.on_media_time``)."""
        if self.schedule is not None:
            self.schedule.on_media_time(media_time_ms)

    async def every(self, interval_secs: float) -> None:
        """Every ``interval_secs`` after the first one, which the session sends right at join: on
        media time when the room reports it (``on_media_time``), else on the wall clock."""
        self.schedule = HeartbeatSchedule(interval_secs, self.beat)
        await self.schedule.run_wall_clock()
