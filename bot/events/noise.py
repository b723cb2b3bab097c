"""Aggregation of events one participant causes over and over (rejections, violations).

A flooding browser must not turn each of its messages into an event: 10,000 bad vote casts made
9,885 ``events.inbound.rejected`` plus as many violations, and crowded every other room out of the
forwarding buffer (issue 11). Per key (participant, topic, rule or reason) the first
:data:`BURST` occurrences in a window are published as usual (a browser that sends a few bad
messages keeps each one's detail); the ones after them in the same window are only counted, and
one summary event with ``count`` (how many it stands for) and ``windowMs`` follows when the window
ends. So a participant costs at most ``BURST + 1`` events per key per window, whatever it sends.

Plain class on media time, no asyncio.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

__all__ = ["BURST", "MAX_KEYS", "WINDOW_MS", "NoiseAggregator", "Summary"]

WINDOW_MS = 10_000
"""Default aggregation window (media time)."""
BURST = 3
"""Occurrences per key and window published one by one: at most 4 events per key per 10 s."""
MAX_KEYS = 4_096
"""Keys tracked at once; past it, occurrences under new keys are only counted (``overflow``)."""


@dataclass(frozen=True)
class Summary:
    """The occurrences of ``key`` not published one by one in the window that started at ``start_ms``."""

    key: Hashable
    count: int
    start_ms: int
    window_ms: int


@dataclass
class _Window:
    start_ms: int
    admitted: int = 1
    suppressed: int = 0


class NoiseAggregator:
    """Decides which occurrences are published and summarizes the rest, per key and window.

    Example::

        noise = NoiseAggregator(window_ms=10_000, burst=1)
        noise.admit(("p-1", "schema"), 0)      # True: publish it
        noise.admit(("p-1", "schema"), 5)      # False: counted
        noise.due(10_000)                      # [Summary(key=("p-1", "schema"), count=1, ...)]
    """

    def __init__(self, window_ms: int = WINDOW_MS, max_keys: int = MAX_KEYS, burst: int = BURST) -> None:
        self.window_ms = max(1, int(window_ms))
        self.burst = max(1, int(burst))
        self.max_keys = max_keys
        self._windows: dict[Hashable, _Window] = {}
        self._pending: list[Summary] = []
        self.suppressed = 0
        self.overflow = 0

    def admit(self, key: Hashable, now_ms: int) -> bool:
        """True when this occurrence is to be published; False when it is only counted."""
        window = self._windows.get(key)
        if window is not None and now_ms - window.start_ms < self.window_ms and now_ms >= window.start_ms:
            if window.admitted < self.burst:
                window.admitted += 1
                return True
            window.suppressed += 1
            self.suppressed += 1
            return False
        if window is not None:
            self._close(key, window)
        elif len(self._windows) >= self.max_keys:
            self._expire(now_ms)
            if len(self._windows) >= self.max_keys:
                self.overflow += 1
                return False
        self._windows[key] = _Window(now_ms)
        return True

    def due(self, now_ms: int, *, final: bool = False) -> list[Summary]:
        """Summaries of windows that ended by ``now_ms`` (all of them when ``final``)."""
        self._expire(now_ms, final=final)
        out, self._pending = self._pending, []
        return out

    def _expire(self, now_ms: int, *, final: bool = False) -> None:
        for key in [k for k, w in self._windows.items() if final or now_ms - w.start_ms >= self.window_ms]:
            self._close(key, self._windows.pop(key))

    def _close(self, key: Hashable, window: _Window) -> None:
        self._windows.pop(key, None)
        if window.suppressed:
            self._pending.append(Summary(key, window.suppressed, window.start_ms, self.window_ms))
