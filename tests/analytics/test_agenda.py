"""AgendaTracker: time boxes, topic-shift suggestions, the wrap-up prompt."""

from __future__ import annotations

import pytest

from bot.analytics.agenda import AgendaItem, AgendaParams, AgendaTracker, agenda_items, wrapup_message
from bot.generated.models import RoomTopicShiftSuggested, RoomWrapupPrompt

DEMO = [AgendaItem("Release status", 27_000), AgendaItem("Risks", 17_000), AgendaItem("Decision", 12_000)]


def run(tracker: AgendaTracker, end_ms: int, step: int = 100) -> list:
    out = []
    for t in range(step, end_ms + 1, step):
        out += tracker.tick(t)
    return out


def shifts(events: list) -> list[tuple[str, str | None, int]]:
    return [(e.current_item, e.next_item, e.media_time_ms) for e in events if isinstance(e, RoomTopicShiftSuggested)]


def test_topic_shift_is_suggested_once_per_item_when_its_time_box_runs_out():
    events = run(AgendaTracker(DEMO), 70_000)
    assert shifts(events) == [
        ("Release status", "Risks", 27_000),
        ("Risks", "Decision", 44_000),
        ("Decision", None, 56_000),
    ]
    first = events[0]
    assert (first.reason, first.elapsed_ms, first.timebox_ms) == ("time_box", 27_000, 27_000)


def test_current_item_follows_the_clock():
    tracker = AgendaTracker(DEMO)
    assert tracker.current_item.title == "Release status"
    run(tracker, 30_000)
    assert tracker.current_item.title == "Risks"
    run(tracker, 60_000)
    assert tracker.current_item is None


def test_a_clock_jump_suggests_each_skipped_item():
    events = AgendaTracker(DEMO).tick(50_000)
    assert [(e.current_item, e.elapsed_ms) for e in events if isinstance(e, RoomTopicShiftSuggested)] == [
        ("Release status", 50_000),
        ("Risks", 23_000),
    ]


def test_advance_starts_the_next_time_box_now():
    tracker = AgendaTracker(DEMO)
    run(tracker, 10_000)
    tracker.advance(10_000)
    assert tracker.current_item.title == "Risks"
    assert shifts(run(tracker, 30_000)) == [("Risks", "Decision", 27_000)]


WRAPUPS = [
    # id, items, params, expected (media time of the prompt, remaining)
    ("demo-20-percent", DEMO, AgendaParams(), (44_800, 11_200)),
    ("hour-long-2-minutes", [AgendaItem("All", 3_600_000)], AgendaParams(), (3_480_000, 120_000)),
    ("explicit-lead", DEMO, AgendaParams(wrapup_lead_ms=30_000), (26_000, 30_000)),
    ("explicit-duration", [], AgendaParams(meeting_duration_ms=100_000), (80_000, 20_000)),
    ("late-start", DEMO, AgendaParams(start_ms=10_000), (54_800, 11_200)),
]


@pytest.mark.parametrize(("items", "params", "expected"), [w[1:] for w in WRAPUPS], ids=[w[0] for w in WRAPUPS])
def test_wrapup_is_prompted_once_before_the_end(items, params, expected):
    tracker = AgendaTracker(items, params)
    prompts = [e for e in run(tracker, 3_700_000, step=100) if isinstance(e, RoomWrapupPrompt)]
    assert [(p.media_time_ms, p.remaining_ms) for p in prompts] == [expected]
    assert prompts[0].message == wrapup_message(expected[1])


def test_no_wrapup_once_the_meeting_is_over():
    tracker = AgendaTracker(DEMO)
    assert [e for e in tracker.tick(60_000) if isinstance(e, RoomWrapupPrompt)] == []


def test_no_agenda_no_events():
    assert run(AgendaTracker([]), 600_000) == []


@pytest.mark.parametrize(
    ("remaining", "words"),
    [(11_200, "About 11 seconds left."), (1_000, "About 1 second left."), (120_000, "About 2 minutes left.")],
    ids=["seconds", "one-second", "minutes"],
)
def test_wrapup_message_says_the_time_left(remaining, words):
    assert wrapup_message(remaining).startswith(words)


def test_agenda_items_from_dicts_and_objects():
    items = agenda_items([{"title": "A", "timeboxMs": 1_000}, {"title": "B", "timebox_ms": 2_000}, AgendaItem("C", 3)])
    assert items == (AgendaItem("A", 1_000), AgendaItem("B", 2_000), AgendaItem("C", 3))


@pytest.mark.parametrize(
    ("title", "timebox"),
    [("", 1_000), ("  ", 1_000), ("x" * 201, 1_000), ("A", 0), ("A", -5), ("A", 1.5), ("A", True)],
    ids=["empty", "blank", "long-title", "zero", "negative", "float", "bool"],
)
def test_bad_agenda_items_are_refused(title, timebox):
    with pytest.raises(ValueError):
        AgendaItem(title, timebox)
