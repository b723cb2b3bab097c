"""``./run --dashboard`` (``python -m supervisor.demo``): one command to watch the demo room."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from supervisor import demo
from supervisor.live import WEB_DIR

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


def test_bad_arguments_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.main(["--scenario", "no-such-room"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --scenario no-such-room: must name a scenario file") and err.count("\n") == 1
    assert demo.main(["--speed", "0"]) == 2
    assert "--speed must be above 0" in capsys.readouterr().err


@pytest.mark.skipif(
    not (WEB_DIR / "dashboard.js").is_file(), reason="the dashboard bundle is built by scripts/setup.sh"
)
def test_prints_a_loopback_url_that_serves_the_page_and_the_feed() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "supervisor.demo", "--port", "0", "--speed", "20", "--scenario", "balanced"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = ""
        deadline = time.monotonic() + 60
        while "http" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+)(/rooms/(r-[0-9a-f]+)/view)#token=(\S+)", line)
        assert match, line
        base, path, room, token = match.groups()
        with urllib.request.urlopen(base + path, timeout=10) as resp:
            page = resp.read().decode()
        assert resp.status == 200 and "/static/dashboard.js" in page and f'data-room="{room}"' in page
        with urllib.request.urlopen(f"{base}/rooms/{room}/events?token={token}", timeout=30) as resp:
            first = resp.read(200).decode()
        assert first.startswith("event: hello")
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
