"""Accuracy of the room pipeline on every bundled room, as a table.

Plays each room with ``python -m bot --simulate ROOM --speed 0`` (the real CLI, real Silero) and
scores the envelopes against the ground truth of the scenario and its clips. The same scoring
backs tests/scenarios/test_rooms.py; this script prints the figures.

    python benchmarks/accuracy.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.scenarios import all_scenarios  # noqa: E402
from bot.scenarios.tools.scoring import score_room  # noqa: E402
from bot.scenarios.tools.truth import load_truth  # noqa: E402


def main() -> int:
    header = f"{'room':<10} {'media s':>7} {'wall s':>6} {'share err pt':>12} {'precision':>9} {'recall':>6} {'interrupt':>9} {'bc→int':>6} {'noise fr':>8} {'rejected':>8}"
    print(header)
    print("-" * len(header))
    for path in all_scenarios():
        truth = load_truth(path)
        started = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--simulate", str(path), "--speed", "0", "--view", "off"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        if proc.returncode != 0:
            print(f"{path.stem}: exit {proc.returncode}\n{proc.stderr[-1000:]}")
            return 1
        s = score_room(truth, [json.loads(line) for line in proc.stdout.splitlines()])
        print(
            f"{path.stem:<10} {truth['durationMs'] / 1000:7.1f} {wall:6.1f} {s['maxShareErrorPoints']:12.2f} {s['precision']:9.3f} {s['recall']:6.3f} "
            f"{s['interruptionsDetected']}/{s['interruptionsScripted']:<7} {s['backchannelsAsInterruption']:>6} {s['noiseFramesCounted']:>8} {s['inboundRejected']:>8}"
        )
    print(
        "\nshare err pt: worst per-participant talk-time share error (percentage points); precision/recall at 10 ms frames;"
    )
    print(
        "interrupt: scripted interruptions detected; bc→int: backchannels reported as interruptions; noise fr: noise-only frames counted as speech."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
