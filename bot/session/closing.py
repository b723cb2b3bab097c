"""Leaving the room, after the end is out, within a bounded time.

A container platform sends SIGTERM and kills the process 10 s later (Docker's and Pipecat Cloud's
default grace). The session's end, ``assistant.session.ended`` with its totals, is published
before the room is left, so a slow leave can never cost it; and the leave itself (Daily's
``leave()``, then releasing the client, both of which can block in daily-core) is bounded by
:data:`CLOSE_BUDGET_SECS`. From SIGTERM to exit: at most ``GRACE_SECS`` (1.5 s, the pipeline's
flush) + :data:`CLOSE_BUDGET_SECS` (4 s) + a little, far inside 10 s; usually well under 2 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from loguru import logger

__all__ = ["CLOSE_BUDGET_SECS", "close_room"]

CLOSE_BUDGET_SECS = 4.0
"""Longest the room's close may take (leave and release); past it the process exits anyway."""


async def close_room(room: Any, *, budget_s: float = CLOSE_BUDGET_SECS) -> float:
    """Close ``room`` (if it has a ``close``) within ``budget_s``; return the seconds it took.

    Never raises: the end is already out, and a failed or slow leave only costs a log line
    (Daily ends the bot's presence itself when the process is gone)."""
    close = getattr(room, "close", None)
    if close is None:
        return 0.0
    t0 = time.monotonic()
    try:
        try:
            await asyncio.wait_for(close(timeout_s=budget_s), timeout=budget_s + 0.5)
        except TypeError:  # a room whose close takes no budget
            await asyncio.wait_for(close(), timeout=budget_s)
    except TimeoutError:
        logger.warning(f"leaving the room took longer than {budget_s:g}s; exiting without waiting for it")
    except Exception as exc:
        logger.warning(f"leaving the room failed: {type(exc).__name__}: {exc}")
    return time.monotonic() - t0
