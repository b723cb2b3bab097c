"""When ``bot.health.heartbeat`` falls due (``bot.session.heartbeats`` publishes it): on media time in simulated rooms, on the wall clock otherwise.

A heartbeat every ``heartbeat_secs`` of wall time sends one heartbeat for a whole room played at
``--speed 0`` (it is over in two seconds), before anyone joined. In a simulated room the media clock
is the room's time, so heartbeats come every ``heartbeat_secs`` of media time at any speed: the
55 s demo has them at 0, 15, 30 and 45 s of media time, at ``--speed 0`` as in real time. The wall
clock stays as a backstop (liveness is about the process): if no heartbeat went out for
``heartbeat_secs`` of wall time (playback stalled, a Daily room), one goes out. In a Daily room the
media clock is the wall clock, so the backstop is the schedule.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

__all__ = ["HeartbeatSchedule"]


class HeartbeatSchedule:
    """Calls ``send(media_time_ms)`` on media-time multiples of the interval, and on the wall clock
    when none went out for an interval; ``send(None)`` means "take the media time now"."""

    def __init__(
        self,
        interval_secs: float,
        send: Callable[[int | None], None],
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval_secs = interval_secs
        self.interval_ms = max(1, round(interval_secs * 1000))
        self._send = send
        self._clock = clock
        self._next_media_ms = self.interval_ms
        self.last_sent = clock()

    def sent(self) -> None:
        """A heartbeat went out by another path (the one at join): the wall backstop starts over."""
        self.last_sent = self._clock()

    def on_media_time(self, media_time_ms: int) -> None:
        """The room's media clock reached ``media_time_ms``: one heartbeat if a multiple was crossed."""
        if media_time_ms < self._next_media_ms:
            return
        due = media_time_ms - media_time_ms % self.interval_ms
        self._next_media_ms = due + self.interval_ms
        self.last_sent = self._clock()
        self._send(due)

    def backstop_due_in(self) -> float:
        """Seconds of wall time until the backstop sends one (0 when due)."""
        return max(0.0, self.last_sent + self.interval_secs - self._clock())

    async def run_wall_clock(self) -> None:
        """The backstop: a heartbeat whenever ``interval_secs`` of wall time passed without one."""
        while True:
            wait = self.backstop_due_in()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            self.last_sent = self._clock()
            self._send(None)
