"""Build the real-speech rooms, or plot their ground truth for checking by eye.

    python -m bot.scenarios.realspeech build [--out DIR] [ROOM ...]
    python -m bot.scenarios.realspeech plot sources [--out DIR]
    python -m bot.scenarios.realspeech plot ROOM [--out DIR] [--page-s 15]

``build`` writes ``DIR/<room>/`` (default ``build/real-rooms``, or ``$PRISM_REAL_ROOMS``): one
audio file per participant, ``scenario.json`` and ``truth.json``. ``plot`` writes PNGs (waveform,
10 ms level, spectrogram; truth in green) into ``DIR`` (default ``build/real-plots``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bot.scenarios.realspeech.recipes import MISSING, ROOMS
from bot.scenarios.realspeech.rooms import build_room, default_out_dir
from bot.scenarios.realspeech.sources import SOURCES, SourceMissing, load_source, source_intervals


def _plot_sources(out: Path) -> None:
    from bot.scenarios.realspeech.plots import plot_signal

    for name in SOURCES:
        print(plot_signal(load_source(name), source_intervals(name), out / f"source-{name}.png", title=name))


def _plot_room(name: str, out: Path, page_s: int) -> None:
    import soundfile as sf
    import soxr

    from bot.scenarios.realspeech.plots import plot_signal

    scenario = build_room(ROOMS[name])
    truth = json.loads((scenario.parent / "truth.json").read_text())
    spec = json.loads(scenario.read_text())
    files = {e["participant"]: e["audio"] for e in spec["events"] if e["type"] == "speech"}
    for pid, p in truth["participants"].items():
        x, rate = sf.read(str(scenario.parent / files[pid]), dtype="float32")
        if rate != 16000:
            x = soxr.resample(x, rate, 16000)
        for start in range(0, truth["durationMs"], page_s * 1000):
            png = out / name / f"{pid}-{start // 1000:04d}s.png"
            print(
                plot_signal(x, p["intervals"], png, title=f"{name} {pid}", start_ms=start, end_ms=start + page_s * 1000)
            )


def _not_buildable(name: str, also: str = "") -> int:
    """Say why ``name`` cannot be built: a room whose recordings are not installed (1), or no room (2)."""
    if name in MISSING:
        print(f"room {name!r} cannot be built here: {MISSING[name]}", file=sys.stderr)
        return 1
    choices = ", ".join([*ROOMS, *([also] if also else [])])
    print(f"unknown room {name!r} (rooms: {choices})", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.scenarios.realspeech")
    sub = parser.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="render the rooms")
    b.add_argument("rooms", nargs="*")
    b.add_argument("--out", type=Path, default=None)
    p = sub.add_parser("plot", help="plot sources or a room's tracks with their truth")
    p.add_argument("what", help="'sources' or a room name")
    p.add_argument("--out", type=Path, default=Path("build/real-plots"))
    p.add_argument("--page-s", type=int, default=15)
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            unknown = [r for r in args.rooms if r not in ROOMS]
            if unknown:
                return _not_buildable(unknown[0])
            for name in args.rooms or ROOMS:
                print(build_room(ROOMS[name], args.out or default_out_dir()))
        elif args.what == "sources":
            _plot_sources(args.out)
        elif args.what in ROOMS:
            _plot_room(args.what, args.out, args.page_s)
        else:
            return _not_buildable(args.what, also="'sources'")
    except SourceMissing as exc:
        print(str(exc), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
