"""A bounded buffer of pending entries with priority eviction.

Four FIFO queues, one per priority. When the buffer is full, the oldest entry of the lowest
priority present gives way to a new entry of the same or a higher priority; a new entry of a lower
priority than everything buffered is refused. ``critical`` entries are never evicted: when only
critical entries are buffered, a new critical one is admitted over the bound (they are the session's
lifecycle, a handful per session). Every eviction and refusal is returned to the caller to count and
report; nothing disappears silently.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

PRIORITIES = ("critical", "high", "normal", "low")
RANK = {p: i for i, p in enumerate(PRIORITIES)}
URGENT = frozenset({"critical", "high"})
"""Priorities that flush at once instead of waiting for the batch window."""


@dataclass(eq=False)
class Item:
    """One entry waiting for delivery."""

    entry: dict[str, Any]
    size: int
    topic: str
    priority: str
    envelope_id: str
    ts: int
    enqueued: float
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class PriorityBuffer:
    """Bounded by entry count and total bytes; see the module docstring for what gives way."""

    def __init__(self, *, max_entries: int = 2048, max_bytes: int = 16 * 1024 * 1024) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("the buffer must hold at least one entry")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._queues: tuple[deque[Item], ...] = tuple(deque() for _ in PRIORITIES)
        self._len = 0
        self._bytes = 0

    def __len__(self) -> int:
        return self._len

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def fill_ratio(self) -> float:
        return max(self._len / self.max_entries, self._bytes / self.max_bytes)

    def has_urgent(self) -> bool:
        return bool(self._queues[0] or self._queues[1])

    def oldest_enqueued(self) -> float | None:
        heads = [q[0].enqueued for q in self._queues if q]
        return min(heads) if heads else None

    def push(self, item: Item, *, front: bool = False) -> tuple[bool, list[Item]]:
        """Add ``item`` (at the head of its queue when it is a retry).

        Returns ``(admitted, evicted)``: whether ``item`` was admitted, and the entries that gave
        way for it (refused ``item`` is not in ``evicted``).
        """
        evicted: list[Item] = []
        rank = RANK[item.priority]
        while self._len >= self.max_entries or self._bytes + item.size > self.max_bytes:
            if not self._len:
                break  # one entry larger than the byte bound: the caller's size check prevents it
            victim_rank = self._lowest_evictable()
            if victim_rank is None:
                if item.priority == "critical":
                    break  # only critical entries buffered: admit over the bound
                return False, evicted
            if victim_rank < rank:
                return False, evicted  # everything buffered matters more than the new entry
            evicted.append(self._pop_oldest(victim_rank))
        queue = self._queues[rank]
        if front:
            queue.appendleft(item)
        else:
            queue.append(item)
        self._len += 1
        self._bytes += item.size
        return True, evicted

    def push_front_all(self, items: Iterable[Item]) -> tuple[list[Item], list[Item]]:
        """Put retries back at the head of their queues, in their original order.

        Returns ``(refused, evicted)``.
        """
        refused: list[Item] = []
        evicted: list[Item] = []
        for item in reversed(list(items)):
            ok, gone = self.push(item, front=True)
            evicted.extend(gone)
            if not ok:
                refused.append(item)
        return refused, evicted

    def take(self, max_entries: int, max_bytes: int) -> list[Item]:
        """Up to ``max_entries`` entries whose sizes total less than ``max_bytes``, highest priority first."""
        batch: list[Item] = []
        total = 0
        for queue in self._queues:
            while queue and len(batch) < max_entries:
                head = queue[0]
                if total + head.size >= max_bytes and batch:
                    return self._took(batch, total)
                queue.popleft()
                batch.append(head)
                total += head.size
            if len(batch) >= max_entries:
                break
        return self._took(batch, total)

    def drain(self) -> list[Item]:
        """Everything still buffered (the buffer is then empty)."""
        items = [item for queue in self._queues for item in queue]
        for queue in self._queues:
            queue.clear()
        self._len = 0
        self._bytes = 0
        return items

    def ready_batch(self, max_entries: int, max_bytes: int) -> bool:
        """Whether a full batch is waiting (by count or by bytes)."""
        return self._len >= max_entries or self._bytes >= max_bytes

    def _took(self, batch: list[Item], total: int) -> list[Item]:
        self._len -= len(batch)
        self._bytes -= total
        return batch

    def _lowest_evictable(self) -> int | None:
        for rank in range(len(PRIORITIES) - 1, 0, -1):  # low … high; critical (0) never
            if self._queues[rank]:
                return rank
        return None

    def _pop_oldest(self, rank: int) -> Item:
        queue = self._queues[rank]
        # retries sit at the head and are older than anything queued after them
        victim = queue.popleft()
        self._len -= 1
        self._bytes -= victim.size
        return victim
