"""Play a scenario in-process through the bot's room pipeline and collect what left the sink.

Used by benchmarks/accuracy.py and the real-speech tests: the real ``build_room_pipeline``,
real Silero, the simulated room at speed 0. Each envelope is recorded with the media time at which
it left the sink (for speaking envelopes: ``DECIDED_KEY``, the media time of the audio that
decided it), so detection latency can be measured.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

__all__ = ["play_scenario"]


async def _play(scenario: Any, gate: Any) -> list[dict[str, Any]]:
    from loguru import logger
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    from bot.core.frames import EnvelopeFrame
    from bot.events import SessionContext, create_runtime
    from bot.pipelines.room import build_room_pipeline
    from bot.processors.participant_vad import DECIDED_KEY
    from bot.processors.sink import EnvelopeSink
    from bot.rooms.simulated import SimulatedRoom

    logger.remove()
    runtime = create_runtime(SessionContext(session_id="s-acc", assistant_id="a-1", tenant_id="t-1", room_id="acc"))
    seen: list[dict[str, Any]] = []
    leaving: list[int | None] = [None]

    def record(envelope: dict[str, Any]) -> None:
        seen.append({**envelope, "x-sinkMediaMs": leaving[0]})

    runtime.bus.subscribe("*", record)
    room = SimulatedRoom(scenario, speed=0)
    pipeline = build_room_pipeline(room, runtime, agenda=room.scenario.agenda, gate=gate)
    sink = next(p for p in pipeline.processors if isinstance(p, EnvelopeSink))
    original = sink.process_frame

    async def tapped(frame: Any, direction: Any) -> None:
        leaving[0] = frame.metadata.get(DECIDED_KEY) if isinstance(frame, EnvelopeFrame) else None
        await original(frame, direction)

    sink.process_frame = tapped  # type: ignore[method-assign]
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_in_sample_rate=room.scenario.sample_rate),
        enable_rtvi=False,
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    await runner.run()
    await runtime.bus.drain()
    return seen


def play_scenario(scenario: str | Path | Any, *, gate: Any = None) -> list[dict[str, Any]]:
    """Envelopes (dicts, as on stdout) of one run; each has ``x-sinkMediaMs`` (decision media time
    of speaking envelopes, else None). ``gate``: ``GateParams`` for the speech detection (``None``:
    the defaults), to score another setting such as ``model_gain_max_db``."""
    return asyncio.run(_play(scenario, gate))
