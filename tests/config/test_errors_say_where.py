"""Errors a newcomer meets in the first hour name the setting and the place, in one line."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from loguru import logger

from bot.cli.main import load_settings
from bot.config.where import explain_file_error
from bot.core.errors import ConfigError, PolicyError, ScenarioError
from bot.events import SpecRegistry
from bot.events.governance import Redactor

REPO = Path(__file__).resolve().parents[2]
attach = importlib.import_module("bot.forwarding.attach")  # the package exports a function of that name


def bot_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))}


def test_a_missing_policy_names_the_setting_and_where_it_looked(tmp_path: Path) -> None:
    env = {**bot_env(), "BOT_POLICY_PATH": "nope.json", "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-m", "bot", "--speed", "0", "--view", "off"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: BOT_POLICY_PATH (--policy): nope.json: file not found (looked in {tmp_path};"
        " relative paths are from the current folder)"
    )


def test_file_errors_name_the_setting_that_carried_the_path(tmp_path: Path) -> None:
    settings = load_settings(["--simulate", "rooms/nope.json", "--policy", str(tmp_path / "p.json")])
    missing = explain_file_error(ScenarioError("rooms/nope.json", "file not found"), settings)
    assert missing.startswith("BOT_SIMULATE (--simulate): rooms/nope.json: file not found (looked in ")
    assert missing.endswith("; relative paths are from the current folder)")
    bad = explain_file_error(PolicyError(str(tmp_path / "p.json"), "turns", "must be an object"), settings)
    assert bad == f'BOT_POLICY_PATH (--policy): {tmp_path / "p.json"}: "turns" must be an object'
    other = PolicyError("elsewhere.json", None, "file not found")
    assert explain_file_error(other, settings) == "elsewhere.json: file not found"


def test_a_mistyped_flag_gets_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(["--sped", "2"])
    assert str(caught.value) == "unrecognized arguments: --sped; did you mean --speed? (see --help)"
    with pytest.raises(ConfigError) as caught:
        load_settings(["--zzzzzz"])
    assert "did you mean" not in str(caught.value)


@pytest.mark.parametrize("module", ["bot", "codegen", "supervisor"])
def test_outside_the_virtualenv_the_entry_points_say_what_to_do(module: str) -> None:
    # -S leaves site-packages out: the same Python without the project's packages
    out = subprocess.run(
        [sys.executable, "-S", "-m", module, "--help"],
        cwd=REPO,
        env=bot_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(f"error: `python -m {module}` needs the project's Python packages")
    assert "./run" in lines[0] and ". .venv/bin/activate" in lines[0]


def test_direct_forwarding_without_a_salt_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attach, "_warned_unsalted", False)
    seen: list[str] = []
    sink = logger.add(lambda message: seen.append(str(message)), level="WARNING")
    try:
        registry = SpecRegistry.load()
        assert attach.warn_if_unsalted(Redactor(registry, "")) is True
        assert attach.warn_if_unsalted(Redactor(registry, "")) is False
        monkeypatch.setattr(attach, "_warned_unsalted", False)
        assert attach.warn_if_unsalted(Redactor(registry, "s3cret")) is False
    finally:
        logger.remove(sink)
    assert len(seen) == 1 and "PRISM_PII_SALT is empty" in seen[0]


@pytest.mark.parametrize("value", ["localhost:4010", "http://", "ftp://127.0.0.1:4010"])
def test_a_bad_eventbridge_endpoint_is_refused_like_every_other_url(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same rule as the room, Mesh and OpenAI URLs (``bot.rooms.urls``); the supervisor's
    endpoint follows it too, so one value is good or bad for both."""
    from supervisor.settings import SupervisorSettings

    monkeypatch.setenv("EVENTBRIDGE_ENDPOINT_URL", value)
    with pytest.raises(ConfigError) as caught:
        load_settings([])
    assert str(caught.value) == "EVENTBRIDGE_ENDPOINT_URL: must be an http(s) URL with a host"
    with pytest.raises(ValueError, match="must be an http"):
        SupervisorSettings(_env_file=None)
    monkeypatch.setenv("EVENTBRIDGE_ENDPOINT_URL", "http://127.0.0.1:4010")
    assert load_settings([]).eventbridge_endpoint_url == "http://127.0.0.1:4010"
    assert SupervisorSettings(_env_file=None).endpoint_url == "http://127.0.0.1:4010"
