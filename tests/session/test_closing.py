"""Shutdown within a container's grace: the end is published before the room is left, and leaving is bounded."""

from __future__ import annotations

import asyncio
import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config.settings import Settings
from bot.session import join_room, pipeline
from bot.session.closing import CLOSE_BUDGET_SECS, close_room
from bot.session.lifecycle import run_session_async
from bot.session.startup import begin
from tests.rooms.test_daily_room import FakeCallClient, FakeDailyRoom, participant


class SlowRoom:
    """A room whose close hangs far longer than any grace period; it records when it was asked to close."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.room_id = "standup"
        self.clock = SimpleNamespace(now_ms=lambda: 0)

    async def close(self, *, timeout_s: float = 10.0) -> None:
        self.log.append("close")
        await asyncio.sleep(60)


def test_the_end_is_published_before_the_room_is_left_and_a_hanging_leave_is_cut_off(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    log: list[str] = []
    room = SlowRoom(log)

    async def join_daily(settings: Any, bus: Any, scrub: Any, *, on_room: Any) -> Any:
        on_room(room)
        return room

    async def run_room_pipeline(room: Any, **_: Any) -> None:
        log.append("pipeline ended")

    monkeypatch.setattr(join_room, "join_daily", join_daily)
    monkeypatch.setattr(pipeline, "run_room_pipeline", run_room_pipeline)
    settings = Settings(room_url="https://acme.daily.co/standup", assistant_id="a", tenant_id="t", view="off")

    async def go() -> float:
        started = begin(settings, claim_stdout=False, live_view=False)
        started.runtime.bus.subscribe("assistant.session.*", lambda e: log.append(e["topic"]))
        t0 = time.monotonic()
        assert await run_session_async(settings, handle_signals=False, started=started) == 0
        return time.monotonic() - t0

    took = asyncio.run(asyncio.wait_for(go(), 30))
    assert log[-3:] == ["pipeline ended", "assistant.session.ended", "close"]
    assert took < CLOSE_BUDGET_SECS + 2.0, f"the close took {took:.1f}s"


class StuckCallClient(FakeCallClient):
    """daily-core stuck: leave() never answers, release() blocks for 30 s."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.release_started = threading.Event()

    def leave(self, completion: Any = None) -> None:
        self.left += 1  # no completion: daily-core never answers

    def release(self) -> None:
        self.release_started.set()
        time.sleep(30)


def test_a_daily_room_that_cannot_leave_or_release_still_closes_within_its_budget() -> None:
    fake = StuckCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def go() -> float:
        await room.join(1)
        t0 = time.monotonic()
        await close_room(room, budget_s=1.0)
        return time.monotonic() - t0

    took = asyncio.run(asyncio.wait_for(go(), 20))  # asyncio.run waits for no executor thread either
    assert took < 2.0, took
    assert fake.left == 1 and fake.release_started.wait(2)  # both were asked for
