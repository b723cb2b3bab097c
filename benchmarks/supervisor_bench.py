"""Supervisor ingestion throughput and end-to-end envelope latency.

Usage::

    python benchmarks/supervisor_bench.py [--n 50000] [--repeat 7] [--latency-secs 4] [--rate 400] [--profile]

**Throughput.** A synthetic stream of realistic envelopes (a live room's mix, published by the real
``EventBus`` into a buffer as the bot's stdout would carry them) goes through what the supervisor
does per line: ``Ingestor.ingest`` (orjson parse, validation of the envelope and the topic's payload
model, seq and metric accounting) and ``Forwarder.submit`` (route, sample, redact, build the
PutEvents entry, buffer), with the forwarder's batches written by the dry-run sink to /dev/null. The
in-run baseline is a bare ``json.loads`` loop over the same lines. Medians of ``--repeat`` runs,
interleaved.

**Latency.** The real supervisor (room manager, asyncio subprocess, ingestion, forwarder) runs a
stand-in bot that publishes the same mix through the real event runtime at ``--rate`` envelopes/s,
and then a real bot on ``dominant.json``. A recording sink notes when each entry reaches it:
latency = arrival at the sink - envelope ``ts`` (ms resolution). Normal-priority entries wait for
the 1 s batch window by design; critical/high ones flush at once, so both are shown. "ingest" is
``ts`` → the line validated by the supervisor (``publish_latency_ms``).

Targets (issue 6): >= 50,000 lines/s, ours/baseline <= 5.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import orjson  # noqa: E402

from bot.events import EventBus, SessionContext, SpecRegistry  # noqa: E402
from bot.forwarding import DryRunSink, Forwarder, ForwarderConfig  # noqa: E402
from bot.generated import (  # noqa: E402
    BotHealthHeartbeat,
    DominanceShare,
    RoomDominanceScore,
    RoomInterruptRequest,
    RoomOverlapDetected,
    RoomPacingUpdated,
    RoomParticipantJoined,
    RoomSpeakingStarted,
    RoomSpeakingStopped,
    RoomTopicShiftSuggested,
    TopicModel,
)
from supervisor.ingest import Ingestor, StreamStats  # noqa: E402
from supervisor.metrics import Metrics  # noqa: E402

TARGET_RATE = 50_000
TARGET_RATIO = 5.0
PARTICIPANTS = [f"8f14e45f-ceea-467f-a0e6-{i:012d}" for i in range(4)]
MIX = "per cycle of 12: speaking.started 4, speaking.stopped 4, pacing 1, dominance (4 people) 1, overlap 1, and one of joined / topic.shift / interrupt.request / heartbeat"


def room_mix(n: int) -> list[TopicModel]:
    """``n`` payload models in a live room's proportions; about 1 in 6 goes to EventBridge."""
    models: list[TopicModel] = []
    i = 0
    t = 0
    while len(models) < n:
        p, q = PARTICIPANTS[i % 4], PARTICIPANTS[(i + 1) % 4]
        t += 3_000
        talk = [12_000 + 1_000 * ((i + k) % 7) for k in range(4)]
        total = sum(talk)
        cycle: list[TopicModel] = []
        for k in range(4):
            who = PARTICIPANTS[(i + k) % 4]
            cycle.append(RoomSpeakingStarted(participant_id=who, media_time_ms=t + 600 * k))
            cycle.append(RoomSpeakingStopped(participant_id=who, media_time_ms=t + 600 * k + 500, duration_ms=500))
        cycle.append(
            RoomPacingUpdated(
                participant_id=p,
                words_per_minute=151.25,
                state="normal",
                turn_count=i + 1,
                window_ms=30_000,
                word_count=76,
                media_time_ms=t,
            )
        )
        cycle.append(
            RoomDominanceScore(
                window_ms=60_000,
                participants=[
                    DominanceShare(participant_id=x, talk_time_ms=ms, share=round(ms / total, 4))
                    for x, ms in zip(PARTICIPANTS, talk, strict=True)
                ],
                gini=0.1234,
                dominant_participant_id=p,
                trigger="change",
                media_time_ms=t,
            )
        )
        cycle.append(
            RoomOverlapDetected(speaker_id=p, overlapper_id=q, overlap_ms=420, kind="backchannel", media_time_ms=t)
        )
        extra = i % 4
        if extra == 0:
            cycle.append(RoomParticipantJoined(participant_id=q, display_name="Ada Lovelace", media_time_ms=t))
        elif extra == 1:
            cycle.append(
                RoomTopicShiftSuggested(
                    current_item="Roadmap",
                    next_item="Hiring",
                    reason="time_box",
                    elapsed_ms=t,
                    timebox_ms=600_000,
                    media_time_ms=t,
                )
            )
        elif extra == 2:
            cycle.append(
                RoomInterruptRequest(target_participant_id=p, reason="monologue", monologue_ms=95_000, media_time_ms=t)
            )
        else:
            cycle.append(
                BotHealthHeartbeat(
                    uptime_ms=t,
                    published=i * 12,
                    dropped=0,
                    violations=0,
                    buffer_fill_percent=12.5,
                    participants=4,
                    media_time_ms=t,
                )
            )
        models.extend(cycle)
        i += 1
    return models[:n]


def stdout_lines(models: list[TopicModel], registry: SpecRegistry) -> list[bytes]:
    """What the bot's StdoutEmitter writes for ``models`` (one session)."""
    import io

    from bot.events import Redactor, StdoutEmitter

    bus = EventBus(
        registry=registry,
        context=SessionContext(
            session_id=str(uuid.uuid4()), assistant_id="asst-1", tenant_id="tenant-1", room_id="bench"
        ),
    )
    buf = io.BytesIO()
    bus.subscribe("*", StdoutEmitter(registry, Redactor(registry), stream=buf))
    for model in models:
        bus.publish(model)
    return buf.getvalue().splitlines()


# ---- throughput


async def _ours(lines: list[bytes], registry: SpecRegistry, devnull: Any, *, forward: bool = True) -> tuple[float, int]:
    ingestor = Ingestor(registry, Metrics())
    stats = StreamStats()
    fwd = Forwarder(
        registry, DryRunSink(devnull), config=ForwarderConfig(buffer_entries=len(lines) + 10), salt="bench-salt"
    )
    await fwd.start()
    ingest, submit = ingestor.ingest, fwd.submit
    start = time.perf_counter()
    for k, line in enumerate(lines):
        envelope = ingest(line, stats)
        if envelope is not None and forward:
            submit(envelope)
        if k & 255 == 255:
            await asyncio.sleep(0)  # the supervisor reads lines on the loop: the forwarder gets its turns
    await fwd.flush()
    elapsed = time.perf_counter() - start
    await fwd.close()
    assert stats.ingested == len(lines), stats
    return elapsed, fwd.stats.delivered


def run_ours(lines: list[bytes], registry: SpecRegistry, devnull: Any, *, forward: bool = True) -> tuple[float, int]:
    return asyncio.run(_ours(lines, registry, devnull, forward=forward))


def run_baseline(lines: list[bytes]) -> float:
    loads = json.loads
    start = time.perf_counter()
    for line in lines:
        loads(line)
    return time.perf_counter() - start


# ---- latency


class RecordingSink:
    """Dry-run to /dev/null, noting the wall time each entry arrived."""

    name = "recording"

    def __init__(self, devnull: Any) -> None:
        self.inner = DryRunSink(devnull)
        self.arrivals: list[tuple[dict[str, Any], float]] = []

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        now_ms = time.time() * 1000.0
        for entry in entries:
            self.arrivals.append((orjson.loads(entry["Detail"]), now_ms))
        return await self.inner.send(entries)

    async def close(self) -> None:
        pass


PACED_BOT = """
import os, sys, time, uuid
sys.path.insert(0, {repo!r})
from benchmarks.supervisor_bench import room_mix
from bot.events import SessionContext, create_runtime
from bot.generated import AssistantSessionStarted, AssistantSessionEnded
rt = create_runtime(SessionContext(session_id=str(uuid.uuid4()), assistant_id="a", tenant_id="t", room_id="paced"), stdout=sys.stdout.buffer)
bus = rt.bus
bus.publish(AssistantSessionStarted(assistant_id="a", tenant_id="t", bot_version="0", room_url="simulated://paced", transport="simulated"))
models = room_mix(int({rate} * {secs}))
start = time.monotonic()
for k, model in enumerate(models):
    delay = start + k / {rate} - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    bus.publish(model)
bus.publish(AssistantSessionEnded(reason="completed", duration_ms=int({secs} * 1000), published=bus.published, dropped=0))
"""


async def _latency(command: list[str] | None, scenario: str | None, devnull: Any) -> dict[str, Any]:
    from supervisor import Supervisor
    from supervisor.settings import SupervisorSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = SupervisorSettings(
            _env_file=None, port=0, insecure_no_auth=True, allow_command=True, dry_run_path=Path(tmp) / "x.jsonl"
        )
        sink = RecordingSink(devnull)
        sup = Supervisor(settings, sink=sink)
        await sup.forwarder.start()  # no HTTP needed: drive the room manager directly
        from supervisor.rooms import RoomRequest

        body: dict[str, Any] = {"assistantId": "a", "tenantId": "t"}
        if command:
            body.update(scenario="balanced", command=command)
        else:
            body.update(scenario=scenario, speed=0)
        room = await sup.rooms.create(RoomRequest.model_validate(body))
        await room.done_event.wait()
        await sup.forwarder.close()
        registry = sup.registry
        urgent = {t for t, r in registry.topics.items() if r.priority in ("critical", "high")}
        lat_all = [t - d["ts"] for d, t in sink.arrivals]
        lat_urgent = [t - d["ts"] for d, t in sink.arrivals if d["topic"] in urgent]
        lat_normal = [t - d["ts"] for d, t in sink.arrivals if d["topic"] not in urgent]
        h = sup.metrics.latency
        return {
            "room": room,
            "all": lat_all,
            "urgent": lat_urgent,
            "normal": lat_normal,
            "ingest_mean": sum(h.sums.values()) / max(1, h.total()),
            "ingest": sup.metrics,
            "lines": room.stats.ingested,
        }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="lines per repetition (default %(default)s)")
    parser.add_argument(
        "--repeat", type=int, default=7, help="repetitions, medians reported (default %(default)s, min 5)"
    )
    parser.add_argument(
        "--latency-secs",
        type=float,
        default=4.0,
        help="how long the paced stand-in bot publishes (default %(default)s)",
    )
    parser.add_argument(
        "--rate", type=float, default=400.0, help="envelopes/s of the paced stand-in bot (default %(default)s)"
    )
    parser.add_argument("--no-latency", action="store_true", help="skip the latency runs")
    parser.add_argument("--profile", action="store_true", help="cProfile one run of ours and print the top functions")
    args = parser.parse_args(argv)
    repeat = max(5, args.repeat)

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")
    registry = SpecRegistry.load()
    lines = stdout_lines(room_mix(args.n), registry)
    e_share = sum(
        1 for line in lines if "eventbridge" in registry.topics[orjson.loads(line)["topic"]].destinations
    ) / len(lines)
    devnull = open(os.devnull, "wb")
    run_ours(lines[:2000], registry, devnull)
    run_baseline(lines[:2000])
    ours, ingest_only, base = [], [], []
    delivered = 0
    for _ in range(repeat):
        gc.collect()
        seconds, delivered = run_ours(lines, registry, devnull)
        ours.append(seconds)
        gc.collect()
        ingest_only.append(run_ours(lines, registry, devnull, forward=False)[0])
        gc.collect()
        base.append(run_baseline(lines))
    o, i, b = statistics.median(ours), statistics.median(ingest_only), statistics.median(base)
    n = len(lines)
    print(
        f"supervisor_bench: {n:,} lines x {repeat} repetitions (medians), Python {sys.version.split()[0]}, {os.cpu_count()} CPUs"
    )
    print(
        f"mix: {MIX}; {e_share:.0%} of lines go to EventBridge ({delivered:,} entries per run); mean line {sum(map(len, lines)) / n:.0f} bytes"
    )
    print()
    print(f"{'throughput':<52}{'median s':>10}{'lines/s':>12}{'us/line':>10}{'vs json.loads':>15}")
    for name, seconds in (
        ("ours: ingest + validate + forward (batch, dry-run)", o),
        ("  of which ingest + validate only", i),
        ("baseline: json.loads per line", b),
    ):
        print(f"{name:<52}{seconds:>10.4f}{n / seconds:>12,.0f}{seconds / n * 1e6:>10.2f}{seconds / b:>14.2f}x")
    rate, ratio = n / o, o / b
    print()
    print(
        f"target >= {TARGET_RATE:,} lines/s: {'met' if rate >= TARGET_RATE else 'MISSED'} ({rate:,.0f}); "
        f"target ratio <= {TARGET_RATIO:g}: {'met' if ratio <= TARGET_RATIO else 'MISSED'} ({ratio:.2f})"
    )

    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        run_ours(lines, registry, devnull)
        profiler.disable()
        print()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(15)

    if not args.no_latency:
        print()
        print(f"{'end-to-end latency, bot stdout -> sink (ms)':<52}{'entries':>9}{'median':>9}{'p95':>9}{'max':>9}")
        paced = ["" + sys.executable, "-c", PACED_BOT.format(repo=str(REPO), rate=args.rate, secs=args.latency_secs)]
        for label, command, scenario in (
            (f"stand-in bot, {args.rate:g} envelopes/s for {args.latency_secs:g}s", paced, None),
            ("real bot, dominant.json at --speed 0", None, "dominant"),  # a bundled name: scenarios are confined
        ):
            result = asyncio.run(_latency(command, scenario, devnull))
            print(f"{label}  ({result['lines']} lines; ts -> ingested: mean {result['ingest_mean']:.2f} ms)")
            for part in ("urgent", "normal", "all"):
                values = result[part]
                name = {
                    "urgent": "  critical/high (flush at once)",
                    "normal": "  normal/low (<= 1 s batch window)",
                    "all": "  all",
                }[part]
                print(
                    f"{name:<52}{len(values):>9}{pct(values, 0.5):>9.1f}{pct(values, 0.95):>9.1f}{max(values, default=float('nan')):>9.1f}"
                )
    devnull.close()
    return 0 if rate >= TARGET_RATE and ratio <= TARGET_RATIO else 1


if __name__ == "__main__":
    sys.exit(main())
