"""Abuse: a flooding room beside a normal one through a slow EventBridge, and 1,000 slow clients.

Usage::

    python benchmarks/abuse_bench.py [--chats 5000] [--votes 10000] [--sink-delay 0.1] [--slow 1000] [--quick]

**Flood beside a normal room** (issue 11, defect 2). The real supervisor (its HTTP API, room
manager, real bots at ``--speed 0``, ingestion, forwarder) plays the bundled ``demo`` room with a
slow EventBridge: a sink that takes ``--sink-delay`` seconds per PutEvents request (2 in flight, so
at most ~200 entries/s). Runs, each with a fresh supervisor:

1. ``alone``: the normal room by itself;
2. ``beside flood``: the normal room, started once the flood has filled half the buffer, while a
   flood room plays (``demo`` plus ``--votes`` vote casts
   and ``--chats`` chats from one participant: what the hostile review sent) — with the fair buffer;
3. ``beside flood, one queue``: the same with every room in one queue and no protected summaries
   (the buffer's behaviour before issue 11), as the in-run baseline;
4. ``beside stand-in flood``: a stand-in bot publishing ``--violations`` policy violations as fast
   as it can (what the flood costs the forwarder however the bot aggregates).

For each run it prints the normal room's delivered entries per topic side by side, and whether they
equal the ``alone`` run's (topic and payload; wall-clock fields such as ``durationMs`` and
``joinLatencyMs`` left out), the flood room's losses, and the supervisor's memory (VmRSS of the
bench process, which is the supervisor, at the start and the peak of each run; bots are separate
processes).

**Slow clients** (defect 6). ``python -m supervisor`` runs as a child with ``RLIMIT_NOFILE`` 1024
(a common default); the bench opens ``--slow`` connections that send half a request head and stall,
then times ``GET /health`` and ``POST /rooms`` (a 422: the request is served) — medians of 20 —
with no slow connections and under them, and reports the child's RSS and log size.

The machine may be shared: figures are medians and ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import aiohttp  # noqa: E402
import orjson  # noqa: E402

from bot.forwarding import DryRunSink  # noqa: E402
from bot.generated.topics import Topic  # noqa: E402

TOKEN = "abuse-bench-token-0123456789"
VOLATILE = re.compile(r"(duration|latency|uptime)Ms$|^(published|dropped)$", re.IGNORECASE)
NORMAL, FLOOD = "normal", "flood"


# ---------------------------------------------------------------------------------------------
# the slow EventBridge


class SlowSink:
    """A dry-run sink to /dev/null that takes ``delay`` seconds per request and keeps what it got."""

    name = "slow"

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.inner = DryRunSink(os.devnull)
        self.details: list[dict[str, Any]] = []

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        await asyncio.sleep(self.delay)
        self.details.extend(orjson.loads(e["Detail"]) for e in entries)
        return await self.inner.send(entries)

    async def close(self) -> None:
        await self.inner.close()


# ---------------------------------------------------------------------------------------------
# scenarios


def scenarios_folder(tmp: Path, chats: int, votes: int) -> Path:
    """The bundled rooms plus ``flood.json``: demo with one participant's vote casts and chats."""
    root = tmp / "scenarios"
    shutil.copytree(REPO / "bot" / "scenarios", root, ignore=shutil.ignore_patterns("tools", "*.py", "__pycache__"))
    demo = json.loads((root / "demo.json").read_text())
    start, span = 46_400, 7_600  # after the demo's /vote, before its /endvote
    cast = {"topic": Topic.ROOM_VOTE_CAST.value, "payload": {"voteId": "vote-1", "option": "yes"}}
    for i in range(votes):
        demo["events"].append(
            {"atMs": start + i * span // max(1, votes), "type": "app_message", "participant": "p-dan", "envelope": cast}
        )
    for i in range(chats):
        demo["events"].append(
            {"atMs": start + i * span // max(1, chats), "type": "chat", "participant": "p-dan", "text": f"spam {i}"}
        )
    demo["name"] = "flood"
    (root / "flood.json").write_text(json.dumps(demo))
    return root


def stand_in_flood(violations: int) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import os, sys, uuid\n"
        f"sys.path.insert(0, {str(REPO)!r})\n"
        "from bot.events import SessionContext, create_runtime\n"
        "from bot.generated import AssistantSessionStarted, AssistantSessionEnded, ConversationPolicyViolation\n"
        "rt = create_runtime(SessionContext(session_id=str(uuid.uuid4()), assistant_id=os.environ['ASSISTANT_ID'],"
        " tenant_id=os.environ['TENANT_ID']), stdout=sys.stdout.buffer)\n"
        "bus = rt.bus\n"
        "bus.publish(AssistantSessionStarted(assistant_id='a', tenant_id='t', bot_version='0', room_url='simulated://x', transport='simulated'))\n"
        f"for i in range({violations}):\n"
        "    bus.publish(ConversationPolicyViolation(policy_version='sha256:' + '0' * 64, rule='chat-rate', kind='rate_limit',"
        " participant_id='p-dan', action='warn', severity='low'))\n"
        "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=bus.published, dropped=0))\n",
    ]


# ---------------------------------------------------------------------------------------------
# run 1-4


def _stable(payload: dict[str, Any]) -> str:
    return orjson.dumps(
        {k: v for k, v in payload.items() if not VOLATILE.search(k)}, option=orjson.OPT_SORT_KEYS
    ).decode()


def _vm(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


async def flood_run(
    folder: Path, *, flood: str | None, one_queue: bool, delay: float, violations: int
) -> dict[str, Any]:
    import bot.forwarding.forwarder as fwd_module
    from supervisor import Supervisor
    from supervisor.settings import SupervisorSettings

    sink = SlowSink(delay)
    with tempfile.TemporaryDirectory() as tmp:
        settings = SupervisorSettings(
            _env_file=None,
            port=0,
            token=TOKEN,
            scenarios_dir=folder,
            allow_command=True,
            dry_run_path=Path(tmp) / "unused.jsonl",
            idle_timeout_secs=300,
        )
        sup = Supervisor(settings, sink=sink)
        saved = fwd_module.is_summary, sup.forwarder.submit
        if one_queue:  # before issue 11: one queue for every room, no protected summaries
            fwd_module.is_summary = lambda topic, envelope: False
            submit = sup.forwarder.submit
            sup.rooms.submit = lambda envelope, flow: submit(envelope, "")
        await sup.start()
        started = time.monotonic()
        rss_start = peak_rss = _vm("VmRSS")
        try:
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as http:

                async def post(body: dict[str, Any]) -> str:
                    async with http.post(f"{sup.url}/rooms", json=body) as resp:
                        room = await resp.json()
                        assert resp.status == 201, room
                        return str(room["id"])

                ids = []
                if flood == "scenario":
                    ids.append(await post({"scenario": "flood", "speed": 0, "assistantId": "a", "tenantId": FLOOD}))
                elif flood == "stand-in":
                    ids.append(
                        await post(
                            {
                                "scenario": "demo",
                                "assistantId": "a",
                                "tenantId": FLOOD,
                                "command": stand_in_flood(violations),
                            }
                        )
                    )
                if flood is not None:  # the normal room plays while the flood fills the buffer
                    deadline = time.monotonic() + 60
                    while sup.forwarder.buffered < sup.forwarder.config.buffer_entries // 2:
                        assert time.monotonic() < deadline, "the flood never filled the buffer"
                        await asyncio.sleep(0.05)
                ids.append(await post({"scenario": "demo", "speed": 0, "assistantId": "a", "tenantId": NORMAL}))
                rooms: dict[str, dict[str, Any]] = {}
                peak_buffer = 0
                while len(rooms) < len(ids):
                    for room_id in ids:
                        async with http.get(f"{sup.url}/rooms/{room_id}") as resp:
                            room = await resp.json()
                        if room["status"] in ("ended", "failed"):
                            rooms[room_id] = room
                    peak_buffer = max(peak_buffer, sup.forwarder.buffered)
                    peak_rss = max(peak_rss, _vm("VmRSS"))
                    await asyncio.sleep(0.2)
            await sup.forwarder.flush(120)
            elapsed = time.monotonic() - started
            normal_id = ids[-1]
            counters = {room_id: sup.forwarder.flow_stats("" if one_queue else room_id) for room_id in ids}
        finally:
            fwd_module.is_summary = saved[0]
            await sup.stop()
    normal = [d for d in sink.details if d.get("tenantId") == NORMAL]
    flooded = [d for d in sink.details if d.get("tenantId") == FLOOD]
    return {
        "normal": Counter(d["topic"] for d in normal),
        "normal_set": Counter((d["topic"], _stable(d["payload"])) for d in normal),
        "flood_delivered": len(flooded),
        "flood_dropped": sum(counters[ids[0]]["dropped"].values()) if flood and not one_queue else None,
        "normal_dropped": sum(counters[normal_id]["dropped"].values()) if not one_queue else None,
        "dropped_total": dict(sup.forwarder.stats.dropped),
        "status": {r["tenantId"]: r["status"] for r in rooms.values()},
        "peak_buffer": peak_buffer,
        "seconds": elapsed,
        "rss_start": rss_start,
        "rss_peak": peak_rss,
    }


# ---------------------------------------------------------------------------------------------
# slow clients


async def _time(session: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        async with session.request(method, url, timeout=aiohttp.ClientTimeout(total=10), **kw) as resp:
            await resp.read()
            return resp.status, (time.perf_counter() - start) * 1000
    except (TimeoutError, aiohttp.ClientError):
        return 0, (time.perf_counter() - start) * 1000


def _rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


async def slow_clients(n_slow: int, fd_limit: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="abuse-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERVISOR_", "EVENTBRIDGE_"))}
    env |= {"SUPERVISOR_TOKEN": TOKEN, "SUPERVISOR_DRY_RUN_PATH": str(tmp / "fwd.jsonl"), "PYTHONPATH": str(REPO)}
    log = tmp / "stderr.log"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (fd_limit, fd_limit))

    with log.open("wb") as err:
        proc = subprocess.Popen(  # noqa: ASYNC220 (started once, before the measurement)
            [sys.executable, "-m", "supervisor", "--port", "0"],
            cwd=tmp,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=limit,
        )
    writers: list[asyncio.StreamWriter] = []
    try:
        port = 0
        for _ in range(600):
            found = re.search(rb"listening on http://127\.0\.0\.1:(\d+)", log.read_bytes())
            if found:
                port = int(found.group(1))
                break
            await asyncio.sleep(0.05)
        assert port, log.read_text()
        url = f"http://127.0.0.1:{port}"
        bad_room = {"assistantId": "a", "tenantId": "t", "scenario": "not-a-room"}

        async def measure() -> dict[str, Any]:
            health, rooms = [], []
            async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"}) as session:
                await _time(session, "GET", f"{url}/health")  # warm-up (imports, first connection)
                for _ in range(20):
                    health.append(await _time(session, "GET", f"{url}/health"))
                    rooms.append(await _time(session, "POST", f"{url}/rooms", json=bad_room))
            return {
                "health_ms": statistics.median(ms for _, ms in health),
                "health_ok": sum(1 for s, _ in health if s == 200),
                "rooms_ms": statistics.median(ms for _, ms in rooms),
                "rooms_ok": sum(1 for s, _ in rooms if s == 422),
            }

        quiet = await measure()
        quiet["rss"] = _rss(proc.pid)
        for _ in range(n_slow):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                continue
            writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            writers.append(writer)
        await asyncio.sleep(1.0)
        loaded = await measure()
        loaded["rss"] = _rss(proc.pid)
        loaded["log_bytes"] = log.stat().st_size
        loaded["tracebacks"] = log.read_bytes().count(b"Traceback")
        return {"quiet": quiet, "loaded": loaded, "opened": len(writers)}
    finally:
        for writer in writers:
            writer.close()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=5000)
    parser.add_argument("--votes", type=int, default=10000)
    parser.add_argument("--violations", type=int, default=20000)
    parser.add_argument("--sink-delay", type=float, default=0.1)
    parser.add_argument("--slow", type=int, default=1000)
    parser.add_argument("--fd-limit", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="skip the one-queue baseline and the stand-in flood")
    args = parser.parse_args(argv)

    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="ERROR")

    with tempfile.TemporaryDirectory() as tmp:
        folder = scenarios_folder(Path(tmp), args.chats, args.votes)
        runs: dict[str, dict[str, Any]] = {}
        plan = [("alone", None, False), ("beside flood", "scenario", False)]
        if not args.quick:
            plan += [("beside flood, one queue", "scenario", True), ("beside stand-in flood", "stand-in", False)]
        for label, flood, one_queue in plan:
            print(f"running: {label} ...", file=sys.stderr, flush=True)
            runs[label] = asyncio.run(
                flood_run(folder, flood=flood, one_queue=one_queue, delay=args.sink_delay, violations=args.violations)
            )

    alone = runs["alone"]
    labels = list(runs)
    topics = sorted(set().union(*(r["normal"] for r in runs.values())))
    print(
        f"Normal room (demo, speed 0) delivered to a slow EventBridge ({args.sink_delay:g} s per request, 2 in flight);"
        f" flood: {args.votes} vote casts + {args.chats} chats from one participant (real bot), "
        f"stand-in: {args.violations} violations"
    )
    width = 30
    print(f"{'topic':<34}" + "".join(f"{label:>{width}}" for label in labels))
    for topic in topics:
        print(f"{topic:<34}" + "".join(f"{runs[label]['normal'].get(topic, 0):>{width}}" for label in labels))
    rows: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
        ("normal room: entries", lambda r: sum(r["normal"].values())),
        ("normal room: equal to alone", lambda r: "yes" if r["normal_set"] == alone["normal_set"] else "NO"),
        ("normal room: dropped", lambda r: "-" if r["normal_dropped"] is None else r["normal_dropped"]),
        ("flood room: delivered", lambda r: r["flood_delivered"]),
        ("flood room: dropped", lambda r: "-" if r["flood_dropped"] is None else r["flood_dropped"]),
        (
            "all dropped (by reason)",
            lambda r: " ".join(f"{k} {v}" for k, v in sorted(r["dropped_total"].items())) or "0",
        ),
        ("peak buffered entries", lambda r: r["peak_buffer"]),
        ("supervisor RSS at start (MB)", lambda r: f"{r['rss_start'] / 2**20:.0f}"),
        ("supervisor RSS peak (MB)", lambda r: f"{r['rss_peak'] / 2**20:.0f}"),
        ("wall time (s)", lambda r: f"{r['seconds']:.1f}"),
    ]
    for name, get in rows:
        print(f"{name:<34}" + "".join(f"{get(runs[label])!s:>{width}}" for label in labels))
    print("(RSS of the bench process, which is the supervisor, sampled every 0.2 s; Python keeps freed memory,")
    print(" so a run starts where the last one ended)")

    print()
    print(
        f"Slow clients: python -m supervisor with RLIMIT_NOFILE {args.fd_limit}; {args.slow} connections sending half a head"
    )
    result = asyncio.run(slow_clients(args.slow, args.fd_limit))
    q, loaded = result["quiet"], result["loaded"]
    loaded_label = f"{result['opened']} slow clients"
    print(f"{'':<34}{'no slow clients':>18}{loaded_label:>20}{'ratio':>8}")
    print(
        f"{'GET /health median (ms)':<34}{q['health_ms']:>18.2f}{loaded['health_ms']:>20.2f}"
        f"{loaded['health_ms'] / q['health_ms']:>8.2f}"
    )
    print(f"{'GET /health answered (of 20)':<34}{q['health_ok']:>18}{loaded['health_ok']:>20}")
    print(
        f"{'POST /rooms median (ms)':<34}{q['rooms_ms']:>18.2f}{loaded['rooms_ms']:>20.2f}"
        f"{loaded['rooms_ms'] / q['rooms_ms']:>8.2f}"
    )
    print(f"{'POST /rooms answered (of 20)':<34}{q['rooms_ok']:>18}{loaded['rooms_ok']:>20}")
    print(f"{'supervisor RSS (MB)':<34}{q['rss'] / 2**20:>18.0f}{loaded['rss'] / 2**20:>20.0f}")
    log_cell = f"{loaded['log_bytes']}, {loaded['tracebacks']}"
    print(f"{'log size (bytes), tracebacks':<34}{'':>18}{log_cell:>20}")
    ok = all(r["normal_set"] == alone["normal_set"] for label, r in runs.items() if "one queue" not in label)
    ok = ok and loaded["health_ok"] == 20 and loaded["rooms_ok"] == 20
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
