"""One room session from start to end, in the order it happens.

The order is the contract (docs/deploy.md, "What a session does"), and ``run_session_async``
reads top to bottom in that order:

1. start: ``assistant.session.started`` (the CLI's ``bot.session.boot`` has usually written it
   before pydantic loaded; ``bot.session.startup.begin`` adopts it or publishes it);
2. settings: validated by the entry point (``bot.cli.main`` or ``bot.cloud``) before this runs;
3. assistant context (Mesh, a file, or defaults) — stage ``context_fetch``;
4. policy (the snapshot, verified) — stage ``policy``;
5. join: ``assistant.room.join.requested`` → ``join.succeeded | join.failed`` (with retries),
   then the first ``bot.health.heartbeat`` — stage ``join``. A simulated room joins first, right
   after the settings: its join is loading its scenario, which needs neither the context nor the
   policy and shows nothing to anyone, so its seed topics do not wait for them; its room object
   (Pipecat's imports) is built here, after the policy. A Daily room, which people see the bot
   enter, joins only once the context and the policy are in;
6. pipeline, with heartbeats beside it, until the room ends or the session is stopped — stage
   ``pipeline``;
7. end: ``assistant.session.ended`` with the session's totals (or ``assistant.session.failed``
   at the stage that failed, published by that stage);
8. leave: the room is left and released after the end is out, bounded (``bot.session.closing``),
   so a slow leave can neither delay nor lose the end.

Each step is a function in a module of its own beside this one; this module only orders them.
Arrows point one way: the steps use rooms, pipelines, policy and events, and nothing they use
imports ``bot.session``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from loguru import logger

from bot.config.secrets import SecretScrubber, scrubber_from_env
from bot.config.settings import secret_values
from bot.core.errors import PrismError, ScenarioError
from bot.generated import Topic
from bot.session.control import SessionControl
from bot.session.dropped import call_dropped
from bot.session.heartbeats import Heartbeats
from bot.session.logs import configure_logging, scrub_logs
from bot.session.startup import Started, begin, session_ended

if TYPE_CHECKING:
    from bot.config.settings import Settings

__all__ = ["run", "run_session_async"]


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
        scrub_logs(scrub)

    # 1. start (2. the settings were validated by the entry point)
    if started is None:
        started = begin(settings, claim_stdout=claim_stdout, live_view=live_view, session_id=session_id)
    runtime, bus = started.runtime, started.runtime.bus
    control = SessionControl(bus, scrub, handle_signals=handle_signals)
    control.install_signals()
    started.on_stdout_closed = control.stdout_closed
    heartbeats = Heartbeats(bus, started_at=started_at, media_now_ms=control.media_now_ms)
    from bot.session.forwarding import start_forwarding

    forwarding = None
    cancelled = False
    try:
        with control.stage("config", PrismError):  # direct forwarding (--forward-dry-run-path)
            forwarding = await start_forwarding(settings, runtime)
        try:
            await _steps(settings, started, control, heartbeats, scrub)  # 3-6
        except PrismError as exc:
            if not control.failed:  # a step without a stage of its own: the pipeline's set-up
                control.fail("pipeline", exc)
            raise
        except asyncio.CancelledError:  # the host cancelled the session (Pipecat Cloud's time limit, its shutdown)
            if not (bus.per_topic[Topic.ASSISTANT_SESSION_ENDED] or bus.per_topic[Topic.ASSISTANT_SESSION_FAILED]):
                control.end_reason = "cancelled"
                _publish_end(control, started_at)
            raise
        except Exception as exc:
            control.fail("pipeline", exc)
            raise
        # the host's cancel, which Pipecat's WorkerRunner.run() swallows (the session's own cancel,
        # end() during start-up, is uncancelled where it is handled)
        cancelled = _cancel_requested()
        if cancelled and not control.stopping:
            control.end_reason = "cancelled"
        dropped = call_dropped(control.room)  # ejected, meeting ended, connection lost: a failure
        if dropped is not None and not cancelled:
            control.fail("pipeline", dropped, retryable=dropped.retryable)
            raise dropped
        _publish_end(control, started_at)  # 7. end
    finally:
        # 8. leave the room, bounded, now that the end (or failure) is out; the forwarder closes
        # beside it (after ended/failed, so they are delivered too)
        from bot.session.closing import close_room

        closing: list[Awaitable[object]] = [close_room(control.room)]
        if forwarding is not None:
            closing.append(forwarding.aclose(timeout=3.0))
        await asyncio.gather(*closing)
        if started.view is not None:
            started.view.close()
        control.release_signals()
    if cancelled:
        raise asyncio.CancelledError  # honour it now that the end is out: the host asked this task to stop
    return 0


async def _steps(
    settings: Settings, started: Started, control: SessionControl, heartbeats: Heartbeats, scrub: SecretScrubber
) -> None:
    """Steps 3 to 6: context, policy, join, pipeline (a simulated room's join first). A stop
    asked for before or during them abandons the start-up; the room is closed whatever happened."""
    control.main_task = asyncio.current_task()
    if control.stopping:  # a signal came while the session was being set up
        control.ran = True
        return
    runtime, bus = started.runtime, started.runtime.bus
    daily = bool(settings.room_url)
    try:
        from bot.session.join import JoinFailed
        from bot.session.join_room import join_daily, join_simulated, open_simulated_room

        # 5, first in a simulated room: its join is loading its scenario, which needs neither
        # the context nor the policy and shows nothing to anyone, so the seed topics go out
        # before them (a Daily join, which people in the room see, waits for both below)
        scenario = None
        if not daily:
            with control.stage("join", ScenarioError):
                scenario = await join_simulated(
                    settings, bus, scrub, room_id=started.room_id, on_joined=heartbeats.beat
                )
            await _abandon_if_stopping(control)

        # 3. the assistant context
        from bot.session.context import ContextFetchError, ContextFileError, fetch_assistant_context

        with control.stage("context_fetch", (ContextFetchError, ContextFileError)):
            context = await fetch_assistant_context(settings)

        # 4. the policy
        from bot.session.policy import load_session_policy

        with control.stage("policy", PrismError):
            policy, limiter = load_session_policy(settings, runtime)

        # 5. the join of a Daily room; a simulated room's object, which imports Pipecat
        room: Any
        if daily:
            with control.stage("join", JoinFailed, retryable=True):
                room = await join_daily(settings, bus, scrub, on_room=_keep(control))
            heartbeats.beat()
        else:
            assert scenario is not None
            with control.stage("join", ScenarioError):
                room = open_simulated_room(settings, scenario, on_room=_keep(control))

        # a stop asked for during steps 3-5 whose cancel an awaited call swallowed (Python 3.11's
        # wait_for does, when the inner call finishes as the cancel arrives): abandon here
        await _abandon_if_stopping(control)

        # 6. the pipeline, heartbeats beside it, until the room ends or the session is stopped
        from bot.session.pipeline import run_room_pipeline

        scenario_agenda = None if scenario is None else scenario.agenda
        agenda = policy.policy.facilitation.agenda or scenario_agenda or context.agenda
        if started.view is not None:  # the live view shows the time left in each item
            started.view.set_agenda(agenda)
        await run_room_pipeline(
            room,
            settings=settings,
            runtime=runtime,
            policy=policy,
            limiter=limiter,
            agenda=agenda,
            daily=daily,
            control=control,
            heartbeats=heartbeats,
        )
    except asyncio.CancelledError:
        if not control.stopping:
            raise
        task = asyncio.current_task()
        while task is not None and task.cancelling() > 0:
            task.uncancel()  # our own cancel (end() during start-up), handled here
        logger.info(f"start-up abandoned ({control.end_reason})")
    # the room is left after the end is out (run_session_async, bot.session.closing)
    await bus.drain()
    control.ran = True


async def _abandon_if_stopping(control: SessionControl) -> None:
    """End the start-up now if a stop was asked for; its cancel may not have reached us.

    A cancel still on its way is let through first (``sleep(0)``), so none is left pending to
    fire later in the close; only one that an awaited call swallowed is raised here."""
    if control.stopping:
        await asyncio.sleep(0)
        raise asyncio.CancelledError


def _keep(control: SessionControl) -> Any:
    """``on_room`` for the join steps: the room is the session's as soon as it exists."""

    def keep(room: Any) -> None:
        control.room = room

    return keep


def _publish_end(control: SessionControl, started_at: float) -> None:
    control.bus.publish(session_ended(control.bus, control.end_reason, started_at=started_at))


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
