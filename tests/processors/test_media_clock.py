"""MediaClockStamper and AudioTimeline: media time on live frames, and the 100 ms tick."""

from __future__ import annotations

import asyncio
import sys
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from pipecat.frames.frames import TranscriptionFrame, UserAudioRawFrame  # noqa: E402
from pipecat.transports.daily.transport import DailyInputTransportMessageFrame  # noqa: E402

from bot.core.frames import MediaTickFrame, ParticipantJoinedFrame, ParticipantLeftFrame  # noqa: E402
from bot.core.media import media_time_of, stamp  # noqa: E402
from bot.processors.media_clock import AudioTimeline, MediaClockStamper  # noqa: E402
from tests.pipeline_harness import SleepFrame, run_pipeline  # noqa: E402

PCM_20MS = bytes(640)


def test_first_chunk_ends_at_arrival_and_later_chunks_follow_by_samples() -> None:
    timeline = AudioTimeline()
    assert timeline.place("a", now_ms=1020, num_samples=320, sample_rate=16000) == 1000
    assert timeline.place("a", now_ms=1045, num_samples=320, sample_rate=16000) == 1020  # jitter ignored
    # a burst: counted on it would be 20 ms ahead of its arrival; the stream slews back 2 ms (10 %)
    assert timeline.place("a", now_ms=1046, num_samples=320, sample_rate=16000) == 1038
    assert timeline.place("b", now_ms=1046, num_samples=160, sample_rate=8000) == 1026


def test_a_stream_that_fell_behind_is_reanchored_at_the_clock() -> None:
    timeline = AudioTimeline(resync_ms=500)
    timeline.place("a", now_ms=20, num_samples=320, sample_rate=16000)
    assert timeline.place("a", now_ms=400, num_samples=320, sample_rate=16000) == 20  # 360 ms behind: kept
    assert timeline.place("a", now_ms=3020, num_samples=320, sample_rate=16000) == 3000  # muted for a while


def test_chunks_that_are_not_whole_milliseconds_do_not_drift() -> None:
    timeline = AudioTimeline()
    arrivals = [k * 100 * 1000 // 16000 for k in range(1, 1602)]  # each 6.25 ms chunk on time
    starts = [timeline.place("a", now_ms=t, num_samples=100, sample_rate=16000) for t in arrivals]
    assert starts[:5] == [0, 6, 12, 18, 25] and starts[1600] == 10_000  # 1600 × 6.25 ms


def test_forgetting_a_participant_restarts_their_anchor() -> None:
    timeline = AudioTimeline()
    timeline.place("a", now_ms=20, num_samples=320, sample_rate=16000)
    timeline.forget("a")
    assert timeline.place("a", now_ms=520, num_samples=320, sample_rate=16000) == 500


def test_unstamped_frames_are_stamped_and_stamped_ones_left_alone() -> None:
    now = [1000]
    stamper = MediaClockStamper(clock=lambda: now[0], tick_ms=None)
    pre = stamp(TranscriptionFrame(text="old", user_id="a", timestamp="t"), 5)
    frames = [
        UserAudioRawFrame(audio=PCM_20MS, sample_rate=16000, num_channels=1, user_id="alice"),
        UserAudioRawFrame(audio=PCM_20MS, sample_rate=16000, num_channels=1, user_id="alice"),
        TranscriptionFrame(text="hello", user_id="alice", timestamp="t"),
        DailyInputTransportMessageFrame(message={"event": "chat-msg", "message": "hi"}, participant_id="alice"),
        pre,
        ParticipantLeftFrame(participant_id="alice", media_time_ms=1000),
    ]
    down, up = run_pipeline(stamper, frames_to_send=frames)
    # System frames (audio, app messages, leaves) may overtake data frames (transcripts).
    audio = [media_time_of(f) for f in down if isinstance(f, UserAudioRawFrame)]
    texts = {f.text: media_time_of(f) for f in down if isinstance(f, TranscriptionFrame)}
    (msg,) = [f for f in down if isinstance(f, DailyInputTransportMessageFrame)]
    (left,) = [f for f in down if isinstance(f, ParticipantLeftFrame)]
    assert (
        audio == [980, 998] and texts
    )  # the second chunk arrived with the first: slewed back 2 ms == {"hello": 1000, "old": 5}
    assert media_time_of(msg) == 1000 and media_time_of(left) == 1000
    assert msg.message == {"event": "chat-msg", "message": "hi"} and msg.participant_id == "alice"
    assert up == []


def test_ticks_are_pushed_every_100_ms_on_multiples_of_100() -> None:
    loop_t0: list[float] = []

    def clock() -> int:
        loop = asyncio.get_running_loop()
        if not loop_t0:
            loop_t0.append(loop.time())
        return int((loop.time() - loop_t0[0]) * 1000)

    stamper = MediaClockStamper(clock=clock)
    down, _ = run_pipeline(stamper, frames_to_send=[SleepFrame(sleep=0.55)])
    ticks = [f.media_time_ms for f in down if isinstance(f, MediaTickFrame)]
    assert 3 <= len(ticks) <= 6, ticks
    assert all(t % 100 == 0 and t > 0 for t in ticks) and ticks == sorted(set(ticks))
    assert stamper._tick_task is None  # stopped at EndFrame


def test_a_bad_tick_period_is_refused() -> None:
    with pytest.raises(ValueError):
        MediaClockStamper(clock=lambda: 0, tick_ms=0)


# ---- convergence: each stream heals to the room clock --------------------------------------------
#
# A participant's true audio is chunks of 20 ms starting at true_start; each arrives at
# true_start + 20 + latency (+ whatever the scenario adds). The error of a stamp is
# stamp - (true_start + smallest latency): what the stream would show with a perfect anchor.

CHUNK = 320  # 20 ms at 16 kHz
LATENCY = 30


def play(chunks: list[tuple[float, float]], timeline: AudioTimeline | None = None) -> list[tuple[float, int, float]]:
    """(true start, arrival) per chunk → (arrival, stamp, error) per chunk."""
    timeline = timeline or AudioTimeline()
    out = []
    for true_start, arrival in chunks:
        at = timeline.place("a", now_ms=int(arrival), num_samples=CHUNK, sample_rate=16000)
        out.append((arrival, at, at - true_start - LATENCY))
    return out


def live(from_ms: float, to_ms: float, *, offset: float = 0.0) -> list[tuple[float, float]]:
    """On-time chunks of true audio [from_ms, to_ms)."""
    return [(t, t + 20 + LATENCY + offset) for t in range(int(from_ms), int(to_ms), 20)]


def errors_after(result: list[tuple[float, int, float]], arrival_ms: float) -> list[float]:
    return [err for arrival, _, err in result if arrival >= arrival_ms]


def test_a_gap_under_the_resync_threshold_heals_within_the_window() -> None:
    """Muted for 900 ms (no chunks), then speaking again: no longer 900 ms behind for the rest of the call."""
    result = play(live(0, 1000) + live(1900, 12_000))
    assert max(abs(e) for e in errors_after(result, 1900 + 600)) <= 1  # healed 0.5 s after resuming
    assert max(abs(e) for e in errors_after(result, 0)[:50]) <= 1  # before the gap: exact


def test_a_backlog_at_first_arrival_slews_back_to_the_clock_without_overlapping() -> None:
    """400 ms of audio delivered at once when the stream opens, then live audio."""
    backlog = [(t, 400 + 20 + LATENCY) for t in range(0, 400, 20)]
    result = play(backlog + live(400, 10_000))
    stamps = [at for _, at, _ in result]
    assert result[0][2] == 400  # the first chunk can only be placed at its arrival: 400 ms ahead
    assert max(abs(e) for e in errors_after(result, 400 + 4_500)) <= 1  # 400 ms at 100 ms/s: healed in ~4 s
    steps = [b - a for a, b in pairwise(stamps)]
    assert min(steps) >= 18 and max(steps) <= 22  # at most 2 ms (10 % of a chunk) per chunk, never a step back


def test_a_burst_after_a_short_stall_keeps_the_right_stamps() -> None:
    """The network holds 300 ms of audio back and then delivers it at once: the counted stamps are right."""
    stalled = [(t, 1300 + 20 + LATENCY) for t in range(1000, 1300, 20)]
    result = play(live(0, 1000) + stalled + live(1300, 5000))
    assert max(abs(e) for _, _, e in result) <= 1


def test_jitter_does_not_move_the_stamps_and_the_error_stays_within_the_tolerance() -> None:
    import random

    rng = random.Random(7)
    chunks = [(t, t + 20 + LATENCY + rng.uniform(0, 60)) for t in range(0, 20_000, 20)]
    result = play(chunks)
    errs = errors_after(result, 2000)
    assert max(errs) <= 20 and min(errs) >= -2  # never more than the tolerance behind, never ahead
    stamps = [at for _, at, _ in result]
    assert all(b > a for a, b in pairwise(stamps))


def test_a_sender_clock_that_runs_slow_is_followed() -> None:
    """0.5 % slow: each 20 ms chunk arrives 20.1 ms after the previous one (5 ms behind per second)."""
    chunks = [(k * 20.1, k * 20.1 + 20 + LATENCY) for k in range(3000)]  # 60 s
    result = play(chunks)
    # bounded, not growing: the tolerance (20) + the window's age × the drift (500 ms × 0.5 %) + 1 ms rounding
    assert max(abs(e) for e in errors_after(result, 1000)) <= 24


def test_a_long_mute_reanchors_at_once() -> None:
    result = play(live(0, 1000) + live(4000, 5000))
    assert abs(errors_after(result, 4000)[0]) <= 1


def test_audio_queued_before_a_leave_does_not_reopen_the_stream() -> None:
    now = [1000]
    stamper = MediaClockStamper(clock=lambda: now[0], tick_ms=None)
    chunk = lambda: UserAudioRawFrame(audio=PCM_20MS, sample_rate=16000, num_channels=1, user_id="alice")  # noqa: E731
    frames = [
        chunk(),
        ParticipantLeftFrame(participant_id="alice", media_time_ms=1000),
        chunk(),  # queued before the leave, delivered after it
        chunk(),
        ParticipantJoinedFrame(participant_id="alice", media_time_ms=1000),
        chunk(),  # a rejoin: the stream opens again
    ]
    down, _ = run_pipeline(stamper, frames_to_send=frames)
    audio = [f for f in down if isinstance(f, UserAudioRawFrame)]
    assert len(audio) == 2 and stamper.dropped_after_leave == 2
