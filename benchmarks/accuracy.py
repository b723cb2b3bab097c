"""Accuracy of the room pipeline on every room, synthetic and real speech, as a table.

Plays each room in-process through the bot's room pipeline (``bot.scenarios.tools.play``: real
Silero, real processors, the simulated room at speed 0) and scores the envelopes with the field's
conventions (``bot.scenarios.tools.scoring.score_conventions``): per-participant precision and
recall with a 250 ms collar, talk-share error, onset and offset error on utterances >= 200 ms, missed
utterances >= 300 ms at >= -45 dBFS, scripted backchannels/interruptions classified right, and
the detection latency of room.speaking.started/stopped (media time the envelope left the sink
minus the true onset/offset). The real-speech rooms are built from the Debian packages first
(``python -m bot.scenarios.realspeech build``).

    python benchmarks/accuracy.py [ROOM ...] [--held-out] [--model-gain DB]

Held-out rooms (``heldOut`` in their truth: rooms nobody has tuned on yet) are scored only when
named or with ``--held-out``: scoring them while trying a change is how they stop being held out.
``--model-gain DB`` scores another model input gain (``GateParams.model_gain_max_db``,
``BOT_VAD_MODEL_GAIN_DB``; 15 dB by default, 0 turns it off) instead of the defaults.
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bot.analytics.speaking import GateParams  # noqa: E402
from bot.scenarios import all_scenarios  # noqa: E402
from bot.scenarios.realspeech.recipes import MISSING  # noqa: E402
from bot.scenarios.realspeech.recipes import ROOMS as REAL_ROOMS  # noqa: E402
from bot.scenarios.realspeech.rooms import build_room  # noqa: E402
from bot.scenarios.tools.play import play_scenario  # noqa: E402
from bot.scenarios.tools.scoring import score_conventions  # noqa: E402
from bot.scenarios.tools.truth import load_truth  # noqa: E402


def rooms() -> list[tuple[str, Path, dict[str, Any]]]:
    out: list[tuple[str, Path, dict[str, Any]]] = []
    for path in all_scenarios():
        out.append((path.stem, path, load_truth(path)))
    for name, recipe in REAL_ROOMS.items():
        scenario = build_room(recipe)  # deterministic and quick: always from the installed packages
        out.append((name, scenario, json.loads((scenario.parent / "truth.json").read_text())))
    return out


def _f(value: float | None, fmt: str = ".0f") -> str:
    return "-" if value is None else format(value, fmt)


USAGE = "usage: accuracy.py [ROOM ...] [--held-out] [--model-gain DB]"


def _model_gain(argv: list[str]) -> tuple[list[str], GateParams | None, str | None]:
    """``--model-gain DB`` taken out of ``argv``: the rest, the gate to score with, or an error."""
    if "--model-gain" not in argv:
        return argv, None, None
    if argv.count("--model-gain") > 1:
        return argv, None, "--model-gain given twice"
    i = argv.index("--model-gain")
    value = argv[i + 1] if i + 1 < len(argv) else ""
    rest = argv[:i] + argv[i + 2 :]
    try:
        gain = float(value)
    except ValueError:
        gain = math.nan
    if not 0 <= gain <= 24:  # NaN too
        return rest, None, f"--model-gain needs a number of dB (0-24), got {value!r}"
    default = GateParams().model_gain_max_db
    return rest, (GateParams(model_gain_max_db=gain) if gain != default else None), None


def main(argv: list[str]) -> int:
    held_out_too = "--held-out" in argv
    argv = [a for a in argv if a != "--held-out"]
    argv, gate, problem = _model_gain(argv)
    if problem:
        print(f"accuracy: {problem} ({USAGE})", file=sys.stderr)
        return 2
    unknown = [a for a in argv if a.startswith("-")]
    if unknown:
        print(f"accuracy: unknown option {unknown[0]} ({USAGE})", file=sys.stderr)
        return 2
    everything = rooms()
    missing = [a for a in argv if a not in {name for name, _, _ in everything}]
    if missing:
        if missing[0] in MISSING:  # a real-speech room whose recordings are not installed
            print(f"accuracy: room {missing[0]!r} cannot be built here: {MISSING[missing[0]]}", file=sys.stderr)
            return 2
        choices = ", ".join(name for name, _, _ in everything)
        print(f"accuracy: no room {missing[0]!r} (rooms: {choices})", file=sys.stderr)
        return 2
    header = (
        f"{'room':<18} {'s':>5} {'minP':>6} {'minR':>6} {'share pp':>8} {'onset p50/p95/max':>18} {'offset p50/p95':>14} "
        f"{'missed':>6} {'start lat p50/p95':>17} {'stop lat p50/p95':>16} {'scripted ok':>11} {'wall s':>6}"
    )
    if gate is not None:
        gain = f"up to {gate.model_gain_max_db:g} dB" if gate.model_gain_max_db else "off"
        print(f"model input gain {gain}, not the default {GateParams().model_gain_max_db:g} dB (BOT_VAD_MODEL_GAIN_DB)")
    print(header)
    print("-" * len(header))
    skipped: list[str] = []
    for name, scenario, truth in everything:
        if argv and name not in argv:
            continue
        if not argv and truth.get("heldOut") and not held_out_too:
            skipped.append(name)
            continue
        started = time.perf_counter()
        s = score_conventions(truth, play_scenario(scenario, gate=gate))
        wall = time.perf_counter() - started
        held = " (held out)" if truth.get("heldOut") else ""
        print(
            f"{name:<18} {truth['durationMs'] / 1000:5.0f} {s['minPrecision']:6.3f} {s['minRecall']:6.3f} "
            f"{s['shareErrorPoints']:8.2f} {_f(s['onsetP50']):>6}/{_f(s['onsetP95'])}/{_f(s['onsetMax']):<5} "
            f"{_f(s['offsetP50']):>7}/{_f(s['offsetP95']):<6} "
            f"{len(s['missed']):>6} {_f(s['startLatencyP50']):>8}/{_f(s['startLatencyP95']):<8} "
            f"{_f(s['stopLatencyP50']):>7}/{_f(s['stopLatencyP95']):<8} {s['scriptedRight']:>5}/{s['scriptedOverlaps']:<5} "
            f"{wall:6.1f}{held}",
            flush=True,
        )
    if skipped:
        print(f"\nheld out, not scored: {', '.join(skipped)} (name them, or --held-out)")
    print(
        "\nminP/minR: lowest per-participant precision/recall at 10 ms frames, 250 ms collar; share pp: worst talk-share "
        "error (percentage points, from detected talk time); onset: |detected - true start| (ms) of utterances >= 200 ms "
        "after >= 300 ms of own silence; offset: |detected - true end| (ms) of utterances >= 200 ms "
        "followed by >= 300 ms of own silence; missed: utterances >= 300 ms at >= -45 dBFS with no detection; latency: media "
        "time the envelope left the sink minus the true onset/offset (ms); scripted ok: scripted backchannels and "
        "interruptions reported as such."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
