"""Rooms forked by the template, watched by the supervisor as if it had started them itself.

The template double-forks: the room's process is orphaned at once and, because the supervisor is a
**child subreaper** (``prctl(PR_SET_CHILD_SUBREAPER)``), re-parented to the supervisor rather than
to init. So the supervisor is the room's parent, like an ``exec``-spawned bot:

- it alone reaps the process: the pid (and the process group, which the room leads) cannot be
  reused while the supervisor holds it, and the exit status is the real one (a code, or the
  signal that killed it), whether or not the template is still alive;
- it waits without a thread: a ``pidfd`` (``os.pidfd_open``) becomes readable when the process
  exits, then ``waitpid`` collects it; signals go through ``signal.pidfd_send_signal``.

Why not pidfds alone, with the template as the parent: only a parent can read the exit status, so
a template that died would take its rooms' exit codes with it (and the supervisor's restart and
"completed vs crashed" decisions need them).

:class:`ForkedBotProcess` offers what :class:`supervisor.process.BotProcess` offers (stdout and
stderr lines, stdin lines, signals, stop with grace then SIGKILL of the group, the exit code, with
asyncio's sign convention: ``-N`` for killed by signal N), so ``supervisor/rooms.py`` watches
both the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from collections import deque
from collections.abc import AsyncIterator
from pathlib import Path

from supervisor.process import MAX_LINE_BYTES, read_lines, write_line
from supervisor.template import ROOM_PROCESS_NAME

PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

_room_sessions: deque[int] = deque(maxlen=4096)
"""Sessions (= the room process's pid) of rooms forked here: orphans from them are ours to reap."""


def forking_supported() -> str | None:
    """Why the template cannot be used on this system (``None`` when it can)."""
    if not sys.platform.startswith("linux"):
        return "the bot template needs Linux (child subreaper, pidfds)"
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return "this Python has no pidfd support"
    if not Path("/proc/self/task").is_dir():
        return "/proc is not mounted"
    return None


def become_subreaper() -> None:
    """Make this process adopt its descendants' orphans (raises ``OSError`` when refused)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def is_subreaper() -> bool:
    libc = ctypes.CDLL(None, use_errno=True)
    flag = ctypes.c_int(0)
    return libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0) == 0 and flag.value == 1


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return int(fh.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


def note_room_session(pid: int) -> None:
    """A room's bot leads session ``pid`` (forked or exec'd): its orphans are reaped here."""
    _room_sessions.append(pid)


def reap_room_orphans() -> int:
    """Reap exited orphans of forked rooms re-parented here (a room's own children that outlived
    it): a subreaper inherits them, and nobody else would ever collect them. Only zombies whose
    session is a forked room's are touched, never a child the supervisor (or asyncio) waits for."""
    sessions = set(_room_sessions)
    reaped = 0
    me = os.getpid()
    try:
        tasks = os.listdir(f"/proc/{me}/task")
    except OSError:
        return 0
    children: set[int] = set()
    for tid in tasks:
        with contextlib.suppress(OSError, ValueError):
            children.update(int(p) for p in Path(f"/proc/{me}/task/{tid}/children").read_text().split())
    for pid in children:
        if pid in sessions:
            continue  # a room itself: its ForkedBotProcess reaps it
        try:
            head, tail = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)
        except (OSError, ValueError):
            continue
        fields = tail.split()
        comm = head.split(b"(", 1)[-1]
        # a room's orphan (its session is a room's), or a room's process forked for a request the
        # supervisor gave up on: it left at its adoption gate, nobody adopted it (named prism-bot,
        # its own session, which no room has)
        ghost = comm == ROOM_PROCESS_NAME.encode()
        if fields[0] == b"Z" and (int(fields[3]) in sessions or ghost):  # state, session (stat fields 3, 6)
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
                reaped += 1
    return reaped


class ForkedBotProcess:
    """A room's bot forked from the template: same interface as ``BotProcess``."""

    forked = True

    def __init__(
        self,
        pid: int,
        pidfd: int,
        stdin: asyncio.StreamWriter,
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
    ) -> None:
        self.pid = pid
        self._pidfd: int | None = pidfd
        self._stdin = stdin
        self._stdout = stdout
        self._stderr = stderr
        self._returncode: int | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        note_room_session(pid)
        asyncio.get_running_loop().add_reader(pidfd, self._on_exit)
        self._on_exit()  # it may be gone already

    @classmethod
    async def adopt(cls, pid: int, *, stdin_fd: int, stdout_fd: int, stderr_fd: int) -> ForkedBotProcess:
        """Watch the room's process ``pid`` (our child now) through the supervisor's ends of its pipes."""
        loop = asyncio.get_running_loop()
        pidfd = os.pidfd_open(pid)  # a zombie still has one: the supervisor has not reaped it
        try:
            stdout = asyncio.StreamReader(limit=MAX_LINE_BYTES, loop=loop)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdout), os.fdopen(stdout_fd, "rb", 0))
            stderr = asyncio.StreamReader(limit=MAX_LINE_BYTES, loop=loop)
            await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stderr), os.fdopen(stderr_fd, "rb", 0))
            transport, protocol = await loop.connect_write_pipe(
                asyncio.streams.FlowControlMixin, os.fdopen(stdin_fd, "wb", 0)
            )
            stdin = asyncio.StreamWriter(transport, protocol, None, loop)
        except BaseException:
            os.close(pidfd)
            raise
        return cls(pid, pidfd, stdin, stdout, stderr)

    def _on_exit(self) -> None:
        if self._returncode is not None:
            return
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # not ours after all (the subreaper was lost): nothing to collect
            pid, status = self.pid, 255 << 8
        if pid == 0:
            return
        self._returncode = os.waitstatus_to_exitcode(status)
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if not self._stdin.is_closing():
            self._stdin.close()
        if not self._exited.done():
            self._exited.set_result(self._returncode)
        reap_room_orphans()

    async def send_line(self, line: bytes, timeout_s: float = 2.0) -> bool:
        """Write one line to the bot's stdin; ``False`` when it is gone or not reading."""
        return await write_line(self._stdin, line, timeout_s, exited=self._returncode is not None)

    @property
    def returncode(self) -> int | None:
        return self._returncode

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def signal(self, sig: int) -> bool:
        """Send ``sig`` through the pidfd (never to a reused pid); ``False`` when already gone."""
        if self._returncode is not None or self._pidfd is None:
            return False
        try:
            signal.pidfd_send_signal(self._pidfd, sig)
            return True
        except ProcessLookupError:
            return False

    def kill_group(self) -> None:
        """SIGKILL the bot and anything it started (its group: unreaped, its pid is still its own)."""
        if self._returncode is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)
        self.signal(signal.SIGKILL)

    async def stop(self, grace_s: float) -> int:
        """SIGTERM, then SIGKILL after ``grace_s``; returns the exit code."""
        self.signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.wait(), grace_s)
        except TimeoutError:
            self.kill_group()
            return await self.wait()

    async def stdout_lines(self) -> AsyncIterator[bytes]:
        async for line in read_lines(self._stdout):
            yield line

    async def stderr_lines(self) -> AsyncIterator[bytes]:
        async for line in read_lines(self._stderr):
            yield line
