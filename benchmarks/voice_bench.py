"""The voice's manners in every bundled room, measured against ground truth (not asserted).

Plays each room through the real CLI (``python -m bot --simulate ROOM --voice``) at real time
(``--speed 1``: TTS latency is wall time, so only real time gives honest figures) against a local
OpenAI-compatible TTS server (espeak-ng, tests/voice/tts_server.py), then measures on media time:

- response: end of the room's last speech → the bot's first audio (the gap included), p50;
- barge-in stop: a participant's onset while the bot speaks → the bot's last audio, p95;
- overlaps: the bot started while a participant had been speaking > 100 ms (never allowed);
  simultaneous starts (a participant's onset within 100 ms before the bot's start: nobody could
  see it coming) are barge-ins the bot must yield to, counted apart.

Targets (issue 17): response p50 <= 1000 ms, barge-in stop p95 <= 200 ms, 0 overlaps.
The baseline column is the configured gap (700 ms): the response's excess over it is what the
pipeline (VAD stop decision, tick, TTS readiness) adds.

    python benchmarks/voice_bench.py [--speed 1] [--rooms demo dominant]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bot.generated.topics import Topic  # noqa: E402
from bot.scenarios import all_scenarios  # noqa: E402
from bot.scenarios.tools.truth import load_truth  # noqa: E402
from bot.voice.timing import bot_spans, measure  # noqa: E402
from tests.voice.tts_server import LocalTTSServer  # noqa: E402

GAP_MS = 700


def pct(values: list[int], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))])


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def bundled_rooms() -> dict[str, tuple[Path, Path | None]]:
    """Every bundled room: the demo, the test rooms, and the policy rooms with their snapshot."""
    rooms: dict[str, tuple[Path, Path | None]] = {
        p.stem if p.parent.name == "rooms" else "demo": (p, None) for p in all_scenarios()
    }
    for policy in sorted((REPO / "bot" / "scenarios" / "policy").glob("*.policy.json")):
        room = policy.with_name(policy.name.replace(".policy.json", ".json"))
        if room.exists():
            rooms[f"policy/{room.stem}"] = (room, policy)
    return rooms


def run_room(
    path: Path, speed: str, base_url: str, tmp: Path, policy: Path | None
) -> tuple[list[dict[str, Any]], float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "OPENAI_"))}
    env["OPENAI_BASE_URL"] = base_url
    t0 = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--simulate",
            str(path),
            "--speed",
            speed,
            "--view",
            "off",
            "--voice",
            "--bot-audio",
            str(tmp / f"{path.stem}-bot.wav"),
            *(["--policy", str(policy)] if policy else []),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{path.name}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.strip()], time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", default="1")
    parser.add_argument("--rooms", nargs="*", default=None)
    args = parser.parse_args()
    rooms = bundled_rooms()
    names = args.rooms or sorted(rooms)
    all_response: list[int] = []
    all_stop: list[int] = []
    overlaps = simultaneous = 0
    rows = []
    with LocalTTSServer(lifetime_secs=1800) as server, tempfile.TemporaryDirectory() as tmp:
        for name in names:
            path, policy = rooms[name]
            envelopes, wall = run_room(path, args.speed, server.base_url, Path(tmp), policy)
            truth = load_truth(path)
            timing = measure({pid: p["intervals"] for pid, p in truth["participants"].items()}, bot_spans(envelopes))
            all_response += timing.response_ms
            all_stop += timing.barge_in_stop_ms
            overlaps += len(timing.overlaps)
            simultaneous += timing.simultaneous_starts
            reasons = [e["payload"]["reason"] for e in envelopes if e["topic"] == Topic.FACILITATOR_SPEECH_STOPPED]
            interrupts = [e["payload"] for e in envelopes if e["topic"] == Topic.ROOM_INTERRUPT_EXECUTED]
            rows.append(
                (
                    name,
                    timing.utterances,
                    fmt(pct(timing.response_ms, 0.5)),
                    reasons.count("barge_in"),
                    fmt(pct(timing.barge_in_stop_ms, 0.95)),
                    len(timing.overlaps),
                    timing.simultaneous_starts,
                    timing.bot_talk_ms,
                    ",".join(
                        p.get("outcome", "executed") + ("/" + p["skipReason"] if p.get("skipReason") else "")
                        for p in interrupts
                    )
                    or "-",
                    f"{wall:.1f}",
                )
            )
    head = (
        "room",
        "spoken",
        "resp p50",
        "barge-ins",
        "stop p95",
        "overlaps",
        "simult.",
        "bot ms",
        "interrupts",
        "wall s",
    )
    print(f"voice_bench: speed {args.speed}, local espeak-ng TTS on 127.0.0.1, gap {GAP_MS} ms (baseline)")
    print(" | ".join(head))
    for row in rows:
        print(" | ".join(str(c) for c in row))
    p50 = pct(all_response, 0.5)
    p95 = pct(all_stop, 0.95)
    print(
        f"all rooms: response p50 {fmt(p50)} ms (target <= 1000; {p50 / GAP_MS:.2f}x the gap)"
        if p50
        else "all rooms: no response measured"
    )
    print(f"all rooms: barge-in stop p95 {fmt(p95)} ms over {len(all_stop)} (target <= 200)")
    print(f"all rooms: overlaps {overlaps} (target 0); simultaneous starts yielded to: {simultaneous}")
    print(f"response samples (ms): {sorted(all_response)}")
    print(f"barge-in stop samples (ms): {sorted(all_stop)}")
    print(
        f"median TTS requests: {statistics.median([len(r['input']) for r in server.requests]) if server.requests else 0} chars"
    )


if __name__ == "__main__":
    main()
