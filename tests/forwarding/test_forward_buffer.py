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
