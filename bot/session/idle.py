"""The idle timeout: end the session when the room shows no activity for ``idle_timeout_secs``.

Why our own and not Pipecat's (``PipelineWorker(idle_timeout_secs=...)``): Pipecat's watch is an
observer, and an observer makes the worker hand every frame at every processor (each push and
each ``process_frame``) to a proxy queue and task, whatever the frame. At real time that was 8 %
of a room's CPU (docs/vad.md, "Cost at real time"). Activity here is a handful of frames a second
at most (speaking-state changes, transcripts, chat, inbound messages), so this watch costs one
timestamp per activity frame and one timer wake-up per ``timeout_secs`` of activity: nothing
per audio chunk or tick.

Semantics kept from Pipecat's: the clock starts when the pipeline has started; any activity
restarts it; ``timeout_secs`` after the last activity, ``on_idle`` runs once and the watch ends.
Which frames count is ``bot.pipelines.room.IDLE_FRAMES``; where they are seen is the pipeline's
concern (``InboundMessages(on_activity=...)``, the first point every one of them passes).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["IdleWatch"]


class IdleWatch:
    """A deadline ``timeout_secs`` after the last ``touch()``; ``on_idle`` runs when it passes.

    ``touch()`` only stores the time (O(1), no task or timer per call); ``run()`` sleeps until
    the deadline as it stood when it went to sleep, and sleeps again for what activity added.

    Example::

        watch = IdleWatch(300.0, on_idle=end_session)
        task = asyncio.create_task(watch.run())
        ...
        watch.touch()  # on every activity frame
    """

    def __init__(self, timeout_secs: float, on_idle: Callable[[], Awaitable[None]]) -> None:
        if not timeout_secs > 0:
            raise ValueError(f"idle timeout must be > 0 seconds, got {timeout_secs!r}")
        self.timeout_secs = timeout_secs
        self._on_idle = on_idle
        self._last = time.monotonic()
        self.fired = False

    def touch(self) -> None:
        """The room showed activity now: the deadline moves to ``timeout_secs`` from now."""
        self._last = time.monotonic()

    async def run(self) -> None:
        """Wait until ``timeout_secs`` pass with no ``touch()`` (counted from this call), then
        run ``on_idle`` once and return. Cancel the task to stop watching."""
        self._last = time.monotonic()
        while True:
            remaining = self._last + self.timeout_secs - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(remaining)
        self.fired = True
        await self._on_idle()
