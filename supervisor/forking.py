"""The supervisor's side of the bot template (``supervisor/template.py``): start it, keep it, ask it for rooms.

:class:`BotTemplate` starts ``python -m supervisor.template`` with the system variables only (no
secret: each room's environment travels in its own request), waits for it to say it is ready, and
then forks rooms from it: :meth:`BotTemplate.spawn` makes the room's three pipes, passes the
room's ends with the request (``SCM_RIGHTS``), and adopts the process the template reports
(:class:`supervisor.adopted.ForkedBotProcess`).

It never stands in a room's way: :meth:`spawn` returns ``None`` (the caller then uses ``exec``,
as without a template) while the template starts, after it died, when it refuses (a thread in
it), or when it does not answer within :data:`REQUEST_TIMEOUT_S`; a template that does not answer
(a room's request, or the ping every :data:`PING_EVERY_S`) is killed. A template that exits is restarted, with a growing delay (1 s doubling to 60 s) while it
keeps failing. Rooms already forked do not depend on the template at all: the supervisor is their
parent (``supervisor/adopted.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from loguru import logger

from supervisor.adopted import (
    ForkedBotProcess,
    become_subreaper,
    forking_supported,
    is_subreaper,
    note_room_session,
    parent_of,
    reap_room_orphans,
)
from supervisor.process import SYSTEM_ENV, repo_root

REQUEST_TIMEOUT_S = 5.0
"""A fork takes milliseconds; a template silent this long is hung (killed, restarted)."""
PING_EVERY_S = 15.0
"""An idle template is asked this often whether it answers, so a hung one is replaced before a
room waits for it."""
READY_TIMEOUT_S = 120.0
"""Its imports take a few seconds of CPU; on a loaded machine, many more."""
RESTART_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)
STABLE_AFTER_S = 60.0
"""A template that lived this long counts as healthy again: the next restart is quick."""

State = Literal["off", "starting", "ready", "restarting", "closed"]


def template_environment(
    source: Mapping[str, str],
    *,
    extra_names: Sequence[str] = (),
    fallback: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """The template's own environment: the system variables, ``PYTHONPATH``, unbuffered output,
    and the start-time variables among the bots' extra ones (``SUPERVISOR_BOT_ENV``), taken as
    :func:`~supervisor.process.bot_environment` takes them (the supervisor's ``.env`` as fallback),
    so a forked room starts with what an exec'd one would.

    No secret and nothing of a room: every room's variables replace this wholesale in its process."""
    env: dict[str, str] = {}
    for name in (*SYSTEM_ENV, *(n for n in extra_names if n.startswith(START_TIME_VARIABLES))):
        value = source.get(name)
        if value is None and fallback is not None:
            value = fallback.get(name)
        if value is not None:
            env[name] = value
    root = str(repo_root())
    env["PYTHONPATH"] = root + (os.pathsep + source["PYTHONPATH"] if source.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault(
        "OPENBLAS_NUM_THREADS", "1"
    )  # numpy's BLAS would start a thread pool at import (no fork with threads)
    return env


START_TIME_VARIABLES = ("TZ", "LANG", "LANGUAGE", "LC_", "LD_", "PYTHON", "MALLOC_", "OPENBLAS_", "OMP_")
"""Variables an interpreter or its libraries read once, as they start (the time zone, the locale,
the loader, the allocator, BLAS): a forked room keeps the template's, whatever its own say."""


def start_time_differences(room: Mapping[str, str], template: Mapping[str, str]) -> list[str]:
    """The start-time variables a room sets otherwise than the template runs with (its ``.env``
    fallback can give a room a ``TZ`` or ``LANG`` the template never saw): that room needs exec.
    The template's own additions (unbuffered output, one BLAS thread) count only where the room
    sets them too."""
    return sorted(
        name for name, value in room.items() if name.startswith(START_TIME_VARIABLES) and template.get(name) != value
    )


class TemplateUnavailable(Exception):
    pass


class BotTemplate:
    """One template process, kept alive; forks rooms on request."""

    def __init__(
        self,
        environ: Mapping[str, str],
        *,
        module: str = "supervisor.template",
        extra_names: Sequence[str] = (),
        fallback: Mapping[str, str | None] | None = None,
    ) -> None:
        self._env = template_environment(environ, extra_names=extra_names, fallback=fallback)
        self._module = module
        self.state: State = "off"
        self.pid: int | None = None
        self.forks = 0
        self.refusals = 0
        self.restarts = 0
        self.info: dict[str, Any] = {}
        self._proc: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._lock = asyncio.Lock()
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_id = 0

    # ---- life
    def start(self) -> None:
        """Start the template in the background (rooms use ``exec`` until it is ready)."""
        if self._task is not None:
            return
        why = forking_supported()
        if why is None and not is_subreaper():
            try:
                become_subreaper()
            except OSError as exc:
                why = f"cannot become a child subreaper: {exc.strerror}"
        if why is not None:
            logger.warning(f"bot template off: {why}; rooms start with exec")
            self.state = "closed"
            return
        self.state = "starting"
        self._task = asyncio.create_task(self._keep(), name="bot-template")

    async def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:  # noqa: ASYNC109 (a bound the caller chooses)
        """Whether the template became ready within ``timeout`` (benchmarks and tests wait for it)."""
        if self._task is None:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ready.wait(), timeout)
        return self._ready.is_set()

    async def close(self) -> None:
        """Stop the template (rooms it forked keep running: they are not its children)."""
        self.state = "closed"
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _keep(self) -> None:
        failures = 0
        log = logger.bind(room="-")
        while True:
            began = time.monotonic()
            try:
                await self._run_one()
            except asyncio.CancelledError:
                await self._kill()
                raise
            except Exception as exc:
                log.warning(f"bot template: {exc}")
            await self._kill()
            if time.monotonic() - began > STABLE_AFTER_S:
                failures = 0
            delay = RESTART_DELAYS_S[min(failures, len(RESTART_DELAYS_S) - 1)]
            failures += 1
            self.restarts += 1
            self.state = "restarting"
            log.warning(f"bot template gone; rooms start with exec; restarting it in {delay:g}s")
            await asyncio.sleep(delay)

    async def _run_one(self) -> None:
        """Start one template process, wait for its hello, then until it exits."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                self._module,
                "--fd",
                str(theirs.fileno()),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                env=self._env,
                cwd=str(repo_root()),
                pass_fds=(theirs.fileno(),),
                start_new_session=True,
            )
        finally:
            theirs.close()
        ours.setblocking(False)
        self._sock = ours
        self.pid = self._proc.pid
        stderr = asyncio.create_task(self._log_stderr(self._proc))
        try:
            hello = await asyncio.wait_for(self._recv(), READY_TIMEOUT_S)
            if not hello.get("ready"):
                raise TemplateUnavailable(f"unexpected hello {hello!r}")
            self.info = hello
            if hello.get("threads") != 1:
                raise TemplateUnavailable(f"the template has {hello.get('threads')} threads after its imports")
            self.state = "ready"
            self._ready.set()
            logger.bind(room="-").info(
                f"bot template ready (pid {self.pid}, {hello.get('modules')} modules in {hello.get('importSecs')}s)"
            )
            exited = asyncio.ensure_future(self._proc.wait())
            try:
                while not exited.done():
                    await asyncio.wait({exited}, timeout=PING_EVERY_S)
                    if not exited.done():
                        await self._ping()
                        reap_room_orphans()  # also between rooms' exits: an idle supervisor keeps no zombie
            finally:
                exited.cancel()
            raise TemplateUnavailable(f"the template exited with code {self._proc.returncode}")
        finally:
            self._ready.clear()
            stderr.cancel()

    async def _ping(self) -> None:
        """Ask the idle template whether it still answers; raises ``TemplateUnavailable`` if not."""
        async with self._lock:
            if self._sock is None:
                raise TemplateUnavailable("the template's socket is closed")
            self._next_id += 1
            ping_id = self._next_id
            try:
                await asyncio.wait_for(self._send({"id": ping_id, "ping": True}, ()), REQUEST_TIMEOUT_S)
                reply = await asyncio.wait_for(self._recv(), REQUEST_TIMEOUT_S)
            except (TimeoutError, OSError, ValueError) as exc:
                raise TemplateUnavailable(f"the template did not answer a ping ({type(exc).__name__})") from None
        if reply.get("id") != ping_id or reply.get("threads") != 1:
            raise TemplateUnavailable(f"unexpected answer to a ping: {reply!r}")

    async def _kill(self) -> None:
        self._ready.clear()
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()
        proc = self._proc
        if proc is not None:
            # an intermediate of a fork in flight outlives it (re-parented here, in the template's
            # session): reap it like a room's orphan instead of leaving a zombie
            note_room_session(proc.pid)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # its group: the template and a half-done intermediate
            await proc.wait()

    async def _log_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        log = logger.bind(room="-")
        async for raw in proc.stderr:
            text = raw.decode("utf-8", errors="replace").rstrip()
            if text:
                log.info(f"bot template: {text[:2000]}")

    async def _recv(self) -> dict[str, Any]:
        sock = self._sock
        if sock is None:  # killed while a request was in flight (its exit, a ping's timeout)
            raise TemplateUnavailable("the template's socket is closed")
        data = await asyncio.get_running_loop().sock_recv(sock, 65536)
        if not data:
            raise TemplateUnavailable("the template closed its socket")
        message = json.loads(data)
        if not isinstance(message, dict):
            raise TemplateUnavailable("the template sent a non-object")
        return message

    async def _send(self, message: dict[str, Any], fds: Sequence[int]) -> None:
        sock = self._sock
        if sock is None:  # killed while a request was in flight (its exit, a ping's timeout)
            raise TemplateUnavailable("the template's socket is closed")
        data = json.dumps(message).encode()
        loop = asyncio.get_running_loop()
        while True:
            try:
                socket.send_fds(sock, [data], list(fds))
                return
            except BlockingIOError:
                ready = loop.create_future()
                loop.add_writer(sock, ready.set_result, None)
                try:
                    await ready
                finally:
                    loop.remove_writer(sock)

    # ---- rooms
    async def spawn(
        self, argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, module: str = "bot"
    ) -> ForkedBotProcess | None:
        """Fork a room's bot running ``python -m {module} {argv}``; ``None`` when the template cannot."""
        if not self._ready.is_set() or self._sock is None:
            return None
        differ = start_time_differences(env, self._env)
        if differ:
            logger.bind(room="-").info(
                f"bot template: the room sets {', '.join(differ)} differently; it starts with exec"
            )
            return None
        pipes: list[int] = []
        try:
            stdin_r, stdin_w = os.pipe()
            pipes += [stdin_r, stdin_w]
            stdout_r, stdout_w = os.pipe()
            pipes += [stdout_r, stdout_w]
            stderr_r, stderr_w = os.pipe()
            pipes += [stderr_r, stderr_w]
            gate_r, gate_w = os.pipe()
            pipes += [gate_r, gate_w]
        except OSError as exc:
            for fd in pipes:
                os.close(fd)
            logger.bind(room="-").warning(f"bot template: no pipes for a room ({exc.strerror}); using exec")
            return None
        theirs: tuple[int, ...] = (stdin_r, stdout_w, stderr_w, gate_r)
        ours: tuple[int, ...] = (stdin_w, stdout_r, stderr_r, gate_w)  # gate_w closed unwritten: the fork exits
        pid: int | None = None
        try:
            async with self._lock:
                if not self._ready.is_set():
                    return None
                self._next_id += 1
                req_id = self._next_id
                request = {"id": req_id, "argv": list(argv), "env": dict(env), "cwd": str(cwd), "module": module}
                try:
                    await asyncio.wait_for(self._send(request, theirs), REQUEST_TIMEOUT_S)
                    reply = await asyncio.wait_for(self._recv(), REQUEST_TIMEOUT_S)
                except (TimeoutError, OSError, TemplateUnavailable, ValueError) as exc:
                    why = "did not answer" if isinstance(exc, TimeoutError) else f"failed ({exc})"
                    logger.bind(room="-").warning(f"bot template {why}; killing it, this room starts with exec")
                    await self._kill()
                    return None
                finally:
                    for fd in theirs:
                        os.close(fd)
                    theirs = ()
            if reply.get("id") != req_id or not isinstance(reply.get("pid"), int):
                self.refusals += 1
                logger.bind(room="-").warning(
                    f"bot template refused a room ({reply.get('error', reply)}); it starts with exec"
                )
                return None
            pid = reply["pid"]
            assert pid is not None
            if parent_of(pid) not in (os.getpid(), None):  # None: it is gone already (still our zombie)
                raise TemplateUnavailable(f"room process {pid} is not the supervisor's child")
            proc = await ForkedBotProcess.adopt(pid, stdin_fd=stdin_w, stdout_fd=stdout_r, stderr_fd=stderr_r)
            ours = (gate_w,)  # the pipes are the process object's now
            os.write(gate_w, b"1")  # adopted: the room's process may run the bot
            self.forks += 1
            return proc
        except (OSError, TemplateUnavailable) as exc:
            logger.bind(room="-").warning(f"bot template: could not adopt room process {pid}: {exc}")
            if pid is not None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                await _collect(pid)
            return None
        finally:
            for fd in (*theirs, *ours):
                os.close(fd)


async def _collect(pid: int) -> None:
    """Reap a killed room process the supervisor could not adopt (nobody else will)."""
    with contextlib.suppress(ChildProcessError):
        await asyncio.to_thread(os.waitpid, pid, 0)  # SIGKILLed: returns at once
