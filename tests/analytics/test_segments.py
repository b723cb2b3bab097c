"""SegmentLog, Segment, overlap_ms and the BackchannelRule shared by overlaps, pacing and monologues."""

from __future__ import annotations

import pytest

from bot.analytics.dominance import MonologueParams
from bot.analytics.overlaps import OverlapParams
from bot.analytics.pacing import PacingParams
from bot.analytics.segments import BackchannelRule, Segment, SegmentLog, overlap_ms

# --------------------------------------------------------------------------------------------
# Backchannel rule
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "measured_ms", "fits"),
    [
        (BackchannelRule(), 300, True),
        (BackchannelRule(), 1_250, True),  # 1000 ms plus 250 ms of VAD slack
        (BackchannelRule(), 1_251, False),
        (BackchannelRule(max_ms=200, jitter_ms=0), 200, True),
        (BackchannelRule(max_ms=200, jitter_ms=0), 201, False),
        (BackchannelRule(max_ms=0, jitter_ms=0), 0, True),
    ],
    ids=["yeah", "at-cap", "past-cap", "strict-at-max", "strict-past-max", "zero"],
)
def test_backchannel_is_a_segment_no_longer_than_max_plus_jitter(rule, measured_ms, fits):
    assert rule.fits(measured_ms) is fits
    assert rule.cap_ms == rule.max_ms + rule.jitter_ms


def test_overlaps_pacing_and_monologues_share_one_default_backchannel_rule():
    assert BackchannelRule() == BackchannelRule(max_ms=1_000, jitter_ms=250)
    assert (
        OverlapParams().backchannel == PacingParams().backchannel == MonologueParams().backchannel == BackchannelRule()
    )


@pytest.mark.parametrize("kwargs", [{"max_ms": -1}, {"jitter_ms": -1}], ids=["max", "jitter"])
def test_negative_backchannel_rule_is_refused(kwargs):
    with pytest.raises(ValueError, match="BackchannelRule"):
        BackchannelRule(**kwargs)


def test_params_still_refuse_their_own_negative_fields():
    with pytest.raises(ValueError, match="OverlapParams: settle_ms"):
        OverlapParams(settle_ms=-1)
    with pytest.raises(ValueError, match="MonologueParams: pause_ms"):
        MonologueParams(pause_ms=-1)


# --------------------------------------------------------------------------------------------
# Recording segments
# --------------------------------------------------------------------------------------------


def replay(steps: list[tuple]) -> SegmentLog:
    """Apply ``("start", at)`` / ``("stop", at[, duration_ms])`` steps to a fresh log."""
    log = SegmentLog()
    for name, *args in steps:
        getattr(log, name)(*args)
    return log


def spans(log: SegmentLog) -> list[tuple[int, int | None]]:
    return [(s.start, s.end) for s in log.segments]


RECORDING = [
    # id, steps, segments afterwards, speaking afterwards
    ("nothing-yet", [], [], False),
    ("open", [("start", 1_000)], [(1_000, None)], True),
    ("closed", [("start", 1_000), ("stop", 2_500)], [(1_000, 2_500)], False),
    ("repeated-start-ignored", [("start", 1_000), ("start", 1_400), ("stop", 2_500)], [(1_000, 2_500)], False),
    ("repeated-stop-ignored", [("start", 1_000), ("stop", 2_500), ("stop", 2_900)], [(1_000, 2_500)], False),
    ("stop-before-start-is-empty", [("start", 1_000), ("stop", 900)], [(1_000, 1_000)], False),
    (
        "onset-traced-back-before-previous-stop",
        [("start", 0), ("stop", 2_000), ("start", 1_800)],
        [(0, 2_000), (2_000, None)],
        True,
    ),
    ("joined-mid-segment", [("stop", 3_000, 1_200)], [(1_800, 3_000)], False),
    ("joined-mid-segment-clipped-at-zero", [("stop", 500, 1_200)], [(0, 500)], False),
    ("stop-without-length-adds-nothing", [("stop", 3_000)], [], False),
    (
        "duration-only-before-anything-heard",
        [("start", 0), ("stop", 1_000), ("stop", 3_000, 1_200)],
        [(0, 1_000)],
        False,
    ),
]


@pytest.mark.parametrize(("steps", "expected", "speaking"), [r[1:] for r in RECORDING], ids=[r[0] for r in RECORDING])
def test_segments_follow_starts_and_stops(steps, expected, speaking):
    log = replay(steps)
    assert spans(log) == expected
    assert log.speaking is speaking
    assert log.last == (log.segments[-1] if expected else None)


def test_start_and_stop_return_the_segment_they_changed():
    log = SegmentLog()
    opened = log.start(1_000)
    assert opened == Segment(1_000, None)
    assert log.start(1_100) is None
    assert log.stop(2_000) is opened and opened.end == 2_000
    assert log.stop(2_100) is None


@pytest.mark.parametrize(
    ("segment", "horizon", "end"),
    [(Segment(1_000, 2_000), 5_000, 2_000), (Segment(1_000), 5_000, 5_000), (Segment(1_000), 400, 1_000)],
    ids=["closed", "open-runs-to-horizon", "open-never-before-start"],
)
def test_open_segment_ends_at_the_horizon(segment, horizon, end):
    assert segment.end_at(horizon) == end


# --------------------------------------------------------------------------------------------
# Reading segments
# --------------------------------------------------------------------------------------------

TWO = [("start", 1_000), ("stop", 2_000), ("start", 3_000), ("stop", 4_000)]


@pytest.mark.parametrize(
    ("steps", "at", "covered"),
    [
        (TWO, 1_000, False),  # the onset instant itself is not covered: (start, end]
        (TWO, 1_001, True),
        (TWO, 2_000, True),  # the end instant is
        (TWO, 2_001, False),
        (TWO, 3_500, True),
        (TWO, 4_500, False),
        ([("start", 1_000)], 9_000, True),  # open: covers everything after its onset
        ([], 1_000, False),
    ],
    ids=["onset", "just-after-onset", "end", "just-after-end", "second", "after-all", "open", "empty"],
)
def test_covers_is_start_exclusive_end_inclusive(steps, at, covered):
    assert replay(steps).covers(at) is covered


@pytest.mark.parametrize(
    ("steps", "window", "ms"),
    [
        (TWO, (None, 10_000), 2_000),
        (TWO, (1_500, 3_500), 1_000),
        (TWO, (2_000, 3_000), 0),
        ([("start", 1_000)], (None, 1_600), 600),  # open: runs to the window's end
        ([("start", 1_000)], (None, 500), 0),
    ],
    ids=["everything", "straddling", "between", "open", "before-onset"],
)
def test_speaking_time_inside_a_window(steps, window, ms):
    assert replay(steps).speaking_ms_in(*window) == ms


def test_dropping_the_oldest_keeps_the_newest():
    log = replay(TWO)
    log.drop_oldest(5)
    assert spans(log) == [(3_000, 4_000)]
    log.drop_oldest(0)
    assert spans(log) == [(3_000, 4_000)]


@pytest.mark.parametrize(
    ("steps", "at", "left"),
    [
        (TWO, 1_999, [(1_000, 2_000), (3_000, 4_000)]),
        (TWO, 2_000, [(3_000, 4_000)]),
        (TWO, 9_000, [(3_000, 4_000)]),  # the newest always stays
        ([("start", 0), ("stop", 1_000), ("start", 2_000)], 9_000, [(2_000, None)]),
    ],
    ids=["not-yet", "ended-at", "all-ended", "open-stays"],
)
def test_dropping_what_ended_by_a_time(steps, at, left):
    log = replay(steps)
    log.drop_ended_by(at)
    assert spans(log) == left


@pytest.mark.parametrize(
    ("a", "b", "horizon", "expected"),
    [
        ([Segment(0, 3_000)], [Segment(3_000, 6_000)], 9_000, (0, None)),  # latched: no overlap
        ([Segment(0, 3_500)], [Segment(3_000, 7_000)], 9_000, (500, 3_000)),
        ([Segment(0, 2_000), Segment(2_400, 8_000)], [Segment(1_800, 2_600)], 9_000, (400, 1_800)),
        ([Segment(0)], [Segment(4_000, 4_300)], 9_000, (300, 4_000)),
        ([Segment(0)], [Segment(4_000)], 4_500, (500, 4_000)),  # both open: up to the horizon
        ([Segment(0)], [Segment(4_000)], 3_000, (0, None)),
    ],
    ids=["latched", "cut-off", "across-a-breath", "open-holder", "both-open", "horizon-before-onset"],
)
def test_overlap_is_the_time_both_spoke(a, b, horizon, expected):
    assert overlap_ms(a, b, horizon) == expected
    assert overlap_ms(b, a, horizon) == expected
