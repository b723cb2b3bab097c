"""The bounded priority buffer: what gives way when it is full."""

from __future__ import annotations

import pytest

from bot.forwarding.buffer import Item, PriorityBuffer


def item(name: str, priority: str, size: int = 10) -> Item:
    return Item(entry={"name": name}, size=size, topic=name, priority=priority, envelope_id=name, ts=0, enqueued=0.0)


def names(items: list[Item]) -> list[str]:
    return [i.topic for i in items]


CASES = [
    # (buffered, new, admitted, evicted)
    ([("a", "low"), ("b", "low")], ("c", "low"), True, ["a"]),
    ([("a", "normal"), ("b", "low")], ("c", "high"), True, ["b"]),
    ([("a", "high"), ("b", "high")], ("c", "normal"), False, []),
    ([("a", "critical"), ("b", "normal")], ("c", "critical"), True, ["b"]),
    ([("a", "critical"), ("b", "critical")], ("c", "critical"), True, []),
    ([("a", "critical"), ("b", "critical")], ("c", "high"), False, []),
]


@pytest.mark.parametrize(
    ("buffered", "new", "admitted", "evicted"),
    CASES,
    ids=[
        "same-priority-oldest-goes",
        "lowest-goes-first",
        "lower-new-is-refused",
        "critical-evicts-non-critical",
        "critical-over-the-bound",
        "critical-is-never-evicted",
    ],
)
def test_what_gives_way_when_full(
    buffered: list[tuple[str, str]], new: tuple[str, str], admitted: bool, evicted: list[str]
) -> None:
    buf = PriorityBuffer(max_entries=2)
    for name, priority in buffered:
        assert buf.push(item(name, priority)) == (True, [])
    ok, gone = buf.push(item(*new))
    assert ok is admitted
    assert names(gone) == evicted


def test_the_byte_bound_evicts_too() -> None:
    buf = PriorityBuffer(max_entries=100, max_bytes=100)
    buf.push(item("a", "low", 60))
    ok, gone = buf.push(item("b", "normal", 60))
    assert ok and names(gone) == ["a"] and buf.bytes == 60


def test_take_is_priority_then_fifo_under_count_and_bytes() -> None:
    buf = PriorityBuffer()
    for name, priority in [("n1", "normal"), ("l1", "low"), ("h1", "high"), ("n2", "normal"), ("c1", "critical")]:
        buf.push(item(name, priority, 10))
    assert names(buf.take(3, 1000)) == ["c1", "h1", "n1"]
    assert names(buf.take(10, 15)) == ["n2"], "a second entry would reach the byte limit"
    assert names(buf.take(10, 1000)) == ["l1"] and len(buf) == 0 and buf.bytes == 0


def test_retries_go_back_to_the_head_in_order() -> None:
    buf = PriorityBuffer()
    buf.push(item("n3", "normal"))
    refused, evicted = buf.push_front_all([item("n1", "normal"), item("n2", "normal")])
    assert refused == [] and evicted == []
    assert names(buf.take(10, 1000)) == ["n1", "n2", "n3"]


def test_fill_ratio_and_urgency() -> None:
    buf = PriorityBuffer(max_entries=4)
    buf.push(item("a", "normal"))
    assert buf.fill_ratio == 0.25 and not buf.has_urgent()
    buf.push(item("b", "high"))
    assert buf.has_urgent()
    assert len(buf.drain()) == 2 and len(buf) == 0


def fitem(flow: str, name: str, priority: str = "high", *, protected: bool = False, size: int = 10) -> Item:
    it = item(name, priority, size)
    it.flow = flow
    it.protected = protected
    return it


def test_a_flooding_flow_evicts_only_itself() -> None:
    """Issue 11: a room's flood cost a quiet room its summaries. A flow within its share keeps everything."""
    buf = PriorityBuffer(max_entries=10)
    quiet = [fitem("quiet", f"q{i}", "normal") for i in range(3)]
    for it in quiet:
        assert buf.push(it) == (True, [])
    evicted: list[Item] = []
    for i in range(1000):
        ok, gone = buf.push(fitem("flood", f"f{i}", "high"))
        assert ok
        evicted.extend(gone)
    assert {it.flow for it in evicted} == {"flood"} and len(evicted) == 1000 - 7
    assert buf.flow_len("quiet") == 3 and buf.flow_len("flood") == 7
    ok, gone = buf.push(fitem("quiet", "q3", "low"))  # the quiet flow may still grow: the heavier one gives way
    assert ok and [it.flow for it in gone] == ["flood"]


def test_flows_of_equal_share_evict_their_own() -> None:
    buf = PriorityBuffer(max_entries=4)
    for name in ("a1", "a2"):
        buf.push(fitem("a", name, "normal"))
    for name in ("b1", "b2"):
        buf.push(fitem("b", name, "normal"))
    ok, gone = buf.push(fitem("b", "b3", "normal"))
    assert ok and names(gone) == ["b1"], "b is not lighter than a: it gives way itself"


def test_summaries_are_not_evicted_by_their_own_flows_noise() -> None:
    buf = PriorityBuffer(max_entries=4)
    buf.push(fitem("a", "vote.closed", "high", protected=True))
    buf.push(fitem("a", "shift", "normal", protected=True))
    for i in range(50):
        ok, gone = buf.push(fitem("a", f"violation{i}", "high"))
        assert ok and all(not it.protected for it in gone)
    assert {it.topic for it in buf.drain()} >= {"vote.closed", "shift"}


def test_another_flow_may_evict_summaries_only_past_the_protected_reserve() -> None:
    buf = PriorityBuffer(max_entries=6, protected_per_flow=3)
    for i in range(3):
        buf.push(fitem("votes", f"closed{i}", "high", protected=True))
    ok, gone = buf.push(fitem("quiet", "x0", "normal"))
    assert ok and gone == []
    for i in range(3, 5):
        buf.push(fitem("votes", f"closed{i}", "high", protected=True))
    # full: votes holds 5 summaries (2 over its reserve of 3), quiet 1
    ok, gone = buf.push(fitem("quiet", "x1", "normal"))
    assert ok and names(gone) == ["closed0"], "a flow flooding summaries past its reserve is a heavy flow"


def test_critical_entries_are_never_evicted_by_another_flow() -> None:
    buf = PriorityBuffer(max_entries=3)
    for name in ("started", "ended", "failed"):
        buf.push(fitem("a", name, "critical"))
    ok, gone = buf.push(fitem("b", "joined", "normal"))
    assert not ok and gone == []
    ok, gone = buf.push(fitem("b", "b-started", "critical"))
    assert ok and gone == [] and len(buf) == 4, "a critical entry is admitted over the bound"


def test_take_is_round_robin_across_flows_after_critical() -> None:
    buf = PriorityBuffer()
    for i in range(5):
        buf.push(fitem("flood", f"f{i}", "high"))
    buf.push(fitem("quiet", "q0", "normal"))
    buf.push(fitem("quiet", "q1", "low"))
    buf.push(fitem("other", "c0", "critical"))
    batch = names(buf.take(4, 10_000))
    assert batch[0] == "c0"
    assert "q0" in batch, "the quiet flow's entry goes in the first batch, not after the flood"
    assert batch.count("f0") + batch.count("f1") == 2
