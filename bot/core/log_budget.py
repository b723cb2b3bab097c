"""How many lines of one kind to log when a sender can repeat the cause without limit.

A flood of bad entries, bad lines or failing sends must not become a flood of log lines: the
first ``burst`` lines of a kind are logged, then one per ``every`` further ones, saying how many
were left out (the owner counts them all in its metrics). Used by the bot's forwarder and by the
supervisor, one budget per kind (and per room in the supervisor), so one flood never silences
another kind's lines.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LogBudget"]


@dataclass
class LogBudget:
    """The first ``burst`` lines, then one per ``every``.

    Example::

        budget = LogBudget(burst=10, every=1000)
        log, skipped = budget.take()
        if log:
            logger.warning("bad entry" + LogBudget.suffix(skipped))
    """

    burst: int = 20
    every: int = 1000
    seen: int = 0
    _skipped: int = 0

    def take(self) -> tuple[bool, int]:
        """``(log this one, lines left out since the last logged one)``."""
        self.seen += 1
        if self.seen <= self.burst or (self.seen - self.burst) % self.every == 0:
            skipped, self._skipped = self._skipped, 0
            return True, skipped
        self._skipped += 1
        return False, 0

    @staticmethod
    def suffix(skipped: int) -> str:
        """What to append to the logged line: how many like it were left out."""
        return f" ({skipped} more like it not logged)" if skipped else ""
