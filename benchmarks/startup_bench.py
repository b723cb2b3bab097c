"""Start-up: spawn → each seed envelope on stdout, beside ``python -c "import pydantic"``.

    python benchmarks/startup_bench.py [--runs 15] [--compare DIR]

Spawns ``python -m bot --speed 0 --view off`` (the simulated demo room) ``--runs`` times and
records when each seed topic's line arrives on stdout; the baseline is the wall time of a bare
``python -c "import pydantic"`` measured in the same run, interleaved. Medians; read the ratio.
``--compare DIR`` spawns the bot of another checkout (``git worktree add /tmp/old main``) with the
same interpreter, interleaved with this one, and prints both columns: on a shared machine only
figures taken in the same run compare.

Bytecode: the unmeasured warm-up spawn writes the bot's ``.pyc`` files even when
``PYTHONDONTWRITEBYTECODE`` is set, as an installed package has them (pip compiles a wheel on
install); without them every spawn compiles the bot's own modules from source, about 100 ms more.

Targets (issue 14): first envelope ≤ 2× the baseline; every seed topic within 300 ms of spawn.
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
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.generated.topics import Topic  # noqa: E402

SEED = [
    Topic.ASSISTANT_SESSION_STARTED,
    Topic.ASSISTANT_ROOM_JOIN_REQUESTED,
    Topic.ASSISTANT_ROOM_JOIN_SUCCEEDED,
    Topic.BOT_HEALTH_HEARTBEAT,
]
TARGET_MS = 300


def spawn_once(repo: Path = REPO, *, write_bytecode: bool = False) -> dict[str, float]:
    """Milliseconds from spawn to the first line of each seed topic (``python -m bot`` run in ``repo``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "MESH_"))}
    if write_bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--speed", "0", "--view", "off"],
        cwd=repo,  # -m puts the working directory first on sys.path: this checkout's bot
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
            f"startup_bench: the bot in {repo} ended before {', '.join(t for t in SEED if t not in seen)}:\n"
            f"{stderr.decode(errors='replace')[-2000:]}"
        )
    return seen


def python_once(code: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - started) * 1000


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--compare", type=Path, metavar="DIR", help="another checkout, measured interleaved")
    args = parser.parse_args()
    repos = {"this": REPO}
    if args.compare is not None:
        repos = {"compare": args.compare.resolve(), "this": REPO}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in repos}
    base: list[float] = []
    bare: list[float] = []
    load_before = _load()
    for repo in repos.values():
        spawn_once(repo, write_bytecode=True)  # warm the file cache and the bytecode once, not measured
    for _ in range(args.runs):
        base.append(python_once("import pydantic"))
        bare.append(python_once("pass"))
        for name, repo in repos.items():
            runs[name].append(spawn_once(repo))
    baseline = statistics.median(base)
    floor = statistics.median(bare)
    print(f'median of {args.runs} runs; baseline `python -c "import pydantic"` = {baseline:.0f} ms')
    print(f"before: {load_before}; after: {_load()}")
    for name, repo in repos.items():
        print(f"  {name}: {repo}")
    names = list(repos)
    header = "".join(f" {name + ' ms':>13} {'× base':>7}" for name in names)
    print(f"{'':<32}{header}")
    print(f"{'(floor: python -c pass)':<32}" + f" {floor:13.0f} {floor / baseline:7.2f}" * len(names))
    for topic in SEED:
        cells = ""
        for name in names:
            ms = statistics.median(r[topic] for r in runs[name])
            cells += f" {ms:13.0f} {ms / baseline:7.2f}"
        print(f"{topic:<32}{cells}")
    for name in names:
        first = statistics.median(r[SEED[0]] for r in runs[name])
        last = statistics.median(max(r.values()) for r in runs[name])
        print(
            f"{name}: first envelope / baseline = {first / baseline:.2f} (target ≤ 2)   "
            f"all seed topics by {last:.0f} ms (target ≤ {TARGET_MS})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
