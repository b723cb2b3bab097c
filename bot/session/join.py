"""Join retries: exponential backoff with full jitter, bounded attempts and a total time budget.

A plain async driver, free of Pipecat and Daily: it calls ``attempt_join(attempt)`` until one
succeeds, reports every attempt through callbacks (the session maps them to
``assistant.room.join.requested|succeeded|failed``) and raises :class:`JoinFailed` at the end.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bot.core.errors import PrismError

__all__ = ["EXIT_JOIN_FAILED", "EXIT_JOIN_REFUSED", "JoinFailed", "JoinResult", "backoff_cap_s", "join_with_retries"]

OnRequested = Callable[[int, int], Any]
"""``(attempt, max_attempts)``; may be async."""
OnSucceeded = Callable[[int, int, int], Any]
"""``(attempt, join_latency_ms, participant_count)``; may be async."""
OnFailed = Callable[[int, str, bool, int], Any]
"""``(attempt, error, will_retry, retry_in_ms)``; may be async."""


EXIT_JOIN_FAILED = 4
"""Joining failed for a reason that may pass (network, Daily busy, timeouts): starting again may help."""
EXIT_JOIN_REFUSED = 5
"""Joining failed for a reason that will not pass (bad or expired token, no such room, room full,
entry refused): starting again with the same room and token cannot help (docs/deploy.md)."""


class JoinFailed(PrismError):
    """Every join attempt failed (or the budget ran out, or one failed permanently): one line for the CLI.

    The exit code is :data:`EXIT_JOIN_FAILED` (4) when starting again may help and
    :data:`EXIT_JOIN_REFUSED` (5) when the last error was permanent (``retryable = False``).

    Attributes:
        attempts: attempts made.
        last_error: what the last attempt reported (already free of secrets).
        retryable: whether starting the session again later may succeed.
        kind: the last error's class (``bot.rooms.daily_errors``), ``unknown`` if it had none.
    """

    exit_code = EXIT_JOIN_FAILED

    def __init__(self, message: str, *, attempts: int, last_error: str, retryable: bool, kind: str = "unknown") -> None:
        super().__init__(message)
        self.attempts = attempts
        self.last_error = last_error
        self.retryable = retryable
        self.kind = kind
        self.exit_code = EXIT_JOIN_FAILED if retryable else EXIT_JOIN_REFUSED


@dataclass(frozen=True)
class JoinResult:
    """The attempt that succeeded, its latency and what it returned (participants already present)."""

    attempt: int
    join_latency_ms: int
    participant_count: int


def backoff_cap_s(attempt: int, *, base_delay_s: float, max_delay_s: float) -> float:
    """Upper bound of the delay after failed ``attempt`` (1-based): ``min(max, base * 2**(attempt-1))``."""
    return min(max_delay_s, base_delay_s * (2.0 ** (attempt - 1)))


async def _call(callback: Callable[..., Any] | None, *args: Any) -> None:
    if callback is None:
        return
    result = callback(*args)
    if inspect.isawaitable(result):
        await result


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and not text:
        return "timed out"
    return text or type(exc).__name__


async def join_with_retries(
    attempt_join: Callable[[int], Awaitable[int]],
    *,
    attempts: int,
    base_delay_s: float = 0.5,
    max_delay_s: float = 8.0,
    budget_s: float = 45.0,
    attempt_timeout_s: float | None = None,
    rng: random.Random | None = None,
    on_requested: OnRequested | None = None,
    on_succeeded: OnSucceeded | None = None,
    on_failed: OnFailed | None = None,
    describe_error: Callable[[BaseException], str] = _describe,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> JoinResult:
    """Call ``attempt_join(1)``, ``attempt_join(2)``, … until one returns; back off in between.

    After failed attempt ``n`` the driver waits a uniformly random delay in
    ``[0, min(max_delay_s, base_delay_s * 2**(n-1))]`` ("full jitter"). No further attempt starts
    when ``attempts`` are used up, when the error says ``retryable = False``, or when the wait would
    end past ``budget_s`` (counted from the first request). Each attempt runs under
    ``min(attempt_timeout_s, budget left)`` so a hanging join cannot outlive the budget.

    Args:
        attempt_join: one join attempt; returns the participants already in the room, raises on
            failure (the message must already be free of secrets; ``describe_error`` renders it).
        attempts: attempts allowed in total (≥ 1).
        base_delay_s, max_delay_s: backoff base and cap.
        budget_s: total time allowed for all attempts and waits.
        attempt_timeout_s: per-attempt limit (``None``: only the budget limits it).
        rng: random source for the jitter (seed it in tests).
        on_requested: ``(attempt, max_attempts)`` before each attempt.
        on_succeeded: ``(attempt, join_latency_ms, participant_count)`` once.
        on_failed: ``(attempt, error, will_retry, retry_in_ms)`` after each failed attempt.
        describe_error: renders an attempt's exception for ``on_failed`` and :class:`JoinFailed`.
        sleep, clock: injectable for tests (a fake clock advanced by a fake sleep).

    Returns:
        :class:`JoinResult` of the successful attempt.

    Raises:
        JoinFailed: no attempt succeeded.
        ValueError: bad arguments.

    Example::

        result = await join_with_retries(room.join, attempts=3, on_failed=publish_failed)
    """
    if attempts < 1:
        raise ValueError("attempts must be ≥ 1")
    if base_delay_s < 0 or max_delay_s < 0 or budget_s <= 0:
        raise ValueError("delays must be ≥ 0 and the budget > 0")
    rng = rng if rng is not None else random.Random()
    started = clock()
    last_error = "no attempt made"
    retryable = True
    kind = "unknown"
    stop_reason = ""
    attempt = 0
    for attempt in range(1, attempts + 1):
        await _call(on_requested, attempt, attempts)
        t0 = clock()
        left = budget_s - (t0 - started)
        timeout = left if attempt_timeout_s is None else min(attempt_timeout_s, left)
        try:
            if timeout <= 0:
                raise TimeoutError("join budget exhausted")
            count = await asyncio.wait_for(attempt_join(attempt), timeout=timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # every failure of an attempt is reported, then retried or raised
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)) and not str(exc):
                last_error = f"attempt timed out after {timeout:.1f}s"
            else:
                last_error = describe_error(exc)
            retryable = getattr(exc, "retryable", True) is not False
            kind = str(getattr(exc, "kind", "unknown"))
            delay_s = 0.0
            will_retry = retryable and attempt < attempts
            if not retryable and attempt < attempts:
                stop_reason = " (not retryable)"
            if will_retry:
                delay_s = rng.uniform(0.0, backoff_cap_s(attempt, base_delay_s=base_delay_s, max_delay_s=max_delay_s))
                if (clock() - started) + delay_s >= budget_s:
                    will_retry = False
                    delay_s = 0.0
                    stop_reason = f" (join time budget of {budget_s:g}s used up)"
            retry_in_ms = round(delay_s * 1000) if will_retry else 0
            await _call(on_failed, attempt, last_error, will_retry, retry_in_ms)
            if not will_retry:
                break
            await sleep(delay_s)
            continue
        latency_ms = max(0, round((clock() - t0) * 1000))
        await _call(on_succeeded, attempt, latency_ms, int(count))
        return JoinResult(attempt=attempt, join_latency_ms=latency_ms, participant_count=int(count))
    raise JoinFailed(
        f"could not join the room after {attempt} attempt{'s' if attempt != 1 else ''}{stop_reason}: {last_error}",
        attempts=attempt,
        last_error=last_error,
        retryable=retryable,
        kind=kind,
    )
