"""The command line: every bad flag or environment value is one clear line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config.settings import Settings, env_name, render_env_example

REPO = Path(__file__).resolve().parents[2]


def run_bot(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "ASSISTANT_ID", "TENANT_ID"))
    }
    base.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=REPO, env=base, capture_output=True, text=True, timeout=timeout
    )


# (args, env, the flag or variable the error names, whether the start is already out)
BAD_INPUTS = [
    pytest.param(["--speed", "-1"], {}, "--speed", True, id="negative-speed"),
    pytest.param(["--speed", "fast"], {}, "--speed", True, id="speed-not-a-number"),
    pytest.param(["--view", "bogus"], {}, "--view", False, id="unknown-view"),
    pytest.param(["--heartbeat-secs", "0"], {}, "--heartbeat-secs", True, id="zero-heartbeat"),
    pytest.param(["--room-url", "ftp://example.com/x"], {}, "--room-url", False, id="room-url-not-http"),
    pytest.param(["--room-url", "https://acme.daily.co/a room"], {}, "--room-url", False, id="room-url-with-a-space"),
    pytest.param(["--expect-spec-version", "sha1:abc"], {}, "--expect-spec-version", True, id="bad-spec-version"),
    pytest.param([], {"BOT_SPEED": "abc"}, "BOT_SPEED", True, id="env-speed-not-a-number"),
    pytest.param([], {"BOT_IDLE_TIMEOUT_SECS": "-5"}, "BOT_IDLE_TIMEOUT_SECS", True, id="env-negative-idle-timeout"),
    pytest.param([], {"ASSISTANT_ID": ""}, "ASSISTANT_ID", False, id="env-empty-assistant"),
    pytest.param(["--assistant-id", "x" * 129], {}, "--assistant-id", False, id="assistant-id-too-long"),
    pytest.param(["--no-such-flag"], {}, "--no-such-flag", True, id="unknown-flag"),
    pytest.param(["--assistant-id", "   "], {}, "--assistant-id", False, id="blank-assistant-id"),
    pytest.param([], {"TENANT_ID": " t-1"}, "TENANT_ID", False, id="space-padded-tenant"),
    pytest.param([], {"ROOM_URL": ""}, "ROOM_URL", False, id="empty-room-url-is-not-the-demo"),
    pytest.param(["--room-url="], {}, "--room-url", False, id="empty-room-url-flag"),
    pytest.param(["--token"], {}, "--token needs a value", True, id="secret-flag-without-value"),
    pytest.param(["--room", "https://acme.daily.co/x"], {}, "--room", True, id="abbreviated-flag"),
    pytest.param(["--vad-model-gain-db", "30"], {}, "--vad-model-gain-db", True, id="model-gain-too-high"),
    pytest.param([], {"BOT_VAD_MODEL_GAIN_DB": "nan"}, "BOT_VAD_MODEL_GAIN_DB", True, id="env-model-gain-nan"),
]


@pytest.mark.parametrize("args, env, named, start_is_out", BAD_INPUTS)
def test_bad_input_is_one_clear_line_and_exit_2(
    args: list[str], env: dict[str, str], named: str, start_is_out: bool
) -> None:
    """A bad setting is one line naming it, and exit 2. When the session's identity was already
    certain, the start is on stdout (bot/session/boot.py), so the failure is too, with stage ``config``;
    when the identity itself is bad, nothing is."""
    proc = run_bot(*args, env=env)
    assert proc.returncode == 2, proc.stderr
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    if not start_is_out:
        assert envelopes == []
        return
    assert [e["topic"] for e in envelopes] == ["assistant.session.started", "assistant.session.failed"]
    assert [e["meta"]["seq"] for e in envelopes] == [1, 2]
    assert envelopes[0]["sessionId"] == envelopes[1]["sessionId"]
    failed = envelopes[1]["payload"]
    assert failed["stage"] == "config" and named in failed["error"] and failed["retryable"] is False


def test_help_publishes_nothing() -> None:
    proc = run_bot("--help")
    assert proc.returncode == 0 and "--room-url" in proc.stdout and '"topic"' not in proc.stdout


def test_bad_scenario_names_file_event_and_field(tmp_path: Path) -> None:
    scenario = tmp_path / "room.json"
    scenario.write_text(
        '{"sampleRate": 16000, "participants": [{"id": "p-a", "name": "A"}], "events": [{"atMs": -5, "type": "join", "participant": "p-a"}]}'
    )
    proc = run_bot("--simulate", str(scenario), "--speed", "0")
    assert proc.returncode == 2
    assert "room.json" in proc.stderr and "event 0" in proc.stderr and "atMs" in proc.stderr
    assert "Traceback" not in proc.stderr
    # the machine interface records the failure too: the simulated room is the room being joined
    topics = [json.loads(line)["topic"] for line in proc.stdout.splitlines()]
    assert topics == [
        "assistant.session.started",
        "assistant.room.join.requested",
        "assistant.room.join.failed",
        "assistant.session.failed",
    ]
    failed = json.loads(proc.stdout.splitlines()[-1])["payload"]
    assert failed["stage"] == "join" and "atMs" in failed["error"] and failed["retryable"] is False


def test_missing_scenario_file_is_a_join_failure_naming_the_file() -> None:
    proc = run_bot("--simulate", "does/not/exist.json", "--speed", "0")
    assert proc.returncode == 2
    assert "does/not/exist.json" in proc.stderr and "Traceback" not in proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["payload"]["stage"] == "join"


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    proc = run_bot("--simulate", str(tmp_path / "missing.json"), "--debug")
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr


def test_help_lists_every_setting_with_its_environment_variable() -> None:
    proc = run_bot("--help")
    assert proc.returncode == 0
    for name in Settings.model_fields:
        assert "--" + name.replace("_", "-") in proc.stdout
        assert env_name(name) in proc.stdout


def test_env_example_is_fresh_and_names_every_setting() -> None:
    committed = (REPO / ".env.example").read_text(encoding="utf-8")
    assert committed == render_env_example(), "run `python -m bot.config.settings --env-example`"
    for name in Settings.model_fields:
        assert env_name(name) in committed
    from supervisor.settings import SupervisorSettings
    from supervisor.settings import env_name as supervisor_env_name

    for name in SupervisorSettings.model_fields:  # the supervisor reads the same .env
        assert supervisor_env_name(name) in committed


@pytest.mark.parametrize("url", ["https://", "http://[::1/room"], ids=["no-host", "unparsable"])
def test_a_room_url_without_a_usable_host_is_a_flag_error(url: str) -> None:
    proc = run_bot("--room-url", url)
    assert proc.returncode == 2 and "--room-url" in proc.stderr and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_bot_debug_in_the_environment_shows_tracebacks(tmp_path: Path) -> None:
    proc = run_bot("--simulate", str(tmp_path / "missing.json"), env={"BOT_DEBUG": "true"})
    assert proc.returncode != 0 and "Traceback" in proc.stderr


def test_a_secret_given_by_flag_is_scrubbed_from_the_last_resort_error(tmp_path: Path) -> None:
    secret = "flag-secret-4f9a8c2e71"
    proc = run_bot("--simulate", str(tmp_path / secret / "x.json"), "--pii-salt", secret)
    assert proc.returncode == 2 and secret not in proc.stderr + proc.stdout


def test_a_mistyped_secret_flag_never_echoes_its_value() -> None:
    secret = "typo-secret-9c1d7e55aa"
    proc = run_bot("--tokn", secret, "--pii-salt=" + secret + "x", "--mesh-api-tokn=" + secret)
    assert proc.returncode == 2 and "--tokn" in proc.stderr and "--mesh-api-tokn" in proc.stderr
    assert secret not in proc.stderr + proc.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--forward=SECRET"],
        ["--debug=SECRET"],
        ["--tokn", "-SECRET"],
        ["--view", "SECRET"],
        ["--room-url=https://acme.daily.co/r", "SECRET"],
    ],
    ids=["bad-choice", "value-for-a-switch", "dash-value-after-typo", "bad-view", "stray-value"],
)
def test_argparse_never_echoes_a_typed_value(args: list[str]) -> None:
    secret = "argv-secret-5b3e0d9f"
    proc = run_bot(*[a.replace("SECRET", secret) for a in args])
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "secret-5b3e" not in proc.stderr + proc.stdout


def test_the_debug_traceback_is_scrubbed_too(tmp_path: Path) -> None:
    secret = "debug-secret-2c7f41aa09"
    proc = run_bot("--simulate", str(tmp_path / secret / "x.json"), "--pii-salt", secret, "--debug")
    assert proc.returncode == 2 and "Traceback" in proc.stderr
    assert secret not in proc.stderr + proc.stdout


def test_a_secret_variable_in_lower_case_is_scrubbed_too(tmp_path: Path) -> None:
    """The settings read ``daily_token`` as the Daily token, so the scrubber does too."""
    secret = "lower-secret-8d1e66c3b2"
    proc = run_bot("--simulate", str(tmp_path / secret / "x.json"), "--speed", "0", env={"daily_token": secret})
    assert proc.returncode == 2 and "x.json" in proc.stderr
    assert secret not in proc.stderr + proc.stdout


def test_the_live_view_leaves_envelopes_on_a_stdout_that_is_not_a_terminal() -> None:
    proc = run_bot("--view", "live", "--speed", "0")
    assert proc.returncode == 0, proc.stderr
    topics = [json.loads(line)["topic"] for line in proc.stdout.splitlines()]
    assert topics[0] == "assistant.session.started" and topics[-1] == "assistant.session.ended"
    assert topics.count("assistant.session.started") == 1


def test_the_settings_table_in_docs_deploy_is_fresh_and_hides_secret_defaults() -> None:
    """docs/deploy.md's table of settings is rendered from ``Settings``, one row per setting."""
    from bot.config.settings import SECRET_FIELDS, render_settings_table, with_settings_table

    page = (REPO / "docs" / "deploy.md").read_text(encoding="utf-8")
    assert with_settings_table(page) == page, "run `python -m bot.config.settings --write-docs`"
    rows = {line.split("|")[1].strip(" `"): line for line in render_settings_table().splitlines()[2:]}
    assert list(rows) == [env_name(name) for name in Settings.model_fields]
    for name in SECRET_FIELDS:
        assert rows[env_name(name)].split("|")[3].strip() == "*secret*"
