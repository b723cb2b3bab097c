"""One bot process: its command, its environment (an allow-list), its output streams, its end.

The bot gets only what it needs: a few system variables, the secrets a bot uses (Daily, Mesh,
OpenAI, the PII salt) and the room's own settings. The supervisor's token, AWS credentials and
everything else in its environment stay behind. Each bot runs in its own process group and working
directory (the room's temporary folder, so no stray ``.env`` is read).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path

from supervisor.ingest import TOO_LONG

SYSTEM_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_CTYPE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "LD_LIBRARY_PATH",
    "VIRTUAL_ENV",
    "XDG_CACHE_HOME",
    "HF_HOME",
    "SYSTEMROOT",
)
"""Non-secret variables a Python process and its native libraries expect."""

BOT_SECRETS_ENV = ("DAILY_API_KEY", "MESH_URL", "MESH_API_TOKEN", "MESH_REST_URL", "OPENAI_API_KEY", "OPENAI_BASE_URL")
"""Secrets and endpoints the bot reads (bot/config/settings.py); the PII salt is passed from the settings."""

MAX_LINE_BYTES = 2 * 1024 * 1024
"""Longer stdout lines are skipped and counted as garbage (stdout's spec limit is 1 MB)."""


def repo_root() -> Path:
    """Where the ``bot`` package lives, for ``PYTHONPATH`` (bots run in another folder)."""
    import bot

    return Path(bot.__file__).resolve().parent.parent


def bot_environment(
    *,
    source: Mapping[str, str],
    room_env: Mapping[str, str],
    extra_names: Sequence[str] = (),
    fallback: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """The bot's whole environment: allow-listed names from ``source`` (then ``fallback``, e.g. the
    supervisor's ``.env``), then the room's own values."""
    env: dict[str, str] = {}
    for name in (*SYSTEM_ENV, *BOT_SECRETS_ENV, *extra_names):
        value = source.get(name)
        if value is None and fallback is not None:
            value = fallback.get(name)
        if value is not None:
            env[name] = value
    root = str(repo_root())
    env["PYTHONPATH"] = root + (os.pathsep + source["PYTHONPATH"] if source.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update({k: v for k, v in room_env.items() if v is not None})
    return env


BOT_MODULE = "bot"


def bot_args(*, scenario: str | None, speed: float | None) -> list[str]:
    """The bot's flags: ``--view off`` plus the simulated room's (a Daily room comes by env)."""
    args = ["--view", "off"]
    if scenario:
        args += ["--simulate", scenario]
        if speed is not None:
            args += ["--speed", f"{speed:g}"]
    return args


def bot_command(*, scenario: str | None, speed: float | None) -> list[str]:
    """``python -m bot --view off`` plus the simulated room's flags (a Daily room comes by env)."""
    return [sys.executable, "-m", BOT_MODULE, *bot_args(scenario=scenario, speed=speed)]


async def write_line(stdin: asyncio.StreamWriter | None, line: bytes, timeout_s: float, *, exited: bool) -> bool:
    """Write one line to a bot's stdin within ``timeout_s``; ``False`` when the bot is gone or not
    reading (a bot that stopped reading must not hold the sender: browser messages are dropped)."""
    if stdin is None or stdin.is_closing() or exited:
        return False
    try:
        stdin.write(line)
        await asyncio.wait_for(stdin.drain(), timeout_s)
    except (ConnectionError, TimeoutError, RuntimeError):
        return False
    return True


class BotProcess:
    """A running bot: stdout lines, stderr lines, signals, exit code."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.pid = proc.pid

    @classmethod
    async def spawn(cls, cmd: Sequence[str], *, env: Mapping[str, str], cwd: Path) -> BotProcess:
        proc = await asyncio.create_subprocess_exec(
            *cmd,
            stdin=asyncio.subprocess.PIPE,  # browser app messages of simulated rooms (send_line)
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=dict(env),
            cwd=str(cwd),
            start_new_session=True,  # its own process group: a Ctrl-C at the supervisor's terminal is not the bot's
            limit=MAX_LINE_BYTES,
        )
        return cls(proc)

    async def send_line(self, line: bytes, timeout_s: float = 2.0) -> bool:
        """Write one line to the bot's stdin; ``False`` when it is gone or not reading."""
        return await write_line(self.proc.stdin, line, timeout_s, exited=self.proc.returncode is not None)

    @property
    def returncode(self) -> int | None:
        return self.proc.returncode

    async def wait(self) -> int:
        return await self.proc.wait()

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to the bot; ``False`` when it is already gone."""
        if self.proc.returncode is not None:
            return False
        try:
            self.proc.send_signal(sig)
            return True
        except ProcessLookupError:
            return False

    def kill_group(self) -> None:
        """SIGKILL the bot and anything it started."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()

    async def stop(self, grace_s: float) -> int:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(asyncio.shield(self.proc.wait()), grace_s)
        except TimeoutError:
            self.kill_group()
            return await self.proc.wait()

    async def stdout_lines(self) -> AsyncIterator[bytes]:
        assert self.proc.stdout is not None
        async for line in read_lines(self.proc.stdout):
            yield line

    async def stderr_lines(self) -> AsyncIterator[bytes]:
        assert self.proc.stderr is not None
        async for line in read_lines(self.proc.stderr):
            yield line


YIELD_EVERY_LINES = 64
"""``readuntil`` does not yield while whole lines are buffered (up to 4 MB here): a flooding bot's
reader would hold the event loop, and every other room and the API, for its whole buffer."""


async def read_lines(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    """Lines without their newline; a line over the stream's limit comes as :data:`TOO_LONG`.

    Gives the loop a turn every :data:`YIELD_EVERY_LINES` lines (fair to the other rooms)."""
    skipping = False
    count = 0
    while True:
        count += 1
        if count % YIELD_EVERY_LINES == 0:
            await asyncio.sleep(0)
        try:
            line = await stream.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial and not skipping:
                yield exc.partial
            return
        except asyncio.LimitOverrunError as exc:
            await stream.readexactly(exc.consumed)
            if not skipping:
                skipping = True
                yield TOO_LONG
            continue
        if skipping:
            skipping = False
            continue
        yield line[:-1]
