"""How a session stops: the end reason, signals, the grace period, and reporting a failed stage.

Why a class of its own: the end can be asked for from many places (a signal, stdout closing, an
empty room, the duration limit, the idle timeout) and at any point of the session, before the
pipeline exists or while it runs. ``SessionControl`` is the one owner of that state, so every
step of the lifecycle asks it the same questions (``stopping``) and reports failure the same way
(``fail``).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from typing import Any, Literal

from loguru import logger

from bot.config.secrets import SecretScrubber
from bot.core.tasks import spawn
from bot.events import EventBus
from bot.generated import AssistantSessionFailed

__all__ = ["GRACE_SECS", "SIGNALS", "EndReason", "FailedStage", "SessionControl"]

EndReason = Literal["signal", "room_empty", "max_duration", "idle_timeout", "cancelled", "error", "completed"]
"""Why a session ended (``assistant.session.ended``'s ``reason``)."""

FailedStage = Literal["config", "context_fetch", "join", "policy", "pipeline"]
"""The stages ``assistant.session.failed`` names (its ``stage``)."""

SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The signals that end a session gracefully (a second one cancels at once)."""

GRACE_SECS = 1.5
"""After a stop request, how long the pipeline may take to flush before it is cancelled (exit < 3 s)."""


class SessionControl:
    """The stop state of one session and the hooks that change it.

    ``end(reason)`` before the pipeline exists abandons the start-up (the main task is cancelled
    and ``uncancel`` ed where the lifecycle handles it); once the pipeline runs, it queues the
    room's end and an ``EndFrame`` and cancels the worker after ``GRACE_SECS``.
    """

    def __init__(self, bus: EventBus, scrub: SecretScrubber, *, handle_signals: bool) -> None:
        self.bus = bus
        self.scrub = scrub
        self.handle_signals = handle_signals
        self.end_reason: EndReason = "completed"
        self.worker: Any = None
        self.room: Any = None
        self.main_task: asyncio.Task[Any] | None = None
        self._stopping = False
        self.ran = False
        self.failed = False

    @property
    def stopping(self) -> bool:
        """An end was asked for (signal, room empty, max duration, idle, stdout closed)."""
        return self._stopping

    def media_now_ms(self) -> int:
        """The room's media time: Daily's clock, or how much of the simulated room has played."""
        room = self.room
        if room is None:
            return 0
        if hasattr(room, "clock"):
            return int(room.clock.now_ms())
        return int(room.stats.media_ms_played)

    def fail(self, stage: FailedStage, exc: BaseException, *, retryable: bool = False) -> None:
        """Publish ``assistant.session.failed`` for ``stage`` (the error scrubbed, at most 500 chars)."""
        self.failed = True
        error = self.scrub(str(exc))[:500] or type(exc).__name__
        self.bus.publish(AssistantSessionFailed(stage=stage, error=error, retryable=retryable))

    @contextlib.contextmanager
    def stage(
        self,
        name: FailedStage,
        errors: type[BaseException] | tuple[type[BaseException], ...],
        *,
        retryable: bool = False,
    ) -> Iterator[None]:
        """Run a step as lifecycle stage ``name``: an error of ``errors`` publishes
        ``assistant.session.failed`` for that stage (retryable as the error says, else
        ``retryable``) and goes on up to the entry point, which turns it into one line and an exit code."""
        try:
            yield
        except errors as exc:
            self.fail(name, exc, retryable=bool(getattr(exc, "retryable", retryable)))
            raise

    # ---- asking for the end
    def stdout_closed(self) -> None:
        """The supervisor went away: end the session quietly (the emitter already writes to
        /dev/null; fd 1 itself is left alone, which matters in-process on Pipecat Cloud)."""
        self.end("error")

    def on_signal(self, sig: signal.Signals) -> None:
        name = signal.Signals(sig).name
        if self.end_reason == "signal" and self._stopping:
            logger.warning(f"{name} after an earlier signal; cancelling now")
            self.cancel(f"signal {name}")
            return
        logger.warning(f"{name} received; ending the session")
        self.end("signal")

    def end(self, reason: EndReason) -> None:
        """End gracefully: session totals are emitted and queues flushed within ``GRACE_SECS``,
        then the worker is cancelled. Before the pipeline exists, the start-up is abandoned.

        Nothing to do once the session failed, or once its pipeline has run (the room is closing
        and the end is being published): cancelling then would cut the close short."""
        if self._stopping or self.ran or self.failed:
            return
        self._stopping = True
        self.end_reason = reason
        loop = asyncio.get_event_loop()
        if self.worker is not None and self.worker.has_finished():
            return
        if self.worker is None:
            if self.main_task is not None and not self.main_task.done():
                self.main_task.cancel()
            return
        from pipecat.frames.frames import EndFrame

        from bot.core.frames import RoomEndedFrame

        ended = RoomEndedFrame(media_time_ms=self.media_now_ms(), reason=reason)
        spawn(self.worker.queue_frames([ended, EndFrame(reason=reason)]))
        loop.call_later(GRACE_SECS, self.cancel, f"{reason}: grace period over")

    def cancel(self, why: str) -> None:
        worker = self.worker
        if worker is not None and not worker.has_finished():
            spawn(worker.cancel(reason=why))

    # ---- the process's signals
    def install_signals(self) -> None:
        """Take SIGTERM/SIGINT on the loop (``on_signal``), then let through any that waited.

        The CLI blocks both during its start-up (bot/cli/main.py), so a signal that came before
        this point is delivered here, to the session, not to asyncio's own SIGINT handler (which
        would cancel the task and report ``cancelled``) nor to a handler raising in the loop.
        One that comes before the steps start only marks the session as stopping; they then do
        not run."""
        if not self.handle_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self.on_signal, sig)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    def release_signals(self) -> None:
        """Stop taking SIGTERM/SIGINT, once ``assistant.session.ended`` (or failed) is out.

        Kept until then so a second signal during the teardown still goes through ``on_signal``
        (cancel at once) instead of killing the process before the end is published. After it,
        both are ignored: Python gives handled signals their default action back as it exits,
        and native threads (onnxruntime's, daily-core's) do not share the main thread's mask, so
        a late SIGTERM used to turn exit 0 (or 2, 3, 4) into a kill.

        The disposition goes straight from the loop's handler to "ignore", never through the
        default: ``loop.remove_signal_handler`` resets SIGTERM to SIG_DFL before anything can set
        SIG_IGN, and a SIGTERM in that window killed the process (exit -15 instead of the
        failure's 4), whichever thread took it. So "ignore" is installed first and the loop's
        record of its handler is dropped without the reset (nor the later one of ``loop.close``)."""
        if not self.handle_signals:
            return
        for sig in SIGNALS:  # the end (or failure) is out and the process is exiting: nothing to
            signal.signal(sig, signal.SIG_IGN)  # interrupt, and a kill now would only change its exit code
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop = asyncio.get_running_loop()
            handlers = getattr(loop, "_signal_handlers", None)  # asyncio's unix loop: no public way without the reset
            if isinstance(handlers, dict):
                for sig in SIGNALS:
                    handlers.pop(sig, None)
                if not handlers:
                    with contextlib.suppress(ValueError):  # not the main thread
                        signal.set_wakeup_fd(-1)
            else:
                for sig in SIGNALS:
                    loop.remove_signal_handler(sig)
                    signal.signal(sig, signal.SIG_IGN)
