"""``./run --dashboard`` (``python -m supervisor.demo``): watch the bundled demo room live in a browser.

Starts a supervisor on 127.0.0.1 (a random bearer token that never leaves this process), plays
the bundled demo room through it, issues a view token that may vote, and prints the dashboard's
URL. Ctrl-C stops everything. No network beyond loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from supervisor.live import WEB_DIR


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="./run --dashboard",
        description="Play a simulated room through a local supervisor and print the URL of its live dashboard.",
    )
    parser.add_argument(
        "--scenario",
        default="demo",
        help="a bundled room (demo, balanced, dominant, eight, noisy) or a path inside bot/scenarios (default: demo)",
    )
    parser.add_argument(
        "--speed", type=float, default=1.0, help="playback speed: 1 = real time (default), 2 = twice as fast"
    )
    parser.add_argument("--port", type=int, default=8780, help="port on 127.0.0.1 (default 8780; 0 = any free port)")
    parser.add_argument("--voter", default="viewer", help="the participant id your votes carry (default: viewer)")
    return parser


async def serve(args: argparse.Namespace) -> int:
    from pydantic import SecretStr

    from supervisor.app import Supervisor, configure_logging
    from supervisor.rooms import RoomRequest
    from supervisor.settings import SupervisorSettings

    configure_logging("WARNING")
    workdir = Path(tempfile.mkdtemp(prefix="prism-dashboard-"))
    settings = SupervisorSettings(
        _env_file=None,
        host="127.0.0.1",
        port=args.port,
        token=SecretStr(secrets.token_urlsafe(24)),
        dry_run_path=workdir / "forward-dryrun.jsonl",
        idle_timeout_secs=None,
    )
    sup = Supervisor(settings)
    await sup.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        request = RoomRequest.model_validate(
            {"scenario": args.scenario, "speed": args.speed, "assistantId": "demo-assistant", "tenantId": "demo-tenant"}
        )
        room = await sup.rooms.create(request)
        token, _ = sup.view_tokens.issue(room.id, participant_id=args.voter, ttl_secs=12 * 3600)
        print(f"Dashboard of the {args.scenario} room (speed {args.speed:g}), open in a browser:\n", file=sys.stderr)
        print(f"    {sup.url}/rooms/{room.id}/view#token={token}\n", flush=True)
        print("The room plays once; the page keeps its final state. Ctrl-C stops.", file=sys.stderr)
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await sup.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not (WEB_DIR / "dashboard.js").is_file():
        print("error: the dashboard is not built (run scripts/setup.sh, or: cd web && npm run bundle)", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print("error: --speed must be above 0 (the page is for watching)", file=sys.stderr)
        return 2
    from supervisor.scenarios import ScenarioRefused, resolve_scenario

    try:
        resolve_scenario(args.scenario)
    except ScenarioRefused as exc:
        print(f"error: --scenario {args.scenario}: {exc.message}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(serve(args))
    except OSError as exc:
        print(f"error: {exc.strerror or exc} (is port {args.port} taken? try --port 0)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
