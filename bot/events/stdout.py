"""Envelopes as JSON lines on stdout: the IPC channel to the supervisor.

Only envelopes go to stdout. ``StdoutEmitter.claim_process_stdout()`` moves the process's file
descriptor 1 to stderr and keeps a private duplicate for envelopes, so a stray ``print`` or a
native library writing to fd 1 can never corrupt the stream. A closed stdout (EPIPE: the reader
went away) is not an error worth a traceback: the emitter stops writing and tells its owner.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any, BinaryIO

import orjson

from bot.events._log import logger
from bot.events.governance import Redactor
from bot.events.registry import SpecRegistry


class StdoutEmitter:
    """Bus subscriber writing each stdout-routed envelope as one compact JSON line, flushed."""

    def __init__(
        self,
        registry: SpecRegistry,
        redactor: Redactor,
        *,
        fd: int | None = None,
        stream: BinaryIO | None = None,
        on_closed: Callable[[], None] | None = None,
    ) -> None:
        if (fd is None) == (stream is None):
            raise ValueError("give exactly one of fd or stream")
        self._registry = registry
        self._redactor = redactor
        self._fd = fd
        self._stream = stream
        self._on_closed = on_closed
        self.closed = False
        self.lines = 0

    _claimed_fd: int | None = None
    """The private duplicate of the process's real stdout, once claimed (a process has one)."""

    @classmethod
    def claim_process_stdout(cls, registry: SpecRegistry, redactor: Redactor, **kwargs: Any) -> StdoutEmitter:
        """Take fd 1 for envelopes and point fd 1 / ``sys.stdout`` at stderr for everything else.

        A second claim (a start-up that failed after claiming, then reports the failure) writes
        to the same private descriptor, not to the stderr that fd 1 has become."""
        if StdoutEmitter._claimed_fd is None:
            if sys.stdout is not None:
                sys.stdout.flush()
            try:
                private = os.dup(1)
            except OSError as exc:  # started with fd 1 closed (`1>&-`)
                from bot.core.errors import ConfigError

                raise ConfigError(
                    "stdout is closed: envelopes are written there (redirect it to a file or /dev/null)"
                ) from exc
            StdoutEmitter._claimed_fd = private
            os.dup2(2, 1)
            sys.stdout = sys.stderr
        return cls(registry, redactor, fd=StdoutEmitter._claimed_fd, **kwargs)

    def __call__(self, envelope: dict[str, Any]) -> None:
        if self.closed:
            return
        line = self.render(envelope)
        if line is not None:
            self.write_line(line)

    def render(self, envelope: dict[str, Any]) -> bytes | None:
        """The line this emitter writes for ``envelope`` (governed for stdout), or None if the
        topic does not go to stdout."""
        rule = self._registry.topics[envelope["topic"]]
        if "stdout" not in rule.destinations:
            return None
        return orjson.dumps(self._redactor.apply(envelope, rule, "stdout")) + b"\n"

    def write_line(self, line: bytes) -> None:
        try:
            if self._fd is not None:
                view = memoryview(line)
                while view:
                    written = os.write(self._fd, view)
                    view = view[written:]
            else:
                assert self._stream is not None
                self._stream.write(line)
                self._stream.flush()
            self.lines += 1
        except BrokenPipeError:
            self._close("stdout was closed by the reader")
        except OSError as exc:
            if exc.errno in (errno.EPIPE, errno.EBADF):
                self._close(f"stdout is gone ({exc.strerror})")
            else:
                raise

    def _close(self, why: str) -> None:
        if self.closed:
            return
        self.closed = True
        logger().warning(f"{why}; no more envelopes will be written")
        if self._fd is not None:
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._fd)
                os.close(devnull)
            except OSError:
                pass
        if self._on_closed is not None:
            self._on_closed()
