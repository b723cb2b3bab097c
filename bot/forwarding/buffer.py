"""A bounded buffer of pending entries, fair across flows (rooms), with priority eviction.

Every entry belongs to a *flow*: in the supervisor a room, in a bot its session. The buffer is
bounded by entry count and bytes for all flows together; what gives way when it is full is decided
so that one flow's volume never costs another flow its entries:

1. **Heavier flows give way first.** A new entry of flow F may evict an entry of flow L only when L
   holds more of the buffer than F will once the new entry is in (max of the count and byte shares):
   "longest queue drop". A flow within its fair share never loses an entry to another flow, however
   much that other flow sends; a flood fills the buffer and then evicts only itself.
2. **Within the victim flow, the lowest priority goes first, oldest first.** An entry evicted by its
   own flow is of the same or a lower priority than the new one; a new entry of lower priority than
   everything its own flow holds (and with no heavier flow to take from) is refused.
3. **Protected entries** (``critical``: the session's lifecycle; and the summary topics the
   forwarder marks ``protected``: see ``SUMMARY_TOPICS`` in ``forwarder.py``) are never evicted by
   their flow's ordinary entries, and never by another flow's entries while their flow holds at
   most ``protected_per_flow`` of them (a flow flooding summaries past that is treated as any
   heavy flow). ``critical`` entries are never evicted at all: when nothing else can give way, a new
   critical one is admitted over the bound (a handful per session).

``take`` is fair too: critical entries of every flow first (oldest first), then one entry per flow
in turn (round robin, the starting flow rotating between calls), each flow's highest priority
first. A flood therefore delays a quiet room's entries by at most one entry per turn.

Every eviction and refusal is returned to the caller to count and report; nothing disappears
silently.
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
DEFAULT_PROTECTED_PER_FLOW = 64
"""Summary entries per flow that no other flow can evict (a session has a few dozen at most)."""


@dataclass(eq=False)
class Item:
    """One entry waiting for delivery. ``flow`` is its room (or session); ``protected`` marks a summary."""

    entry: dict[str, Any]
    size: int
    topic: str
    priority: str
    envelope_id: str
    ts: int
    enqueued: float
    attempts: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    flow: str = ""
    protected: bool = False
    order: int = 0
    """Arrival number, set by the buffer: older entries have smaller numbers (retries keep theirs)."""


class _Flow:
    """One flow's entries: per priority, ordinary and protected queues (each oldest first)."""

    __slots__ = ("bytes", "len", "ordinary", "protected", "protected_len")

    def __init__(self) -> None:
        self.ordinary: tuple[deque[Item], ...] = tuple(deque() for _ in PRIORITIES)
        self.protected: tuple[deque[Item], ...] = tuple(deque() for _ in PRIORITIES)
        self.len = 0
        self.bytes = 0
        self.protected_len = 0  # protected, not critical (critical sit in ordinary[0], never evicted)

    def queue_for(self, item: Item) -> deque[Item]:
        rank = RANK[item.priority]
        return self.protected[rank] if item.protected and rank else self.ordinary[rank]

    def best(self) -> deque[Item] | None:
        """The queue whose head goes next: highest priority, then oldest."""
        for rank in range(len(PRIORITIES)):
            a, b = self.ordinary[rank], self.protected[rank]
            if a and b:
                return a if a[0].order < b[0].order else b
            if a or b:
                return a or b
        return None

    def lowest(self, queues: tuple[deque[Item], ...], down_to: int) -> deque[Item] | None:
        """The non-empty queue of the lowest priority, not above rank ``down_to`` (critical never)."""
        for rank in range(len(PRIORITIES) - 1, max(down_to, 1) - 1, -1):
            if queues[rank]:
                return queues[rank]
        return None


class PriorityBuffer:
    """Bounded by entry count and total bytes across flows; see the module docstring for what gives way."""

    def __init__(
        self,
        *,
        max_entries: int = 2048,
        max_bytes: int = 16 * 1024 * 1024,
        protected_per_flow: int = DEFAULT_PROTECTED_PER_FLOW,
    ) -> None:
        if max_entries < 1 or max_bytes < 1:
            raise ValueError("the buffer must hold at least one entry")
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.protected_per_flow = protected_per_flow
        self._flows: dict[str, _Flow] = {}
        self._by_rank = [0] * len(PRIORITIES)
        self._len = 0
        self._bytes = 0
        self._arrivals = 0
        self._turn = 0

    def __len__(self) -> int:
        return self._len

    @property
    def bytes(self) -> int:
        return self._bytes

    @property
    def fill_ratio(self) -> float:
        return max(self._len / self.max_entries, self._bytes / self.max_bytes)

    def flow_len(self, flow: str) -> int:
        """Entries buffered for ``flow``."""
        f = self._flows.get(flow)
        return f.len if f is not None else 0

    def has_urgent(self) -> bool:
        return bool(self._by_rank[0] or self._by_rank[1])

    def oldest_enqueued(self) -> float | None:
        heads = [q[0].enqueued for f in self._flows.values() for q in (*f.ordinary, *f.protected) if q]
        return min(heads) if heads else None

    def push(self, item: Item, *, front: bool = False) -> tuple[bool, list[Item]]:
        """Add ``item`` (at the head of its queue when it is a retry).

        Returns ``(admitted, evicted)``: whether ``item`` was admitted, and the entries that gave
        way for it (refused ``item`` is not in ``evicted``).
        """
        if not item.order:
            self._arrivals += 1
            item.order = self._arrivals
        evicted: list[Item] = []
        while self._len >= self.max_entries or self._bytes + item.size > self.max_bytes:
            if not self._len:
                break  # one entry larger than the byte bound: the caller's size check prevents it
            queue = self._victim_queue(item)
            if queue is None:
                if item.priority == "critical":
                    break  # nothing else can give way: admit over the bound
                return False, evicted
            evicted.append(self._pop(queue))
        flow = self._flows.get(item.flow)
        if flow is None:
            flow = self._flows[item.flow] = _Flow()
        queue = flow.queue_for(item)
        if front:
            queue.appendleft(item)
        else:
            queue.append(item)
        self._count(flow, item, +1)
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
        """Up to ``max_entries`` entries whose sizes total less than ``max_bytes``: critical ones
        first, then one per flow in turn (each flow's highest priority first)."""
        batch: list[Item] = []
        total = 0
        while len(batch) < max_entries:  # 1. critical, oldest first across flows
            heads = [f.ordinary[0] for f in self._flows.values() if f.ordinary[0]]
            if not heads:
                break
            oldest = min(heads, key=lambda q: q[0].order)
            if total + oldest[0].size >= max_bytes and batch:
                return batch
            total += oldest[0].size
            batch.append(self._pop(oldest))
        names = list(self._flows)
        if names:
            start = self._turn % len(names)
            names = names[start:] + names[:start]
            self._turn += 1
        while len(batch) < max_entries and names:  # 2. round robin
            still: list[str] = []
            for name in names:
                if len(batch) >= max_entries:
                    break
                flow = self._flows.get(name)
                queue = flow.best() if flow is not None else None
                if queue is None:
                    continue
                if total + queue[0].size >= max_bytes and batch:
                    return batch
                total += queue[0].size
                batch.append(self._pop(queue))
                still.append(name)
            names = still
        return batch

    def drain(self) -> list[Item]:
        """Everything still buffered (the buffer is then empty)."""
        items = [item for f in self._flows.values() for q in (*f.ordinary, *f.protected) for item in q]
        items.sort(key=lambda i: i.order)
        self._flows.clear()
        self._by_rank = [0] * len(PRIORITIES)
        self._len = 0
        self._bytes = 0
        return items

    def ready_batch(self, max_entries: int, max_bytes: int) -> bool:
        """Whether a full batch is waiting (by count or by bytes)."""
        return self._len >= max_entries or self._bytes >= max_bytes

    # ---- internals
    def _share(self, flow: _Flow | None, extra: Item | None = None) -> float:
        n = (flow.len if flow else 0) + (1 if extra else 0)
        b = (flow.bytes if flow else 0) + (extra.size if extra else 0)
        return max(n / self.max_entries, b / self.max_bytes)

    def _victim_queue(self, item: Item) -> deque[Item] | None:
        """The queue whose head gives way for ``item``, or ``None`` (see the module docstring)."""
        own = self._flows.get(item.flow)
        own_share = self._share(own, item)
        heavier = [f for name, f in self._flows.items() if name != item.flow and self._share(f) > own_share]
        heavier.sort(key=self._share, reverse=True)
        for flow in heavier:  # rule 1: a heavier flow gives way, its lowest priority first
            queue = flow.lowest(flow.ordinary, 1)
            if queue is None and flow.protected_len > self.protected_per_flow:
                queue = flow.lowest(flow.protected, 1)
            if queue is not None:
                return queue
        if own is None:
            return None
        rank = RANK[item.priority]
        queue = own.lowest(own.ordinary, rank)  # rule 2: the same or a lower priority of its own flow
        if queue is None and (item.protected or rank == 0):
            queue = own.lowest(own.protected, rank)  # rule 3: a newer summary replaces an older one
        return queue

    def _pop(self, queue: deque[Item]) -> Item:
        item = queue.popleft()
        flow = self._flows[item.flow]
        self._count(flow, item, -1)
        if not flow.len:
            del self._flows[item.flow]
        return item

    def _count(self, flow: _Flow, item: Item, sign: int) -> None:
        flow.len += sign
        flow.bytes += sign * item.size
        if item.protected and item.priority != "critical":
            flow.protected_len += sign
        self._by_rank[RANK[item.priority]] += sign
        self._len += sign
        self._bytes += sign * item.size
