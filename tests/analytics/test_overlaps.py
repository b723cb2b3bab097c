"""OverlapClassifier: backchannel vs interruption vs overlap, on scripted speaking segments."""

from __future__ import annotations

import random

import pytest

from bot.analytics.overlaps import OverlapClassifier, OverlapParams
from bot.analytics.segments import BackchannelRule
from bot.generated.models import RoomOverlapDetected

START_DELAY_MS = 150
"""A start reaches the analytics after its corrected onset (VAD confirmation + lookback)."""
STOP_DELAY_MS = 280
"""A stop reaches the analytics after the speech ended (the VAD's hangover)."""


def play(
    segments: list[tuple[str, int, int]],
    *,
    end_ms: int | None = None,
    params: OverlapParams | None = None,
    start_delay: int = START_DELAY_MS,
    stop_delay: int = STOP_DELAY_MS,
    finish: bool = True,
) -> list[RoomOverlapDetected]:
    """Feed ``(participant, start, end)`` segments as a VAD would (late), with 100 ms ticks."""
    oc = OverlapClassifier(params)
    arrivals: list[tuple[int, int, tuple]] = []
    for pid, start, end in segments:
        started = start + start_delay
        arrivals.append((started, 0, (start, pid, True, 0)))
        # One participant's stop never overtakes their start: one VAD tracker emits both.
        arrivals.append((max(end + stop_delay, started), 0, (end, pid, False, end - start)))
    last = end_ms if end_ms is not None else max(e for _, _, e in segments) + 5_000
    arrivals += [(t, 1, (t,)) for t in range(100, last + 1, 100)]
    arrivals = sorted((a for a in arrivals if a[0] <= last), key=lambda a: (a[0], a[1]))
    out: list[RoomOverlapDetected] = []
    for _, kind, args in arrivals:
        out += oc.speaking(*args) if kind == 0 else oc.tick(*args)
    if finish:
        out += oc.finish(last)
    return out


def kinds(events: list[RoomOverlapDetected]) -> list[tuple[str, str, str]]:
    return [(e.speaker_id, e.overlapper_id, e.kind) for e in events]


CASES = [
    # id, segments (participant, start, end), expected (holder, overlapper, kind), overlap_ms
    ("short-yeah-mid-turn", [("a", 0, 8000), ("b", 4000, 4275)], ("a", "b", "backchannel"), 275),
    ("one-second-continuer", [("a", 0, 8000), ("b", 4000, 5000)], ("a", "b", "backchannel"), 1000),
    ("measured-long-by-vad-jitter", [("a", 0, 9000), ("b", 4000, 5200)], ("a", "b", "backchannel"), 1200),
    ("too-long-to-be-a-continuer", [("a", 0, 9000), ("b", 4000, 5400)], ("a", "b", "overlap"), 1400),
    (
        "holder-breathes-after-continuer",
        [("a", 0, 4600), ("a", 4900, 9000), ("b", 4000, 4300)],
        ("a", "b", "backchannel"),
        300,
    ),
    ("holder-stops-soon-after", [("a", 0, 4800), ("b", 4000, 4300)], ("a", "b", "overlap"), 300),
    ("cut-off-and-floor-taken", [("a", 0, 3500), ("b", 3000, 7000)], ("a", "b", "interruption"), 500),
    ("cut-off-at-200-ms", [("a", 0, 3200), ("b", 3000, 7000)], ("a", "b", "interruption"), 200),
    ("cut-off-at-1500-ms", [("a", 0, 4500), ("b", 3000, 7000)], ("a", "b", "interruption"), 1500),
    ("holder-finishing-anyway", [("a", 0, 3150), ("b", 3000, 7000)], ("a", "b", "overlap"), 150),
    ("holder-holds-on-past-1500", [("a", 0, 4600), ("b", 3000, 8000)], ("a", "b", "overlap"), 1600),
    ("overlapper-gives-up", [("a", 0, 3500), ("b", 3000, 4900)], ("a", "b", "overlap"), 500),
    ("within-holders-first-second", [("a", 0, 1300), ("b", 700, 5000)], ("a", "b", "overlap"), 600),
    ("both-keep-talking", [("a", 0, 8000), ("b", 3000, 6000)], ("a", "b", "overlap"), 3000),
]


@pytest.mark.parametrize(("segments", "expected", "overlap_ms"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_episode_is_classified_by_the_rules(segments, expected, overlap_ms):
    events = play(segments)
    assert kinds(events) == [expected]
    assert events[0].overlap_ms == overlap_ms


def test_backchannel_is_not_an_interruption():
    # Bob's "yeah" in the middle of Alice's monologue: she keeps the floor.
    events = play([("p-alice", 8167, 14727), ("p-bob", 12607, 12882), ("p-alice", 15067, 18247)])
    assert kinds(events) == [("p-alice", "p-bob", "backchannel")]
    assert events[0].media_time_ms == 12607


def test_event_time_is_the_start_of_the_overlap():
    events = play([("a", 1000, 4500), ("b", 4000, 8000)])
    assert events[0].media_time_ms == 4000


@pytest.mark.parametrize(
    "segments",
    [
        [("a", 0, 3000), ("b", 3200, 6000)],  # a smooth switch: a gap, no simultaneous speech
        [("a", 0, 3000), ("b", 3000, 6000)],  # latching: b starts exactly as a stops
        [("a", 0, 3000), ("a", 3400, 8000), ("b", 3050, 3350)],  # b fits in a's breath
        [("a", 0, 3000)],
    ],
    ids=["gap", "latched", "inside-holders-pause", "alone"],
)
def test_no_event_without_simultaneous_speech(segments):
    assert play(segments) == []


def test_each_episode_is_reported_once():
    events = play([("a", 0, 20_000), ("b", 4000, 4300), ("c", 9000, 9400), ("b", 15_000, 15_300)], end_ms=40_000)
    assert kinds(events) == [("a", "b", "backchannel"), ("a", "c", "backchannel"), ("a", "b", "backchannel")]


def test_holder_is_whoever_started_first():
    # b interrupts a and takes the floor; c then backchannels b, not a.
    events = play([("a", 0, 3500), ("b", 3000, 12_000), ("c", 8000, 8300)])
    assert kinds(events) == [("a", "b", "interruption"), ("b", "c", "backchannel")]


@pytest.mark.parametrize("voiced_ms", [250, 275, 374, 477, 700])
@pytest.mark.parametrize("jitter_ms", [0, 150, 250])
def test_scripted_backchannels_survive_vad_jitter(voiced_ms, jitter_ms):
    # The scripted continuers are 250-700 ms of voiced audio; the VAD may measure each edge
    # a few windows wide (onset traced back, Silero's lag at the end).
    start, end = 4000 - jitter_ms, 4000 + voiced_ms + jitter_ms
    events = play([("a", 0, 8000), ("b", start, end)])
    assert kinds(events) == [("a", "b", "backchannel")]


@pytest.mark.parametrize("jitter_ms", [-250, -100, 0, 100, 250])
def test_scripted_interruption_survives_vad_jitter(jitter_ms):
    # Holder stops 500 ms after the overlapper's onset in the script; edges move with jitter.
    events = play([("a", 31_145, 34_350 + jitter_ms), ("b", 33_850 - abs(jitter_ms), 37_426)])
    assert kinds(events) == [("a", "b", "interruption")]


@pytest.mark.parametrize("seed", range(5))
def test_result_does_not_depend_on_frame_arrival_delays(seed):
    rng = random.Random(seed)
    segments = [("a", 0, 3500), ("b", 3000, 9000), ("c", 6000, 6300), ("a", 9500, 12_000)]
    expected = play(segments)
    shuffled = play(segments, start_delay=rng.randint(0, 450), stop_delay=rng.randint(0, 300))
    assert shuffled == expected


def test_decision_waits_for_the_facts():
    # Nothing is reported while b might still turn out to be a backchannel.
    oc = OverlapClassifier()
    oc.speaking(0, "a", True)
    oc.speaking(4000, "b", True)
    assert oc.tick(4800) == []
    oc.speaking(4300, "b", False)
    assert oc.tick(5500) == []  # a has not yet kept on for 1000 ms past b's stop (known up to now - settle)
    assert kinds(oc.tick(5900)) == [("a", "b", "backchannel")]


def test_open_episode_is_decided_at_session_end():
    events = play([("a", 0, 10_000), ("b", 3000, 10_000)], end_ms=6000, finish=True)
    assert kinds(events) == [("a", "b", "overlap")]
    assert events[0].overlap_ms == 3000


def test_leaving_ends_the_run():
    oc = OverlapClassifier()
    oc.speaking(0, "a", True)
    oc.speaking(3000, "b", True)
    events = oc.left(3500, "a")
    for t in range(3600, 6000, 100):
        events += oc.tick(t)
    assert kinds(events) == [("a", "b", "interruption")]


def test_thresholds_are_parameters():
    strict = OverlapParams(backchannel=BackchannelRule(max_ms=200, jitter_ms=0))
    assert kinds(play([("a", 0, 8000), ("b", 4000, 4275)], params=strict)) == [("a", "b", "overlap")]


def test_invalid_params_are_refused():
    with pytest.raises(ValueError):
        OverlapParams(cutoff_min_ms=2000, cutoff_max_ms=1000)
    with pytest.raises(ValueError):
        OverlapParams(settle_ms=-1)


@pytest.mark.parametrize("late_ms", [0, 100, 250, 400])
def test_backchannel_detected_before_the_holders_late_onset(late_ms):
    # Real speech: b says "mm" 100-300 ms into a's turn, but a's soft first syllable is found late,
    # so b's onset arrives first. A short turn inside a longer one is still the backchannel.
    events = play([("a", 4200 + late_ms - 200, 9000), ("b", 4100, 4540)])
    assert kinds(events) == [("a", "b", "backchannel")]


def test_simultaneous_starts_are_never_an_interruption():
    # Both start together; a stops 1.4-1.7 s later (too long for a continuer) while b goes on: who grabbed the floor first is jitter.
    for a_start in (3000, 3150, 3300):
        events = play([("a", a_start, 4700), ("b", 3200, 8000)])
        assert [k for _, _, k in kinds(events)] == ["overlap"], a_start


def test_a_short_turn_started_well_before_is_not_swapped():
    # b's short turn started 600 ms before a's long one: not a simultaneous start, no backchannel.
    events = play([("b", 3000, 3700), ("a", 3600, 9000)])
    assert [k for _, _, k in kinds(events)] != ["backchannel"]
