"""The bot template: one pre-imported interpreter that forks a bot per room (``python -m supervisor.template``).

Why: every ``python -m bot`` pays its own start-up (about a second of CPU importing Pipecat,
onnxruntime, numpy, pydantic and the generated models) and its own private copy of all of it in
memory. The supervisor starts this process once; it imports what a bot needs, freezes the garbage
collector (so collections in the children do not dirty the shared pages) and then waits on a
socket. Per room, the supervisor sends the room's argv, environment and folder with the room's
stdin/stdout/stderr pipes (``SCM_RIGHTS``); the template forks, and the room's process becomes the
bot: its own session and process group, the room's folder, **exactly** the environment the
supervisor built (``os.environ`` replaced wholesale), the room's ``sys.argv``, then the same entry
``python -m bot`` runs (``bot/__main__.py`` through ``runpy``), ending through normal interpreter
exit, so its exit code, signals and SIGTERM handling are the bot's own.

Rules the template keeps (a fork copies only the calling thread; locks held by other threads would
stay locked forever in the child):

- no thread, no asyncio loop, no Daily call client, no ONNX session before a fork: the number of
  tasks in ``/proc/self/task`` is checked before every fork and a fork is refused if it is not 1
  (the supervisor then starts that room with ``exec``);
- no secret in its own environment: it starts with the system variables only, and each room's
  secrets arrive in that room's request and live only in that room's process;
- a double fork: the intermediate process exits at once, so the room's process is re-parented to
  the supervisor (a child subreaper, ``supervisor/forking.py``), which waits for it and gets its
  real exit status even if the template dies; the template never waits for rooms.

Protocol (``AF_UNIX``/``SOCK_SEQPACKET``, one JSON object per message; the socket is the
``--fd`` inherited from the supervisor, nothing listens on the file system):

- template → supervisor, once: ``{"ready": true, "pid", "threads", "modules", "importSecs", "failed"}``;
- supervisor → template: ``{"id", "argv", "env", "cwd", "module"}`` with 4 file descriptors
  (stdin, stdout, stderr of the room, and the read end of its adoption gate: the room's process
  runs no bot code until the supervisor, having adopted it, writes one byte there; a request the
  supervisor gave up on closes the gate instead, and a process forked for it exits at once);
- supervisor → template, now and then: ``{"id", "ping": true}``; answer ``{"id", "pong": true, "threads"}``
  (a template that does not answer is hung: it is killed and restarted before a room needs it);
- template → supervisor: ``{"id", "pid"}`` once the room's process exists and the intermediate is
  gone (so the supervisor is its parent), or ``{"id", "error"}``.

The template exits when the supervisor's end of the socket closes.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import importlib
import json
import os
import runpy
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_BYTES = 1 << 20
"""A request holds an argv, an environment (a meeting token of up to 4 KB) and a path."""

PRELOAD = (
    # what `python -m bot` imports for a simulated room, root modules first (the rest follow)
    "numpy",
    "pydantic",
    "pydantic_settings",
    "aiohttp",
    "loguru",
    "orjson",
    "pipecat.frames.frames",
    "pipecat.pipeline.pipeline",
    "pipecat.pipeline.task",
    "pipecat.pipeline.worker",
    "pipecat.processors.frameworks.rtvi",
    "pipecat.transports.daily.transport",
    "bot.generated",
    "bot.generated.models",
    "bot.events",
    "bot.config.early_identity",
    "bot.config.flags",
    "bot.config.settings",
    "bot.session.boot",
    "bot.session.startup",
    "bot.session.lifecycle",
    "bot.session.join_room",
    "bot.policy",
    "bot.rooms.scenario",
    "bot.rooms.simulated",
    "bot.rooms.stdin_messages",
    "bot.rooms.tracks",
    "bot.rooms.audio_files",
    "bot.analytics.agenda",
    "bot.analytics.crosstalk",
    "bot.analytics.overlaps",
    "bot.analytics.pacing",
    "bot.analytics.roster",
    "bot.analytics.speaking",
    "bot.analytics.votes",
    "bot.facilitator.brain",
    "bot.facilitator.summary",
    "bot.facilitator.tools",
    "bot.processors.agenda",
    "bot.processors.chat",
    "bot.processors.dominance",
    "bot.processors.inbound",
    "bot.processors.overlaps",
    "bot.processors.pacing",
    "bot.processors.policy",
    "bot.processors.sink",
    "bot.processors.votes",
    "bot.cli.main",
    "bot.config.environment_check",
    "bot.session.context",
    "bot.session.join",
    "bot.session.closing",
    "bot.session.forwarding",
    "bot.session.policy",
    "bot.session.voice",
    "bot.session.pipeline",
    "pipecat.workers.runner",
    "soundfile",
    "ctypes.util",
    "importlib.resources.readers",
    "encodings.utf_8_sig",
    "encodings.utf_16_be",
)
"""Imported once by the template. A name that fails to import is reported and skipped (the child
imports it itself): the bot's start-up may be reorganised without breaking the template.

Not here, on purpose: ``onnxruntime`` starts a native thread when it is imported (a fork would
copy its locks but not the thread), so ``bot.audio.silero_stream`` and what imports it
(``bot.processors.participant_vad``, ``bot.pipelines.room``) load in each room's process, after
the fork (about 0.1 s). The ONNX model file is shared anyway: it is read through the page cache."""

NEVER_PRELOAD = ("onnxruntime", "pipecat.audio.vad.silero", "bot.audio.silero_stream")
"""Modules that create threads when imported; :func:`main` reports it if one got in anyway."""

ENTRY_MODULE = "bot"
"""What a room runs, as ``python -m bot`` does (a request may name another module: tests use a probe)."""


ROOM_PROCESS_NAME = "prism-bot"
TEMPLATE_PROCESS_NAME = "prism-template"
"""Names in ``ps -o comm``, ``top`` and ``/proc/PID/comm``: a forked bot's command line stays the
template's (``python -m supervisor.template --fd N``); ``GET /rooms`` maps pids to rooms."""


def set_process_name(name: str) -> None:
    """``prctl(PR_SET_NAME)``: the kernel's 15-character name of this process (best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(15, name.encode()[:15], 0, 0, 0)


@dataclass
class RoomJob:
    """What the room's process runs once it is set up: a module as ``__main__`` with ``argv``."""

    module: str
    argv: list[str]


def thread_count() -> int:
    """Threads of this process, from the kernel (``threading`` does not see native threads)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # pragma: no cover (no /proc: the supervisor does not use the template there)
        return -1


WARM = (("bot.policy.links", "compiled"),)
"""Caches filled before the fork, so every room shares them instead of filling its own: the link
filter's RE2 programs (``bot.policy.links.compiled``, about 60 ms of CPU per room otherwise)."""


def warm(calls: Sequence[tuple[str, str]]) -> list[str]:
    """Call each ``(module, function)``; returns the ones that failed with why (the room then
    fills that cache itself, as a bot started with exec does)."""
    failed: list[str] = []
    for module, name in calls:
        try:
            getattr(importlib.import_module(module), name)()
        except Exception as exc:
            failed.append(f"{module}.{name}(): {type(exc).__name__}: {exc}")
    return failed


def preload(names: Sequence[str]) -> tuple[int, list[str]]:
    """Import ``names``; returns (modules loaded in all, the names that failed with why)."""
    failed: list[str] = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception as exc:  # an optional part, renamed or broken: the child imports it itself
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    return len(sys.modules), failed


def _send(sock: socket.socket, message: dict[str, Any]) -> None:
    sock.send(json.dumps(message).encode())


def _parse(data: bytes) -> dict[str, Any]:
    """A request, checked: the template runs nothing but what a well-formed request names."""
    req = json.loads(data)
    if not isinstance(req, dict):
        raise ValueError("not an object")
    argv, env, cwd, module = req.get("argv"), req.get("env"), req.get("cwd"), req.get("module", ENTRY_MODULE)
    if not (isinstance(argv, list) and all(isinstance(a, str) for a in argv)):
        raise ValueError("argv must be a list of strings")
    if not (isinstance(env, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())):
        raise ValueError("env must map strings to strings")
    if not isinstance(cwd, str) or not isinstance(module, str):
        raise ValueError("cwd and module must be strings")
    return req


def serve(sock: socket.socket) -> RoomJob | None:
    """Answer fork requests until the supervisor goes; in a room's process, return its job."""
    while True:
        try:
            data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE_BYTES, 4)
        except ConnectionError:
            return None
        if not data:
            for fd in fds:
                os.close(fd)
            return None  # the supervisor closed its end (or exited)
        req_id: Any = None
        try:
            probe = json.loads(data)
            if isinstance(probe, dict) and probe.get("ping") is True and not fds:
                _send(sock, {"id": probe.get("id"), "pong": True, "threads": thread_count()})
                continue
            req = _parse(data)
            req_id = req.get("id")
            if len(fds) != 4:
                raise ValueError(f"expected 4 file descriptors, got {len(fds)}")
            threads = thread_count()
            if threads != 1:
                raise RuntimeError(f"the template has {threads} threads; forking it is unsafe")
        except Exception as exc:
            for fd in fds:
                os.close(fd)
            _send(sock, {"id": req_id, "error": f"{type(exc).__name__}: {exc}"})
            continue
        job = fork_room(sock, req, fds)
        if job is not None:
            return job  # this is the room's process


def fork_room(sock: socket.socket, req: dict[str, Any], fds: list[int]) -> RoomJob | None:
    """Double-fork the room's process; in the template, answer with its pid and return ``None``."""
    sys.stdout.flush()
    sys.stderr.flush()
    ready_r, ready_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in (ready_r, ready_w, *fds):
            os.close(fd)
        _send(sock, {"id": req["id"], "error": f"fork failed: {exc.strerror or exc}"})
        return None
    if pid == 0:  # the intermediate: fork the room's process, say its pid, leave at once
        room_pid = -1
        try:
            os.close(ready_r)
            room_pid = os.fork()
            if room_pid == 0:
                os.close(ready_w)
                return become_room(sock, req, fds)
            os.write(ready_w, f"pid {room_pid}".encode())
        except BaseException as exc:
            if room_pid == 0:  # the room's process: never back into the template's loop
                os._exit(1)
            with contextlib.suppress(OSError):
                os.write(ready_w, f"fork failed: {exc}".encode())
        os._exit(0)
    os.close(ready_w)
    for fd in fds:
        os.close(fd)
    report = os.read(ready_r, 4096)  # one write by the intermediate (or EOF if it died)
    os.close(ready_r)
    os.waitpid(pid, 0)  # the intermediate: once it is gone, the room's process is the supervisor's
    text = report.decode(errors="replace")
    if text.startswith("pid "):
        _send(sock, {"id": req["id"], "pid": int(text[4:])})
    else:
        _send(sock, {"id": req["id"], "error": text or "the intermediate process died"})
    return None


def become_room(sock: socket.socket, req: dict[str, Any], fds: list[int]) -> RoomJob:
    """In the room's process: what ``exec`` would have given it. A failure here ends the process
    (exit 1, the reason on the room's stderr when it got that far), as a failed exec would."""
    try:
        sock.close()  # the template's death must be visible to the supervisor, not held open by rooms
        os.setsid()  # its own session and process group, as start_new_session=True
        *stdio, gate = fds
        gate = os.dup(gate) if gate <= 2 else gate  # not overwritten by the dup2s below
        for target, fd in enumerate(stdio):
            os.dup2(fd, target)  # inheritable
        for fd in stdio:
            if fd > 2 and fd != gate:
                os.close(fd)
        os.chdir(req["cwd"])
        os.environ.clear()  # unsetenv for each: the C environment goes too
        os.environ.update(req["env"])
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as Python starts
        signal.pthread_sigmask(signal.SIG_SETMASK, set())
        sys.path[0] = os.getcwd()  # `python -m` puts the current folder first
        set_process_name(ROOM_PROCESS_NAME)
        # The adoption gate: run no bot code until the supervisor has adopted this process. If the
        # supervisor gave up on the request (a late reply, the template killed mid-fork), it closed
        # the gate's other end: leave now instead of running as an unwatched second bot of the room.
        adopted = os.read(gate, 1)
        os.close(gate)
        if not adopted:
            os._exit(1)
        return RoomJob(module=req.get("module", ENTRY_MODULE), argv=list(req["argv"]))
    except BaseException as exc:
        try:
            os.write(2, f"error: the bot could not be set up: {type(exc).__name__}: {exc}\n".encode())
        finally:
            os._exit(1)


def run_room(job: RoomJob) -> None:
    """Run the room's module as ``python -m`` would; its ``SystemExit`` ends the process normally."""
    sys.argv = ["-m", *job.argv]
    runpy.run_module(job.module, run_name="__main__", alter_sys=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m supervisor.template", description=__doc__.split("\n\n")[0])
    parser.add_argument("--fd", type=int, required=True, help="the supervisor's socket (inherited)")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    sock.set_inheritable(False)
    set_process_name(TEMPLATE_PROCESS_NAME)
    start = time.perf_counter()
    modules, failed = preload(PRELOAD)
    failed += warm(WARM)
    failed += [
        f"{name}: imported by another preloaded module (it starts threads)"
        for name in NEVER_PRELOAD
        if name in sys.modules
    ]
    gc.collect()
    gc.freeze()  # everything so far is permanent: no collection in a child touches these pages
    for line in failed:
        print(f"template: could not preload {line}", file=sys.stderr, flush=True)
    _send(
        sock,
        {
            "ready": True,
            "pid": os.getpid(),
            "threads": thread_count(),
            "modules": modules,
            "importSecs": round(time.perf_counter() - start, 3),
            "failed": len(failed),
        },
    )
    job = serve(sock)
    if job is None:
        return 0
    run_room(job)  # the bot's own sys.exit ends this process
    return 0


if __name__ == "__main__":
    sys.exit(main())
