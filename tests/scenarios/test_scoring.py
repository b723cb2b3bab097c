"""``score_conventions`` on hand-made truth and envelopes: every figure of the accuracy table.

The real-speech tests score whole rooms; these pin down what each figure means on cases small
enough to work out by hand (collar, onset and offset error, misses, latency, scripted overlaps).
"""

from __future__ import annotations

from typing import Any

import pytest

from bot.generated.topics import Topic
from bot.scenarios.tools.scoring import COLLAR_MS, score_conventions


def _truth(
    participants: dict[str, list[tuple[int, int]]], *, duration_ms: int = 20_000, **extra: Any
) -> dict[str, Any]:
    total = sum(b - a for ivs in participants.values() for a, b in ivs) or 1
    return {
        "durationMs": duration_ms,
        "participants": {pid: {"intervals": [list(iv) for iv in ivs]} for pid, ivs in participants.items()},
        "shares": {pid: sum(b - a for a, b in ivs) / total for pid, ivs in participants.items()},
        "overlaps": extra.get("overlaps", []),
    }


def _speech(
    pid: str, start: int, end: int, *, started_at: int | None = None, stopped_at: int | None = None
) -> list[dict[str, Any]]:
    """The started/stopped envelopes of one detected segment (sink media times as play records them)."""
    return [
        {
            "topic": Topic.ROOM_SPEAKING_STARTED,
            "payload": {"participantId": pid, "mediaTimeMs": start},
            "x-sinkMediaMs": start + 90 if started_at is None else started_at,
        },
        {
            "topic": Topic.ROOM_SPEAKING_STOPPED,
            "payload": {"participantId": pid, "mediaTimeMs": end, "durationMs": end - start},
            "x-sinkMediaMs": end + 210 if stopped_at is None else stopped_at,
        },
    ]


def test_a_perfect_detection_scores_perfectly() -> None:
    truth = _truth({"a": [(1000, 2000), (5000, 6000)], "b": [(3000, 4000)]})
    env = _speech("a", 1000, 2000) + _speech("a", 5000, 6000) + _speech("b", 3000, 4000)
    s = score_conventions(truth, env)
    assert (s["minPrecision"], s["minRecall"], s["shareErrorPoints"]) == (1.0, 1.0, 0.0)
    assert s["onsetErrors"] == [0, 0, 0] and s["offsetErrors"] == [0, 0, 0]
    assert s["missed"] == []
    assert (s["startLatencyP50"], s["stopLatencyP50"]) == (90, 210)


def test_onset_and_offset_errors_are_signed_and_their_percentiles_absolute() -> None:
    truth = _truth({"a": [(1000, 2000), (5000, 6000)]})
    env = _speech("a", 1040, 1930) + _speech("a", 4980, 6100)
    s = score_conventions(truth, env)
    assert s["onsetErrors"] == [40, -20]
    assert s["offsetErrors"] == [-70, 100]
    assert s["offsetP50"] == pytest.approx(85.0)  # |-70| and |100|
    assert s["offsetP95"] == pytest.approx(98.5)


def test_offset_is_not_measured_where_the_participant_soon_speaks_again() -> None:
    # 250 ms to the next interval: a VAD rightly bridges it, so that end is no boundary to score;
    # the next interval's end (followed by silence) is.
    truth = _truth({"a": [(1000, 2000), (2250, 3000)]})
    s = score_conventions(truth, _speech("a", 1000, 3040))
    assert s["offsetErrors"] == [40]


def test_offset_is_not_measured_on_a_detection_bridged_into_the_next_interval() -> None:
    # 400 ms of silence follows, but the detection runs on into the next interval: its end is
    # that interval's, not this one's
    truth = _truth({"a": [(1000, 2000), (2400, 3000)]})
    s = score_conventions(truth, _speech("a", 1000, 3000))
    assert s["offsetErrors"] == [0]


def test_short_intervals_have_no_onset_or_offset_error() -> None:
    truth = _truth({"a": [(1000, 1150)]})
    s = score_conventions(truth, _speech("a", 1000, 1300))
    assert s["onsetErrors"] == [] and s["offsetErrors"] == []
    assert s["onsetP50"] is None and s["offsetP95"] is None


def test_a_missed_utterance_is_counted_and_has_no_onset_or_offset() -> None:
    truth = _truth({"a": [(1000, 2000), (5000, 6000), (9000, 9400)]})
    s = score_conventions(truth, _speech("a", 1000, 2000))
    assert [(m["startMs"], m["endMs"]) for m in s["missed"]] == [(5000, 6000), (9000, 9400)]
    assert s["onsetErrors"] == [0] and s["offsetErrors"] == [0]
    assert s["minRecall"] == pytest.approx(0.5)  # the middle 500 ms of each 1 s interval is scored
    # 9000-9400 lies wholly in its own collars: missed, but no frame of it is scored


def test_the_collar_forgives_boundary_errors_up_to_250_ms() -> None:
    truth = _truth({"a": [(2000, 4000)]})
    late = score_conventions(truth, _speech("a", 2000 + COLLAR_MS - 10, 4000 + COLLAR_MS - 10))
    assert (late["minPrecision"], late["minRecall"]) == (1.0, 1.0)
    beyond = score_conventions(truth, _speech("a", 2000, 4500))
    assert beyond["minPrecision"] < 1.0


def test_share_error_is_the_worst_participant_in_points() -> None:
    truth = _truth({"a": [(1000, 4000)], "b": [(5000, 6000)]})  # 75 % / 25 %
    s = score_conventions(truth, _speech("a", 1000, 4000) + _speech("b", 5000, 7000))  # 60 % / 40 %
    assert s["shareErrorPoints"] == pytest.approx(15.0)


def test_scripted_overlaps_are_right_only_when_reported_with_their_kind() -> None:
    overlaps = [
        {"holder": "a", "overlapper": "b", "startMs": 1500, "label": "backchannel"},
        {"holder": "a", "overlapper": "b", "startMs": 8000, "label": "interruption"},
    ]
    truth = _truth({"a": [(1000, 3000), (7000, 9000)], "b": [(1500, 1800), (8000, 9500)]}, overlaps=overlaps)
    reported = [
        {
            "topic": Topic.ROOM_OVERLAP_DETECTED,
            "payload": {"speakerId": "a", "overlapperId": "b", "mediaTimeMs": 1520, "kind": "backchannel"},
        },
        {
            "topic": Topic.ROOM_OVERLAP_DETECTED,
            "payload": {"speakerId": "a", "overlapperId": "b", "mediaTimeMs": 8010, "kind": "overlap"},
        },
    ]
    s = score_conventions(truth, reported)
    assert (s["scriptedRight"], s["scriptedOverlaps"]) == (1, 2)
    assert s["scriptedWrong"] == [overlaps[1]]
