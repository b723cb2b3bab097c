"""Secrets never reach stdout, stderr or an envelope, whatever path the bot takes (issue: secrets).

Every failure path is run with sentinel secret values in the environment, the flags and the room
URL, with and without ``--debug``; every byte the process writes is searched for them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SENTINELS = {
    "DAILY_TOKEN": "SENTINEL-daily-token-7f3a",
    "DAILY_API_KEY": "SENTINEL-daily-key-91bc",
    "MESH_API_TOKEN": "SENTINEL-mesh-token-2d4e",
    "OPENAI_API_KEY": "SENTINEL-openai-key-5a6b",
    "PRISM_PII_SALT": "SENTINEL-salt-c0ff",
}
URL_TOKEN = "SENTINEL-url-token-88aa"
UNRESOLVABLE = f"https://nonexistent-prism-test.invalid/standup?t={URL_TOKEN}"

pytestmark = pytest.mark.slow


def run(*args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "MESH_"))}
    env.update(SENTINELS)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", "--view", "off", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PATHS = [
    pytest.param(["--room-url", UNRESOLVABLE, "--join-attempts", "2"], {}, id="join-fails"),
    pytest.param(["--room-url", UNRESOLVABLE, "--join-attempts", "1", "--debug"], {}, id="join-fails-debug"),
    pytest.param(
        ["--room-url", UNRESOLVABLE, "--token", "SENTINEL-flag-token-33cd", "--join-attempts", "1", "--verbose"],
        {},
        id="token-flag",
    ),
    pytest.param(["--speed", "0"], {"MESH_URL": "http://127.0.0.1:9/graphql"}, id="context-fetch-fails"),
    pytest.param(
        ["--speed", "0", "--debug"], {"MESH_URL": "http://127.0.0.1:9/graphql"}, id="context-fetch-fails-debug"
    ),
    pytest.param(
        ["--speed", "0", "--verbose", "--debug", "--simulate", str(REPO / "bot/scenarios/rooms/noisy.json")],
        {},
        id="simulated-room-debug",
    ),
    pytest.param(["--speed", "-1"], {}, id="bad-flag"),
]


@pytest.mark.parametrize("args, env", PATHS)
def test_no_secret_in_any_output(args: list[str], env: dict[str, str]) -> None:
    proc = run(*args, extra_env=env)
    everything = proc.stdout + proc.stderr
    for secret in [*SENTINELS.values(), URL_TOKEN, "SENTINEL-flag-token-33cd"]:
        assert secret not in everything, f"{secret} leaked"
    for line in proc.stdout.splitlines():
        envelope = json.loads(line)
        if envelope["topic"] == "assistant.session.started":
            assert "?" not in envelope["payload"]["roomUrl"]


def test_join_failure_is_one_line_exit_nonzero_and_fast() -> None:
    proc = run("--room-url", UNRESOLVABLE, "--join-attempts", "2", "--assistant-id", "a", "--tenant-id", "t")
    assert proc.returncode == 5  # a host that does not exist: permanent, one attempt
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    topics = [json.loads(line)["topic"] for line in proc.stdout.splitlines()]
    assert topics == [
        "assistant.session.started",
        "assistant.room.join.requested",
        "assistant.room.join.failed",
        "assistant.session.failed",
    ]
    assert json.loads(proc.stdout.splitlines()[-1])["payload"]["retryable"] is False


def test_a_room_without_an_assistant_or_tenant_id_is_one_line_exit_2_and_nothing_published() -> None:
    proc = run("--room-url", UNRESOLVABLE)
    assert proc.returncode == 2 and proc.stdout == "" and "Traceback" not in proc.stderr
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert "a Daily room needs an assistant id (--assistant-id, ASSISTANT_ID) and a tenant id" in line
    assert URL_TOKEN not in proc.stderr


def test_context_fetch_failure_publishes_failed_with_its_stage() -> None:
    proc = run("--speed", "0", extra_env={"MESH_URL": "http://127.0.0.1:9/graphql"})
    assert proc.returncode != 0 and "Traceback" not in proc.stderr
    last = json.loads(proc.stdout.splitlines()[-1])
    assert last["topic"] == "assistant.session.failed" and last["payload"]["stage"] == "context_fetch"
