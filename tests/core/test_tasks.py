"""spawn(): a fire-and-forget task is held until it is done, then let go."""

from __future__ import annotations

import asyncio
import gc
import weakref

from bot.core import tasks
from tests.pipeline_harness import run_async


def test_a_spawned_task_is_held_while_it_runs_and_released_when_done() -> None:
    async def work(gate: asyncio.Event) -> str:
        await gate.wait()
        return "ok"

    async def go() -> None:
        gate = asyncio.Event()
        task = tasks.spawn(work(gate))
        ref = weakref.ref(task)
        del task
        gc.collect()
        held = ref()
        assert held is not None and held in tasks._running, "nobody else holds it: spawn() must"
        del held
        gate.set()
        task = ref()
        assert task is not None
        async with asyncio.timeout(5):
            assert await task == "ok"
        assert task not in tasks._running  # its done callback ran before ours (added first)

    run_async(go())
