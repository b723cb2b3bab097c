"""One room's flood must not hold the supervisor's event loop: reading, logging."""

from __future__ import annotations

import asyncio
from pathlib import Path

from loguru import logger
from sup_helpers import make_settings, python_bot, run, running

from bot.core.text import printable
from supervisor.app import configure_logging
from supervisor.ingest import Ingestor, StreamStats
from supervisor.logbudget import RateBudget
from supervisor.metrics import Metrics
from supervisor.process import read_lines


def test_a_flooding_stream_gives_the_loop_a_turn() -> None:
    async def scenario() -> tuple[int, int]:
        stream = asyncio.StreamReader(limit=2 * 1024 * 1024)
        stream.feed_data(b'{"x": 1}\n' * 20_000)  # all buffered: readuntil never waits
        stream.feed_eof()
        ticks = 0
        done = False

        async def other_room() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(other_room())
        await asyncio.sleep(0)
        lines = 0
        async for _ in read_lines(stream):
            lines += 1
        done = True
        await task
        return lines, ticks

    lines, ticks = run(scenario(), 30)
    assert lines == 20_000
    assert ticks >= 20_000 // 64 - 1, "another task ran while the flood was read"


def test_a_flood_of_bad_lines_is_counted_but_logged_boundedly() -> None:
    from bot.events import SpecRegistry

    ingestor = Ingestor(SpecRegistry.load(), Metrics())
    stats = StreamStats()
    lines: list[str] = []
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        for _ in range(10_000):
            ingestor.ingest(b"garbage", stats, room="r-1")
    finally:
        logger.remove(sink)
    assert stats.garbage == 10_000 and ingestor.metrics.lines["garbage"] == 10_000
    assert len(lines) <= 40, len(lines)
    assert "more like it not logged" in lines[-1]
    other = StreamStats()  # another room's budget is its own
    sink = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        ingestor.ingest(b"garbage", other, room="r-2")
    finally:
        logger.remove(sink)
    assert "stdout line 1 rejected" in lines[-1]


def test_a_bots_stderr_is_rate_limited_and_escaped() -> None:
    budget = RateBudget(rate=10, burst=5)
    results = [budget.take(now=100.0) for _ in range(8)]
    assert [ok for ok, _ in results] == [True] * 5 + [False] * 3
    assert budget.take(now=100.5) == (True, 3)
    assert printable("name\x1b]52;c;ZXZpbA==\x07\x1b[2J\u202eevil") == (
        "name\\x1b]52;c;ZXZpbA==\\x07\\x1b[2J\\u202eevil"
    )


def test_a_bots_stderr_reaches_the_log_escaped_and_bounded(tmp_path: Path) -> None:
    bot = python_bot(
        "start()\n"
        "sys.stderr.write('title \\x1b]0;pwned\\x07 clear \\x1b[2J\\n')\n"
        "sys.stderr.write('spam\\n' * 5000); sys.stderr.flush()\n"
        "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=1, dropped=0))\n"
    )
    lines: list[str] = []

    async def scenario() -> None:
        async with running(make_settings(tmp_path, allow_command=True)) as client:
            configure_logging("INFO")  # as python -m supervisor does: the patcher escapes every record
            sink = logger.add(lines.append, level="INFO", format="{message}")
            try:
                room = await client.post_room({"scenario": "demo", "assistantId": "a", "tenantId": "t", "command": bot})
                await client.wait_room(room["id"], lambda r: r["status"] in ("ended", "failed"))
            finally:
                logger.remove(sink)

    run(scenario())
    bot_lines = [line for line in lines if line.startswith("bot: ")]
    assert any("\\x1b]0;pwned\\x07" in line for line in bot_lines)
    assert not any("\x1b" in line for line in lines)
    assert len(bot_lines) <= 600, len(bot_lines)
