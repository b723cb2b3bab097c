"""Bounded logging per room: a bot (or what it relays) must not be able to flood the supervisor's log.

:class:`LogBudget` (``bot.core.log_budget``, shared with the bot's forwarder) lets the first
``burst`` lines of a kind through, then one line per ``every`` further ones, saying how many were
left out (they are all counted in the metrics); :class:`RateBudget` bounds a steady stream. One budget per
room and kind, so one room's flood never silences another room's lines.

Escaping (no line can move the cursor, retitle the terminal, write its clipboard or reorder what
an operator reads) and secret scrubbing happen once, for every record, in the log patcher that
``supervisor.app.configure_logging`` installs (:data:`LOG_SECRETS`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.config.secrets import SecretScrubber
from bot.core.log_budget import LogBudget

__all__ = ["LOG_SECRETS", "LogBudget", "RateBudget"]

LOG_SECRETS = SecretScrubber()
"""Every secret the supervisor knows (its environment's, its token and salt, each room's meeting
token as the room is created): masked in every log line, a bot's relayed stderr included."""


@dataclass
class RateBudget:
    """A token bucket for a steady stream (a bot's stderr): ``rate`` lines a second, bursts of
    ``burst``; what is left out is said on the next line that gets through."""

    rate: float = 50.0
    burst: float = 500.0
    _tokens: float = -1.0
    _at: float = 0.0
    _skipped: int = 0

    def take(self, now: float | None = None) -> tuple[bool, int]:
        now = time.monotonic() if now is None else now
        if self._tokens < 0:
            self._tokens, self._at = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            skipped, self._skipped = self._skipped, 0
            return True, skipped
        self._skipped += 1
        return False, 0
