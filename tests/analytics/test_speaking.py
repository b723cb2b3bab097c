"""The speaking state machine and the energy gate, on hand-written window scores."""

from __future__ import annotations

import numpy as np
import pytest

from bot.analytics.speaking import (
    SILENCE_DBFS,
    EnergyGate,
    GateDecision,
    GateParams,
    SpeakingParams,
    SpeakingTracker,
    SpeechStarted,
    SpeechStopped,
    block_dbfs,
    window_dbfs,
)

W = 32  # ms per window
S = 0.75  # a clear speech score, below confirm_threshold (the fast confirmation has its own tests)
_ = None  # a window the gate found quiet


def feed(scores, *, params=None, start_ms=0, tracker=None):
    """Feed one score per 32 ms window from ``start_ms``; return (tracker, transitions)."""
    tracker = tracker or SpeakingTracker("p-alice", params=params)
    out = []
    for i, score in enumerate(scores):
        out += tracker.observe(start_ms + (i + 1) * W, score)
    return tracker, out


def segments(transitions):
    """(start, stop) pairs from the stops (each stop carries its own start)."""
    return [(t.started_at_ms, t.media_time_ms) for t in transitions if isinstance(t, SpeechStopped)]


# --- what never starts speech ------------------------------------------------------------------

NO_SPEECH = {
    "single_loud_window": [0, S, 0, 0, 0, 0, 0, 0, 0, 0],
    "two_loud_windows": [0, S, S, 0, 0, 0, 0, 0, 0, 0],
    "loud_windows_split_by_two_window_dips": [S, 0.1, 0.1, S, 0.1, 0.1, S, 0.1, 0.1, S, 0, 0],
    "scores_between_thresholds_forever": [0.45] * 40,
    "gated_windows_only": [_] * 40,
    "noise_level_scores": [0.05, 0.12, 0.08, 0.2, 0.16, 0.1] * 10,
}


@pytest.mark.parametrize("scores", NO_SPEECH.values(), ids=NO_SPEECH.keys())
def test_short_or_weak_runs_never_start_speech(scores):
    tracker, out = feed(scores)
    assert out == []
    assert not tracker.speaking


def test_single_loud_window_does_not_start_speech():
    _tracker, out = feed([0, 0, 0.99, 0, 0, 0])
    assert out == []


# --- starts --------------------------------------------------------------------------------------

STARTS = {
    # name: (scores, onset_ms, decided_at_ms)
    "three_loud_windows": ([0, 0, S, S, S], 64, 160),
    "onset_traced_back_over_soft_start": ([0, 0.35, 0.4, S, S], 32, 128),
    "soft_windows_count_toward_min_speech": ([0, 0.31, S, 0.31, S], 32, 128),
    "one_window_dip_below_onset_is_crossed": ([0.35, 0.1, 0.4, S, S], 0, 160),
    "two_window_dip_below_onset_moves_the_onset": ([0.35, 0.1, 0.1, 0.4, S, S], 96, 192),
    # ...and its evidence: two windows >= leave before the dip and one after make three
    "abandoned_start_resumed_soon_keeps_its_onset": ([0, 0.4, S, 0, 0, 0, S, S, S], 32, 224),
    "abandoned_single_window_carries_no_evidence": ([0, 0.2, S, 0, 0, 0, S, S, S], 32, 288),
    "abandoned_start_resumed_late_does_not": ([0, 0.4, S, 0, 0, 0, 0, 0, 0, 0, 0, S, S, S], 352, 448),
    "one_window_dip_keeps_a_pending_start": ([0, S, S, 0.1, S], 32, 160),
    "longer_dip_drops_a_pending_start_but_keeps_its_onset": ([0, S, S, 0.1, 0.1, S, S, S], 32, 192),
    "lookback_is_bounded": ([0.4] * 30 + [S, S, S], 30 * W - 320, 31 * W),
}


@pytest.mark.parametrize("scores,onset_ms,decided_ms", STARTS.values(), ids=STARTS.keys())
def test_speech_start_onset_and_decision_time(scores, onset_ms, decided_ms):
    _tracker, out = feed(scores)
    assert out == [SpeechStarted("p-alice", media_time_ms=onset_ms, decided_at_ms=decided_ms)]


def test_onset_is_traced_back_to_first_window_above_onset_threshold():
    _tracker, out = feed([0.1, 0.2, 0.32, 0.45, 0.7, S, S])
    assert out[0].media_time_ms == 1 * W  # the 0.2 window, not the 0.7 one


def test_low_scores_before_speech_move_the_onset_but_do_not_confirm_it():
    # The 0.2 and 0.26 windows are the ramp-up of the first syllable: part of the onset, but
    # min_speech_ms counts only windows >= leave_threshold.
    _tracker, out = feed([0.05, 0.2, 0.26, S, S, S])
    assert out == [SpeechStarted("p-alice", media_time_ms=32, decided_at_ms=192)]


# --- fast confirmation on strong evidence ---------------------------------------------------------

F = 0.95  # a strong score (>= confirm_threshold)


def test_two_strong_fully_sounding_windows_confirm_at_the_second():
    # three windows >= leave_threshold (96 ms) were needed before: decided at 160 ms
    _tracker, out = feed([0, F, F, F])
    assert out == [SpeechStarted("p-alice", media_time_ms=32, decided_at_ms=96)]


def test_strong_windows_with_little_sound_wait_for_min_speech():
    # The edge of a neighbour's bleed: 0.99 and 0.96 with 8 ms of sound each. Counting windows
    # would start speech on it; counting their sound does not.
    tracker = SpeakingTracker("p-cat")
    out = tracker.observe(32, 0.0)
    out += tracker.observe(64, 0.99, (56, 64))
    out += tracker.observe(96, 0.96, (72, 80))
    out += tracker.observe(128, None)
    out += tracker.observe(160, None)
    assert out == []


def test_a_weak_window_breaks_the_strong_run():
    # F, 0.6, F: each strong window alone is 32 ms of sound; the regular path confirms at the
    # third window >= leave_threshold, as before
    _tracker, out = feed([0, F, 0.6, F])
    assert out == [SpeechStarted("p-alice", media_time_ms=32, decided_at_ms=128)]


def test_single_strong_window_still_never_starts_speech():
    _tracker, out = feed([0, 0.99, 0, 0, 0, 0, 0, 0, 0, 0])
    assert out == []


def test_fast_confirmation_can_be_turned_off():
    _tracker, out = feed([0, F, F, F], params=SpeakingParams(confirm_fast_ms=96, confirm_threshold=1.0))
    assert out == [SpeechStarted("p-alice", media_time_ms=32, decided_at_ms=128)]


def test_confirm_threshold_below_enter_is_rejected():
    with pytest.raises(ValueError, match="confirm_threshold"):
        SpeakingParams(confirm_threshold=0.4)


def feed_levels(windows, *, params=None):
    """Feed ``(score, level_dbfs)`` per 32 ms window; return the transitions."""
    tracker = SpeakingTracker("p-alice", params=params)
    out = []
    for i, (score, level) in enumerate(windows):
        out += tracker.observe((i + 1) * W, score, None, level)
    return out


# A soft first syllable (0.3 at -42 dBFS), a 64 ms gated dip, then the word (prompts' quiet
# speaker on a telephone band): the onset is the first syllable's.
SYLLABLE_DIP_WORD = [(0, -70), (0.3, -42), (0.25, -43), (_, -60), (_, -60), (0.9, -41), (0.95, -40), (0.9, -40)]


def test_onset_bridges_a_gated_dip_back_to_a_syllable_as_loud():
    out = feed_levels(SYLLABLE_DIP_WORD)
    started = [t for t in out if isinstance(t, SpeechStarted)]
    assert [t.media_time_ms for t in started] == [32]


def test_onset_does_not_bridge_to_a_much_quieter_breath():
    # the same scores, but the run before the dip is an in-breath 22 dB under the word
    breath = [(0, -70), (0.3, -63), (0.25, -64), (_, -70), (_, -70), (0.9, -41), (0.95, -40), (0.9, -40)]
    started = [t for t in feed_levels(breath) if isinstance(t, SpeechStarted)]
    assert [t.media_time_ms for t in started] == [160]


def test_onset_does_not_bridge_a_dip_longer_than_the_bridge():
    long_dip = SYLLABLE_DIP_WORD[:3] + [(_, -60)] * 6 + SYLLABLE_DIP_WORD[5:]
    started = [t for t in feed_levels(long_dip) if isinstance(t, SpeechStarted)]
    assert [t.media_time_ms for t in started] == [288]


def test_onset_does_not_bridge_back_into_the_last_segment():
    # a segment whose tail scores 0.2 until it stops (hangover), a 64 ms gated dip, then a new
    # word: the old segment's tail is not the new word's first syllable
    windows = [(0.9, -40)] * 4 + [(0.2, -42)] * 7 + [(_, -60)] * 2 + [(0.9, -40)] * 4
    started = [t.media_time_ms for t in feed_levels(windows) if isinstance(t, SpeechStarted)]
    assert started == [0, 416]


def test_onset_bridge_needs_levels_and_can_be_turned_off():
    no_levels = [(score, None) for score, _level in SYLLABLE_DIP_WORD]
    assert [t.media_time_ms for t in feed_levels(no_levels) if isinstance(t, SpeechStarted)] == [160]
    off = SpeakingParams(onset_bridge_ms=0)
    assert [t.media_time_ms for t in feed_levels(SYLLABLE_DIP_WORD, params=off) if isinstance(t, SpeechStarted)] == [
        160
    ]


# Shaped like kt-phone's telephone-band word (p-mo, 61 s: a fricative scored 0.25 at -22 dBFS, 96 ms
# the model scored 0.05-0.09, a run of 0.44, 0.37 and 0.43, 96 ms gated, then the word that
# entered), shorter: three runs with short dips between them, the first two each a bridge back
# from the next
CHAIN = [
    (0, -70),
    (0.25, -24),
    (0.25, -22),
    (0.05, -20),
    (0.09, -20),
    (0.05, -21),
    (0.44, -22),
    (0.37, -40),
    (_, -60),
    (_, -60),
    (0.9, -30),
    (0.95, -28),
    (0.9, -28),
]


def test_onset_bridges_chain_back_through_a_run_that_bridged_itself():
    started = [t.media_time_ms for t in feed_levels(CHAIN) if isinstance(t, SpeechStarted)]
    assert started == [32]  # the first run's start, not the middle run's (192)


def test_a_chain_stops_at_a_run_too_quiet_to_bridge():
    # the first run is an in-breath 22 dB under the middle run: the middle run does not bridge to
    # it, so the word's onset is the middle run's start
    breath = [(0, -70), (0.25, -46), (0.25, -44), *CHAIN[3:]]
    started = [t.media_time_ms for t in feed_levels(breath) if isinstance(t, SpeechStarted)]
    assert started == [192]


def test_a_chain_still_stops_at_the_lookback():
    started = [
        t.media_time_ms
        for t in feed_levels(CHAIN, params=SpeakingParams(onset_lookback_ms=256))
        if isinstance(t, SpeechStarted)
    ]
    assert started == [320 - 256]


def test_runs_of_noise_do_not_chain():
    # noise that keeps scoring 0.15-0.3 at a steady level makes run after run, each as loud as the
    # next: only a run the model scored as speech (a window >= leave_threshold) passes its start
    # on, so the word's onset is bridged to the last noise run only (160 ms before it), as before
    # chains, not dragged back to the lookback
    noise = [(0.05, -50), (0.12, -50), (0.08, -50), (0.2, -49), (0.16, -49), (0.1, -50)] * 20
    word_ms = (len(noise) + 2) * W
    windows = [*noise, (_, -60), (_, -60), (0.9, -42), (0.95, -41), (0.9, -41)]
    started = [t.media_time_ms for t in feed_levels(windows) if isinstance(t, SpeechStarted)]
    assert started == [word_ms - 160]


def test_a_chain_as_a_whole_must_be_as_loud_as_a_first_syllable():
    # two steps of 10 dB would reach an in-breath 20 dB under the word: the chain is kept with its
    # quietest run's level and bridged only if that is within onset_bridge_db of the word, else
    # the onset is the middle run's
    windows = [(0, -70), (0.25, -44), (0.25, -44), (0.05, -60), (0.05, -60), (0.05, -60)]
    windows += [(0.44, -34), (0.37, -40), (_, -60), (_, -60), (0.9, -24), (0.95, -24), (0.9, -24)]
    started = [t.media_time_ms for t in feed_levels(windows) if isinstance(t, SpeechStarted)]
    assert started == [192]


def test_the_onset_never_reaches_back_into_the_last_segment():
    # a tail scoring 0.2 (>= onset_threshold) runs on from a segment through its stop: it is that
    # segment's tail, so the next word's onset is its own first window, not traced back through
    # the tail (before: started 64, inside the segment that stopped at 128)
    _tracker, out = feed([0.9] * 4 + [0.2] * 8 + [0.9] * 3)
    assert [(type(t).__name__, t.media_time_ms) for t in out] == [
        ("SpeechStarted", 0),
        ("SpeechStopped", 128),
        ("SpeechStarted", 384),
    ]


def _chain_of_three(first_db: float) -> list[tuple[float | None, float]]:
    """Three syllables (0.4, two windows each) 64 ms apart at ``first_db``, -36 and -30 dBFS, then
    64 ms gated and the -28 dBFS word."""
    windows = [(0, -70), (0.4, first_db), (0.4, first_db), (0.05, -60), (0.05, -60), (0.4, -36), (0.4, -36)]
    windows += [(0.05, -60), (0.05, -60), (0.4, -30), (0.4, -30), (_, -60), (_, -60)]
    return [*windows, (0.9, -28), (0.95, -28), (0.9, -28)]


def test_a_chain_is_as_loud_as_its_quietest_run():
    # each step is within the 15 dB a syllable is bridged; the chain as a whole is judged by its
    # quietest run: -40 dBFS is within 15 dB of the -28 dBFS word, -45 is not (the onset then
    # stops at the run the word bridged to); a lookback long enough for the whole chain
    params = SpeakingParams(onset_lookback_ms=480)
    for first_db, onset in ((-40, 32), (-45, 288)):
        started = feed_levels(_chain_of_three(first_db), params=params)
        assert [t.media_time_ms for t in started if isinstance(t, SpeechStarted)] == [onset]


def test_bleed_after_a_chain_takes_its_syllable_allowance_away():
    # a syllable 14 dB under the word is bridged on the 15 dB a syllable gets, unless another
    # participant's voice came after it: then the 10 dB rule, wherever in the dip the bleed fell
    first = [(0, -70), (0.4, -40), (0.05, -60), (0.05, -60), (0.4, -32), (0.05, -60)]
    word = [(0.9, -26), (0.95, -26), (0.9, -26)]
    tracker = SpeakingTracker("p-alice")
    clean = [t.media_time_ms for t in _observe_all(tracker, [*first, (0.05, -60), (0.05, -60), *word])]
    assert clean == [32]
    for dip in ([(_, -60, True), (0.05, -60)], [(0.05, -60), (_, -60, True)]):
        started = _observe_all(SpeakingTracker("p-alice"), [*first, *dip, *word])
        assert [t.media_time_ms for t in started] == [128]


def _observe_all(tracker, windows):
    """Feed ``(score, level[, bleed])`` per 32 ms window; return the starts."""
    out = []
    for i, (score, level, *bleed) in enumerate(windows):
        out += tracker.observe((i + 1) * W, score, None, level, bleed=bool(bleed and bleed[0]))
    return [t for t in out if isinstance(t, SpeechStarted)]


def test_a_bridge_never_moves_an_onset_later():
    # the onset taken at entry (reported as pending) stays if the lookback from the later window
    # that confirms would put a bridged onset after it
    windows = [(0, -70), (0.4, -30), (0.2, -30), (0.05, -60), (0.05, -60), *[(0.2, -30)] * 10, *[(0.6, -30)] * 3]
    tracker = SpeakingTracker("p-alice")
    pending = []
    for i, (score, level) in enumerate(windows):
        tracker.observe((i + 1) * W, score, None, level)
        if tracker.pending_onset_ms is not None:
            pending.append(tracker.pending_onset_ms)
    started = [t.media_time_ms for t in feed_levels(windows) if isinstance(t, SpeechStarted)]
    assert started == [pending[0]] == [160]


def test_min_speech_is_configurable():
    _tracker, out = feed([0, S, S, 0, 0], params=SpeakingParams(min_speech_ms=64))
    assert [type(t) for t in out] == [SpeechStarted]


# --- stops ---------------------------------------------------------------------------------------

STOPS = {
    # name: (scores, expected segments)
    "stop_time_is_end_of_last_speech_window": ([S] * 10 + [0] * 10, [(0, 320)]),
    "gated_windows_count_as_silence": ([S] * 10 + [_] * 10, [(0, 320)]),
    "hangover_bridges_a_short_pause": ([S] * 5 + [0] * 5 + [S] * 5 + [0] * 10, [(0, 480)]),
    "pause_longer_than_hangover_splits": (
        [S] * 5 + [0] * 9 + [S] * 5 + [0] * 10,
        [(0, 160), (448, 608)],
    ),
    "scores_between_thresholds_keep_speech_going": ([S] * 5 + [0.35] * 20 + [0] * 10, [(0, 800)]),
    "gated_dip_inside_speech_is_bridged": ([S] * 5 + [_, _] + [S] * 5 + [_] * 10, [(0, 384)]),
}


@pytest.mark.parametrize("scores,expected", STOPS.values(), ids=STOPS.keys())
def test_speech_segments(scores, expected):
    _tracker, out = feed(scores)
    assert segments(out) == expected


def test_stop_is_decided_when_the_hangover_runs_out():
    _tracker, out = feed([S] * 10 + [0] * 10)
    stop = out[-1]
    assert stop == SpeechStopped(
        "p-alice", media_time_ms=320, duration_ms=320, started_at_ms=0, decided_at_ms=320 + 7 * W
    )


def test_hangover_does_not_inflate_talk_time():
    short, long_ = SpeakingParams(hangover_ms=100), SpeakingParams(hangover_ms=600)
    scores = [S] * 10 + [0] * 30
    assert segments(feed(scores, params=short)[1]) == segments(feed(scores, params=long_)[1])


def test_durations_add_up_to_the_speech_windows():
    scores = ([0] * 5 + [S] * 12 + [0] * 15) * 3
    _tracker, out = feed(scores)
    stops = [t for t in out if isinstance(t, SpeechStopped)]
    assert [t.duration_ms for t in stops] == [12 * W] * 3


# --- sub-window sound spans ----------------------------------------------------------------------


def test_sound_span_places_onset_and_stop_inside_windows():
    tracker = SpeakingTracker("p-alice")
    out = tracker.observe(32, 0.8, (24, 32))  # sound starts 24 ms into the first window
    out += tracker.observe(64, S)
    out += tracker.observe(96, S)
    out += tracker.observe(128, 0.7, (96, 104))  # ... and ends 8 ms into the last one
    for end in range(160, 500, W):
        out += tracker.observe(end, None)
    assert out[0].media_time_ms == 24
    assert (out[-1].started_at_ms, out[-1].media_time_ms, out[-1].duration_ms) == (24, 104, 80)


# --- closing -------------------------------------------------------------------------------------

CLOSES = {
    # name: (scores, close_at, expected transitions' types, stop time)
    "speaking_emits_a_stop": ([S] * 10, None, [SpeechStopped], 320),
    "speaking_stop_is_capped_at_close_time": ([S] * 10, 300, [SpeechStopped], 300),
    "pending_emits_nothing": ([0, S, S], None, [], None),
    "quiet_emits_nothing": ([0] * 10, None, [], None),
    "in_hangover_still_emits_the_stop": ([S] * 10 + [0] * 3, None, [SpeechStopped], 320),
}


@pytest.mark.parametrize("scores,close_at,types,stop_ms", CLOSES.values(), ids=CLOSES.keys())
def test_close(scores, close_at, types, stop_ms):
    tracker, _out = feed(scores)
    out = tracker.close(close_at)
    assert [type(t) for t in out] == types
    if stop_ms is not None:
        assert out[0].media_time_ms == stop_ms
    assert not tracker.speaking
    assert tracker.close() == []


def test_tracker_is_reusable_after_close():
    tracker, _ = feed([S] * 10)
    tracker.close()
    _, out = feed([0, S, S, S], tracker=tracker, start_ms=1000)
    assert out == [SpeechStarted("p-alice", media_time_ms=1032, decided_at_ms=1128)]


BAD_PARAMS = {
    "leave_above_enter": {"enter_threshold": 0.3, "leave_threshold": 0.5},
    "onset_above_leave": {"onset_threshold": 0.4, "leave_threshold": 0.3},
    "zero_onset": {"onset_threshold": 0.0},
    "enter_above_one": {"enter_threshold": 1.5},
    "negative_hangover": {"hangover_ms": -1},
    "negative_max_dip": {"max_dip_ms": -32},
}


@pytest.mark.parametrize("kwargs", BAD_PARAMS.values(), ids=BAD_PARAMS.keys())
def test_inconsistent_params_are_rejected(kwargs):
    with pytest.raises(ValueError, match="SpeakingParams"):
        SpeakingParams(**kwargs)


# --- energy gate ---------------------------------------------------------------------------------

LEVELS = {
    # name: (samples, dBFS)
    "digital_silence": (np.zeros(512, np.int16), SILENCE_DBFS),
    "full_scale_square": (np.tile(np.array([32767, -32768], np.int16), 256), 0.0),
    "half_scale_square": (np.tile(np.array([16384, -16384], np.int16), 256), -6.02),
    "amplitude_58_square": (np.tile(np.array([58, -58], np.int16), 256), -55.0),
}


@pytest.mark.parametrize("samples,dbfs", LEVELS.values(), ids=LEVELS.keys())
def test_window_level_in_dbfs(samples, dbfs):
    assert window_dbfs(samples) == pytest.approx(dbfs, abs=0.05)


def test_block_levels_locate_sound_inside_a_window():
    window = np.zeros(512, np.int16)
    window[256:384] = 10000  # the third 8 ms block
    levels = block_dbfs(window)
    assert levels.shape == (4,)
    assert list(levels >= -55.0) == [False, False, True, False]


LOUD, QUIET = -20.0, -90.0
NO = GateDecision(sounding=False, infer=False)
TRAIL = GateDecision(sounding=False, infer=True)
YES = GateDecision(sounding=True, infer=True)

GATE = {
    # name: (params, levels, expected decisions)
    "silent_start_is_gated": (GateParams(), [QUIET] * 3, [NO] * 3),
    "loud_window_is_scored_and_one_trail_window_follows": (
        GateParams(),
        [LOUD, QUIET, QUIET, QUIET],
        [YES, TRAIL, NO, NO],
    ),
    "preroll_replays_the_last_gated_window": (
        GateParams(),
        [LOUD, QUIET, QUIET, QUIET, LOUD],
        [YES, TRAIL, NO, NO, GateDecision(sounding=True, infer=True, replay=1)],
    ),
    "first_window_of_a_stream_has_no_reset": (
        GateParams(reset_after_ms=64),
        [QUIET] * 5 + [LOUD],
        [NO] * 5 + [GateDecision(sounding=True, infer=True, replay=5)],
    ),
    "long_gated_stretch_resets_the_model": (
        GateParams(reset_after_ms=64),
        [LOUD, QUIET, QUIET, QUIET, LOUD],
        [YES, TRAIL, NO, NO, GateDecision(sounding=True, infer=True, replay=2, reset=True)],
    ),
    "short_gated_stretch_keeps_the_state": (
        GateParams(reset_after_ms=96),
        [LOUD, QUIET, QUIET, QUIET, LOUD],
        [YES, TRAIL, NO, NO, GateDecision(sounding=True, infer=True, replay=1)],
    ),
    "warmup_after_a_reset_is_bounded": (
        GateParams(reset_after_ms=64, warmup_windows=3),
        [LOUD] + [QUIET] * 6 + [LOUD],
        [YES, TRAIL] + [NO] * 5 + [GateDecision(sounding=True, infer=True, replay=3, reset=True)],
    ),
    "room_tone_within_the_floor_margin_runs_the_model_but_is_silence": (
        GateParams(floor_after_ms=96, floor_window_ms=320),
        [-45.0, -46.0, -45.5, -44.0, -45.0, -30.0, -44.5],
        [YES, YES, TRAIL, TRAIL, TRAIL, YES, TRAIL],
    ),
    "without_the_floor_room_tone_is_sound": (
        GateParams(floor_margin_db=0),
        [-45.0, -46.0, -45.5, -44.0, -45.0, -30.0, -44.5],
        [YES] * 7,
    ),
    "wider_trail_and_preroll": (
        GateParams(trail_windows=2, preroll_windows=3),
        [LOUD, QUIET, QUIET, QUIET, QUIET, LOUD],
        [YES, TRAIL, TRAIL, NO, NO, GateDecision(sounding=True, infer=True, replay=2)],
    ),
    "threshold_is_inclusive": (GateParams(threshold_dbfs=-55.0), [-55.0, -55.01], [YES, TRAIL]),
}


@pytest.mark.parametrize("params,levels,expected", GATE.values(), ids=GATE.keys())
def test_energy_gate_decisions(params, levels, expected):
    gate = EnergyGate(params, window_ms=W)
    assert [gate.step(level) for level in levels] == expected


def test_a_window_loud_only_in_the_rumble_band_is_quiet():
    # (broadband, above highpass_hz): rumble at -50 broadband but -70 above 100 Hz is gated like
    # silence; a voice loud in both is scored; the floor still follows the broadband level
    gate = EnergyGate(GateParams(), window_ms=W)
    got = [gate.step(b, s) for b, s in [(-50.0, -70.0), (-50.0, -70.0), (-50.0, -70.0), (-30.0, -31.0), (-50.0, -70.0)]]
    assert got == [NO, NO, NO, GateDecision(sounding=True, infer=True, replay=3), TRAIL]
    assert [EnergyGate(GateParams(), window_ms=W).step(-50.0, None)] == [YES]  # not measured: broadband


def test_the_gate_follows_a_quiet_speaker_while_they_speak():
    # a -42 dBFS speaker's voicing at -60 dBFS mid-phrase: sounding while she speaks (25 dB under
    # her loudest window), gated otherwise; a loud speaker keeps -55; never below -65
    quiet_voicing = [-40.0, -60.0, -60.0]
    gate = EnergyGate(GateParams(floor_margin_db=0), window_ms=W)
    assert [gate.step(level, None, -40.0) for level in quiet_voicing] == [YES, YES, YES]
    assert gate.threshold_dbfs == -65.0
    gate = EnergyGate(GateParams(floor_margin_db=0), window_ms=W)
    assert [gate.step(level, None, None) for level in quiet_voicing] == [YES, TRAIL, NO]
    gate = EnergyGate(GateParams(floor_margin_db=0), window_ms=W)
    assert [gate.step(level, None, -20.0) for level in quiet_voicing] == [YES, TRAIL, NO]  # -45 -> -55
    gate = EnergyGate(GateParams(floor_margin_db=0), window_ms=W)
    assert [gate.step(level, None, -36.0) for level in [-40.0, -60.0, -62.0]] == [YES, YES, TRAIL]  # -61
    gate = EnergyGate(GateParams(floor_margin_db=0, follow_speaker_db=0), window_ms=W)
    assert [gate.step(level, None, -40.0) for level in quiet_voicing] == [YES, TRAIL, NO]  # off


def test_following_a_speaker_keeps_the_floor_margin():
    # room tone at -63 dBFS (floor -63, +6 = -57): a window at -60 is room tone however quiet the
    # speaker, so it is not sounding (and, under -55, not run through the model either)
    gate = EnergyGate(GateParams(floor_after_ms=0), window_ms=W)
    for _ in range(20):
        gate.step(-63.0, None, -42.0)
    assert gate.step(-60.0, None, -42.0) == NO
    assert gate.threshold_dbfs == -57.0
    assert gate.step(-56.0, None, -42.0).sounding


def test_the_tracker_reports_the_loudest_window_of_the_utterance_while_speaking():
    tracker = SpeakingTracker("p-alice")
    seen = []
    windows = [(0, -70), (0.6, -45), (0.9, -41), (0.95, -43), (0.2, -38), (0.9, -44)]
    windows += [(None, -70)] * 8
    for i, (score, level) in enumerate(windows):
        tracker.observe((i + 1) * W, score, None, level)
        seen.append(tracker.loudest_speech_dbfs)
    # pending for two windows (None), then the loudest window >= leave so far: a 0.2 window at
    # -38 dBFS is not speech evidence and does not count; None again once speech stopped
    assert seen[:6] == [None, None, None, -41.0, -41.0, -41.0]
    assert seen[-1] is None and not tracker.speaking


@pytest.mark.parametrize(
    "kwargs",
    [
        {"highpass_hz": -1.0},
        {"refresh_below": 2.0},
        {"floor_margin_db": -1.0},
        {"reset_after_ms": -1},
        {"follow_speaker_db": -5.0},
        {"follow_lowest_dbfs": -50.0},
    ],
    ids=[
        "negative_highpass",
        "refresh_below_above_one",
        "negative_floor_margin",
        "negative_reset",
        "negative_follow",
        "follow_floor_above_threshold",
    ],
)
def test_bad_gate_params_are_rejected(kwargs):
    with pytest.raises(ValueError, match="GateParams"):
        GateParams(**kwargs)


# --- evidence carried across a dip ---------------------------------------------------------------


def test_bleed_between_a_syllable_and_the_word_stops_its_evidence_carrying():
    # as "abandoned_start_resumed_soon_keeps_its_onset", but the dip was a neighbour's voice on
    # this microphone: what follows is not known to continue the syllable, so it waits for three
    tracker = SpeakingTracker("p-alice")
    out = []
    for i, score in enumerate([0, 0.4, S, None, None, None, S, S, S]):
        out += tracker.observe((i + 1) * W, score, bleed=i in (3, 4))
    assert out == [SpeechStarted("p-alice", media_time_ms=32, decided_at_ms=288)]


# meeting-6's quiet speaker (-44 dBFS, soft onset): a first syllable 11-12 dB under the word that
# Silero scores as speech (two windows >= leave), 96 ms gated, then the word
SOFT_SYLLABLE_DIP_WORD = [
    (0, -70),
    (0.28, -51),
    (0.38, -51),
    (0.42, -50.5),
    (_, -60),
    (_, -60),
    (_, -60),
    (0.83, -39.7),
    (0.91, -38.6),
    (0.85, -39.1),
]


def test_a_soft_first_syllable_that_scores_as_speech_is_bridged_and_counts():
    started = [t for t in feed_levels(SOFT_SYLLABLE_DIP_WORD) if isinstance(t, SpeechStarted)]
    # onset at the syllable (32), confirmed on the word's first window (its 2 windows + 1)
    assert started == [SpeechStarted("p-alice", media_time_ms=32, decided_at_ms=8 * W)]


def test_a_weak_run_as_far_under_the_word_is_not_bridged():
    # the same levels, but no window >= leave (meeting-4's in-breath scored 0.20, 11 dB under the
    # word): not a syllable the model scored as speech, so the 10 dB rule holds
    weak = [(0, -70), (0.2, -51), (0.25, -51), (0.2, -50.5), *SOFT_SYLLABLE_DIP_WORD[4:]]
    started = [t for t in feed_levels(weak) if isinstance(t, SpeechStarted)]
    assert started == [SpeechStarted("p-alice", media_time_ms=224, decided_at_ms=9 * W)]


def test_one_window_scored_as_speech_is_bridged_but_carries_nothing():
    # meeting-6: a soft first syllable 0.12, 0.28, 0.38 at -54..-50 dBFS, 128 ms gated, then the
    # word 12 dB louder; its onset was found 218 ms late. One window >= leave is a syllable for
    # bridging (syllable_min_ms 32), not enough evidence to confirm sooner (carry_min_ms 64)
    one = [(0, -70), (0.12, -54.5), (0.28, -51.3), (0.38, -50.5), (_, -60), (_, -60), (_, -60), (_, -60)]
    one += [(0.9, -39.7), (0.93, -38.6), (0.88, -39.1)]
    started = [t for t in feed_levels(one) if isinstance(t, SpeechStarted)]
    # the onset is the run's (0.12 is below onset_threshold), decided when the word confirms
    assert started == [SpeechStarted("p-alice", media_time_ms=64, decided_at_ms=10 * W)]
    late = [t for t in feed_levels(one, params=SpeakingParams(syllable_min_ms=64)) if isinstance(t, SpeechStarted)]
    assert late == [SpeechStarted("p-alice", media_time_ms=256, decided_at_ms=10 * W)]


def test_an_in_breath_that_scores_as_speech_is_still_not_bridged_20_db_under_the_word():
    # meeting-5: an in-breath at -40..-46 dBFS scored 0.30-0.39, 20 dB under the word after it
    breath = [(0, -70), (0.3, -44), (0.39, -40), (_, -60), (_, -60), (0.85, -22), (0.99, -20), (1.0, -16)]
    started = [t for t in feed_levels(breath) if isinstance(t, SpeechStarted)]
    assert [t.media_time_ms for t in started] == [160]
