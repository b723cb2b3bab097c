"""Start-up: spawn → each seed envelope on stdout, beside ``python -c "import pydantic"``.

    python benchmarks/startup_bench.py [--runs 10]

Spawns ``python -m bot --speed 0 --view off`` (the simulated demo room) ``--runs`` times and
records when each seed topic's line arrives on stdout; the baseline is the wall time of a bare
``python -c "import pydantic"`` measured in the same run, interleaved. Medians; read the ratio.
Targets (issue 4): first envelope ≤ 2× the baseline; every seed topic within 500 ms of spawn.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED = [
    "assistant.session.started",
    "assistant.room.join.requested",
    "assistant.room.join.succeeded",
    "bot.health.heartbeat",
]


def spawn_once() -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "MESH_"))}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--speed", "0", "--view", "off"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    seen: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        topic = line.split(b'"topic":"', 1)[1].split(b'"', 1)[0].decode()
        if topic in SEED and topic not in seen:
            seen[topic] = (time.perf_counter() - started) * 1000
        if len(seen) == len(SEED):
            break
    proc.kill()
    _, stderr = proc.communicate()
    if len(seen) < len(SEED):  # the bot failed: say why instead of a KeyError in the table
        raise SystemExit(
            f"startup_bench: the bot ended before {', '.join(t for t in SEED if t not in seen)}:\n{stderr.decode(errors='replace')[-2000:]}"
        )
    return seen


def python_once(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - started) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    base: list[float] = []
    bare: list[float] = []
    spawn_once()  # warm the file cache once, not measured
    for _ in range(args.runs):
        base.append(python_once("import pydantic"))
        bare.append(python_once("pass"))
        runs.append(spawn_once())
    baseline = statistics.median(base)
    print(f'median of {args.runs} runs; baseline `python -c "import pydantic"` = {baseline:.0f} ms')
    print(f"{'':<32} {'ms after spawn':>15} {'× baseline':>11}")
    floor = statistics.median(bare)
    print(f"{'(floor: python -c pass)':<32} {floor:15.0f} {floor / baseline:11.2f}")
    for topic in SEED:
        ms = statistics.median(r[topic] for r in runs)
        print(f"{topic:<32} {ms:15.0f} {ms / baseline:11.2f}")
    first = statistics.median(r[SEED[0]] for r in runs)
    last = statistics.median(max(r.values()) for r in runs)
    print(
        f"\nfirst envelope / baseline = {first / baseline:.2f} (target ≤ 2)   all seed topics by {last:.0f} ms (target ≤ 500)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
