"""MediaClockStamper and AudioTimeline: media time on live frames, and the 100 ms tick."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from pipecat.frames.frames import TranscriptionFrame, UserAudioRawFrame  # noqa: E402
from pipecat.tests.utils import SleepFrame, run_test  # noqa: E402
from pipecat.transports.daily.transport import DailyInputTransportMessageFrame  # noqa: E402

from bot.core.frames import MediaTickFrame, ParticipantLeftFrame  # noqa: E402
from bot.core.media import media_time_of, stamp  # noqa: E402
from bot.processors.media_clock import AudioTimeline, MediaClockStamper  # noqa: E402

PCM_20MS = bytes(640)


def test_first_chunk_ends_at_arrival_and_later_chunks_follow_by_samples() -> None:
    timeline = AudioTimeline()
    assert timeline.place("a", now_ms=1020, num_samples=320, sample_rate=16000) == 1000
    assert timeline.place("a", now_ms=1045, num_samples=320, sample_rate=16000) == 1020  # jitter ignored
    assert timeline.place("a", now_ms=1046, num_samples=320, sample_rate=16000) == 1040  # burst kept in order
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
    down, up = asyncio.run(run_test(stamper, frames_to_send=frames, expected_down_frames=None))
    # System frames (audio, app messages, leaves) may overtake data frames (transcripts).
    audio = [media_time_of(f) for f in down if isinstance(f, UserAudioRawFrame)]
    texts = {f.text: media_time_of(f) for f in down if isinstance(f, TranscriptionFrame)}
    (msg,) = [f for f in down if isinstance(f, DailyInputTransportMessageFrame)]
    (left,) = [f for f in down if isinstance(f, ParticipantLeftFrame)]
    assert audio == [980, 1000] and texts == {"hello": 1000, "old": 5}
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
    down, _ = asyncio.run(run_test(stamper, frames_to_send=[SleepFrame(sleep=0.55)], expected_down_frames=None))
    ticks = [f.media_time_ms for f in down if isinstance(f, MediaTickFrame)]
    assert 3 <= len(ticks) <= 6, ticks
    assert all(t % 100 == 0 and t > 0 for t in ticks) and ticks == sorted(set(ticks))
    assert stamper._tick_task is None  # stopped at EndFrame


def test_a_bad_tick_period_is_refused() -> None:
    with pytest.raises(ValueError):
        MediaClockStamper(clock=lambda: 0, tick_ms=0)
