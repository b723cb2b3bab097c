"""``python -m supervisor``: help, one-line settings errors (exit 2), start, health, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sup_helpers import REPO, TOKEN


def env(**extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SUPERVISOR_", "EVENTBRIDGE_"))}
    base.update(extra)
    return base


def supervisor(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supervisor", *args],
        cwd=cwd,
        env=env(PYTHONPATH=str(REPO), **extra),
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_help_lists_the_settings_with_their_variables(tmp_path: Path) -> None:
    proc = supervisor("--help", cwd=tmp_path)
    assert proc.returncode == 0
    for text in (
        "--restart-attempts",
        "SUPERVISOR_RESTART_ATTEMPTS",
        "--forward {dry-run,eventbridge}",
        "EVENTBRIDGE_BUS",
    ):
        assert text in proc.stdout
    assert "--token" not in proc.stdout, "the token is environment-only"
    assert "SUPERVISOR_TOKEN and PRISM_PII_SALT are environment-only" in " ".join(proc.stdout.split())
    assert "(default: 8780) [env SUPERVISOR_PORT]" in " ".join(proc.stdout.split())


@pytest.mark.parametrize(
    ("args", "extra", "message"),
    [
        ((), {}, "error: SUPERVISOR_TOKEN is not set"),
        (("--port", "abc"), {"SUPERVISOR_TOKEN": TOKEN}, "error: --port: Input should be a valid integer"),
        (
            (),
            {"SUPERVISOR_TOKEN": TOKEN, "SUPERVISOR_MAX_ROOMS": "0"},
            "error: SUPERVISOR_MAX_ROOMS: Input should be greater than or equal to 1",
        ),
        ((), {"SUPERVISOR_TOKEN": "short"}, "error: SUPERVISOR_TOKEN is too short"),
        (
            ("--insecure-no-auth", "--host", "0.0.0.0"),
            {},
            "error: --insecure-no-auth is only allowed on a loopback host",
        ),
        (("--forward", "kafka"), {"SUPERVISOR_TOKEN": TOKEN}, "error: argument --forward: invalid choice (choose from"),
        (
            ("--no-such-flag",),
            {"SUPERVISOR_TOKEN": TOKEN},
            "error: unrecognized arguments: --no-such-flag (see --help)",
        ),
        (
            ("--max-r", "2"),
            {"SUPERVISOR_TOKEN": TOKEN},
            "error: unrecognized arguments: --max-r; did you mean --max-rooms? (see --help)",
        ),
        (("--token", "abc"), {}, "error: unrecognized arguments: --token (see --help)"),
        (
            ("--backoff-base-secs", "5", "--backoff-max-secs", "1"),
            {"SUPERVISOR_TOKEN": TOKEN},
            "error: settings: SUPERVISOR_BACKOFF_MAX_SECS must be at least",
        ),
        ((), {"SUPERVISOR_TOKEN": TOKEN, "EVENTBRIDGE_BUS": "no spaces"}, "error: EVENTBRIDGE_BUS: must be a bus name"),
        (
            (),
            {"SUPERVISOR_TOKEN": TOKEN, "EVENTBRIDGE_ENDPOINT_URL": "ftp://x"},
            "error: EVENTBRIDGE_ENDPOINT_URL: must be an http(s) URL",
        ),
    ],
    ids=[
        "no-token",
        "bad-port-flag",
        "bad-env",
        "short-token",
        "open-api-off-loopback",
        "bad-choice",
        "unknown-flag",
        "abbreviated-flag",
        "token-is-not-a-flag",
        "backoff-rule",
        "bad-bus",
        "bad-endpoint",
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path, args: tuple[str, ...], extra: dict[str, str], message: str
) -> None:
    proc = supervisor(*args, cwd=tmp_path, **extra)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert TOKEN not in proc.stderr


def test_it_serves_on_loopback_and_stops_on_sigterm(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor", "--port", "0", "--dry-run-path", str(tmp_path / "f.jsonl")],
        cwd=tmp_path,
        env=env(PYTHONPATH=str(REPO), SUPERVISOR_TOKEN=TOKEN),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        url = None
        deadline = time.monotonic() + 20
        while url is None and time.monotonic() < deadline:
            text = proc.stderr.readline()
            if "listening on " in text:
                url = text.split("listening on ")[1].split()[0]
        assert url is not None and url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/health", timeout=5) as resp:
            assert json.load(resp)["status"] == "ok"
        request = urllib.request.Request(f"{url}/rooms", headers={"Authorization": f"Bearer {TOKEN}"})
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert json.load(resp) == {"rooms": []}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
