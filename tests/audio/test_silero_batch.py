"""SileroStreams.feed_many: one batched model run per round of windows, identical to feed() stream by stream.

The real Silero model (Pipecat's bundled ONNX) on the committed espeak-ng clips, noise and a loud
tone (which drives the state refresh), so every path of the gate runs: gated windows, resets after a
pause, replays before an onset, refreshes with their warm-up runs, and quiet trail windows.
"""

from __future__ import annotations

import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
import pytest

from bot.analytics.speaking import GateParams
from bot.audio.silero_stream import SileroStreams, WindowScore

CLIPS = Path(__file__).resolve().parents[2] / "bot" / "scenarios" / "clips"
MANIFEST = CLIPS / "manifest.json"
RATE = 16000

needs_clips = pytest.mark.skipif(not MANIFEST.exists(), reason="bot/scenarios/clips are missing")


def clip(name: str) -> np.ndarray:
    entry = json.loads(MANIFEST.read_text())["clips"][name]
    with wave.open(str(CLIPS / entry["file"])) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def tone(ms: int, rate: int = RATE, dbfs: float = -6.0) -> np.ndarray:
    t = np.arange(ms * rate // 1000) / rate
    return np.round(np.sin(2 * np.pi * 200.0 * t) * 32767 * 10 ** (dbfs / 20)).astype(np.int16)


def pink(ms: int, seed: int, rate: int = RATE, dbfs: float = -40.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = ms * rate // 1000
    spectrum = np.fft.rfft(rng.standard_normal(n))
    f = np.arange(spectrum.size, dtype=np.float64)
    f[0] = 1.0
    x = np.fft.irfft(spectrum / np.sqrt(f), n)
    x = x / np.sqrt(np.mean(x**2)) * 32768.0 * 10 ** (dbfs / 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def silence(ms: int, rate: int = RATE) -> np.ndarray:
    return np.zeros(ms * rate // 1000, dtype=np.int16)


class CountingSession:
    """A real session that counts its runs and the batch size of each (the only thing faked: nothing)."""

    def __init__(self, session: onnxruntime.InferenceSession) -> None:
        self._session = session
        self.batches: list[int] = []

    def run(self, outputs: Any, feeds: dict[str, np.ndarray]) -> Any:
        self.batches.append(int(feeds["input"].shape[0]))
        return self._session.run(outputs, feeds)


@pytest.fixture(scope="module")
def session() -> onnxruntime.InferenceSession:
    return SileroStreams.load().session


@pytest.fixture(scope="module")
def room() -> dict[str, np.ndarray]:
    """Six participants, 8 s each: speech, pauses, noise, a loud tone, silence; different phases."""
    return {
        "alice": np.concatenate([silence(300), clip("alice-1"), silence(900), clip("alice-2")]),
        "bob": np.concatenate([pink(1500, 1), clip("bob-1"), pink(800, 2)]),
        "carol": np.concatenate([tone(2600), silence(700), clip("carol-2")]),  # > refresh_after_ms of tone
        "dan": silence(8000),
        "erin": np.concatenate([clip("dan-2"), silence(1200), clip("bob-short")]),
        "frank": np.concatenate([pink(700, 3, dbfs=-70.0), clip("carol-1")]),
    }


def feed_one_by_one(session: onnxruntime.InferenceSession, steps: list[list[tuple[str, np.ndarray]]]) -> Any:
    streams = SileroStreams(session)
    out: dict[str, list[WindowScore]] = {}
    for step in steps:
        for pid, samples in step:
            if pid not in streams:
                streams.open(pid)
            out.setdefault(pid, []).extend(streams.feed(pid, samples))
    return out, streams.stats


def feed_batched(session: Any, steps: list[list[tuple[str, np.ndarray]]]) -> Any:
    streams = SileroStreams(session)
    out: dict[str, list[WindowScore]] = {}
    for step in steps:
        for pid, _ in step:
            if pid not in streams:
                streams.open(pid)
        for (pid, _), scores in zip(step, streams.feed_many(step), strict=True):
            out.setdefault(pid, []).extend(scores)
    return out, streams.stats


def steps_of(tracks: dict[str, np.ndarray], chunk: int, *, joins: dict[str, int] | None = None) -> list:
    """Per step, every participant's next ``chunk`` samples (participants join at ``joins`` samples)."""
    joins = joins or {}
    longest = max(a.size for a in tracks.values())
    steps = []
    for start in range(0, longest, chunk):
        step = []
        for pid, audio in tracks.items():
            at = joins.get(pid, 0)
            if start < at:
                continue
            piece = audio[start - at : start - at + chunk]
            if piece.size:
                step.append((pid, piece))
        steps.append(step)
    return steps


# --- the premise: onnxruntime computes each row of a batch as a batch of one --------------------


@needs_clips
def test_onnxruntime_scores_each_row_of_a_batch_bit_for_bit_as_alone(session):
    """Silero's rows do not interact, and ORT's CPU kernels give the same bits for B rows as for 1."""
    sources = [clip("alice-1"), clip("bob-1"), pink(3000, 7), tone(3000), clip("carol-2"), silence(3000)]
    n = min(s.size for s in sources) // 512
    rows = len(sources)
    sr = np.array(RATE, dtype="int64")
    state_b = np.zeros((2, rows, 128), np.float32)
    state_1 = [np.zeros((2, 1, 128), np.float32) for _ in range(rows)]
    context = np.zeros((rows, 64), np.float32)
    for w in range(n):
        windows = np.stack([s[w * 512 : (w + 1) * 512] for s in sources]).astype(np.float32) / 32768.0
        x = np.concatenate((context, windows), axis=1)
        out_b, state_b = session.run(None, {"input": x, "state": state_b, "sr": sr})
        for r in range(rows):
            out_1, state_1[r] = session.run(None, {"input": x[r : r + 1], "state": state_1[r], "sr": sr})
            assert out_1[0][0] == out_b[r][0]
            assert np.array_equal(state_1[r][:, 0], state_b[:, r])
        context = x[:, -64:]


# --- feed_many == feed, window by window ---------------------------------------------------------


@needs_clips
@pytest.mark.parametrize("chunk", [320, 160, 512, 1100], ids=["20ms", "10ms", "one-window", "multi-window"])
def test_feed_many_gives_what_feed_gives_window_by_window(session, room, chunk):
    steps = steps_of(room, chunk, joins={"erin": 7 * 320, "frank": 1000})  # erin and frank out of phase
    single, single_stats = feed_one_by_one(session, steps)
    counting = CountingSession(session)
    batched, batched_stats = feed_batched(counting, steps)
    assert batched == single  # every window: end, confidence (bit for bit) and sound span
    assert batched_stats == single_stats
    # every path of the gate ran, and windows really were batched
    assert single_stats.resets and single_stats.refreshes and single_stats.windows_replayed
    assert single_stats.windows_gated and max(counting.batches) >= 3
    assert len(counting.batches) < single_stats.windows_inferred  # fewer runs than windows scored


@needs_clips
def test_feed_many_runs_the_model_once_per_round(session, room):
    streams = SileroStreams(CountingSession(session), gate=None)  # type: ignore[arg-type]
    for pid in room:
        streams.open(pid)
    counting = streams.session
    scores = streams.feed_many([(pid, audio[:2048]) for pid, audio in room.items()])
    assert [len(s) for s in scores] == [4] * len(room)  # 2048 samples: 4 windows each
    assert counting.batches == [len(room)] * 4  # type: ignore[attr-defined]


@needs_clips
def test_streams_at_different_rates_are_batched_per_rate(session):
    audio16 = clip("alice-1")[:4096]
    audio8 = audio16[::2].copy()
    counting = CountingSession(session)
    streams = SileroStreams(counting, gate=None)  # type: ignore[arg-type]
    reference = SileroStreams(session, gate=None)
    for s in (streams, reference):
        s.open("a")
        s.open("b")
        s.open("c", sample_rate=8000)
        s.open("d", sample_rate=8000)
    items = [("a", audio16), ("c", audio8), ("b", audio16[::-1].copy()), ("d", audio8[::-1].copy())]
    batched = streams.feed_many(items)
    assert batched == [reference.feed(pid, samples) for pid, samples in items]
    assert counting.batches == [2, 2] * 8  # per round: one run for the 16 kHz pair, one for the 8 kHz pair


def test_a_stream_given_twice_in_one_call_is_refused(session):
    streams = SileroStreams(session)
    streams.open("a")
    with pytest.raises(ValueError, match="'a' given twice"):
        streams.feed_many([("a", silence(20)), ("a", silence(20))])


def test_an_unopened_stream_is_a_key_error_and_nothing_is_consumed(session):
    streams = SileroStreams(session)
    streams.open("a")
    with pytest.raises(KeyError):
        streams.feed_many([("a", silence(40)), ("nobody", silence(40))])
    assert streams.stats.windows_seen == 0


def test_an_empty_call_does_nothing(session):
    streams = SileroStreams(session, gate=GateParams())
    assert streams.feed_many([]) == []


def test_every_window_carries_its_loudest_block_level(session):
    # The speaking tracker's level cue (SpeakingParams.onset_bridge_ms) needs the level of gated
    # windows as well as scored ones; without a gate there is none.
    from bot.analytics.speaking import block_dbfs

    audio = np.concatenate((silence(600), tone(200, dbfs=-30.0), pink(300, seed=3, dbfs=-62.0)))
    streams = SileroStreams(session)
    streams.open("a")
    windows = streams.feed("a", audio)
    expected = [float(block_dbfs(audio[i : i + 512]).max()) for i in range(0, len(windows) * 512, 512)]
    assert [w.level for w in windows] == pytest.approx(expected, abs=1e-4)  # float32 audio
    assert any(w.confidence is None for w in windows) and any(w.confidence is not None for w in windows)
    ungated = SileroStreams(session, gate=None)
    ungated.open("a")
    assert {w.level for w in ungated.feed("a", audio)} == {None}
