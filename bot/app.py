"""One room session from start to end: lifecycle events around the room pipeline.

The order is the contract (docs/lifecycle.md): ``assistant.session.started`` → join requested →
join succeeded → heartbeats while the pipeline runs → ``assistant.session.ended``. The event
runtime is built and the first envelope published before Pipecat is imported, so a supervisor
sees the session start within milliseconds of spawn.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from loguru import logger

from bot.errors import ConfigError
from bot.events import EventRuntime, SessionContext, create_runtime
from bot.generated import (
    AssistantRoomJoinRequested,
    AssistantRoomJoinSucceeded,
    AssistantSessionEnded,
    AssistantSessionFailed,
    AssistantSessionStarted,
    BotHealthHeartbeat,
)

if TYPE_CHECKING:
    from bot.rooms.scenario import Scenario
    from bot.settings import Settings

GRACE_SECS = 1.5
"""After SIGTERM, how long the pipeline may take to flush before it is cancelled (exit stays < 3 s)."""
DEMO_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "demo.json"


def bot_version() -> str:
    try:
        return metadata.version("prism-room-bot")
    except metadata.PackageNotFoundError:
        return "0.0.0+source"


def configure_logging(settings: "Settings", *, live_view: bool) -> None:
    """Loguru to stderr only; quiet under the live view so it is not torn."""
    logger.remove()
    level = "DEBUG" if settings.debug else "INFO" if settings.verbose else "WARNING"
    if live_view and not settings.debug:
        level = "ERROR"
    logger.add(sys.stderr, level=level, format="{time:HH:mm:ss.SSS} {level: <7} {name}: {message}", backtrace=settings.debug, diagnose=False)


def wants_live_view(settings: "Settings") -> bool:
    if settings.view == "live":
        return True
    if settings.view == "off":
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


class Session:
    """Lifecycle of one simulated-room session (the Daily connector shares this shape)."""

    def __init__(self, settings: "Settings", scenario: "Scenario", runtime: EventRuntime, *, started_at: float) -> None:
        self.settings = settings
        self.scenario = scenario
        self.runtime = runtime
        self.started_at = started_at
        self.end_reason = "completed"
        self.worker = None
        self.room = None
        self._stdout_closed = False
        self.participants_present = 0
        runtime.bus.subscribe("room.participant.*", self._count_participants)

    def _count_participants(self, envelope: dict) -> None:
        """Heartbeats report who is in the room, from the same events browsers see."""
        if envelope["topic"] == "room.participant.joined":
            self.participants_present += 1
        elif envelope["topic"] == "room.participant.left":
            self.participants_present = max(0, self.participants_present - 1)

    def stdout_closed(self) -> None:
        """The supervisor went away: end the session quietly."""
        self._stdout_closed = True
        self.end_reason = "error"
        self._cancel("stdout closed")

    def _cancel(self, why: str) -> None:
        worker = self.worker
        if worker is None or worker.has_finished():
            return
        loop = asyncio.get_event_loop()
        loop.create_task(worker.cancel(reason=why))

    def _uptime_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    async def _heartbeats(self) -> None:
        bus = self.runtime.bus
        while True:
            participants = self.participants_present
            bus.publish(
                BotHealthHeartbeat(
                    uptime_ms=self._uptime_ms(),
                    published=bus.published,
                    dropped=bus.dropped,
                    violations=bus.per_topic.get("conversation.policy.violation", 0),
                    buffer_fill_percent=min(100.0, bus.buffer_fill_percent),
                    participants=participants,
                )
            )
            await asyncio.sleep(self.settings.heartbeat_secs)

    async def run(self) -> int:
        from pipecat.pipeline.worker import PipelineWorker, PipelineParams
        from pipecat.workers.runner import WorkerRunner

        from bot.pipelines.room import IDLE_FRAMES, build_room_pipeline
        from bot.rooms.simulated import SimulatedRoom

        bus = self.runtime.bus
        room_id = self.scenario.name
        bus.publish(AssistantRoomJoinRequested(room_id=room_id, attempt=1, max_attempts=1))
        join_started = time.monotonic()
        self.room = SimulatedRoom(self.scenario, speed=self.settings.speed, verbose=self.settings.verbose)
        pipeline = build_room_pipeline(self.room, self.runtime, agenda=self.scenario.agenda)
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=self.scenario.sample_rate),
            enable_rtvi=False,  # RTVI lets any participant end the session and broadcasts to all
            enable_turn_tracking=False,
            idle_timeout_secs=self.settings.idle_timeout_secs,
            idle_timeout_frames=IDLE_FRAMES,
            cancel_on_idle_timeout=True,
        )
        self.worker = worker

        @worker.event_handler("on_idle_timeout")
        async def _idle(_worker: object) -> None:
            self.end_reason = "idle_timeout"

        bus.publish(
            AssistantRoomJoinSucceeded(
                room_id=room_id, attempt=1, join_latency_ms=int((time.monotonic() - join_started) * 1000), participant_count=0
            )
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_signal, sig)
        runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
        await runner.add_workers(worker)
        heartbeat = asyncio.create_task(self._heartbeats())
        limit = self.settings.max_duration_secs
        deadline = loop.call_later(limit, self.end, "max_duration") if limit else None
        try:
            await runner.run()
        finally:
            if deadline is not None:
                deadline.cancel()
            heartbeat.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
        await bus.drain()
        return 0

    def _on_signal(self, sig: signal.Signals) -> None:
        """First signal: end gracefully; a second one cancels at once."""
        name = signal.Signals(sig).name
        if self.end_reason == "signal":
            logger.warning(f"{name} again; cancelling now")
            self._cancel(f"signal {name}")
            return
        logger.warning(f"{name} received; ending the session")
        self.end("signal")

    def end(self, reason: str) -> None:
        """End gracefully: session totals are emitted and queues flushed, within ``GRACE_SECS``
        (then the worker is cancelled), so the process still exits well within 3 s."""
        if self.worker is None or self.worker.has_finished():
            return
        from pipecat.frames.frames import EndFrame

        from bot.frames import RoomEndedFrame

        self.end_reason = reason
        loop = asyncio.get_event_loop()
        media_ms = self.room.stats.media_ms_played if self.room is not None else 0
        loop.create_task(self.worker.queue_frames([RoomEndedFrame(media_time_ms=media_ms, reason=reason), EndFrame(reason=reason)]))
        loop.call_later(GRACE_SECS, self._cancel, f"{reason}: grace period over")

    def finish(self) -> None:
        bus = self.runtime.bus
        bus.publish(
            AssistantSessionEnded(
                reason=self.end_reason,  # type: ignore[arg-type]
                duration_ms=self._uptime_ms(),
                published=bus.published,
                dropped=bus.dropped,
            )
        )


def run(settings: "Settings", *, started_at: float) -> int:
    """Run one session; returns the process exit code."""
    if settings.room_url:
        raise ConfigError("--room-url: joining a real Daily room is not available in this build yet; run without it to play the simulated room")
    from bot.rooms.scenario import load_scenario

    scenario = load_scenario(settings.simulate or DEMO_SCENARIO)  # ScenarioError → exit 2, before anything starts
    live = wants_live_view(settings)
    configure_logging(settings, live_view=live)

    session: Session | None = None

    def on_closed() -> None:
        if session is not None:
            session.stdout_closed()

    context = SessionContext(
        session_id=str(uuid.uuid4()),
        assistant_id=settings.assistant_id,
        tenant_id=settings.tenant_id,
        room_id=scenario.name,
    )
    runtime = create_runtime(
        context,
        salt=settings.pii_salt.get_secret_value(),
        claim_stdout=not live,
        on_stdout_closed=on_closed,
    )
    view = None
    if live:
        from bot.live_view import LiveView

        view = LiveView(runtime.bus, stream=sys.stderr, scenario_name=scenario.name)
    runtime.bus.publish(
        AssistantSessionStarted(
            assistant_id=settings.assistant_id,
            tenant_id=settings.tenant_id,
            bot_version=bot_version(),
            room_url=f"simulated://{scenario.name}",
            transport="simulated",
        )
    )
    runtime.verify_spec(refuse_on_mismatch=settings.refuse_forward_on_spec_mismatch)
    if settings.expect_spec_version:
        runtime.expect_version(settings.expect_spec_version)

    session = Session(settings, scenario, runtime, started_at=started_at)
    try:
        asyncio.run(session.run())
    except Exception as exc:
        runtime.bus.publish(AssistantSessionFailed(stage="pipeline", error=f"{type(exc).__name__}: {exc}"[:500], retryable=False))
        if view is not None:
            view.close()
        raise
    session.finish()
    if view is not None:
        view.close()
    if session._stdout_closed:
        _silence_stdout()
    return 0


def _silence_stdout() -> None:
    """After EPIPE, make interpreter shutdown's flush of stdout harmless."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
