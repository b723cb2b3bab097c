"""Publish -> stdout throughput of the event runtime, next to the bare-``json.dumps`` baseline.

Usage::

    python benchmarks/events_bench.py [--n 50000] [--repeat 7] [--sink devnull|pipe] [--profile]

"ours" is ``EventBus.publish(model)`` with a ``StdoutEmitter`` subscribed, exactly as
``create_runtime`` wires it: validate the model's topic, dump it to its wire form, stamp a UUIDv7,
``ts`` and ``meta.seq``, keep the envelope in the ring buffer, dispatch, route and redact for
stdout, serialize the envelope with orjson and ``os.write`` the line. The baseline does what a
hand-rolled emitter would do with the *same* payloads: ``json.dumps(payload_dict)``, write, flush.
Both write one line per event with one ``write(2)`` each, to the same kind of file descriptor.

Sink: by default ``/dev/null`` opened as a raw fd. That keeps the syscall per line (the cost a pipe
also has) but nothing else: a reader in the same process would be a second thread taking the GIL
on every wake-up, which adds the same noise to both columns and measures the reader, not us.
``--sink pipe`` uses a real pipe drained by a thread, to see the IPC path end to end.

The payload mix is what a live room produces: speaking started/stopped of 4 participants, pacing
updates, and dominance scores over 4 participants (the largest payload), in the ratio 2:2:1:1.

Targets (issue): >= 30,000 envelopes/s on one core, ours/baseline time ratio <= 4.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.events import EventBus, Redactor, SessionContext, SpecRegistry, StdoutEmitter  # noqa: E402
from bot.generated import (  # noqa: E402
    DominanceShare,
    RoomDominanceScore,
    RoomPacingUpdated,
    RoomSpeakingStarted,
    RoomSpeakingStopped,
    TopicModel,
)

TARGET_RATE = 30_000
TARGET_RATIO = 4.0
PARTICIPANTS = [f"8f14e45f-ceea-467f-a0e6-{i:012d}" for i in range(4)]  # Daily ids look like UUIDs


def payload_mix(n: int) -> list[TopicModel]:
    """``n`` payload models in the room's ratio: started, stopped, started, stopped, pacing, dominance."""
    models: list[TopicModel] = []
    t = 0
    i = 0
    while len(models) < n:
        pid = PARTICIPANTS[i % 4]
        other = PARTICIPANTS[(i + 1) % 4]
        t += 1_730
        talk = [12_000 + 1_000 * ((i + k) % 7) for k in range(4)]
        total = sum(talk)
        cycle: list[TopicModel] = [
            RoomSpeakingStarted(participant_id=pid, media_time_ms=t),
            RoomSpeakingStopped(participant_id=pid, media_time_ms=t + 1_200, duration_ms=1_200),
            RoomSpeakingStarted(participant_id=other, media_time_ms=t + 1_250),
            RoomSpeakingStopped(participant_id=other, media_time_ms=t + 1_700, duration_ms=450),
            RoomPacingUpdated(
                participant_id=pid,
                words_per_minute=151.25,
                state="normal",
                turn_count=i // 4 + 1,
                window_ms=30_000,
                word_count=76,
                media_time_ms=t + 1_200,
            ),
            RoomDominanceScore(
                window_ms=60_000,
                participants=[
                    DominanceShare(participant_id=p, talk_time_ms=ms, share=round(ms / total, 4))
                    for p, ms in zip(PARTICIPANTS, talk, strict=True)
                ],
                gini=0.1234,
                dominant_participant_id=None,
                trigger="change",
                media_time_ms=t + 1_700,
            ),
        ]
        models.extend(cycle)
        i += 1
    return models[:n]


class Sink:
    """A real file descriptor to write lines to: /dev/null, or a pipe drained by a thread."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._reader: threading.Thread | None = None
        self._read_fd = -1
        if kind == "devnull":
            self.fd = os.open(os.devnull, os.O_WRONLY)
        elif kind == "pipe":
            self._read_fd, self.fd = os.pipe()
            self._reader = threading.Thread(target=self._drain, daemon=True)
            self._reader.start()
        else:
            raise ValueError(kind)

    def _drain(self) -> None:
        while os.read(self._read_fd, 1 << 16):
            pass

    def close(self) -> None:
        os.close(self.fd)
        if self._reader is not None:
            self._reader.join()
            os.close(self._read_fd)


def run_ours(models: list[TopicModel], fd: int, registry: SpecRegistry) -> float:
    bus = EventBus(registry=registry, context=SessionContext(session_id="bench", room_id="bench-room"))
    emitter = StdoutEmitter(registry, Redactor(registry, "bench-salt"), fd=fd)
    bus.subscribe("*", emitter)
    publish = bus.publish
    start = time.perf_counter()
    for model in models:
        publish(model)
    elapsed = time.perf_counter() - start
    assert emitter.lines == len(models) and not emitter.closed
    return elapsed


def run_baseline(payloads: list[dict[str, Any]], fd: int) -> float:
    out = io.TextIOWrapper(io.FileIO(fd, "w", closefd=False), encoding="utf-8", write_through=False)
    write, flush, dumps = out.write, out.flush, json.dumps
    start = time.perf_counter()
    for payload in payloads:
        write(dumps(payload) + "\n")
        flush()
    elapsed = time.perf_counter() - start
    out.detach()
    return elapsed


def measure(fn: Callable[[], float], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        gc.collect()
        times.append(fn())
    return times


def table(rows: list[tuple[str, float, int]], baseline: float) -> Iterator[str]:
    yield f"{'':<38}{'median s':>10}{'envelopes/s':>14}{'us/envelope':>13}{'vs baseline':>13}"
    for name, seconds, n in rows:
        yield f"{name:<38}{seconds:>10.4f}{n / seconds:>14,.0f}{seconds / n * 1e6:>13.2f}{seconds / baseline:>12.2f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="envelopes per repetition (default %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=7, help="repetitions; medians are reported (default %(default)s, min 5)"
    )
    parser.add_argument(
        "--sink", choices=("devnull", "pipe"), default="devnull", help="where lines go (default %(default)s)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile one run of ours and print the top functions"
    )
    args = parser.parse_args(argv)
    repeat = max(5, args.repeat)

    registry = SpecRegistry.load()
    models = payload_mix(args.n)
    payloads = [m.to_wire() for m in models]
    sink = Sink(args.sink)
    try:
        run_ours(models[:2_000], sink.fd, registry)  # warm-up: imports, caches, pydantic serializers
        run_baseline(payloads[:2_000], sink.fd)
        ours, base = [], []
        for _ in range(repeat):  # interleaved, so drift (thermal, other load) hits both alike
            ours += measure(lambda: run_ours(models, sink.fd, registry), 1)
            base += measure(lambda: run_baseline(payloads, sink.fd), 1)
        if args.profile:
            profiler = cProfile.Profile()
            profiler.enable()
            run_ours(models, sink.fd, registry)
            profiler.disable()
    finally:
        sink.close()

    ours_median, base_median = statistics.median(ours), statistics.median(base)
    rate = args.n / ours_median
    ratio = ours_median / base_median
    print(
        f"events_bench: {args.n:,} envelopes x {repeat} repetitions, sink={args.sink}, Python {sys.version.split()[0]}"
    )
    print("mix: speaking.started 1/3, speaking.stopped 1/3, pacing.updated 1/6, dominance.score (4 participants) 1/6")
    print()
    for line in table(
        [
            ("ours: EventBus + StdoutEmitter", ours_median, args.n),
            ("baseline: json.dumps + write + flush", base_median, args.n),
        ],
        base_median,
    ):
        print(line)
    print()
    print(f"spread ours {min(ours):.4f}..{max(ours):.4f} s, baseline {min(base):.4f}..{max(base):.4f} s")
    ok_rate, ok_ratio = rate >= TARGET_RATE, ratio <= TARGET_RATIO
    print(f"target >= {TARGET_RATE:,} envelopes/s: {'met' if ok_rate else 'MISSED'} ({rate:,.0f})")
    print(f"target ratio <= {TARGET_RATIO:g}: {'met' if ok_ratio else 'MISSED'} ({ratio:.2f})")
    if args.profile:
        print()
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(15)
    return 0


if __name__ == "__main__":
    sys.exit(main())
