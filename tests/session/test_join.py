"""join_with_retries: order of reports, backoff with full jitter, attempts and the time budget.

No test waits for real: a fake clock advances only when the fake sleep is awaited (or when a fake
connector says an attempt took time), and the jitter comes from a seeded ``random.Random``.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from bot.core.errors import PrismError  # noqa: E402
from bot.session.join import JoinFailed, JoinResult, backoff_cap_s, join_with_retries  # noqa: E402
from tests.pipeline_harness import run_async  # noqa: E402


class FakeTime:
    """A clock that moves only when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Connector:
    """Fails ``failures`` times (each attempt taking ``takes_s``), then returns ``participants``."""

    def __init__(
        self,
        t: FakeTime,
        failures: int | float,
        *,
        participants: int = 2,
        takes_s: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.t = t
        self.failures = failures
        self.participants = participants
        self.takes_s = takes_s
        self.error = error
        self.calls: list[int] = []
        self.started_at: list[float] = []

    async def __call__(self, attempt: int) -> int:
        self.calls.append(attempt)
        self.started_at.append(self.t.now)
        self.t.now += self.takes_s
        if len(self.calls) <= self.failures:
            raise self.error or ConnectionError(f"room lookup failed (attempt {attempt})")
        return self.participants


def recorder() -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    log: list[tuple[Any, ...]] = []
    callbacks = dict(
        on_requested=lambda attempt, max_attempts: log.append(("requested", attempt, max_attempts)),
        on_succeeded=lambda attempt, latency, count: log.append(("succeeded", attempt, latency, count)),
        on_failed=lambda attempt, error, will_retry, retry_in_ms: log.append(
            ("failed", attempt, error, will_retry, retry_in_ms)
        ),
    )
    return log, callbacks


def drive(connector: Connector, t: FakeTime, **kwargs: Any) -> JoinResult:
    log_cb = kwargs.pop("callbacks", {})
    return run_async(join_with_retries(connector, sleep=t.sleep, clock=t.clock, **log_cb, **kwargs))


# --------------------------------------------------------------------------------------------


def test_first_attempt_success_reports_requested_then_succeeded() -> None:
    t = FakeTime()
    log, cb = recorder()
    result = drive(Connector(t, 0, participants=3, takes_s=0.25), t, attempts=3, callbacks=cb)
    assert result == JoinResult(attempt=1, join_latency_ms=250, participant_count=3)
    assert log == [("requested", 1, 3), ("succeeded", 1, 250, 3)]
    assert t.sleeps == []


@pytest.mark.parametrize("failures", [1, 2], ids=["fails-once", "fails-twice"])
def test_fails_n_times_then_succeeds_on_attempt_n_plus_1(failures: int) -> None:
    t = FakeTime()
    log, cb = recorder()
    conn = Connector(t, failures)
    result = drive(conn, t, attempts=3, rng=random.Random(7), callbacks=cb)
    assert result.attempt == failures + 1 and conn.calls == list(range(1, failures + 2))
    kinds = [entry[0] for entry in log]
    assert kinds == ["requested", "failed"] * failures + ["requested", "succeeded"]
    for n, entry in enumerate(e for e in log if e[0] == "failed"):
        assert entry[1] == n + 1 and entry[3] is True
        assert entry[2] == f"room lookup failed (attempt {n + 1})"
        assert entry[4] == round(t.sleeps[n] * 1000)  # what was announced is what was waited


def test_fails_forever_raises_join_failed_after_the_last_attempt() -> None:
    t = FakeTime()
    log, cb = recorder()
    conn = Connector(t, float("inf"))
    with pytest.raises(JoinFailed) as info:
        drive(conn, t, attempts=3, rng=random.Random(1), callbacks=cb)
    exc = info.value
    assert isinstance(exc, PrismError) and exc.exit_code == 4
    assert exc.attempts == 3 and exc.retryable and exc.last_error == "room lookup failed (attempt 3)"
    assert str(exc) == "could not join the room after 3 attempts: room lookup failed (attempt 3)"
    assert conn.calls == [1, 2, 3] and len(t.sleeps) == 2
    failed = [e for e in log if e[0] == "failed"]
    assert [(e[3], e[4] > 0 or e[3]) for e in failed][-1] == (False, False)
    assert failed[-1][4] == 0  # no retry follows: retryInMs 0
    assert [e[0] for e in log] == ["requested", "failed"] * 3


def test_one_attempt_means_no_retry() -> None:
    t = FakeTime()
    log, cb = recorder()
    with pytest.raises(JoinFailed):
        drive(Connector(t, 5), t, attempts=1, callbacks=cb)
    assert log == [("requested", 1, 1), ("failed", 1, "room lookup failed (attempt 1)", False, 0)]


@pytest.mark.parametrize("seed", range(20))
def test_full_jitter_delays_stay_within_the_exponential_cap(seed: int) -> None:
    t = FakeTime()
    with pytest.raises(JoinFailed):
        drive(
            Connector(t, 99), t, attempts=6, base_delay_s=0.5, max_delay_s=3.0, budget_s=1000, rng=random.Random(seed)
        )
    assert len(t.sleeps) == 5
    caps = [0.5, 1.0, 2.0, 3.0, 3.0]
    for delay, cap in zip(t.sleeps, caps, strict=True):
        assert 0.0 <= delay <= cap


def test_jitter_is_reproducible_from_the_seed_and_varies_between_seeds() -> None:
    def delays(seed: int) -> list[float]:
        t = FakeTime()
        with pytest.raises(JoinFailed):
            drive(Connector(t, 99), t, attempts=4, rng=random.Random(seed))
        return t.sleeps

    assert delays(42) == delays(42)
    assert delays(42) != delays(43)
    expected = random.Random(42)
    assert delays(42) == [expected.uniform(0, 0.5), expected.uniform(0, 1.0), expected.uniform(0, 2.0)]


def test_backoff_cap_doubles_up_to_the_maximum() -> None:
    assert [backoff_cap_s(n, base_delay_s=0.5, max_delay_s=8) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]


def test_budget_exhausted_stops_retrying_before_the_attempts_run_out() -> None:
    t = FakeTime()
    log, cb = recorder()
    conn = Connector(t, 99, takes_s=4.0)  # each attempt burns 4 s of a 10 s budget
    with pytest.raises(JoinFailed) as info:
        drive(conn, t, attempts=10, base_delay_s=0.5, max_delay_s=8, budget_s=10, rng=random.Random(3), callbacks=cb)
    assert len(conn.calls) < 10
    assert all(start - 1000.0 < 10.0 for start in conn.started_at)  # no attempt starts past the budget
    assert sum(t.sleeps) + 4.0 * (len(conn.calls) - 1) < 10.0  # no wait was allowed to end past it
    assert "budget of 10s used up" in str(info.value)
    failed = [e for e in log if e[0] == "failed"]
    assert failed[-1][3] is False and failed[-1][4] == 0
    assert all(e[3] for e in failed[:-1])


def test_a_hanging_attempt_is_cut_at_the_attempt_timeout() -> None:
    calls: list[int] = []

    async def hangs_then_works(attempt: int) -> int:
        calls.append(attempt)
        if attempt == 1:
            await asyncio.sleep(3600)
        return 1

    log, cb = recorder()

    async def no_wait(_s: float) -> None:
        return None

    result = run_async(
        join_with_retries(
            hangs_then_works, attempts=2, attempt_timeout_s=0.05, sleep=no_wait, rng=random.Random(0), **cb
        )
    )
    assert result.attempt == 2 and calls == [1, 2]
    assert log[1][0] == "failed" and log[1][2] == "attempt timed out after 0.1s"


def test_a_hanging_attempt_cannot_outlive_the_budget() -> None:
    async def hangs(attempt: int) -> int:
        await asyncio.sleep(3600)
        return 0

    with pytest.raises(JoinFailed, match="budget"):
        run_async(join_with_retries(hangs, attempts=5, budget_s=0.1, base_delay_s=0.01))


def test_a_non_retryable_error_stops_at_once() -> None:
    class Refused(Exception):
        retryable = False

    t = FakeTime()
    log, cb = recorder()
    conn = Connector(t, 99, error=Refused("meeting token rejected"))
    with pytest.raises(JoinFailed) as info:
        drive(conn, t, attempts=5, callbacks=cb)
    assert conn.calls == [1] and not info.value.retryable
    assert "(not retryable)" in str(info.value)
    assert log[-1] == ("failed", 1, "meeting token rejected", False, 0)


def test_async_callbacks_are_awaited_in_order() -> None:
    t = FakeTime()
    seen: list[str] = []

    async def requested(attempt: int, max_attempts: int) -> None:
        await asyncio.sleep(0)
        seen.append(f"req{attempt}")

    async def failed(attempt: int, error: str, will_retry: bool, retry_in_ms: int) -> None:
        seen.append(f"fail{attempt}")

    async def succeeded(attempt: int, latency: int, count: int) -> None:
        seen.append(f"ok{attempt}")

    run_async(
        join_with_retries(
            Connector(t, 1),
            attempts=2,
            sleep=t.sleep,
            clock=t.clock,
            on_requested=requested,
            on_failed=failed,
            on_succeeded=succeeded,
        )
    )
    assert seen == ["req1", "fail1", "req2", "ok2"]


def test_error_text_is_rendered_by_describe_error() -> None:
    t = FakeTime()
    log, cb = recorder()
    with pytest.raises(JoinFailed) as info:
        drive(Connector(t, 9), t, attempts=1, describe_error=lambda e: "scrubbed", callbacks=cb)
    assert info.value.last_error == "scrubbed" and log[-1][2] == "scrubbed"


def test_cancellation_is_not_swallowed() -> None:
    async def main() -> None:
        async def hangs(attempt: int) -> int:
            await asyncio.sleep(3600)
            return 0

        task = asyncio.create_task(join_with_retries(hangs, attempts=3))
        await asyncio.sleep(0.01)
        task.cancel()
        await task

    with pytest.raises(asyncio.CancelledError):
        run_async(main())


@pytest.mark.parametrize(
    "kwargs",
    [dict(attempts=0), dict(attempts=1, budget_s=0), dict(attempts=1, base_delay_s=-1)],
    ids=["no-attempts", "no-budget", "negative-delay"],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any]) -> None:
    t = FakeTime()
    with pytest.raises(ValueError):
        drive(Connector(t, 0), t, **kwargs)
