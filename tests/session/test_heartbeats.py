"""Heartbeats on media time in simulated rooms (so --speed 0 has them too), the wall clock as backstop."""

from __future__ import annotations

import asyncio

from bot.session.heartbeat_schedule import HeartbeatSchedule
from tests.pipeline_harness import run_async


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_heartbeat_per_interval_of_media_time_at_its_multiple() -> None:
    sent: list[int | None] = []
    schedule = HeartbeatSchedule(15, sent.append, clock=FakeClock())
    for media_ms in range(0, 56_000, 20):  # the demo's 20 ms steps, however fast they come
        schedule.on_media_time(media_ms)
    assert sent == [15_000, 30_000, 45_000]


def test_a_jump_in_media_time_gives_one_heartbeat_not_a_burst() -> None:
    sent: list[int | None] = []
    schedule = HeartbeatSchedule(15, sent.append, clock=FakeClock())
    schedule.on_media_time(100_000)
    schedule.on_media_time(100_020)
    schedule.on_media_time(105_000)
    assert sent == [90_000, 105_000]


def test_media_heartbeats_keep_the_wall_clock_backstop_quiet() -> None:
    clock = FakeClock()
    schedule = HeartbeatSchedule(15, lambda _ms: None, clock=clock)
    clock.now += 14
    assert schedule.backstop_due_in() == 1
    schedule.on_media_time(15_000)  # media kept pace with the wall clock
    assert schedule.backstop_due_in() == 15
    clock.now += 15  # playback stalled for an interval
    assert schedule.backstop_due_in() == 0


def test_the_backstop_sends_when_nothing_else_does() -> None:
    sent: list[int | None] = []
    schedule = HeartbeatSchedule(0.05, sent.append)

    async def main() -> None:
        task = asyncio.create_task(schedule.run_wall_clock())
        for _ in range(400):  # up to 20 s on a loaded machine; usually 0.05 s
            if sent:
                break
            await asyncio.sleep(0.05)
        task.cancel()

    run_async(main())
    assert sent and sent[0] is None  # "take the media time now"


def test_a_heartbeat_sent_by_another_path_restarts_the_backstop() -> None:
    clock = FakeClock()
    schedule = HeartbeatSchedule(15, lambda _ms: None, clock=clock)
    clock.now += 14
    schedule.sent()
    assert schedule.last_sent == clock.now
