"""PacingTracker: words per minute of speaking time, bands with hysteresis, turn counts."""

from __future__ import annotations

import pytest

from bot.analytics.pacing import PacingParams, PacingTracker, count_words, pacing_state

WORDS_10 = "one two three four five six seven eight nine ten"


def say(pt: PacingTracker, pid: str, start: int, end: int, text: str | None = None, *, stop_late: bool = False):
    """One utterance: speaking segment, then its transcript at the end (stop first unless late)."""
    pt.speaking(start, pid, True)
    if not stop_late:
        pt.speaking(end, pid, False)
    updates = pt.transcript(end, pid, text) if text is not None else []
    if stop_late:
        pt.speaking(end, pid, False)
    return updates


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", 0),
        ("yeah", 1),
        ("mm-hm", 1),
        ("We ship on Friday.", 4),
        ("the small clus-", 3),
        (" — ... ", 0),
        ("3 4 5", 3),
    ],
    ids=["empty", "one", "hyphenated", "sentence", "cut-off", "punctuation", "digits"],
)
def test_count_words(text, words):
    assert count_words(text) == words


BANDS = [
    # id, previous state, wpm, new state
    ("slow", None, 110, "slow"),
    ("normal-low-edge", None, 120, "normal"),
    ("normal", None, 160, "normal"),
    ("normal-high-edge", None, 200, "normal"),
    ("fast", None, 201, "fast"),
    ("fast-stays-within-hysteresis", "fast", 191, "fast"),
    ("fast-leaves-below-190", "fast", 189, "normal"),
    ("slow-stays-within-hysteresis", "slow", 129, "slow"),
    ("slow-leaves-above-130", "slow", 131, "normal"),
    ("slow-to-fast-at-once", "slow", 230, "fast"),
    ("fast-to-slow-at-once", "fast", 90, "slow"),
    ("normal-does-not-need-hysteresis", "normal", 201, "fast"),
]


@pytest.mark.parametrize(("previous", "wpm", "state"), [b[1:] for b in BANDS], ids=[b[0] for b in BANDS])
def test_pacing_bands_with_hysteresis(previous, wpm, state):
    assert pacing_state(previous, wpm, PacingParams()) == state


def test_rate_is_words_over_speaking_time():
    pt = PacingTracker()
    pt.speaking(0, "bob", True)
    pt.speaking(2_000, "bob", False)  # a 1 s pause does not count as speaking time
    pt.speaking(3_000, "bob", True)
    pt.speaking(5_000, "bob", False)
    (update,) = pt.transcript(5_000, "bob", WORDS_10)
    assert update.words_per_minute == pytest.approx(150.0)
    assert (update.window_ms, update.word_count, update.state, update.media_time_ms) == (4_000, 10, "normal", 5_000)


@pytest.mark.parametrize(
    ("end", "text"),
    [(2_000, WORDS_10), (4_000, "yes I agree"), (300, "yeah")],
    ids=["too-little-speech", "too-few-words", "backchannel"],
)
def test_no_update_before_enough_speech(end, text):
    pt = PacingTracker()
    assert say(pt, "bob", 0, end, text) == []


def test_speech_accumulates_until_it_is_enough():
    pt = PacingTracker()
    assert say(pt, "bob", 0, 2_000, "five words in two seconds") == []
    (update,) = say(pt, "bob", 3_000, 4_000, "and three more")
    assert (update.window_ms, update.word_count) == (3_000, 8)


def test_stop_arriving_after_its_transcript_still_counts():
    # The room sends the transcript at the utterance end; the VAD decides the stop ~250 ms later.
    pt = PacingTracker()
    (update,) = say(pt, "bob", 0, 4_000, WORDS_10, stop_late=True)
    assert update.window_ms == 4_000 and update.words_per_minute == pytest.approx(150.0)


def test_rate_uses_the_last_minute_of_speaking_time():
    pt = PacingTracker()
    t = 0
    for _ in range(8):  # 80 s of slow speech: 10 words per 10 s = 60 wpm
        say(pt, "bob", t, t + 10_000, WORDS_10)
        t += 11_000
    slow = say(pt, "bob", t, t + 10_000, WORDS_10)[0]
    t += 11_000
    assert slow.state == "slow" and slow.window_ms >= 60_000
    for _ in range(7):  # then 70 s at 36 words per 10 s = 216 wpm
        updates = say(pt, "bob", t, t + 10_000, " ".join([WORDS_10] * 3 + WORDS_10.split()[:6]))
        t += 11_000
    assert updates[0].words_per_minute == pytest.approx(216.0)  # the slow minute fell out
    assert updates[0].state == "fast"
    assert 60_000 <= updates[0].window_ms < 70_000


def test_state_does_not_flap_near_a_band_edge():
    pt = PacingTracker(PacingParams(window_speaking_ms=10_000))
    states = []
    t = 0
    for words in (35, 32, 35, 32, 35):  # per 10 s: 210, 192, 210, 192, 210 wpm
        states.append(say(pt, "bob", t, t + 10_000, " ".join(["w"] * words))[0].state)
        t += 12_000
    assert states == ["fast"] * 5


def test_first_utterance_reports_one_turn():
    pt = PacingTracker()
    (update,) = say(pt, "bob", 0, 4_000, WORDS_10, stop_late=True)
    assert update.turn_count == 1


def test_backchannel_is_not_a_turn():
    pt = PacingTracker()
    pt.speaking(0, "alice", True)
    say(pt, "bob", 3_000, 3_300)  # "yeah" while alice talks
    pt.speaking(10_000, "alice", False)
    assert pt.turn_counts() == {"alice": 1}
    assert pt.turn_taking_index() is None  # one utterance


def test_short_sentence_that_takes_the_floor_is_a_turn():
    # "That is a fair point too." starts over the end of alice's sentence; she stops, he goes on.
    pt = PacingTracker()
    say(pt, "alice", 0, 3_250)
    say(pt, "bob", 3_000, 4_200)
    say(pt, "alice", 4_500, 7_000)
    assert pt.turn_counts() == {"alice": 2, "bob": 1}


def test_a_short_answer_on_its_own_is_a_turn():
    pt = PacingTracker()
    say(pt, "alice", 0, 3_000)
    say(pt, "bob", 3_200, 3_600)  # "yes." after alice finished
    assert pt.turn_counts() == {"alice": 1, "bob": 1}


TURNS = [
    # id, utterances (participant, start, end), turns per participant, turn-taking index
    (
        "alternation",
        [("a", 0, 2_000), ("b", 2_200, 4_000), ("a", 4_200, 6_000), ("b", 6_200, 8_000)],
        {"a": 2, "b": 2},
        1.0,
    ),
    ("monologue", [("a", 0, 2_000), ("a", 2_500, 4_000), ("a", 4_500, 6_000)], {"a": 1}, 0.0),
    ("runs", [("a", 0, 2_000), ("a", 2_500, 4_000), ("b", 4_200, 6_000), ("a", 6_200, 8_000)], {"a": 2, "b": 1}, 2 / 3),
    # b's long overlap starts inside a's segment: ordered by onset, a-b-a
    ("overlap-ordered-by-onset", [("a", 0, 10_000), ("b", 5_000, 7_000), ("a", 10_300, 12_000)], {"a": 2, "b": 1}, 1.0),
]


@pytest.mark.parametrize(("utterances", "turns", "index"), [t[1:] for t in TURNS], ids=[t[0] for t in TURNS])
def test_turns_are_maximal_runs_by_one_speaker(utterances, turns, index):
    pt = PacingTracker()
    events = sorted([(s, 1, pid, True) for pid, s, _ in utterances] + [(e, 0, pid, False) for pid, _, e in utterances])
    for at, _, pid, speaking in events:
        pt.speaking(at, pid, speaking)
    assert pt.turn_counts() == turns
    assert pt.turn_taking_index() == pytest.approx(index, abs=1e-6)


def test_turn_counts_survive_compaction():
    pt = PacingTracker(PacingParams(compact_after=10))
    for i in range(50):
        say(pt, "ab"[i % 2], i * 3_000, i * 3_000 + 2_000)
    assert pt.turn_counts() == {"a": 25, "b": 25}
    assert pt.turn_taking_index() == pytest.approx(1.0)


def test_wpm_is_capped_at_the_schema_maximum():
    pt = PacingTracker(PacingParams(min_speaking_ms=1, min_words=1))
    (update,) = say(pt, "bob", 0, 100, " ".join(["w"] * 50))
    assert update.words_per_minute == 1000.0


@pytest.mark.parametrize(
    "params",
    [
        dict(slow_below_wpm=180, fast_above_wpm=170),
        dict(min_speaking_ms=0),
        dict(min_words=0),
        dict(window_speaking_ms=0),
        dict(compact_after=1),
    ],
)
def test_invalid_params_are_refused(params):
    with pytest.raises(ValueError):
        PacingParams(**params)


def test_a_room_without_transcripts_tells_each_speaker_once_that_it_has_no_words() -> None:
    """An audio-only room (no transcription) gets one honest update per speaker instead of silence."""
    pt = PacingTracker()
    pt.transcribed = False
    told = []
    for k in range(3):  # 2 s turns: the 3 s minimum is crossed at the second stop
        start = k * 5_000
        assert pt.speaking(start, "p-ann", True) == []
        told += pt.speaking(start + 2_000, "p-ann", False)
    assert [(u.state, u.words_per_minute, u.word_count, u.window_ms) for u in told] == [("no_words", 0.0, 0, 4_000)]


def test_a_transcribed_room_never_says_no_words_even_before_a_long_utterances_transcript() -> None:
    """A monologue's transcript may come only at its end: silence from the transcriber is not 'no words'."""
    pt = PacingTracker()
    for k in range(6):
        pt.speaking(k * 5_000, "p-bob", True)
        assert pt.speaking(k * 5_000 + 4_500, "p-bob", False) == []
