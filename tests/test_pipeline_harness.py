"""The test harness itself: slow starts pass, hangs fail fast and clearly, every test has a limit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pipecat.frames.frames import EndFrame, Frame, StartFrame, TextFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from tests.conftest import SLOW_TEST_TIMEOUT_S, TEST_TIMEOUT_S
from tests.pipeline_harness import (
    PipelineDidNotFinish,
    run_async,
    run_pipeline,
)

REPO = Path(__file__).resolve().parents[1]


class SlowStart(FrameProcessor):
    """Takes ``delay_s`` to handle StartFrame, as a processor loading a model on a busy machine does."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            await asyncio.sleep(self.delay_s)
        await self.push_frame(frame, direction)


class SwallowsEnd(FrameProcessor):
    """Never lets EndFrame through, so the pipeline never ends by itself."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, EndFrame):
            await self.push_frame(frame, direction)


def test_a_pipeline_that_takes_longer_than_pipecats_one_second_to_start_still_runs() -> None:
    down, up = run_pipeline(SlowStart(1.5), frames_to_send=[TextFrame(text="hello")])
    assert [f.text for f in down if isinstance(f, TextFrame)] == ["hello"] and up == []


def test_a_pipeline_that_never_ends_fails_with_a_message_instead_of_hanging() -> None:
    started = time.monotonic()
    with pytest.raises(PipelineDidNotFinish, match="did not end within 2 s"):
        run_pipeline(SwallowsEnd(), frames_to_send=[TextFrame(text="x")], run_timeout=2.0)
    assert time.monotonic() - started < 30  # bounded by run_timeout + clean-up, not by pytest's 300 s


def test_clean_up_does_not_wait_for_a_task_that_ignores_cancellation() -> None:
    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue  # swallows every cancel, as a badly written worker does

    async def main() -> str:
        asyncio.get_running_loop().create_task(stubborn())
        await asyncio.sleep(0)
        return "done"

    started = time.monotonic()
    assert run_async(main()) == "done"  # asyncio.run would wait for stubborn() forever
    assert time.monotonic() - started < 30


def test_every_test_gets_a_limit_far_below_pytests_300_s(request: pytest.FixtureRequest) -> None:
    (limit,) = request.node.get_closest_marker("timeout").args
    assert limit == TEST_TIMEOUT_S and TEST_TIMEOUT_S < SLOW_TEST_TIMEOUT_S <= 180


@pytest.mark.slow
def test_a_hung_test_fails_within_its_limit_and_says_which_limit(tmp_path: Path) -> None:
    (tmp_path / "test_hangs.py").write_text(
        "import time, pytest\n\n@pytest.mark.timeout(1)\ndef test_hangs():\n    time.sleep(60)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "tests.conftest", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    assert time.monotonic() - started < 60
    assert "ran longer than its 1 s limit" in out.stdout and "tests/conftest.py" in out.stdout, out.stdout
