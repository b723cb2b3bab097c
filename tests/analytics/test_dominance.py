"""DominanceTracker (shares, Gini, dominant speaker, emission), MonologueDetector and Roster."""

from __future__ import annotations

import math
from itertools import pairwise

import pytest

from bot.analytics.dominance import (
    DominanceParams,
    DominanceTracker,
    MonologueDetector,
    MonologueParams,
    gini,
    shares,
)
from bot.analytics.roster import Roster

# --------------------------------------------------------------------------------------------
# Shares and Gini
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "talk_ms",
    [[1, 1, 1], [1000, 2000, 3000], [7, 11, 13, 17, 19], [1, 0, 0, 0], [333, 333, 334], [1] * 100, [10**9, 1, 1]],
    ids=["thirds", "ratios", "primes", "one-speaker", "near-thirds", "hundred", "huge-and-tiny"],
)
def test_shares_sum_to_one(talk_ms):
    fractions = shares(talk_ms)
    assert sum(round(f * 1_000_000) for f in fractions) == 1_000_000
    assert math.isclose(math.fsum(fractions), 1.0, abs_tol=1e-12)
    assert all(0.0 <= f <= 1.0 for f in fractions)
    for f, t in zip(fractions, talk_ms, strict=True):
        assert abs(f - t / sum(talk_ms)) <= 1e-6


def test_shares_are_all_zero_when_nobody_spoke():
    assert shares([0, 0, 0]) == [0.0, 0.0, 0.0]
    assert shares([]) == []


@pytest.mark.parametrize(
    ("talk_ms", "expected"),
    [
        ([5, 5, 5, 5], 0.0),
        ([10, 0, 0, 0], 0.75),
        ([10, 0], 0.5),
        ([1, 2, 3], 0.222222),
        ([0, 0, 0], 0.0),
        ([42], 0.0),
    ],
    ids=["equal", "one-of-four", "one-of-two", "graded", "silence", "alone"],
)
def test_gini(talk_ms, expected):
    assert gini(talk_ms) == pytest.approx(expected, abs=1e-6)


def test_silent_participants_count_in_gini():
    dt = DominanceTracker()
    for pid in ("a", "b", "c", "d"):
        dt.join(0, pid)
    dt.speaking(0, "a", True)
    dt.speaking(10_000, "a", False)
    (score,) = dt.finish(10_000)
    assert [p.participant_id for p in score.participants] == ["a", "b", "c", "d"]
    assert [p.talk_time_ms for p in score.participants] == [10_000, 0, 0, 0]
    assert score.gini == pytest.approx(0.75)


@pytest.mark.parametrize(("n", "enter"), [(2, 0.7), (3, 2 / 3), (4, 0.5), (8, 0.5)], ids=lambda v: str(v))
def test_dominance_threshold_depends_on_room_size(n, enter):
    assert DominanceParams().enter_share(n) == pytest.approx(enter)


# --------------------------------------------------------------------------------------------
# Emission
# --------------------------------------------------------------------------------------------


def ticks(dt: DominanceTracker, start: int, end: int, step: int = 100) -> list:
    out = []
    for t in range(start, end + 1, step):
        out += dt.tick(t)
    return out


def test_dominance_is_not_emitted_on_every_tick():
    dt = DominanceTracker()
    dt.join(0, "a")
    dt.join(0, "b")
    dt.speaking(0, "a", True)
    scores = ticks(dt, 100, 60_000)  # 600 ticks, a talking all along
    assert 1 <= len(scores) <= 60_000 // DominanceParams().min_interval_ms
    gaps = [b.media_time_ms - a.media_time_ms for a, b in pairwise(scores)]
    assert all(g >= DominanceParams().min_interval_ms for g in gaps)


def test_change_beyond_threshold_is_emitted():
    dt = DominanceTracker()
    dt.join(0, "a")
    dt.join(0, "b")
    dt.speaking(0, "a", True)
    first = ticks(dt, 100, 100)
    assert [s.trigger for s in first] == ["change"]
    dt.speaking(5_000, "a", False)
    dt.speaking(5_000, "b", True)
    scores = ticks(dt, 200, 10_000)
    assert [s.trigger for s in scores] == ["change"]
    # The first tick at which b's share has moved 5 points (0.3 s of 5.3 s).
    assert scores[0].media_time_ms == 5_300
    assert scores[0].participants[1].share == pytest.approx(300 / 5_300, abs=1e-6)


def test_small_changes_wait_for_the_periodic_score():
    dt = DominanceTracker()
    dt.join(0, "a")
    dt.join(0, "b")
    dt.speaking(0, "a", True)
    dt.speaking(0, "b", True)  # both talk all the time: shares stay 0.5 / 0.5
    scores = ticks(dt, 100, 46_000)
    assert [(s.trigger, s.media_time_ms) for s in scores] == [
        ("change", 100),
        ("periodic", 15_100),
        ("periodic", 30_100),
        ("periodic", 45_100),
    ]


def test_periodic_score_flows_even_in_silence():
    dt = DominanceTracker()
    dt.join(0, "a")
    scores = ticks(dt, 100, 15_000)
    assert [(s.trigger, s.window_ms) for s in scores] == [("periodic", 15_000)]
    assert scores[0].participants[0].share == 0.0


def test_final_score_covers_whole_session():
    dt = DominanceTracker()
    dt.join(0, "a")
    dt.join(0, "b")
    dt.speaking(1_000, "a", True)
    dt.speaking(4_000, "a", False)
    dt.speaking(5_000, "b", True)  # still talking when the room ends
    ticks(dt, 100, 7_900)
    (final,) = dt.finish(8_000)
    assert final.trigger == "final"
    assert final.window_ms == 8_000
    assert {p.participant_id: p.talk_time_ms for p in final.participants} == {"a": 3_000, "b": 3_000}
    assert dt.finish(9_000) == [] and dt.tick(9_000) == []  # once


def test_dominant_participant_has_hysteresis():
    params = DominanceParams(min_total_talk_ms=0, min_interval_ms=0)
    dt = DominanceTracker(params)
    for pid in ("a", "b", "c", "d"):
        dt.join(0, pid)
    dt.speaking(0, "a", True)
    dt.speaking(6_000, "a", False)
    dt.speaking(6_000, "b", True)
    dt.speaking(10_000, "b", False)
    dt.tick(10_000)
    assert dt.dominant_participant_id == "a"  # 6/10 = 0.6 >= 0.5
    dt.speaking(10_000, "c", True)
    dt.speaking(12_500, "c", False)
    dt.tick(12_500)
    assert dt.dominant_participant_id == "a"  # 6/12.5 = 0.48: below 0.5, above 0.45
    dt.speaking(12_500, "d", True)
    dt.speaking(14_000, "d", False)
    dt.tick(14_000)
    assert dt.dominant_participant_id is None  # 6/14 = 0.43 < 0.45


def test_nobody_dominates_the_first_seconds():
    dt = DominanceTracker()
    dt.join(0, "a")
    dt.join(0, "b")
    dt.speaking(0, "a", True)
    (score,) = dt.tick(5_000)
    assert score.participants[0].share == 1.0
    assert score.dominant_participant_id is None  # less than 10 s of talk in the room
    dt.tick(10_000)
    assert dt.dominant_participant_id == "a"


def test_talk_time_on_leave_includes_the_open_segment():
    dt = DominanceTracker()
    dt.join(0, "a")
    dt.speaking(1_000, "a", True)
    dt.speaking(2_000, "a", False)
    dt.speaking(3_000, "a", True)
    assert dt.leave(4_500, "a") == 2_500
    (final,) = dt.finish(10_000)
    assert final.participants[0].talk_time_ms == 2_500  # still in the session's score


def test_stop_without_a_start_counts_its_duration_once():
    dt = DominanceTracker()
    dt.speaking(3_000, "a", False, duration_ms=1_200)  # the bot joined mid-segment
    dt.speaking(3_100, "a", False, duration_ms=1_300)  # a repeated stop adds nothing
    assert dt.talk_time_ms("a", 5_000) == 1_200


# --------------------------------------------------------------------------------------------
# Monologue
# --------------------------------------------------------------------------------------------


def run_monologue(segments: list[tuple[str, int, int]], end_ms: int, params: MonologueParams | None = None):
    md = MonologueDetector(params)
    events = sorted([(s, 1, pid, True) for pid, s, _ in segments] + [(e, 0, pid, False) for pid, _, e in segments])
    out = []
    i = 0
    for t in range(0, end_ms + 1, 100):
        while i < len(events) and events[i][0] <= t:
            at, _, pid, speaking = events[i]
            md.speaking(at, pid, speaking)
            i += 1
        out += md.tick(t)
    return out


MONOLOGUES = [
    # id, segments, end, expected [(target, media time)]
    ("one-long-turn", [("a", 1_000, 20_000)], 20_000, [("a", 16_000)]),
    ("short-pauses-bridged", [("a", 0, 5_000), ("a", 6_000, 11_000), ("a", 12_400, 20_000)], 20_000, [("a", 15_000)]),
    ("long-pause-restarts", [("a", 0, 10_000), ("a", 12_000, 20_000)], 20_000, []),
    ("backchannels-tolerated", [("a", 0, 20_000), ("b", 5_000, 5_300), ("c", 9_000, 9_900)], 20_000, [("a", 15_000)]),
    ("someone-else-took-a-turn", [("a", 0, 9_000), ("b", 9_200, 12_000), ("a", 12_500, 22_000)], 22_000, []),
    ("talking-over-a-real-turn", [("a", 0, 25_000), ("b", 5_000, 8_000)], 25_000, [("a", 23_000)]),
    ("short-turns", [("a", 0, 4_000), ("b", 4_200, 8_000), ("a", 8_200, 12_000)], 12_000, []),
]


@pytest.mark.parametrize(("segments", "end", "expected"), [m[1:] for m in MONOLOGUES], ids=[m[0] for m in MONOLOGUES])
def test_monologue_request(segments, end, expected):
    requests = run_monologue(segments, end)
    assert [(r.target_participant_id, r.media_time_ms) for r in requests] == expected
    assert all(r.reason == "monologue" and r.monologue_ms >= 15_000 for r in requests)


def test_monologue_is_requested_once_then_again_after_30_s():
    requests = run_monologue([("a", 0, 80_000)], 80_000)
    assert [r.monologue_ms for r in requests] == [15_000, 45_000, 75_000]


def test_monologue_once_per_turn_when_repeat_is_off():
    requests = run_monologue([("a", 0, 80_000)], 80_000, MonologueParams(repeat_ms=0))
    assert [r.monologue_ms for r in requests] == [15_000]


def test_monologue_not_requested_during_a_pause():
    md = MonologueDetector()
    md.speaking(0, "a", True)
    md.speaking(14_900, "a", False)
    assert md.tick(15_500) == []  # a is silent (within the 1.5 s bridge)
    md.speaking(15_800, "a", True)
    (request,) = md.tick(15_900)
    assert request.monologue_ms == 15_900


# --------------------------------------------------------------------------------------------
# Roster (owned by the Dominance processor: a leave carries the tracker's talk time)
# --------------------------------------------------------------------------------------------


def test_roster_reports_joins_and_leaves_once():
    roster = Roster()
    joined = roster.join(0, "p-alice", "Alice")
    assert joined is not None and joined.display_name == "Alice"
    assert roster.join(100, "p-alice", "Alice") is None
    left = roster.leave(5_000, "p-alice", talk_time_ms=1_234)
    assert (left.participant_id, left.display_name, left.talk_time_ms, left.media_time_ms) == (
        "p-alice",
        "Alice",
        1_234,
        5_000,
    )
    assert roster.leave(5_100, "p-alice", talk_time_ms=1_234) is None
    assert roster.present == []


def test_roster_reports_a_leave_it_never_saw_join():
    left = Roster().leave(5_000, "p-early", talk_time_ms=0)
    assert left is not None and left.display_name is None


@pytest.mark.parametrize("pid", ["", "x" * 129], ids=["empty", "too-long"])
def test_roster_ignores_unusable_ids(pid):
    assert Roster().join(0, pid, "X") is None


def test_roster_truncates_long_names():
    joined = Roster().join(0, "p", "n" * 500)
    assert joined is not None and len(joined.display_name) == 200
