"""Helpers for the supervisor tests: settings, a running supervisor with a client, fake bots."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from supervisor import Supervisor, SupervisorSettings  # noqa: E402
from tests.pipeline_harness import run_async  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
SCENARIOS = REPO / "bot" / "scenarios" / "rooms"
T = TypeVar("T")


def run(coro: Awaitable[T], timeout: float = 60.0) -> T:
    return run_async(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def make_settings(tmp_path: Path, **overrides: Any) -> SupervisorSettings:
    values: dict[str, Any] = {
        "port": 0,
        "token": TOKEN,
        "dry_run_path": tmp_path / "forward.jsonl",
        "restart_attempts": 2,
        "backoff_base_secs": 0.05,
        "backoff_max_secs": 0.2,
        "spawn_timeout_secs": 20,
        "grace_period_secs": 5,
        "batch_delay_secs": 0.05,
        "pii_salt": "test-salt",
        "bot_template": False,  # each template imports the whole bot: test_template.py turns it on
    }
    values.update(overrides)
    return SupervisorSettings(_env_file=None, **values)  # type: ignore[call-arg]


class Client:
    """An aiohttp session on the supervisor's URL, with the token by default."""

    def __init__(self, sup: Supervisor, session: aiohttp.ClientSession) -> None:
        self.sup = sup
        self.session = session
        self.url = sup.url

    async def request(self, method: str, path: str, *, token: str | None = TOKEN, **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        async with self.session.request(method, f"{self.url}{path}", headers=headers, **kwargs) as resp:
            text = await resp.text()
            try:
                import json

                return resp.status, json.loads(text)
            except ValueError:
                return resp.status, text

    async def post_room(self, body: dict[str, Any]) -> dict[str, Any]:
        status, room = await self.request("POST", "/rooms", json=body)
        assert status == 201, room
        return room

    async def wait_room(
        self,
        room_id: str,
        until: Callable[[dict[str, Any]], bool],
        # Why the noqa: the state is only observable by polling the HTTP API, and a caller's asyncio.timeout
        # would lose the last room seen, which the failure message shows.
        timeout: float = 30.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            status, room = await self.request("GET", f"/rooms/{room_id}")
            assert status == 200, room
            if until(room):
                return room
            if time.monotonic() > deadline:
                raise AssertionError(f"room never got there: {room}")
            await asyncio.sleep(0.05)

    async def metrics(self) -> dict[str, float]:
        from supervisor.metrics import parse_text

        status, text = await self.request("GET", "/metrics")
        assert status == 200
        return parse_text(text)


@contextlib.asynccontextmanager
async def running(settings: SupervisorSettings, **kwargs: Any) -> AsyncIterator[Client]:
    sup = Supervisor(settings, **kwargs)
    await sup.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield Client(sup, session)
    finally:
        await sup.stop()


def finished(room: dict[str, Any]) -> bool:
    return room["status"] in ("ended", "failed")


def python_bot(body: str) -> list[str]:
    """A stand-in bot: Python code with ``bus`` (the real event runtime on stdout) and the payload models."""
    prelude = (
        "import os, sys, time, uuid\n"
        "from bot.events import SessionContext, create_runtime\n"
        "from bot.generated import AssistantSessionStarted, AssistantSessionEnded, BotHealthHeartbeat\n"
        "rt = create_runtime(SessionContext(session_id=str(uuid.uuid4()), assistant_id=os.environ['ASSISTANT_ID'], tenant_id=os.environ['TENANT_ID']), stdout=sys.stdout.buffer)\n"
        "bus = rt.bus\n"
        "def start():\n"
        "    bus.publish(AssistantSessionStarted(assistant_id='a', tenant_id='t', bot_version='0', room_url='simulated://x', transport='simulated'))\n"
    )
    return [sys.executable, "-c", prelude + body]


CRASH_AFTER_START = python_bot("start()\nsys.exit(3)\n")
NEVER_STARTS = python_bot("time.sleep(60)\n")
STARTS_THEN_HANGS = python_bot("start()\ntime.sleep(60)\n")
GARBAGE_THEN_ENDS = python_bot(
    "start()\n"
    'sys.stdout.buffer.write(b\'not json at all\\n{"topic": "room.nope"}\\n[1,2]\\n\'); sys.stdout.buffer.flush()\n'
    "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=1, dropped=0))\n"
)
