"""One room session from start to end: lifecycle events around the room pipeline.

The order is the contract (docs/deploy.md, "What a session does"): ``assistant.session.started`` →
assistant context → ``assistant.room.join.requested`` → ``join.succeeded | join.failed`` (with
retries) → pipeline with heartbeats → ``assistant.session.ended`` (or ``assistant.session.failed``
at the stage that failed). The event runtime is built and the first envelope published before
Pipecat, Daily or the scenario's audio are imported, so a supervisor sees the session start
within milliseconds of spawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

from loguru import logger

from bot.config.secrets import SecretScrubber, log_patcher, scrubber_from_env, scrubbing_sink
from bot.core.errors import PrismError
from bot.events import EventRuntime
from bot.generated import (
    AssistantRoomJoinFailed,
    AssistantRoomJoinRequested,
    AssistantRoomJoinSucceeded,
    AssistantSessionFailed,
    BotHealthHeartbeat,
    Topic,
)
from bot.session.startup import DEMO_SCENARIO, Started, begin, session_ended

if TYPE_CHECKING:
    from bot.config.settings import Settings
    from bot.policy import InboundRateLimiter, LoadedPolicy
    from bot.session.context import AssistantContext

SIGNALS = (signal.SIGTERM, signal.SIGINT)
"""The signals that end a session gracefully (a second one cancels at once)."""

GRACE_SECS = 1.5
"""After a stop request, how long the pipeline may take to flush before it is cancelled (exit < 3 s)."""


def secret_values(settings: Settings) -> list[Any]:
    from bot.config.settings import SECRET_FIELDS

    return [getattr(settings, name, None) for name in SECRET_FIELDS]


def configure_logging(settings: Settings, scrub: SecretScrubber, *, live_view: bool) -> None:
    """Loguru to stderr only, every line scrubbed of secrets; quiet under the live view."""
    logger.remove()
    level = "DEBUG" if settings.debug else "INFO" if settings.verbose else "WARNING"
    if live_view and not settings.debug:
        level = "ERROR"
    logger.configure(patcher=log_patcher(scrub))
    logger.add(
        scrubbing_sink(sys.stderr, scrub),
        level=level,
        format="{time:HH:mm:ss.SSS} {level: <7} {name}: {message}",
        backtrace=settings.debug,
        diagnose=False,
    )


class Session:
    """Lifecycle of one room session, Daily or simulated."""

    def __init__(
        self,
        settings: Settings,
        runtime: EventRuntime,
        scrub: SecretScrubber,
        *,
        started_at: float,
        handle_signals: bool,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.bus = runtime.bus
        self.scrub = scrub
        self.started_at = started_at
        self.handle_signals = handle_signals
        self.end_reason = "completed"
        self.worker: Any = None
        self.room: Any = None
        self.participants_present = 0
        self.policy: LoadedPolicy | None = None
        self.limiter: InboundRateLimiter | None = None
        self._main_task: asyncio.Task[Any] | None = None
        self._stopping = False
        self._ran = False
        self._failed = False
        self.bus.subscribe("room.participant.*", self._count_participants)

    # ---- small helpers
    def _count_participants(self, envelope: dict[str, Any]) -> None:
        """Heartbeats report who is in the room, from the same events browsers see."""
        if envelope["topic"] == Topic.ROOM_PARTICIPANT_JOINED:
            self.participants_present += 1
        elif envelope["topic"] == Topic.ROOM_PARTICIPANT_LEFT:
            self.participants_present = max(0, self.participants_present - 1)

    def _uptime_ms(self) -> int:
        return int((time.monotonic() - self.started_at) * 1000)

    def _fail(self, stage: str, exc: BaseException, *, retryable: bool = False) -> None:
        self._failed = True
        self.bus.publish(
            AssistantSessionFailed(
                stage=stage, error=self.scrub(str(exc))[:500] or type(exc).__name__, retryable=retryable
            )
        )  # type: ignore[arg-type]

    def media_now_ms(self) -> int:
        room = self.room
        if room is None:
            return 0
        if hasattr(room, "clock"):
            return int(room.clock.now_ms())
        return int(room.stats.media_ms_played)

    # ---- stopping
    def stdout_closed(self) -> None:
        """The supervisor went away: end the session quietly (the emitter already writes to
        /dev/null; fd 1 itself is left alone, which matters in-process on Pipecat Cloud)."""
        self.end("error")

    def _on_signal(self, sig: signal.Signals) -> None:
        name = signal.Signals(sig).name
        if self.end_reason == "signal" and self._stopping:
            logger.warning(f"{name} after an earlier signal; cancelling now")
            self._cancel(f"signal {name}")
            return
        logger.warning(f"{name} received; ending the session")
        self.end("signal")

    def end(self, reason: str) -> None:
        """End gracefully: session totals are emitted and queues flushed within ``GRACE_SECS``,
        then the worker is cancelled. Before the pipeline exists, the start-up is abandoned.

        Nothing to do once the session failed, or once its pipeline has run (the room is closing
        and the end is being published): cancelling then would cut the close short."""
        if self._stopping or self._ran or self._failed:
            return
        self._stopping = True
        self.end_reason = reason
        loop = asyncio.get_event_loop()
        if self.worker is not None and self.worker.has_finished():
            return
        if self.worker is None:
            if self._main_task is not None and not self._main_task.done():
                self._main_task.cancel()
            return
        from pipecat.frames.frames import EndFrame

        from bot.core.frames import RoomEndedFrame

        loop.create_task(
            self.worker.queue_frames(
                [RoomEndedFrame(media_time_ms=self.media_now_ms(), reason=reason), EndFrame(reason=reason)]
            )
        )
        loop.call_later(GRACE_SECS, self._cancel, f"{reason}: grace period over")

    def _cancel(self, why: str) -> None:
        worker = self.worker
        if worker is not None and not worker.has_finished():
            asyncio.get_event_loop().create_task(worker.cancel(reason=why))

    # ---- the stages
    async def _context(self) -> AssistantContext:
        from bot.session.context import ContextFetchError, ContextFileError, resolve_context

        s = self.settings
        try:
            return await resolve_context(
                assistant_id=s.assistant_id,
                tenant_id=s.tenant_id,
                mesh_url=s.mesh_url,
                mesh_token=s.mesh_api_token.get_secret_value() if s.mesh_api_token else None,
                mesh_rest_url=s.mesh_rest_url,
                assistant_file=s.assistant_file,
            )
        except (ContextFetchError, ContextFileError) as exc:
            self._fail("context_fetch", exc, retryable=bool(getattr(exc, "retryable", False)))
            raise

    def _load_policy(self) -> LoadedPolicy:
        """Stage ``policy``: read and verify the snapshot (or the safe default) and install the
        inbound rate limiter. A bad snapshot fails the session before the join; the policy is
        published (``conversation.policy.loaded``) when it takes effect, as the pipeline starts."""
        from bot.policy import InboundRateLimiter, load_policy

        try:
            loaded = load_policy(self.settings.policy)
        except PrismError as exc:
            self._fail("policy", exc, retryable=False)
            raise
        bus = self.bus
        self.limiter = InboundRateLimiter(loaded, on_violation=lambda v: bus.publish(v, media_time_ms=v.media_time_ms))
        self.runtime.inbound.rate_limiter = self.limiter
        self.policy = loaded
        return loaded

    def _facilitator(self, agenda: Any) -> list[Any]:
        """The LLM facilitator's processors when OPENAI_API_KEY or --llm is set, else none."""
        s = self.settings
        if not (s.llm or s.openai_api_key):
            return []
        from bot.processors.facilitator import build_facilitator

        assert self.policy is not None
        return build_facilitator(
            self.policy,
            api_key=s.openai_api_key.get_secret_value() if s.openai_api_key else "not-needed",
            base_url=s.openai_base_url,
            model=s.openai_model,
            timeout_secs=s.llm_timeout_secs,
            bot_name=s.bot_name,
            agenda=agenda,
        )

    async def _join_daily(self) -> Any:
        from bot.rooms.daily import DailyRoom
        from bot.session.join import JoinFailed, join_with_retries

        s = self.settings
        room = DailyRoom(
            s.room_url or "",
            token=s.token.get_secret_value() if s.token else None,
            bot_name=s.bot_name,
            transcription=s.transcription,
            scrubber=self.scrub,
        )
        self.room = room
        bus = self.bus
        try:
            await join_with_retries(
                room.join,
                attempts=s.join_attempts,
                budget_s=s.join_budget_secs,
                describe_error=lambda e: self.scrub(str(e)),
                on_requested=lambda a, m: bus.publish(
                    AssistantRoomJoinRequested(room_id=room.room_id, attempt=a, max_attempts=m)
                ),
                on_failed=lambda a, err, will, ms: bus.publish(
                    AssistantRoomJoinFailed(
                        room_id=room.room_id,
                        attempt=a,
                        error=(err or "join failed")[:500],
                        will_retry=will,
                        retry_in_ms=ms,
                    )
                ),
                on_succeeded=lambda a, lat, n: bus.publish(
                    AssistantRoomJoinSucceeded(
                        room_id=room.room_id, attempt=a, join_latency_ms=lat, participant_count=n
                    )
                ),
            )
        except JoinFailed as exc:
            self._fail("join", exc, retryable=bool(getattr(exc, "retryable", True)))
            await room.close()
            raise
        return room

    async def _join_simulated(self, room_id: str) -> Any:
        """Loading the scenario is the simulated room's join: its errors are join failures."""
        from bot.core.errors import ScenarioError

        self.bus.publish(AssistantRoomJoinRequested(room_id=room_id, attempt=1, max_attempts=1))
        started = time.monotonic()
        from bot.rooms.scenario import load_scenario  # numpy and the clips: after the request is out

        try:
            scenario = await asyncio.to_thread(load_scenario, self.settings.simulate or DEMO_SCENARIO)
        except ScenarioError as exc:
            self.bus.publish(
                AssistantRoomJoinFailed(
                    room_id=room_id, attempt=1, error=self.scrub(str(exc))[:500], will_retry=False, retry_in_ms=0
                )
            )
            self._fail("join", exc)
            raise
        self.bus.publish(
            AssistantRoomJoinSucceeded(
                room_id=room_id,
                attempt=1,
                join_latency_ms=int((time.monotonic() - started) * 1000),
                participant_count=0,
            )
        )
        self.heartbeat()  # before Pipecat's imports hold the loop for a few hundred ms
        from bot.rooms.simulated import SimulatedRoom

        self.room = SimulatedRoom(scenario, speed=self.settings.speed, verbose=self.settings.verbose)
        return self.room

    def heartbeat(self) -> None:
        bus = self.bus
        bus.publish(
            BotHealthHeartbeat(
                uptime_ms=self._uptime_ms(),
                published=bus.published,
                dropped=bus.dropped,
                violations=bus.per_topic.get(Topic.CONVERSATION_POLICY_VIOLATION, 0),
                buffer_fill_percent=min(100.0, bus.buffer_fill_percent),
                participants=self.participants_present,
                media_time_ms=self.media_now_ms(),
            )
        )

    async def _heartbeats(self) -> None:
        """Every ``heartbeat_secs`` after the first one, which ``run`` sends right at join."""
        while True:
            await asyncio.sleep(self.settings.heartbeat_secs)
            self.heartbeat()

    async def _watch_daily(self, room: Any) -> None:
        """End the session when the room stays empty, or the call drops underneath the bot."""
        waits = [asyncio.create_task(room.disconnected.wait())]
        if self.settings.empty_timeout_secs:
            waits.append(asyncio.create_task(room.wait_until_empty(self.settings.empty_timeout_secs)))
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            if waits[0] in done:
                logger.warning("the call ended underneath the bot")
                self.end("error")
            else:
                logger.info(f"the room was empty for {self.settings.empty_timeout_secs:g}s")
                self.end("room_empty")
        finally:
            for task in waits:
                task.cancel()

    def install_signals(self) -> None:
        """Take SIGTERM/SIGINT on the loop (``_on_signal``), then let through any that waited.

        The CLI blocks both during its start-up (bot/cli/main.py), so a signal that came before
        this point is delivered here, to the session, not to asyncio's own SIGINT handler (which
        would cancel the task and report ``cancelled``) nor to a handler raising in the loop.
        One that comes before ``run`` only marks the session as stopping; ``run`` then returns."""
        if not self.handle_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)

    async def run(self, room_id: str) -> None:
        self._main_task = asyncio.current_task()
        if self._stopping:  # a signal came while the session was being set up
            self._ran = True
            return
        try:
            context = await self._context()
            policy = self._load_policy()
            daily = bool(self.settings.room_url)
            if daily:
                room = await self._join_daily()
                self.heartbeat()
            else:
                room = await self._join_simulated(room_id)
            agenda = policy.policy.facilitation.agenda or (
                context.agenda if daily or not room.scenario.agenda else room.scenario.agenda
            )
            await self._run_pipeline(room, agenda=agenda, daily=daily)
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()  # our own cancel (end() during start-up), handled here
            logger.info(f"start-up abandoned ({self.end_reason})")
        finally:  # the signal handlers stay until the end is published (release_signals)
            if self.room is not None and hasattr(self.room, "close"):
                with contextlib.suppress(Exception):
                    await self.room.close()
        await self.bus.drain()
        self._ran = True

    async def _run_pipeline(self, room: Any, *, agenda: Any, daily: bool) -> None:
        from pipecat.pipeline.worker import PipelineParams, PipelineWorker
        from pipecat.workers.runner import WorkerRunner

        from bot.pipelines.room import IDLE_FRAMES, build_room_pipeline

        extra = []
        if daily:
            from bot.processors.media_clock import MediaClockStamper

            extra.append(MediaClockStamper(clock=room.clock.now_ms))
        assert self.policy is not None
        self.bus.publish(self.policy.loaded_event())
        pipeline = build_room_pipeline(
            room,
            self.runtime,
            agenda=agenda,
            after_input=extra,
            policy=self.policy,
            limiter=self.limiter,
            facilitator=self._facilitator(agenda),
        )
        worker = PipelineWorker(
            pipeline,
            params=PipelineParams(audio_in_sample_rate=16000 if daily else room.scenario.sample_rate),
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

        runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
        await runner.add_workers(worker)
        loop = asyncio.get_running_loop()
        heartbeat = asyncio.create_task(self._heartbeats())
        watcher = asyncio.create_task(self._watch_daily(room)) if daily else None
        limit = self.settings.max_duration_secs
        deadline = loop.call_later(limit, self.end, "max_duration") if limit else None
        try:
            await runner.run()
        finally:
            heartbeat.cancel()
            if watcher is not None:
                watcher.cancel()
            if deadline is not None:
                deadline.cancel()

    @property
    def stopping(self) -> bool:
        """An end was asked for (signal, room empty, max duration, idle, stdout closed)."""
        return self._stopping

    def release_signals(self) -> None:
        """Stop taking SIGTERM/SIGINT, once ``assistant.session.ended`` (or failed) is out.

        Kept until then so a second signal during the teardown still goes through ``_on_signal``
        (cancel at once) instead of killing the process before the end is published. After it,
        both are ignored: Python gives handled signals their default action back as it exits,
        and native threads (onnxruntime's, daily-core's) do not share the main thread's mask, so
        a late SIGTERM used to turn exit 0 (or 2, 3, 4) into a kill."""
        if not self.handle_signals:
            return
        with contextlib.suppress(RuntimeError):  # the loop is already closed
            loop = asyncio.get_running_loop()
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
        for sig in SIGNALS:  # the end (or failure) is out and the process is exiting: nothing to
            signal.signal(sig, signal.SIG_IGN)  # interrupt, and a kill now would only change its exit code

    def finish(self) -> None:
        self.bus.publish(session_ended(self.bus, self.end_reason, started_at=self.started_at))


async def run_session_async(
    settings: Settings,
    *,
    started_at: float | None = None,
    handle_signals: bool = True,
    claim_stdout: bool = False,
    configure_logs: bool = False,
    live_view: bool = False,
    session_id: str | None = None,
    started: Started | None = None,
) -> int:
    """Run one session; returns the exit code. Raises ``PrismError`` for what a user can fix.

    The CLI claims the process's stdout and owns logging and signals, and has already published
    the start (``started``); Pipecat Cloud runs this in-process next to its own server, so there it
    writes envelopes to ``sys.stdout`` and leaves logging and signals alone.
    """
    started_at = time.monotonic() if started_at is None else started_at
    scrub = scrubber_from_env(None, *secret_values(settings))
    if configure_logs:
        configure_logging(settings, scrub, live_view=live_view)
    else:
        logger.configure(patcher=log_patcher(scrub))
    if started is None:
        started = begin(settings, claim_stdout=claim_stdout, live_view=live_view, session_id=session_id)
    runtime, view = started.runtime, started.view

    session = Session(settings, runtime, scrub, started_at=started_at, handle_signals=handle_signals)
    session.install_signals()
    started.on_stdout_closed = session.stdout_closed
    forwarding = None
    if settings.forward == "stdout+eventbridge":
        from bot.forwarding import BotForwarding

        forwarding = BotForwarding.create(
            runtime.bus,
            redactor=runtime.redactor,
            sampler=runtime.sampler,
            bus_name=settings.eventbridge_bus,
            source=settings.eventbridge_source,
            region=settings.eventbridge_region,
            endpoint_url=settings.eventbridge_endpoint_url,
            dry_run_path=settings.forward_dry_run_path,
        )  # replays assistant.session.started, published before the loop existed
        await forwarding.start()
    try:
        try:
            await session.run(started.room_id)
        except PrismError:
            raise
        except asyncio.CancelledError:  # the host cancelled the session (Pipecat Cloud's time limit, its shutdown)
            if not (
                session.bus.per_topic[Topic.ASSISTANT_SESSION_ENDED]
                or session.bus.per_topic[Topic.ASSISTANT_SESSION_FAILED]
            ):
                session.end_reason = "cancelled"
                session.finish()
            raise
        except Exception as exc:
            session._fail("pipeline", exc)
            raise
        # the host's cancel, which Pipecat's WorkerRunner.run() swallows (the session's own cancel,
        # end() during start-up, is uncancelled where it is handled)
        cancelled = _cancel_requested()
        if cancelled and not session.stopping:
            session.end_reason = "cancelled"
        session.finish()
    finally:
        if forwarding is not None:
            await forwarding.aclose(timeout=3.0)  # after ended/failed, so they are delivered too
        if view is not None:
            view.close()
        session.release_signals()
    if cancelled:
        raise asyncio.CancelledError  # honour it now that the end is out: the host asked this task to stop
    return 0


def _cancel_requested() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def run(settings: Settings, *, started_at: float, started: Started) -> int:
    """The CLI's session, once ``begin`` has published the start."""
    return asyncio.run(
        run_session_async(
            settings,
            started_at=started_at,
            handle_signals=True,
            configure_logs=True,
            live_view=started.view is not None,
            started=started,
        )
    )
