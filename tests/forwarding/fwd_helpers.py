"""Helpers for the forwarding tests: payload builders, a scriptable sink, ``run``."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.generated import (  # noqa: E402
    AssistantSessionEnded,
    AssistantSessionStarted,
    BotHealthHeartbeat,
    ConversationPolicyViolation,
    DominanceShare,
    RoomDominanceScore,
    RoomParticipantJoined,
    RoomSpeakingStarted,
    RoomTopicShiftSuggested,
)
from tests.pipeline_harness import run_async  # noqa: E402

T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 30.0) -> T:
    """Run one coroutine on a fresh loop, bounded."""
    return run_async(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def started() -> AssistantSessionStarted:
    return AssistantSessionStarted(
        assistant_id="asst-1",
        tenant_id="tenant-1",
        bot_version="0.1.0",
        room_url="simulated://room-1",
        transport="simulated",
    )


def ended() -> AssistantSessionEnded:
    return AssistantSessionEnded(reason="completed", duration_ms=1000, published=3, dropped=0)


def joined(i: int = 0) -> RoomParticipantJoined:
    return RoomParticipantJoined(participant_id=f"p-{i}", display_name=f"Person {i}", media_time_ms=i)


def dominance(i: int = 0) -> RoomDominanceScore:
    return RoomDominanceScore(
        window_ms=60_000,
        participants=[
            DominanceShare(participant_id="p-0", talk_time_ms=600, share=0.6),
            DominanceShare(participant_id="p-1", talk_time_ms=400, share=0.4),
        ],
        gini=0.1,
        dominant_participant_id="p-0",
        trigger="periodic",
        media_time_ms=1000 * i,
    )


def shift(i: int = 0) -> RoomTopicShiftSuggested:
    return RoomTopicShiftSuggested(
        current_item=f"item {i}", next_item=f"item {i + 1}", reason="time_box", elapsed_ms=1000 + i
    )


def speaking(i: int = 0) -> RoomSpeakingStarted:
    return RoomSpeakingStarted(participant_id=f"p-{i}", media_time_ms=i)


def heartbeat() -> BotHealthHeartbeat:
    return BotHealthHeartbeat(
        uptime_ms=1, published=1, dropped=0, violations=0, buffer_fill_percent=0.0, participants=0, media_time_ms=0
    )


def violation(kind: str = "turn_limit") -> ConversationPolicyViolation:
    return ConversationPolicyViolation(
        policy_version="sha256:" + "0" * 64,
        rule="turn-limit",
        kind=kind,
        participant_id="p-0",
        action="warn",
        severity="low",
    )  # type: ignore[arg-type]


class ScriptedSink:
    """Records every request; ``script(entries, call_no)`` returns the per-entry results (or raises)."""

    name = "scripted"

    def __init__(
        self, script: Callable[[list[dict[str, Any]], int], list[str | None]] | None = None, *, delay: float = 0.0
    ) -> None:
        self.script = script
        self.delay = delay
        self.calls: list[list[dict[str, Any]]] = []
        self.times: list[float] = []
        self.delivered: list[dict[str, Any]] = []
        self.gate: asyncio.Event | None = None
        self.closed = False
        self._called = asyncio.Event()

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        self.calls.append(list(entries))
        self.times.append(time.monotonic())
        self._called.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        results = self.script(entries, len(self.calls)) if self.script else [None] * len(entries)
        self.delivered.extend(e for e, r in zip(entries, results, strict=True) if r is None)
        return results

    async def wait_calls(self, n: int = 1, *, within_s: float = 5.0) -> None:
        """Until ``send`` has been called ``n`` times; fails after ``within_s``."""
        async with asyncio.timeout(within_s):
            while len(self.calls) < n:
                self._called.clear()
                await self._called.wait()

    async def close(self) -> None:
        self.closed = True

    def delivered_ids(self) -> list[str]:
        import json

        return [json.loads(e["Detail"])["id"] for e in self.delivered]
