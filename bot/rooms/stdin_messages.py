"""Browser app messages for a simulated room, read from stdin (one JSON line each).

A simulated room has no Daily call for a browser to send app messages through. When the
supervisor runs a simulated room and a dashboard viewer votes, the supervisor writes the vote to
the bot's stdin as ``{"senderId": "<viewer>", "message": <browser envelope>}``; the room pushes it
exactly as ``DailyTransport`` pushes an app message (``DailyInputTransportMessageFrame``), so the
bot's inbound validation and vote counting are the same code as in a real room.

Bounded: a line over :data:`MAX_LINE_BYTES` or past :data:`MAX_PENDING` waiting messages is
dropped and counted; a line that is not such an object is counted as ``malformed`` (the bot's
inbound validator judges the message itself).
"""

from __future__ import annotations

import os
import sys
import threading
from collections import Counter, deque
from typing import Any

import orjson
from loguru import logger

MAX_LINE_BYTES = 16 * 1024
"""Daily caps app messages at 4 KB; the sender id and framing fit well within this."""
MAX_PENDING = 256
"""Messages waiting for the next playback step; more are dropped (counted)."""
MAX_SENDER_CHARS = 128


class StdinMessages:
    """Reads ``{"senderId", "message"}`` lines on a daemon thread; the room drains them per step.

    A thread (not the event loop) reads, so a terminal or a pipe both work and the loop never
    blocks on stdin. It reads the raw file descriptor (``os.read``), not ``sys.stdin``: a daemon
    thread blocked inside a buffered reader aborts the interpreter at exit (it holds the reader's
    lock), one blocked in a system call does not. ``drain()`` is called from the loop; a lock keeps
    the deque consistent.
    """

    def __init__(self, fd: int | None = None) -> None:
        self._fd = fd
        self._pending: deque[tuple[str, Any]] = deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.dropped: Counter[str] = Counter()
        self.received = 0

    def start(self) -> None:
        """Start reading (idempotent)."""
        if self._thread is not None:
            return
        fd = self._fd if self._fd is not None else sys.stdin.fileno()
        self._thread = threading.Thread(target=self._read, args=(fd,), name="stdin-messages", daemon=True)
        self._thread.start()

    def feed(self, line: bytes) -> None:
        """Parse one line and queue its message (or count why not)."""
        if len(line) > MAX_LINE_BYTES:
            self._drop("too_large")
            return
        if not line.strip():
            return
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            self._drop("malformed")
            return
        sender = data.get("senderId") if isinstance(data, dict) else None
        if not isinstance(sender, str) or not 1 <= len(sender) <= MAX_SENDER_CHARS or "message" not in data:
            self._drop("malformed")
            return
        with self._lock:
            if len(self._pending) >= MAX_PENDING:
                self._drop("backlog_full")
                return
            self._pending.append((sender, data["message"]))
            self.received += 1

    def drain(self) -> list[tuple[str, Any]]:
        """Everything received since the last call: (sender id, message) in arrival order."""
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
        return items

    def _drop(self, reason: str) -> None:
        self.dropped[reason] += 1
        logger.warning(f"stdin messages: a line was dropped ({reason})")

    def _read(self, fd: int) -> None:
        buffer = b""
        skipping = False
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # stdin closed under us: nothing more will come
                return
            if not chunk:
                return
            buffer += chunk
            while True:
                end = buffer.find(b"\n")
                if end < 0:
                    break
                line, buffer = buffer[:end], buffer[end + 1 :]
                if skipping:
                    skipping = False
                    continue
                self.feed(line.rstrip(b"\r"))
            if len(buffer) > MAX_LINE_BYTES:  # a line that never ends: drop it up to its newline
                if not skipping:
                    self._drop("too_large")
                skipping = True
                buffer = b""
