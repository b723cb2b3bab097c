"""Supervisor memory with browsers on a room's live feed (GET /rooms/{id}/events).

One supervisor process per case (python -m supervisor, fresh), one room whose stand-in bot
(benchmarks/load_bot.py) publishes 8 participants' events at 50 envelopes/s; the case's clients
connect before the room starts. Peak resident memory (VmHWM) of the supervisor process is
reported, with the ratio to the case without clients in the same run.

    python benchmarks/sse_memory_bench.py            (about a minute)
"""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789abcdef"
SECONDS = float(os.environ.get("BENCH_SECS", "15"))
RATE = 50


def vm(pid: int, key: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    m = re.search(rf"^{key}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


async def reader(session: aiohttp.ClientSession, url: str, counts: list[int], i: int) -> None:
    async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
        async for line in resp.content:
            if line.startswith(b"id:"):
                counts[i] += 1
            if line.startswith(b"event: end"):
                return


def spawn_supervisor(workdir: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor", "--port", "0", "--dry-run-path", str(workdir / "d.jsonl")],
        cwd=workdir,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


async def case(readers: int, stalled: int) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="prism-ssebench-"))
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "SUPERVISOR_TOKEN": TOKEN,
        "SUPERVISOR_ALLOW_COMMAND": "1",
        "SUPERVISOR_BOT_ENV": "LOAD_RATE,LOAD_SECS",
        "LOAD_RATE": str(RATE),
        "LOAD_SECS": str(SECONDS),
    }
    proc = spawn_supervisor(workdir, env)
    assert proc.stderr is not None
    url = ""
    while not url:
        line = proc.stderr.readline()
        if not line:
            raise RuntimeError("the supervisor did not start")
        m = re.search(r"listening on (http://\S+)", line)
        url = m.group(1) if m else ""
    drain = asyncio.get_running_loop().run_in_executor(None, proc.stderr.read)
    try:
        idle = vm(proc.pid, "VmRSS")
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
            body = {
                "roomUrl": "https://bench.daily.co/room",
                "assistantId": "bench",
                "tenantId": "bench",
                "command": [sys.executable, str(REPO / "benchmarks" / "load_bot.py")],
            }
            headers = {"Authorization": f"Bearer {TOKEN}"}
            async with session.post(f"{url}/rooms", json=body, headers=headers) as resp:
                room = (await resp.json())["id"]
            feed = f"{url}/rooms/{room}/events"
            counts = [0] * readers
            tasks = [asyncio.create_task(reader(session, feed, counts, i)) for i in range(readers)]
            socks = []
            host, port = url.removeprefix("http://").split(":")
            for _ in range(stalled):
                s = socket.create_connection((host, int(port)))
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                s.sendall(
                    f"GET /rooms/{room}/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n\r\n".encode()
                )
                socks.append(s)
            started = time.monotonic()
            while True:
                async with session.get(f"{url}/rooms/{room}", headers=headers) as resp:
                    status = (await resp.json())["status"]
                if status in ("ended", "failed") or time.monotonic() - started > SECONDS + 60:
                    break
                await asyncio.sleep(0.5)
            await asyncio.wait_for(asyncio.gather(*tasks), 30)
            peak = vm(proc.pid, "VmHWM")
            for s in socks:
                s.close()
        return {"idle": idle, "peak": peak, "received": min(counts) if counts else 0}
    finally:
        proc.terminate()
        proc.wait(20)
        await drain


async def main() -> int:
    rows = []
    for readers, stalled in ((0, 0), (1, 0), (10, 0), (10, 10)):
        r = await case(readers, stalled)
        rows.append((readers, stalled, r))
    base = rows[0][2]["peak"]
    print(
        f"supervisor peak RSS, one room at {RATE} envelopes/s for {SECONDS:g}s, 8 participants (shared 2-core machine)"
    )
    print(f"{'readers':>7} {'stalled':>7} {'idle MB':>8} {'peak MB':>8} {'ratio':>6} {'each reader got':>15}")
    for readers, stalled, r in rows:
        print(
            f"{readers:>7} {stalled:>7} {r['idle'] / 1024:>8.1f} {r['peak'] / 1024:>8.1f} {r['peak'] / base:>6.2f} {r['received']:>15}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
