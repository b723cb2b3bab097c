"""Capacity: how many real-time rooms one machine holds, through the real supervisor.

Usage::

    python benchmarks/capacity_bench.py [--rooms 1,8,16,24,32] [--scenario eight] [--spawn both|template|exec]

For each N, the real supervisor (room manager, asyncio subprocesses, ingestion, forwarder to a
dry-run sink) starts N bots at once, each playing the bundled 8-person room at real time
(``--speed 1``), and the bench taps the supervisor's ingestion to note when each envelope arrived.
Per N it prints:

- **CPU per room**: user+system CPU seconds of each bot process (``/proc/PID/stat``, sampled every
  0.5 s until it exits) over the room's media duration, as a share of one core; start-up (spawn to
  ``conversation.policy.loaded``, published as the pipeline starts: imports, model load, scenario)
  is shown apart from the room's steady state.
- **Memory per room**: USS (private pages) and PSS (proportional set size, shared pages divided
  among the processes sharing them) from ``/proc/PID/smaps_rollup`` at mid-room, median over the
  rooms; RSS beside them.
- **Event lag**: for ``room.speaking.started``/``stopped`` and the periodic topics
  (``room.dominance.score``, ``room.pacing.updated``), the room's clock at the envelope's arrival in
  the supervisor minus the envelope's ``meta.mediaTimeMs``. The room's clock is media time as the
  simulated room plays it: ``wall - epoch`` at speed 1, where the epoch is when media 0 was due.
  The epoch is taken from the room's heartbeats (``ts - payload.mediaTimeMs``; the smallest, i.e.
  a heartbeat published while playback was on schedule), not from the least-lagged envelope.
  ``room.speaking.started`` lag includes the detector's own decision delay (a start is decided
  ~100-400 ms after its back-dated onset), so it has a floor even on an idle machine.
- **Spawn → join**: from the room's creation in the supervisor to ``assistant.room.join.succeeded``
  arriving, p50/p95 over the rooms.
- The largest N whose ``room.speaking.started`` lag p99 stays within ``--lag-target-ms`` (300).
- **How bots start** (``--spawn``): ``template`` forks them from the supervisor's bot template
  (``SUPERVISOR_BOT_TEMPLATE``, the default), ``exec`` runs a fresh ``python -m bot`` each;
  ``both`` (the default) measures each N both ways, exec first, and prints template/exec ratios.
  With the template, the template process's own PSS is shown apart (``tpl PSS``) and its share
  (``/ N``) is added in ``PSS+tpl``: the honest memory per room.

One room alone is always measured first in the same run, as the baseline the ratios refer to. The
machine should be otherwise idle; say so when it is not.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.generated.topics import Topic  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
PERIODIC = (Topic.ROOM_DOMINANCE_SCORE, Topic.ROOM_PACING_UPDATED)


@dataclass
class RoomProbe:
    """What the bench learns about one room's bot."""

    room_id: str
    created_wall: float
    pid: int | None = None
    arrivals: list[tuple[dict[str, Any], float]] = field(default_factory=list)
    cpu_ticks: int = 0
    cpu_ticks_at_join: int | None = None
    joined_wall: float | None = None
    memory_kb: dict[str, int] = field(default_factory=dict)
    template_pss_kb: int = 0


def proc_cpu_ticks(pid: int) -> int | None:
    """utime + stime of a process, in clock ticks (None once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15 of stat)


def proc_memory_kb(pid: int) -> dict[str, int]:
    """RSS, PSS and USS (private clean + dirty) in kB from smaps_rollup."""
    values: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    values[parts[0][:-1]] = int(parts[1])
    except OSError:
        return {}
    return {
        "rss": values.get("Rss", 0),
        "pss": values.get("Pss", 0),
        "uss": values.get("Private_Clean", 0) + values.get("Private_Dirty", 0),
    }


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run_rooms(
    n: int, scenario: str, media_secs: float, speed: float = 1.0, spawn: str = "template"
) -> list[RoomProbe]:
    """Start ``n`` rooms at once through an in-process supervisor and watch them to their end."""
    from supervisor import Supervisor
    from supervisor.rooms import RoomRequest
    from supervisor.settings import SupervisorSettings

    with tempfile.TemporaryDirectory() as tmp:
        settings = SupervisorSettings(
            _env_file=None,
            port=0,
            insecure_no_auth=True,
            dry_run_path=Path(tmp) / "dryrun.jsonl",
            max_rooms=max(16, n),
            idle_timeout_secs=max(120.0, media_secs * 2),
            bot_template=spawn == "template",
        )
        sup = Supervisor(settings)
        template = sup.rooms.template
        if template is not None:
            sup.rooms.start_template()
            if not await template.wait_ready():
                raise SystemExit("the bot template did not become ready")
        probes: dict[str, RoomProbe] = {}
        ingestor = sup.ingestor
        plain_ingest = ingestor.ingest

        def tapped(line: bytes, stats: Any, *, room: str = "-", **kwargs: Any) -> dict[str, Any] | None:
            envelope: dict[str, Any] | None = plain_ingest(line, stats, room=room, **kwargs)
            if envelope is not None:
                now = time.time()
                probe = probes.get(room)
                if probe is None:  # a forked bot can speak before create() has returned its room
                    watched = sup.rooms.get(room)
                    probe = probes[room] = RoomProbe(
                        room_id=room,
                        created_wall=watched.created_at if watched else now,
                        pid=watched.pid if watched else None,
                    )
                probe.arrivals.append((envelope, now))
                topic = envelope["topic"]
                if topic == Topic.ASSISTANT_ROOM_JOIN_SUCCEEDED and probe.joined_wall is None:
                    probe.joined_wall = now
                elif topic == Topic.CONVERSATION_POLICY_LOADED and probe.pid is not None:
                    probe.cpu_ticks_at_join = proc_cpu_ticks(probe.pid)  # the pipeline starts: start-up is over
            return envelope

        ingestor.ingest = tapped
        await sup.forwarder.start()
        rooms = []
        for _ in range(n):
            created = time.time()
            room = await sup.rooms.create(
                RoomRequest.model_validate(
                    {"scenario": scenario, "speed": speed, "assistantId": "bench-assistant", "tenantId": "bench-tenant"}
                )
            )
            probe = probes.setdefault(room.id, RoomProbe(room_id=room.id, created_wall=created))
            probe.created_wall, probe.pid = created, room.pid
            rooms.append(room)
        mid_sampled = False
        start = time.time()
        while not all(room.done_event.is_set() for room in rooms):
            for room in rooms:
                probe = probes[room.id]
                if probe.pid is None and room.pid is not None:
                    probe.pid = room.pid
                if probe.pid is not None:
                    ticks = proc_cpu_ticks(probe.pid)
                    if ticks is not None:
                        probe.cpu_ticks = ticks
            if not mid_sampled and time.time() - start > media_secs / 2 / (speed or float("inf")):
                template_pss = proc_memory_kb(template.pid).get("pss", 0) if template and template.pid else 0
                for probe in probes.values():
                    if probe.pid is not None:
                        probe.memory_kb = proc_memory_kb(probe.pid)
                        probe.template_pss_kb = template_pss
                mid_sampled = True
            await asyncio.sleep(0.5)
        forked = sup.metrics.spawn_paths["template"]
        if template is not None:
            await template.close()
            if forked != n:
                print(f"warning: {n - forked} of {n} rooms were exec'd (the template could not fork them)")
        await sup.forwarder.close()
        return list(probes.values())


def summarize(probes: list[RoomProbe], media_secs: float) -> dict[str, float]:
    lags: dict[str, list[float]] = {"started": [], "stopped": [], "periodic": []}
    cpu_room: list[float] = []
    cpu_start: list[float] = []
    spawn_join: list[float] = []
    for probe in probes:
        beats = [
            env["ts"] - env["payload"]["mediaTimeMs"]
            for env, _ in probe.arrivals
            if env["topic"] == Topic.BOT_HEALTH_HEARTBEAT and env["payload"].get("mediaTimeMs", 0) > 0
        ]
        if beats:
            epoch_ms = min(beats)
            for env, arrived in probe.arrivals:
                media = env.get("meta", {}).get("mediaTimeMs")
                if media is None:
                    continue
                lag = arrived * 1000.0 - epoch_ms - media
                topic = env["topic"]
                if topic == Topic.ROOM_SPEAKING_STARTED:
                    lags["started"].append(lag)
                elif topic == Topic.ROOM_SPEAKING_STOPPED:
                    lags["stopped"].append(lag)
                elif topic in PERIODIC:
                    lags["periodic"].append(lag)
        if probe.joined_wall is not None:
            spawn_join.append((probe.joined_wall - probe.created_wall) * 1000.0)
        if probe.cpu_ticks_at_join is not None:
            cpu_start.append(probe.cpu_ticks_at_join / TICKS)
            cpu_room.append((probe.cpu_ticks - probe.cpu_ticks_at_join) / TICKS / media_secs)
    mem = [p.memory_kb for p in probes if p.memory_kb]
    return {
        "cpu_room": statistics.median(cpu_room) if cpu_room else float("nan"),
        "cpu_start_s": statistics.median(cpu_start) if cpu_start else float("nan"),
        "uss_mb": statistics.median(m["uss"] for m in mem) / 1024 if mem else float("nan"),
        "pss_mb": statistics.median(m["pss"] for m in mem) / 1024 if mem else float("nan"),
        "rss_mb": statistics.median(m["rss"] for m in mem) / 1024 if mem else float("nan"),
        "tpl_pss_mb": probes[0].template_pss_kb / 1024 if probes else 0.0,
        "started_p50": pct(lags["started"], 0.5),
        "started_p99": pct(lags["started"], 0.99),
        "stopped_p50": pct(lags["stopped"], 0.5),
        "stopped_p99": pct(lags["stopped"], 0.99),
        "periodic_p50": pct(lags["periodic"], 0.5),
        "periodic_p99": pct(lags["periodic"], 0.99),
        "join_p50": pct(spawn_join, 0.5),
        "join_p95": pct(spawn_join, 0.95),
        "rooms_ok": sum(1 for p in probes if p.joined_wall is not None),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rooms", default="1,8,16,24,32", help="room counts to measure (comma-separated)")
    parser.add_argument("--scenario", default="eight", help="bundled room to play (default: eight, 8 people)")
    parser.add_argument("--lag-target-ms", type=float, default=300.0)
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="playback speed (default 1: only then are CPU per room and lag meaningful; 0 checks the bench itself)",
    )
    parser.add_argument(
        "--spawn",
        choices=("both", "template", "exec"),
        default="both",
        help="how the supervisor starts bots: forked from its bot template, exec'd, or both for each N (default)",
    )
    args = parser.parse_args(argv)
    counts = [int(x) for x in args.rooms.split(",") if x.strip()]
    paths = ("exec", "template") if args.spawn == "both" else (args.spawn,)
    from bot.rooms.scenario import load_scenario
    from supervisor.scenarios import resolve_scenario

    media_secs = load_scenario(resolve_scenario(args.scenario)).media_duration_ms / 1000.0
    from loguru import logger

    logger.remove()  # the supervisor's per-room log lines would drown the table
    if counts[0] != 1:
        counts.insert(0, 1)
    pace = "at real time" if args.speed == 1 else f"at speed {args.speed:g} (CPU per room and lag are not meaningful)"
    print(
        f"{args.scenario}: {media_secs:.0f} s of media per room {pace}; {os.cpu_count()} cores;"
        f" load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} at the start",
        flush=True,
    )
    header = (
        f"{'rooms':>5} {'spawn':>8} {'ok':>3} {'CPU/room':>8} {'start CPU s':>11} {'USS MB':>7} {'PSS MB':>7}"
        f" {'tpl PSS':>7} {'PSS+tpl':>7} {'RSS MB':>7}"
        f" {'started p50/p99 ms':>19} {'stopped p50/p99':>16} {'periodic p50/p99':>17} {'spawn→join p50/p95':>19}"
    )
    print(header)
    results: dict[tuple[str, int], dict[str, float]] = {}
    for n in counts:
        for path in paths:
            probes = asyncio.run(run_rooms(n, args.scenario, media_secs, args.speed, path))
            r = summarize(probes, media_secs)
            r["pss_tpl_mb"] = r["pss_mb"] + r["tpl_pss_mb"] / n
            results[(path, n)] = r
            print(
                f"{n:>5} {path:>8} {r['rooms_ok']:>3.0f} {r['cpu_room']:>8.3f} {r['cpu_start_s']:>11.2f} {r['uss_mb']:>7.0f}"
                f" {r['pss_mb']:>7.0f} {r['tpl_pss_mb']:>7.0f} {r['pss_tpl_mb']:>7.0f} {r['rss_mb']:>7.0f}"
                f" {r['started_p50']:>9.0f}/{r['started_p99']:<9.0f}"
                f" {r['stopped_p50']:>7.0f}/{r['stopped_p99']:<8.0f} {r['periodic_p50']:>8.0f}/{r['periodic_p99']:<8.0f}"
                f" {r['join_p50']:>9.0f}/{r['join_p95']:<9.0f}",
                flush=True,
            )
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for path in paths:
        base = results[(path, 1)]
        held = [
            n
            for (p, n), r in results.items()
            if p == path and r["started_p99"] <= args.lag_target_ms and r["rooms_ok"] == n
        ]
        print(
            f"{path}: largest N with room.speaking.started lag p99 <= {args.lag_target_ms:.0f} ms: {max(held) if held else 'none'}"
        )
        for (p, n), r in results.items():
            if p == path and n != 1:
                print(
                    f"  N={n}: CPU/room x{r['cpu_room'] / base['cpu_room']:.2f}, PSS x{r['pss_mb'] / base['pss_mb']:.2f},"
                    f" started p99 x{r['started_p99'] / base['started_p99']:.2f} (vs one room alone)"
                )
    if len(paths) == 2:
        print("template vs exec, same N, same run:")
        for n in counts:
            t, e = results[("template", n)], results[("exec", n)]
            print(
                f"  N={n}: spawn→join p50 x{t['join_p50'] / e['join_p50']:.2f}, start CPU x{t['cpu_start_s'] / e['cpu_start_s']:.2f},"
                f" PSS+tpl x{t['pss_tpl_mb'] / e['pss_mb']:.2f}, USS x{t['uss_mb'] / e['uss_mb']:.2f},"
                f" CPU/room x{t['cpu_room'] / e['cpu_room']:.2f}, started p99 x{t['started_p99'] / e['started_p99']:.2f}"
            )
    failed = {(p, n): n - int(r["rooms_ok"]) for (p, n), r in results.items() if r["rooms_ok"] < n}
    if failed:  # a bench whose rooms did not start measures nothing: say so, and fail
        print(
            "rooms that never joined: " + ", ".join(f"{k} of {n} ({p})" for (p, n), k in failed.items()),
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
