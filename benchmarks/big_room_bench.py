"""Large simulated rooms at ``--speed 0``: media seconds played per wall second.

    python benchmarks/big_room_bench.py [--sizes 100,1000] [--seconds 20] [--repeat 3]

Each room has N participants who all join at 0; a few of them speak the bundled clips one after
another and everyone chats once. Measured in the same run, medians of ``--repeat``:

- **mics off** (how a large Daily room is: most people muted): the simulated room sends audio
  only for participants who make a sound in the scenario. Issue 11 measured 0.27x real time for
  1,000 people when every joined participant streamed 20 ms frames of zeros; the profile
  (pyinstrument) put ~45 % of the time in ``ParticipantVAD`` gating zeros and ~30 % in Pipecat
  pushing the 50,000 audio frames per media second.
- **mics on** (everyone streams audio; silent ones as low noise): what remains the framework's
  per-frame cost, shown for the smallest size only (it scales with N × 50 frames/s).

Shared machines are noisy: read the ratios, not the absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loguru import logger  # noqa: E402

logger.remove()
logger.add(sys.stderr, level="ERROR")

from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from bot.events import EventRuntime, SessionContext, create_runtime  # noqa: E402
from bot.pipelines.room import build_room_pipeline  # noqa: E402
from bot.rooms.scenario import Scenario, load_scenario  # noqa: E402
from bot.rooms.simulated import SimulatedRoom  # noqa: E402

CLIPS = ["alice-1.wav", "bob-1.wav", "bob-2.wav", "alice-2.wav"]


def make_room(folder: Path, n: int, seconds: int, *, mics_on: bool) -> Path:
    ids = [f"p-{i:04d}" for i in range(n)]
    events: list[dict[str, Any]] = [{"atMs": 0, "type": "join", "participant": pid} for pid in ids]
    t, k = 500, 0
    while t < seconds * 1000 - 6_000:
        clip = str(REPO / "bot" / "scenarios" / "clips" / CLIPS[k % len(CLIPS)])
        events.append({"atMs": t, "type": "speech", "participant": ids[k % n], "audio": clip, "text": "hello"})
        t, k = t + 5_000, k + 1
    events += [{"atMs": 1_000 + i, "type": "chat", "participant": pid, "text": f"hi {i}"} for i, pid in enumerate(ids)]
    if mics_on:  # everyone else streams a quiet hiss, so every joined participant sends audio
        speakers = {e["participant"] for e in events if e["type"] == "speech"}
        events += [
            {"atMs": 10, "type": "noise", "participant": pid, "durationMs": 50, "kind": "white", "level": 0.001}
            for pid in ids
            if pid not in speakers
        ]
    room = {"name": f"big-{n}", "durationMs": seconds * 1000, "participants": [{"id": p, "name": p} for p in ids]}
    room["events"] = sorted(events, key=lambda e: e["atMs"])
    path = folder / f"room-{n}-{'on' if mics_on else 'off'}.json"
    path.write_text(json.dumps(room))
    return path


async def play(scenario: Scenario, runtime: EventRuntime) -> float:
    """Wall seconds to play the room through the real room pipeline at speed 0."""
    room = SimulatedRoom(scenario, speed=0)
    worker = PipelineWorker(
        build_room_pipeline(room, runtime, agenda=scenario.agenda),
        params=PipelineParams(audio_in_sample_rate=scenario.sample_rate),
        enable_rtvi=False,
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    started = time.perf_counter()
    await runner.run()
    return time.perf_counter() - started


def ratio(path: Path) -> float:
    scenario = load_scenario(path)
    runtime = create_runtime(
        SessionContext(session_id="s-bench", assistant_id="a", tenant_id="t", room_id=scenario.name),
        stdout=open(os.devnull, "wb"),
    )
    wall = asyncio.run(play(scenario, runtime))
    return scenario.media_duration_ms / 1000 / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000")
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            for mics_on in (False, True):
                if mics_on and n != min(sizes):
                    continue
                path = make_room(Path(tmp), n, args.seconds, mics_on=mics_on)
                runs = [ratio(path) for _ in range(args.repeat)]
                rows.append((n, "on" if mics_on else "off", statistics.median(runs)))
    print(f"{'participants':>12}  {'mics':>4}  {'x real time (median)':>20}")
    for n, mics, value in rows:
        print(f"{n:>12}  {mics:>4}  {value:>20.2f}")


if __name__ == "__main__":
    started = time.perf_counter()
    main()
    print(f"({time.perf_counter() - started:.0f} s; shared machine: read ratios, not absolutes)", file=sys.stderr)
