"""The session lifecycle of ``python -m bot`` on a simulated room, as a supervisor sees it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BALANCED = REPO / "bot" / "scenarios" / "rooms" / "balanced.json"

pytestmark = pytest.mark.slow


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))}


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "--view", "off", *args],
        cwd=REPO,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_lifecycle_topics_come_in_order() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(BALANCED), "--speed", "0", "--view", "off"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    topics = [json.loads(line)["topic"] for line in proc.stdout.splitlines()]
    assert topics[:4] == [
        "assistant.session.started",
        "assistant.room.join.requested",
        "assistant.room.join.succeeded",
        "bot.health.heartbeat",
    ]
    assert topics[-1] == "assistant.session.ended"
    assert topics.count("assistant.session.started") == 1 and topics.count("assistant.session.ended") == 1


def test_sigterm_mid_room_ends_the_session_cleanly_within_three_seconds() -> None:
    proc = start("--simulate", str(BALANCED), "--speed", "1")
    assert proc.stdout is not None
    # wait until the room is really running: the first speech event is out
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        lines.append(line)
        if '"room.speaking.started"' in line:
            break
    sent = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    elapsed = time.monotonic() - sent
    envelopes = [json.loads(line) for line in (lines + out.splitlines()) if line.strip()]
    assert proc.returncode == 0, err
    assert elapsed < 10.0  # the grace period is 1.5 s; the room had ~30 s left (generous: a loaded machine)
    assert envelopes[-1]["topic"] == "assistant.session.ended"
    assert envelopes[-1]["payload"]["reason"] == "signal"
    finals = [e for e in envelopes if e["topic"] == "room.dominance.score" and e["payload"]["trigger"] == "final"]
    assert len(finals) == 1, "session totals are emitted on a graceful signal stop"
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert "Traceback" not in err


@pytest.mark.parametrize("gap", [0.0, 0.01, 0.03, 0.08])
def test_a_second_sigterm_cancels_at_once_and_still_exits_0_after_the_end(gap: float) -> None:
    """The second signal may land in the teardown or in the interpreter's exit: neither may turn
    the exit into a kill (-15) once ``assistant.session.ended`` is out, nor lose that envelope."""
    proc = start("--simulate", str(BALANCED), "--speed", "1")
    assert proc.stdout is not None
    lines = [proc.stdout.readline() for _ in range(4)]  # the seed topics: the session is running
    proc.send_signal(signal.SIGTERM)
    time.sleep(gap)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=10)
    envelopes = [json.loads(line) for line in (lines + out.splitlines()) if line.strip()]
    assert proc.returncode == 0, err
    assert envelopes[-1]["topic"] == "assistant.session.ended" and envelopes[-1]["payload"]["reason"] == "signal"
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert "Traceback" not in err


def run_with_signals(
    args: list[str],
    signals: list[signal.Signals],
    *,
    after: float = 0.0,
    gap: float = 0.0,
    wait_for: str | None = None,
    script: str | None = None,
) -> tuple[int, list[dict], str]:
    """Spawn the bot (or ``script`` that patches it, then runs ``bot.cli.main.main``), send
    ``signals`` ``after`` seconds after the first line (or the first line holding ``wait_for``)."""
    argv = [sys.executable, "-c", script, *args] if script else [sys.executable, "-m", "bot", *args]
    # bufsize=0: readline() must not read ahead. communicate() reads the pipe's file descriptor,
    # not the buffer, so lines a buffered readline() had already pulled in (the end envelope,
    # when it came right behind the one waited for) were lost: a flaky test, not a lost envelope.
    proc = subprocess.Popen(argv, cwd=REPO, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None
    lines = [proc.stdout.readline().decode()]
    while wait_for and wait_for not in lines[-1] and lines[-1]:
        lines.append(proc.stdout.readline().decode())
    time.sleep(after)
    for i, sig in enumerate(signals):
        if i:
            time.sleep(gap)
        proc.send_signal(sig)
    out_bytes, err_bytes = proc.communicate(timeout=30)
    out, err = out_bytes.decode(), err_bytes.decode()
    envelopes = [json.loads(line) for line in (lines + out.splitlines()) if line.strip()]
    assert "Traceback" not in err, err
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    ends = [e for e in envelopes if e["topic"] in ("assistant.session.ended", "assistant.session.failed")]
    assert len(ends) == 1 and envelopes[-1] is ends[0], [e["topic"] for e in envelopes]
    return proc.returncode, envelopes, err


@pytest.mark.parametrize("gap", [0.0, 0.02])
@pytest.mark.parametrize(
    "pair", [(signal.SIGINT, signal.SIGTERM), (signal.SIGTERM, signal.SIGINT)], ids=["int-then-term", "term-then-int"]
)
def test_mixed_signals_during_start_up_end_the_session_once(
    pair: tuple[signal.Signals, signal.Signals], gap: float
) -> None:
    """Ctrl-C in a terminal and a supervisor's SIGTERM, while the bot is still starting."""
    code, envelopes, _ = run_with_signals(["--speed", "1"], list(pair), gap=gap)
    assert code == 0 and envelopes[-1]["payload"]["reason"] == "signal"


SLOW_CLOSE = """
import asyncio, sys
import bot.rooms.simulated as simulated

async def close(self):  # stands in for DailyRoom.close: a leave takes up to 10 s
    await asyncio.sleep(1.0)

simulated.SimulatedRoom.close = close
sys.argv[0] = "bot"
from bot.cli.main import main
sys.exit(main())
"""


def test_a_signal_while_the_room_closes_after_the_pipeline_does_not_cut_the_close() -> None:
    code, envelopes, _ = run_with_signals(
        ["--speed", "50", "--simulate", str(BALANCED)],
        [signal.SIGTERM],
        after=0.3,
        wait_for='"trigger":"final"',
        script=SLOW_CLOSE,
    )
    assert code == 0 and envelopes[-1]["payload"]["reason"] in ("completed", "signal")


def test_a_signal_after_a_failed_join_keeps_the_failure_and_its_exit_code() -> None:
    code, envelopes, err = run_with_signals(
        ["--room-url", "https://nonexistent-xyz.invalid/r", "--assistant-id", "a", "--tenant-id", "t"],
        [signal.SIGTERM],
        wait_for='"assistant.session.failed"',
    )
    assert code == 5 and envelopes[-1]["topic"] == "assistant.session.failed" and "error: could not join" in err


def test_closed_stdout_ends_the_bot_quietly() -> None:
    proc = subprocess.run(
        f"{sys.executable} -m bot --view off --speed 0 --simulate {BALANCED} | head -n 2",
        shell=True,
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) == 2
    assert "Traceback" not in proc.stderr
    assert "BrokenPipeError" not in proc.stderr


def test_stdout_carries_only_envelopes() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(BALANCED), "--speed", "0", "--view", "off", "--verbose"],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0
    for line in proc.stdout.splitlines():
        envelope = json.loads(line)
        assert {"id", "ts", "topic", "specVersion", "runtime", "sessionId", "payload", "meta"} <= set(envelope)
    assert proc.stderr  # --verbose logs went to stderr


def test_pinned_spec_version_mismatch_is_published_and_the_run_goes_on() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--simulate",
            str(BALANCED),
            "--speed",
            "0",
            "--view",
            "off",
            "--expect-spec-version",
            "sha256:" + "0" * 64,
        ],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    mismatches = [e["payload"] for e in envelopes if e["topic"] == "events.runtime.version.mismatch"]
    assert mismatches == [
        {
            "runtime": "bot",
            "localSpecVersion": envelopes[0]["specVersion"],
            "remoteSpecVersion": "sha256:" + "0" * 64,
            "source": "pinned",
        }
    ]
    assert envelopes[-1]["payload"]["reason"] == "completed"


def test_a_room_where_nobody_speaks_ends_on_the_idle_timeout(tmp_path: Path) -> None:
    scenario = tmp_path / "quiet.json"
    scenario.write_text(
        json.dumps(
            {
                "name": "quiet",
                "sampleRate": 16000,
                "durationMs": 600000,  # ten minutes: "completed" could not come within the 60 s below
                "participants": [{"id": "p-a", "name": "A"}, {"id": "p-b", "name": "B"}],
                "events": [
                    {"atMs": 0, "type": "join", "participant": "p-a"},
                    {"atMs": 0, "type": "join", "participant": "p-b"},
                ],
            }
        )
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--simulate",
            str(scenario),
            "--speed",
            "1",
            "--view",
            "off",
            "--idle-timeout-secs",
            "1.5",
        ],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["topic"] == "assistant.session.ended" and last["payload"]["reason"] == "idle_timeout"


def test_max_duration_ends_the_session_with_its_reason() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--simulate",
            str(BALANCED),
            "--speed",
            "1",
            "--view",
            "off",
            "--max-duration-secs",
            "1",
        ],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["topic"] == "assistant.session.ended" and last["payload"]["reason"] == "max_duration"


@pytest.mark.parametrize(
    ("args", "stage", "line"),
    [
        (
            ["--forward", "stdout+eventbridge", "--forward-dry-run-path", "/proc/nope/x.jsonl"],
            "config",
            "BOT_FORWARD_DRY_RUN_PATH (--forward-dry-run-path): /proc/nope/x.jsonl: cannot write",
        ),
        (["--voice", "--voice-tts", "nosuch.mod:Cls"], "pipeline", "BOT_VOICE_TTS: cannot import"),
    ],
    ids=["forwarder-cannot-start", "voice-cannot-be-built"],
)
def test_a_user_error_after_the_start_publishes_its_failure(args: list[str], stage: str, line: str) -> None:
    """Every failure after the start ends the session on record: a forwarder that cannot open its
    file and a pipeline step that cannot be built (neither has a stage of its own) published
    nothing and the first exited 1 with a bare 'unexpected FileNotFoundError'."""
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(BALANCED), "--speed", "0", "--view", "off", *args],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 2, proc.stderr
    envelopes = [json.loads(x) for x in proc.stdout.splitlines()]
    failed = [e["payload"] for e in envelopes if e["topic"] == "assistant.session.failed"]
    assert [f["stage"] for f in failed] == [stage]
    assert not [e for e in envelopes if e["topic"] == "assistant.session.ended"]
    assert line in proc.stderr and "Traceback" not in proc.stderr
