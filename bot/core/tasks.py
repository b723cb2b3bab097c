"""Fire-and-forget tasks that cannot be garbage-collected mid-flight.

The event loop keeps only a weak reference to a task, so a task nobody holds may vanish before it
runs (asyncio docs, ``create_task``). Callbacks that cannot await (signal handlers, ``end()``) start
their work through :func:`spawn`, which holds each task until it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["spawn"]

T = TypeVar("T")

_running: set[asyncio.Task[Any]] = set()


def spawn(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Schedule ``coro`` on the running loop and keep a strong reference until it finishes."""
    task = asyncio.get_event_loop().create_task(coro)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task
