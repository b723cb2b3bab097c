"""Shutdown within a container's grace: the end is published before the room is left, and leaving is bounded."""

from __future__ import annotations

import asyncio
import contextlib
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

    hang_s = 60.0

    async def close(self, *, timeout_s: float = 10.0) -> None:
        self.log.append("close")
        await asyncio.sleep(self.hang_s)


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
    assert took < 10.0, took  # budget 1 s; a stuck leave and release would take 60 s (generous: a loaded machine)
    assert fake.left == 1 and fake.release_started.wait(2)  # both were asked for


# ---- a call that drops underneath the bot -------------------------------------------------------


@pytest.mark.parametrize(
    ("errors", "kind", "retryable"),
    [
        ([], "ended", False),
        (["Disconnected from https://acme.daily.co/standup; app messages will not be sent"], "ended", False),
        (["You were ejected from the meeting", "Disconnected from https://acme.daily.co/x; …"], "refused", False),
        (["exp-room"], "room_expired", False),
        (["meeting token expired: exp-token"], "token", False),
        (["signalling connection lost: websocket closed", "Disconnected from x"], "network", True),
        (["something nobody has seen"], "network", True),
    ],
    ids=["no-error", "pipecat-only", "ejected", "room-expired", "token-expired", "network", "unknown"],
)
def test_a_dropped_call_is_classified(errors: list[str], kind: str, retryable: bool) -> None:
    from bot.rooms.daily_errors import classify_drop

    drop = classify_drop(errors)
    assert (drop.kind, drop.retryable) == (kind, retryable)


def test_daily_room_records_why_the_call_dropped() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def go() -> None:
        try:
            await room.join(1)
            await room.fire("on_error", "You were ejected from the meeting")
            await room.fire("on_call_state_updated", "left")
            await asyncio.wait_for(room.disconnected.wait(), 5)
        finally:
            await room.close()

    asyncio.run(go())
    assert room.drop is not None and room.drop.kind == "refused" and not room.drop.retryable
    assert "ejected" in room.drop.describe()


@pytest.mark.parametrize(("retryable", "kind"), [(True, "network"), (False, "refused")])
def test_a_dropped_call_fails_the_session_with_exit_6_and_says_whether_to_retry(
    monkeypatch: pytest.MonkeyPatch, retryable: bool, kind: str
) -> None:
    from bot.rooms.daily_errors import CallDrop
    from bot.session.dropped import CallDropped

    log: list[str] = []
    room = SlowRoom(log)
    room.hang_s = 0
    room.drop = CallDrop(kind, retryable, "daily said so")  # type: ignore[attr-defined]

    async def join_daily(settings: Any, bus: Any, scrub: Any, *, on_room: Any) -> Any:
        on_room(room)
        return room

    async def run_room_pipeline(room: Any, **_: Any) -> None:
        return None

    monkeypatch.setattr(join_room, "join_daily", join_daily)
    monkeypatch.setattr(pipeline, "run_room_pipeline", run_room_pipeline)
    settings = Settings(room_url="https://acme.daily.co/standup", assistant_id="a", tenant_id="t", view="off")
    ends: list[dict[str, Any]] = []

    async def go() -> BaseException:
        started = begin(settings, claim_stdout=False, live_view=False)
        started.runtime.bus.subscribe("assistant.session.*", ends.append)
        try:
            await run_session_async(settings, handle_signals=False, started=started)
        except CallDropped as exc:
            return exc
        raise AssertionError("the session ended normally")

    exc = asyncio.run(asyncio.wait_for(go(), 30))
    assert exc.exit_code == 6 and exc.retryable is retryable  # type: ignore[attr-defined]
    (failed,) = [e for e in ends if e["topic"] != "assistant.session.started"]
    assert failed["topic"] == "assistant.session.failed"
    assert failed["payload"]["stage"] == "pipeline" and failed["payload"]["retryable"] is retryable
    assert (
        failed["payload"]["error"].startswith("the call ended underneath the bot")
        and "daily said so" in failed["payload"]["error"]
    )


class DroppingRoom:
    """A room whose call drops once; ``rejoin`` fails ``failures`` times, then succeeds (or never)."""

    def __init__(self, failures: int, *, retryable: bool = True) -> None:
        from bot.rooms.daily_errors import CallDrop

        self.room_id = "standup"
        self.transcription_status = "off"
        self.disconnected = asyncio.Event()
        self.disconnected.set()
        self.drop: Any = CallDrop("network" if retryable else "refused", retryable, "connection lost")
        self.failures = failures
        self.calls = 0

    async def wait_until_empty(self, timeout_s: float) -> None:
        await asyncio.sleep(3600)

    async def rejoin(self, attempt: int) -> int:
        from bot.rooms.daily import DailyJoinError

        self.calls += 1
        if self.calls <= self.failures:
            raise DailyJoinError("rejoining failed: Failed to lookup room")
        self.drop = None
        self.disconnected.clear()
        return 2


class Control:
    def __init__(self, bus: Any) -> None:
        self.bus = bus
        self.scrub = lambda text: text
        self.stopping = False
        self.ended: list[str] = []

    def end(self, reason: str) -> None:
        self.ended.append(reason)


def watch(room: DroppingRoom, attempts: int = 3) -> tuple[Control, list[tuple[str, dict[str, Any]]]]:
    from bot.events import SessionContext, create_runtime
    from bot.session.pipeline import watch_daily_room

    runtime = create_runtime(SessionContext(session_id="s", assistant_id="a", tenant_id="t", room_id="standup"))
    seen: list[tuple[str, dict[str, Any]]] = []
    runtime.bus.subscribe("assistant.room.join.*", lambda e: seen.append((e["topic"], e["payload"])))
    control = Control(runtime.bus)
    settings = SimpleNamespace(empty_timeout_secs=0, join_attempts=attempts, join_budget_secs=30)

    async def go() -> None:
        task = asyncio.create_task(watch_daily_room(room, settings, control))  # type: ignore[arg-type]
        while not control.ended:
            if room.calls > room.failures:
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(go(), 30))
    return control, seen


def test_a_network_drop_is_rejoined_with_backoff_and_published_like_a_join() -> None:
    room = DroppingRoom(failures=1)
    control, seen = watch(room)
    assert control.ended == [] and room.calls == 2
    assert [t.rsplit(".", 1)[-1] for t, _ in seen] == ["requested", "failed", "requested", "succeeded"]
    assert seen[1][1]["willRetry"] is True and seen[-1][1]["attempt"] == 2


def test_a_drop_that_cannot_be_rejoined_ends_the_session() -> None:
    room = DroppingRoom(failures=99)
    control, seen = watch(room, attempts=2)
    assert control.ended == ["error"] and room.calls == 2 and room.drop is not None
    refused = DroppingRoom(failures=0, retryable=False)
    control, seen = watch(refused)
    assert control.ended == ["error"] and refused.calls == 0 and seen == []  # an ejection is not rejoined
