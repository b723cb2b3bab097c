"""Run frames through a real Pipecat pipeline in a test, without hanging and without flaking.

Pipecat's ``pipecat.tests.utils.run_test`` waits 1.0 s for the pipeline to start. On a loaded
2-core machine start-up took 1.2 s; ``push_frames`` then raised ``TimeoutError`` inside an
``asyncio.gather`` that kept ``runner.run()`` going, and ``asyncio.run``'s clean-up waited on it
until pytest's 300 s limit. This module is the one place tests (and the processor recipe in
docs/pipeline.md) run pipelines:

- the start wait is generous (``START_TIMEOUT_S``), and missing it is a clear failure;
- the whole run has a bound (``RUN_TIMEOUT_S``); past it the runner is cancelled;
- clean-up cannot block: leftover tasks get ``CLEANUP_TIMEOUT_S`` to finish after being cancelled,
  then the loop is closed anyway (``run_async``).

Usage (the shape of ``run_test``)::

    down, up = run_pipeline(processor, frames_to_send=[...])
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

from pipecat.frames.frames import EndFrame, Frame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import QueuedFrameProcessor, SleepFrame
from pipecat.workers.runner import WorkerRunner

__all__ = ["CLEANUP_TIMEOUT_S", "RUN_TIMEOUT_S", "START_TIMEOUT_S", "SleepFrame", "run_async", "run_pipeline"]

START_TIMEOUT_S = 30.0
"""How long a pipeline may take to start (Pipecat's own helper allows 1.0 s)."""
RUN_TIMEOUT_S = 60.0
"""How long one pipeline run may take in all, start included."""
CLEANUP_TIMEOUT_S = 5.0
"""How long cancelled leftovers get before the loop is closed regardless."""

T = TypeVar("T")


class PipelineDidNotStart(AssertionError):
    """The pipeline did not reach ``on_pipeline_started`` within the start timeout."""


class PipelineDidNotFinish(AssertionError):
    """The pipeline did not end within the run timeout after the frames (and EndFrame) were sent."""


def run_async(coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
    """``asyncio.run`` with a bound on the run and a clean-up that cannot block.

    ``asyncio.run`` cancels leftover tasks and then waits for them without limit; a task that
    swallows its cancellation (or awaits something that never comes) hangs the test. Here they get
    ``CLEANUP_TIMEOUT_S`` and the loop is closed anyway. ``timeout`` bounds the run itself (the
    per-test timeout in tests/conftest.py bounds it in any case).
    """
    loop = asyncio.new_event_loop()
    try:
        asyncio.set_event_loop(loop)
        try:
            return loop.run_until_complete(_bounded(coro, timeout))
        finally:
            _cancel_leftovers(loop)
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def _bounded(coro: Coroutine[Any, Any, T], timeout: float | None) -> T:  # noqa: ASYNC109
    if timeout is None:
        return await coro
    try:
        return await asyncio.wait_for(coro, timeout)
    except TimeoutError:
        raise AssertionError(f"the test's event loop work did not finish within {timeout:g} s") from None


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    tasks = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.wait(tasks, timeout=CLEANUP_TIMEOUT_S))
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), CLEANUP_TIMEOUT_S))
    with contextlib.suppress(Exception):
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_default_executor(), CLEANUP_TIMEOUT_S))


async def run_pipeline_async(
    processor: FrameProcessor,
    *,
    frames_to_send: Sequence[Frame],
    frames_to_send_direction: FrameDirection = FrameDirection.DOWNSTREAM,
    send_end_frame: bool = True,
    ignore_start: bool = True,
    pipeline_params: PipelineParams | None = None,
    start_timeout: float = START_TIMEOUT_S,
    run_timeout: float = RUN_TIMEOUT_S,
) -> tuple[list[Frame], list[Frame]]:
    """Send ``frames_to_send`` through ``source → processor → sink``; the frames that came out.

    Returns (downstream frames, upstream frames); the final ``EndFrame`` is left out when this
    sent it. ``SleepFrame(sleep=s)`` pauses the sending for ``s`` seconds.
    """
    received_up: asyncio.Queue[Frame] = asyncio.Queue()
    received_down: asyncio.Queue[Frame] = asyncio.Queue()
    source = QueuedFrameProcessor(queue=received_up, queue_direction=FrameDirection.UPSTREAM, ignore_start=ignore_start)
    sink = QueuedFrameProcessor(
        queue=received_down, queue_direction=FrameDirection.DOWNSTREAM, ignore_start=ignore_start
    )
    worker = PipelineWorker(
        Pipeline([source, processor, sink]),
        cancel_on_idle_timeout=False,
        enable_rtvi=False,
        params=pipeline_params or PipelineParams(),
    )
    started = asyncio.Event()

    @worker.event_handler("on_pipeline_started")
    async def _on_started(_worker: object, _frame: Frame) -> None:
        started.set()

    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + run_timeout
    running = asyncio.create_task(runner.run(), name="pipeline_harness.runner")
    try:
        await _until(
            started.wait(),
            running,
            start_timeout,
            PipelineDidNotStart(f"the pipeline did not start within {start_timeout:g} s"),
        )
        for frame in frames_to_send:
            if isinstance(frame, SleepFrame):
                await asyncio.sleep(frame.sleep)
            else:
                await worker.queue_frame(frame, frames_to_send_direction)
        if send_end_frame:
            await worker.queue_frame(EndFrame())
        remaining = max(0.1, deadline - loop.time())
        await _until(
            asyncio.shield(running),
            running,
            remaining,
            PipelineDidNotFinish(
                f"the pipeline did not end within {run_timeout:g} s of starting the test"
                + ("" if send_end_frame else " (send_end_frame=False: end it from the processor)")
            ),
        )
    finally:
        if not running.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(runner.cancel(), CLEANUP_TIMEOUT_S)
            running.cancel()
            await asyncio.wait([running], timeout=CLEANUP_TIMEOUT_S)
    if running.done() and not running.cancelled() and running.exception() is not None:
        raise running.exception()  # type: ignore[misc]

    down = _drain(received_down)
    if send_end_frame:
        down = [frame for frame in down if not isinstance(frame, EndFrame)]
    return down, _drain(received_up)


async def _until(awaitable: Any, running: asyncio.Task[None], limit_s: float, error: AssertionError) -> None:
    """Await ``awaitable`` for at most ``limit_s``; a runner that dies first fails at once."""
    waiting = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({waiting, running}, timeout=limit_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not waiting.done():
            waiting.cancel()
    if waiting in done:
        waiting.result()
        return
    if running in done and not running.cancelled() and running.exception() is not None:
        raise running.exception()  # type: ignore[misc]
    if running in done:
        return  # the runner ended (e.g. the processor pushed EndFrame itself)
    raise error


def _drain(queue: asyncio.Queue[Frame]) -> list[Frame]:
    out: list[Frame] = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


def run_pipeline(processor: FrameProcessor, **kwargs: Any) -> tuple[list[Frame], list[Frame]]:
    """``run_pipeline_async`` on a fresh event loop whose clean-up cannot block (``run_async``)."""
    return run_async(
        run_pipeline_async(processor, **kwargs),
        timeout=kwargs.get("run_timeout", RUN_TIMEOUT_S) + 2 * CLEANUP_TIMEOUT_S,
    )
