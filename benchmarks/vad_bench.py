"""Per-participant VAD cost: Pipecat's per-analyzer way vs. the inference floor vs. ours.

Run from the repo root: ``python benchmarks/vad_bench.py`` (``--help`` for options). Prints one
table. Rooms are built from the committed espeak-ng clips (``bot/scenarios/clips``): N participants
take turns (round robin, 400 ms gaps), so each one speaks about 1/N of the ~30 s and is silent
(digital zeros, as a muted or idle WebRTC track) otherwise.

What is timed, per room, every participant's audio in 20 ms chunks interleaved as Daily delivers:

* ``naive``: one ``SileroVADAnalyzer`` per participant, ``await analyze_audio(chunk)`` on every
  20 ms chunk (what ``VADProcessor`` does per stream: executor hop, model on every 512-sample
  window, Pipecat's state machine). Analyzer construction (~25 ms each) is not timed.
* ``floor``: ``SileroOnnxModel`` on exactly the 512-sample windows that contain speech (int16 to
  float32 conversion included): what any detector that runs the model on speech must spend.
* ``ours``: ``SileroStreams`` (one session, state per participant, energy gate) plus
  ``SpeakingTracker``, fed every 20 ms chunk, as ``ParticipantVAD`` does inline.
* ``ours-nogate``: the same with the gate off, to separate what the gate saves from the rest.
* ``ours-batched``: ours fed a step at a time, every participant's chunk of a 20 ms step in one
  ``SileroStreams.feed_many`` call (what ``ParticipantVAD`` does with a ``RoomAudioFrame``): the
  windows a step completes are scored by one batched model run. Participants here take turns, so
  batches are mostly of one sounding window; what it saves is per-call bookkeeping.

Each figure is the median of ``--reps`` repetitions run in the same process, the methods
interleaved within each repetition, so a noisy shared machine slows all of them alike. Times are
the process's CPU time (all threads, ``time.process_time``), which waiting for a core on a shared
machine does not inflate; ``--wall`` times wall-clock instead (naive's executor hop then also
counts its waits). Read the
ratios; the absolute numbers depend on the machine. Pipeline overhead is not included.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from loguru import logger  # noqa: E402

logger.remove()  # Pipecat logs every analyzer load at DEBUG; keep the table readable
logger.add(sys.stderr, level="WARNING")

from pipecat.audio.vad.silero import SileroOnnxModel, SileroVADAnalyzer  # noqa: E402

from bot.analytics.speaking import SpeakingTracker  # noqa: E402
from bot.audio.silero_stream import SileroStreams, model_path  # noqa: E402

CLIPS = ROOT / "bot" / "scenarios" / "clips"
RATE = 16000
CHUNK = 320  # 20 ms
WINDOW = 512  # 32 ms
GAP_MS = 400
SPEAKERS = ["alice", "bob", "carol", "dan", "erin", "frank", "grace", "hank"]


@dataclass
class Room:
    participants: int
    tracks: list[np.ndarray]  # int16 audio per participant
    voiced: list[list[tuple[int, int]]]  # sample intervals per participant
    chunks: list[tuple[int, bytes]]  # (participant, 20 ms of int16) interleaved in time order

    @property
    def media_seconds(self) -> float:
        return sum(t.size for t in self.tracks) / RATE

    def speech_windows(self, p: int) -> list[int]:
        """Start samples of the 512-sample windows of participant ``p`` that contain speech."""
        starts: set[int] = set()
        for s, e in self.voiced[p]:
            starts.update(range((s // WINDOW) * WINDOW, e, WINDOW))
        return sorted(x for x in starts if x + WINDOW <= self.tracks[p].size)


def load_clip(entry: dict[str, Any]) -> np.ndarray:
    with wave.open(str(CLIPS / entry["file"])) as w:
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def build_room(participants: int, seconds: float) -> Room:
    manifest = json.loads((CLIPS / "manifest.json").read_text())["clips"]
    pool = {
        s: [(load_clip(c), c["voiced"]) for c in manifest.values() if c["speaker"] == s]
        for s in SPEAKERS[:participants]
    }
    total = int(seconds * RATE)
    tracks = [np.zeros(total, dtype=np.int16) for _ in range(participants)]
    voiced: list[list[tuple[int, int]]] = [[] for _ in range(participants)]
    t, turn = 300 * RATE // 1000, 0
    while True:
        p = turn % participants
        audio, intervals = pool[SPEAKERS[p]][(turn // participants) % len(pool[SPEAKERS[p]])]
        if t + audio.size > total:
            break
        tracks[p][t : t + audio.size] = audio
        voiced[p] += [(t + s * RATE // 1000, t + e * RATE // 1000) for s, e in intervals]
        t += audio.size + GAP_MS * RATE // 1000
        turn += 1
    chunks = [
        (p, tracks[p][start : start + CHUNK].tobytes())
        for start in range(0, total - CHUNK + 1, CHUNK)
        for p in range(participants)
    ]
    return Room(participants, tracks, voiced, chunks)


clock = time.process_time
"""What is timed: CPU time by default, wall time with ``--wall``."""


# --- the three ways ------------------------------------------------------------------------------


async def run_naive(room: Room) -> tuple[float, int]:
    analyzers = []
    for _ in range(room.participants):
        vad = SileroVADAnalyzer()
        vad.set_sample_rate(RATE)
        analyzers.append(vad)
    start = clock()
    for p, chunk in room.chunks:
        await analyzers[p].analyze_audio(chunk)
    elapsed = clock() - start
    for vad in analyzers:
        await vad.cleanup()
    return elapsed, sum(t.size // WINDOW for t in room.tracks)


def run_floor(room: Room, model_file: str) -> tuple[float, int]:
    windows = [(p, room.tracks[p][s : s + WINDOW]) for p in range(room.participants) for s in room.speech_windows(p)]
    models = [SileroOnnxModel(model_file, force_onnx_cpu=True) for _ in range(room.participants)]
    start = clock()
    for p, window in windows:
        models[p](window.astype(np.float32) / 32768.0, RATE)
    return clock() - start, len(windows)


def run_ours(room: Room, streams: SileroStreams) -> tuple[float, int]:
    trackers = [SpeakingTracker(str(p)) for p in range(room.participants)]
    for p in range(room.participants):
        streams.open(str(p))
    before = streams.stats.windows_inferred
    start = clock()
    for p, chunk in room.chunks:
        tracker = trackers[p]
        for w in streams.feed(str(p), np.frombuffer(chunk, dtype=np.int16)):
            sound = None if w.sound is None else (w.sound[0] // 16, w.sound[1] // 16)
            tracker.observe(w.end // 16, w.confidence, sound)
    elapsed = clock() - start
    streams.close_all()
    return elapsed, streams.stats.windows_inferred - before


def run_ours_batched(room: Room, streams: SileroStreams) -> tuple[float, int]:
    trackers = [SpeakingTracker(str(p)) for p in range(room.participants)]
    for p in range(room.participants):
        streams.open(str(p))
    n = room.participants
    steps = [
        [(str(p), np.frombuffer(chunk, dtype=np.int16)) for p, chunk in room.chunks[i : i + n]]
        for i in range(0, len(room.chunks), n)
    ]
    before = streams.stats.windows_inferred
    start = clock()
    for step in steps:
        for (pid, _), scores in zip(step, streams.feed_many(step), strict=True):
            tracker = trackers[int(pid)]
            for w in scores:
                sound = None if w.sound is None else (w.sound[0] // 16, w.sound[1] // 16)
                tracker.observe(w.end // 16, w.confidence, sound)
    elapsed = clock() - start
    streams.close_all()
    return elapsed, streams.stats.windows_inferred - before


# --- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", default="1,4,8", help="room sizes (default 1,4,8)")
    parser.add_argument("--seconds", type=float, default=30.0, help="media per room (default 30)")
    parser.add_argument("--reps", type=int, default=5, help="repetitions; medians (default 5)")
    parser.add_argument("--wall", action="store_true", help="time wall-clock instead of CPU time")
    args = parser.parse_args()
    global clock
    if args.wall:
        clock = time.perf_counter
    sizes = [int(n) for n in args.participants.split(",")]

    model_file = str(model_path())
    gated = SileroStreams.load()
    ungated = SileroStreams(gated.session, gate=None)

    rows = []
    for n in sizes:
        room = build_room(n, args.seconds)
        speech_share = sum(len(room.speech_windows(p)) for p in range(n)) / sum(t.size // WINDOW for t in room.tracks)
        times: dict[str, list[float]] = {k: [] for k in ("naive", "floor", "ours", "ours-nogate", "ours-batched")}
        windows: dict[str, int] = {}
        for _ in range(args.reps):
            t, windows["naive"] = asyncio.run(run_naive(room))
            times["naive"].append(t)
            t, windows["floor"] = run_floor(room, model_file)
            times["floor"].append(t)
            t, windows["ours"] = run_ours(room, gated)
            times["ours"].append(t)
            t, windows["ours-nogate"] = run_ours(room, ungated)
            times["ours-nogate"].append(t)
            t, windows["ours-batched"] = run_ours_batched(room, gated)
            times["ours-batched"].append(t)
        med = {k: statistics.median(v) for k, v in times.items()}
        for method in times:
            rows.append(
                (
                    n,
                    f"{speech_share:.0%}",
                    method,
                    room.media_seconds / med[method],
                    med[method] / len(room.chunks) * 1e6,
                    windows[method],
                    med[method] / med["naive"] if method in ("ours", "ours-batched") else None,
                    med[method] / med["floor"] if method in ("ours", "ours-batched") else None,
                    med[method] / med["ours"] if method == "ours-batched" else None,
                )
            )

    print(
        f"# {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, {args.seconds:.0f} s media per"
        f" participant, median of {args.reps} runs; rooms from bot/scenarios/clips;"
        f" {'wall' if args.wall else 'CPU'} time"
    )
    header = (
        "N",
        "speech",
        "method",
        "x realtime",
        "us/20ms chunk",
        "windows inferred",
        "/naive",
        "/floor",
        "/ours",
    )
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for n, share, method, xrt, us, win, r_naive, r_floor, r_ours in rows:
        cells = [
            str(n),
            share,
            method,
            f"{xrt:,.0f}",
            f"{us:.1f}",
            f"{win:,}",
            "" if r_naive is None else f"{r_naive:.2f}",
            "" if r_floor is None else f"{r_floor:.2f}",
            "" if r_ours is None else f"{r_ours:.2f}",
        ]
        print("| " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
