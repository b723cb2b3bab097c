"""The pipeline step: the room's Pipecat pipeline runs until the room ends or the session is stopped.

Here the session hands the room to ``bot.pipelines.room`` (the one place that lists processors),
adds what only a live session has (the Daily media clock, the LLM facilitator and the voice when
configured),
publishes ``conversation.policy.loaded`` as the policy takes effect, and runs the worker with
heartbeats, the empty-room watch, the idle watch and the duration limit beside it.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from loguru import logger

from bot.analytics.speaking import GateParams
from bot.session.control import SessionControl
from bot.session.heartbeats import Heartbeats
from bot.session.idle import IdleWatch

if TYPE_CHECKING:
    from bot.config.settings import Settings
    from bot.events import EventRuntime
    from bot.policy import InboundRateLimiter, LoadedPolicy

__all__ = ["facilitator_processors", "idle_watch", "run_room_pipeline", "watch_daily_room"]


def facilitator_processors(settings: Settings, policy: LoadedPolicy, agenda: Any) -> list[Any]:
    """The LLM facilitator's processors when OPENAI_API_KEY or --llm is set, else none."""
    if not (settings.llm or settings.openai_api_key):
        return []
    from bot.processors.facilitator import build_facilitator

    return build_facilitator(
        policy,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else "not-needed",
        base_url=settings.openai_base_url,
        model=settings.openai_model,
        timeout_secs=settings.llm_timeout_secs,
        bot_name=settings.bot_name,
        agenda=agenda,
    )


def vad_gate(settings: Settings) -> GateParams | None:
    """The speech detection's gate parameters the settings ask for; ``None``: the defaults
    (``BOT_VAD_MODEL_GAIN_DB`` sets the model input gain: 15 dB by default, 0 turns it off)."""
    if settings.vad_model_gain_db == GateParams().model_gain_max_db:
        return None
    return GateParams(model_gain_max_db=settings.vad_model_gain_db)


async def run_room_pipeline(
    room: Any,
    *,
    settings: Settings,
    runtime: EventRuntime,
    policy: LoadedPolicy,
    limiter: InboundRateLimiter,
    agenda: Any,
    daily: bool,
    control: SessionControl,
    heartbeats: Heartbeats,
) -> None:
    """Build the room's pipeline and run it to its end; the worker is on ``control`` while it runs."""
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    from bot.pipelines.room import build_room_pipeline

    extra = []
    if daily:
        from bot.processors.media_clock import MediaClockStamper

        extra.append(MediaClockStamper(clock=room.clock.now_ms))
    from bot.session.voice import voice_processors

    facilitator = facilitator_processors(settings, policy, agenda)
    voice = voice_processors(settings, policy, llm=bool(facilitator))
    runtime.bus.publish(policy.loaded_event())
    idle = idle_watch(settings.idle_timeout_secs, control)  # before the pipeline, which reports to it
    pipeline = build_room_pipeline(
        room,
        runtime,
        agenda=agenda,
        after_input=extra,
        policy=policy,
        limiter=limiter,
        facilitator=facilitator,
        voice=voice,
        on_activity=idle.touch if idle is not None else None,
        gate=vad_gate(settings),
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=16000 if daily else room.scenario.sample_rate),
        enable_rtvi=False,  # RTVI lets any participant end the session and broadcasts to all
        enable_turn_tracking=False,
        idle_timeout_secs=None,  # our own IdleWatch: Pipecat's puts an observer on every frame
    )
    control.worker = worker
    watching: list[asyncio.Task[None]] = []

    async def _started(_worker: object, _frame: object) -> None:  # the idle clock starts here, as Pipecat's
        if idle is not None and not watching:
            watching.append(asyncio.create_task(idle.run()))

    worker.add_event_handler("on_pipeline_started", _started)  # what @worker.event_handler does (untyped)

    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    loop = asyncio.get_running_loop()
    beating = asyncio.create_task(heartbeats.every(settings.heartbeat_secs))
    if not daily:  # heartbeats on media time, at any --speed (bot/session/heartbeat_schedule.py)
        room.on_media_time = heartbeats.on_media_time
    watcher = asyncio.create_task(watch_daily_room(room, settings, control)) if daily else None
    limit = settings.max_duration_secs
    deadline = loop.call_later(limit, control.end, "max_duration") if limit else None
    try:
        await runner.run()
    finally:
        beating.cancel()
        for task in watching:
            task.cancel()
        if watcher is not None:
            watcher.cancel()
        if deadline is not None:
            deadline.cancel()


def idle_watch(timeout_secs: float | None, control: SessionControl) -> IdleWatch | None:
    """The session's idle timeout (``BOT_IDLE_TIMEOUT_SECS``), or none when it is off.

    When it passes, the session ends as it did under Pipecat's own idle timeout: reason
    ``idle_timeout``, the worker cancelled (no graceful flush: an idle room has nothing to flush)
    and the runner with it (the worker is ``control.worker`` by then)."""
    if not timeout_secs:
        return None

    async def on_idle() -> None:
        worker = control.worker
        if control.stopping or worker is None or worker.has_finished():
            return  # the session is already ending for another reason
        from pipecat.workers.base_worker import BaseWorker

        logger.warning(f"no speech, transcript, chat or inbound message for {timeout_secs:g}s; ending the session")
        control.end_reason = "idle_timeout"
        await worker.cancel(reason="idle timeout")
        await BaseWorker.cancel(worker, reason="idle timeout")  # and the runner, as Pipecat's did

    return IdleWatch(timeout_secs, on_idle)


async def watch_daily_room(room: Any, settings: Settings, control: SessionControl) -> None:
    """End the session when the room stays empty, or the call drops underneath the bot and
    cannot be rejoined (``bot.session.rejoin``: a network drop is rejoined with backoff)."""
    from bot.session.rejoin import rejoin_after_drop

    while True:
        waits = [asyncio.create_task(room.disconnected.wait())]
        if settings.empty_timeout_secs:
            waits.append(asyncio.create_task(room.wait_until_empty(settings.empty_timeout_secs)))
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in waits:
                task.cancel()
        if waits[0] in done:
            if not control.stopping and await rejoin_after_drop(room, settings, control.bus, control.scrub):
                continue
            logger.warning("the call ended underneath the bot")
            control.end("error")
        else:
            logger.info(f"the room was empty for {settings.empty_timeout_secs:g}s")
            control.end("room_empty")
        return
