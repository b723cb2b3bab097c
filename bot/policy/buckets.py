"""Rate limiting on media time: token buckets and a sliding-window counter. Integer arithmetic only."""

from __future__ import annotations

from collections import deque

from bot.policy.model import TokenBucketSpec

__all__ = ["SlidingWindow", "TokenBucket"]


class TokenBucket:
    """Envoy-style token bucket on media time: starts full, ``refill_tokens`` every ``refill_every_ms``.

    Refills are discrete (whole intervals since the first take), so the outcome depends only on
    the media times given, never on the wall clock or on float rounding. Time going backwards
    (frames slightly out of media order) refills nothing.

    Example::

        bucket = TokenBucket(TokenBucketSpec(capacity=2, refill_every_ms=1000))
        [bucket.take(0), bucket.take(0), bucket.take(0), bucket.take(1000)]   # [True, True, False, True]
    """

    def __init__(self, spec: TokenBucketSpec) -> None:
        self.spec = spec
        self.tokens = spec.capacity
        self._anchor: int | None = None

    def _refill(self, now_ms: int) -> None:
        if self._anchor is None:
            self._anchor = now_ms
            return
        if now_ms <= self._anchor:
            return
        fills = (now_ms - self._anchor) // self.spec.refill_every_ms
        if fills:
            self.tokens = min(self.spec.capacity, self.tokens + fills * self.spec.refill_tokens)
            self._anchor += fills * self.spec.refill_every_ms

    def take(self, now_ms: int, n: int = 1) -> bool:
        """Take ``n`` tokens at ``now_ms``; False (and nothing taken) when there are not enough."""
        self._refill(int(now_ms))
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


class SlidingWindow:
    """At most ``limit`` events in any ``window_ms`` of media time."""

    def __init__(self, limit: int, window_ms: int = 60_000) -> None:
        self.limit = limit
        self.window_ms = window_ms
        self._times: deque[int] = deque()

    def full(self, now_ms: int) -> bool:
        """True when ``limit`` events already fall in the window ending at ``now_ms``."""
        while self._times and self._times[0] <= now_ms - self.window_ms:
            self._times.popleft()
        return len(self._times) >= self.limit

    def add(self, now_ms: int) -> None:
        """Count an event at ``now_ms``."""
        self._times.append(now_ms)

    def allow(self, now_ms: int) -> bool:
        """Count an event at ``now_ms`` if the window has room; False (not counted) otherwise."""
        if self.full(now_ms):
            return False
        self.add(now_ms)
        return True
