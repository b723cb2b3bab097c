"""bot.core.media: the media-time stamp and the one sample-counted clock (SampleClock)."""

from __future__ import annotations

import pytest
from pipecat.frames.frames import UserAudioRawFrame

from bot.core.frames import MediaTickFrame
from bot.core.media import SampleClock, media_time_of, samples_to_ms, stamp


def place_all(clock: SampleClock, chunks: list[int], at: dict[int, int] | None = None) -> list[int]:
    """Place chunks of the given lengths; ``at`` maps a chunk's position to its stamp."""
    at = at or {}
    return [clock.place(n, at.get(i)) for i, n in enumerate(chunks)]


@pytest.mark.parametrize(
    ("num_samples", "rate", "expected"),
    [(320, 16000, 20), (160, 8000, 20), (100, 16000, 6), (15, 16000, 0), (441, 44100, 10)],
    ids=["20ms-16k", "20ms-8k", "6.25ms-rounds-down", "under-1ms", "10ms-44k1"],
)
def test_samples_become_the_millisecond_they_fall_in(num_samples, rate, expected):
    assert samples_to_ms(num_samples, rate) == expected


@pytest.mark.parametrize(
    ("rate", "anchor", "chunks", "expected"),
    [
        (16000, 0, [320, 320, 320], [0, 20, 40]),
        (8000, 1000, [160, 160], [1000, 1020]),
        (16000, 0, [160, 320, 80], [0, 10, 30]),
        (16000, 0, [100] * 5, [0, 6, 12, 18, 25]),  # 6.25 ms chunks: counted, not added up
    ],
    ids=["20ms", "anchored", "mixed-lengths", "fractional-ms-chunks"],
)
def test_chunks_follow_each_other_by_sample_count(rate, anchor, chunks, expected):
    assert place_all(SampleClock(rate, anchor_ms=anchor), chunks) == expected


def test_fractional_chunks_do_not_drift():
    clock = SampleClock(16000)
    place_all(clock, [100] * 1600)  # 1600 × 6.25 ms; adding rounded lengths would give 9600
    assert clock.now_ms == 10_000


def test_a_stamp_that_disagrees_reanchors_the_clock():
    clock = SampleClock(16000)
    assert place_all(clock, [320] * 4, at={2: 1500}) == [0, 20, 1500, 1520]
    assert clock.now_ms == 1540
    assert clock.at(320 * 2 + 16) == 1501  # samples after the stamp count from it
    assert clock.at(320 * 2 - 16) == 1499  # samples before it extrapolate back from it


def test_stamps_from_a_clock_with_the_same_rule_never_move_the_anchor():
    """A stamper's stamps (floor-rounded) leave the follower's sub-ms positions exact."""
    leader, follower = SampleClock(16000, anchor_ms=700), SampleClock(16000, anchor_ms=700)
    for _ in range(500):
        follower.place(100, leader.place(100))  # 6.25 ms chunks: most stamps are rounded
    # Re-anchoring at a rounded stamp would put some samples 1 ms early; none is.
    assert [follower.at(i) for i in range(0, 50_000, 37)] == [leader.at(i) for i in range(0, 50_000, 37)]


def test_a_bad_rate_is_refused():
    with pytest.raises(ValueError):
        SampleClock(0)


def test_the_stamp_wins_over_a_frames_own_media_time():
    tick = MediaTickFrame(media_time_ms=300)
    assert media_time_of(tick) == 300
    assert media_time_of(stamp(tick, 400)) == 400
    audio = UserAudioRawFrame(audio=bytes(640), sample_rate=16000, num_channels=1, user_id="a")
    assert media_time_of(audio) is None and media_time_of(audio, default=7) == 7
