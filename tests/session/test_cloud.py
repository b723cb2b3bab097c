"""Pipecat Cloud entry: runner arguments → Settings → the session runner; readiness; import cost."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from loguru import logger

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

import bot  # noqa: E402
import bot.cloud as cloud  # noqa: E402
import bot.session.lifecycle  # noqa: E402
from bot.core.errors import ConfigError  # noqa: E402
from tests.pipeline_harness import run_async  # noqa: E402

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJyIjoic3RhbmR1cCJ9.c2lnbmF0dXJlLWJ5dGVz"
ROOM = "https://acme.daily.co/standup"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No .env file and no bot variables from the outside."""
    monkeypatch.chdir(tmp_path)
    for name in (
        "ROOM_URL",
        "DAILY_TOKEN",
        "DAILY_API_KEY",
        "ASSISTANT_ID",
        "TENANT_ID",
        "BOT_VIEW",
        "MESH_API_TOKEN",
        "OPENAI_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    yield
    logger.configure(patcher=None)  # run_bot installs its scrubbing patcher globally


def daily_args(body: Any = None, *, token: str | None = TOKEN, session_id: str = "sess-9") -> Any:
    from pipecat.runner.types import DailyRunnerArguments

    args = DailyRunnerArguments(room_url=ROOM, token=token, body=body if body is not None else {})
    args.session_id = session_id
    return args


class FakeRunner:
    """Stands in for bot.session.lifecycle.run_session_async; records what it was given."""

    def __init__(self, result: int = 0) -> None:
        self.calls: list[tuple[Any, dict[str, Any]]] = []
        self.result = result
        self.ready_during: dict[str, Any] | None = None
        self.policy_seen: dict[str, Any] | None = None

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def run_session_async(settings: Any, *, session_id: Any = None, handle_signals: bool = True) -> int:
            self.calls.append((settings, {"session_id": session_id, "handle_signals": handle_signals}))
            self.ready_during = bot.readyz()
            if settings.policy is not None:
                self.policy_seen = json.loads(settings.policy.read_text())
            return self.result

        monkeypatch.setattr(bot.session.lifecycle, "run_session_async", run_session_async, raising=False)


def test_daily_runner_args_map_to_settings_and_run_the_session(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakeRunner(result=0)
    runner.install(monkeypatch)
    layers = [
        {
            "kind": "prism.policy.layer",
            "schemaVersion": 1,
            "name": "tenant",
            "level": "tenant",
            "turns": {"maxTurnMs": 60000},
        },
        {"kind": "prism.policy.layer", "schemaVersion": 1, "name": "room", "level": "room"},
    ]
    body = {"assistantId": "asst-7", "tenantId": "tenant-3", "policyLayers": layers, "extra": "ignored"}
    code = run_async(bot.bot(daily_args(body)))
    assert code == 0
    ((settings, kwargs),) = runner.calls
    assert settings.room_url == ROOM and settings.token.get_secret_value() == TOKEN
    assert (settings.assistant_id, settings.tenant_id, settings.view) == ("asst-7", "tenant-3", "off")
    assert kwargs == {"session_id": "sess-9", "handle_signals": False}
    assert runner.policy_seen["layers"] == ["tenant", "room"], "the body's layers arrive as a composed snapshot"
    assert not settings.policy.exists(), "the snapshot file is removed after the session"
    assert runner.ready_during == {"ready": False, "sessions": 1}
    assert bot.readyz() == {"ready": True, "sessions": 0}


def test_pipecat_cloud_session_arguments_work_by_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakeRunner(result=4)
    runner.install(monkeypatch)
    args = SimpleNamespace(
        room_url=ROOM, token=TOKEN, session_id="s-1", body='{"assistantId": "a-1", "tenantId": "t-1"}'
    )
    assert run_async(bot.bot(args)) == 4
    settings, _ = runner.calls[0]
    assert settings.assistant_id == "a-1" and settings.tenant_id == "t-1"


def test_environment_fills_what_the_body_leaves_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSISTANT_ID", "env-asst")
    monkeypatch.setenv("TENANT_ID", "env-tenant")
    settings, body = cloud.settings_from_runner_args(daily_args({"tenantId": "body-tenant"}))
    assert (settings.assistant_id, settings.tenant_id) == ("env-asst", "body-tenant")
    assert body.policy_layers == []


def test_bad_policy_layers_in_the_body_are_one_line_and_no_session(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakeRunner()
    runner.install(monkeypatch)
    assert run_async(bot.bot(daily_args({"policyLayers": [{"name": "x"}]}))) == 2
    assert runner.calls == []


def test_a_second_concurrent_session_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = FakeRunner()
    runner.install(monkeypatch)
    monkeypatch.setattr(cloud, "_active", cloud.MAX_SESSIONS)
    assert run_async(bot.bot(daily_args({}))) == cloud.BUSY_EXIT_CODE
    assert runner.calls == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{oops", "request body: not valid JSON"),
        ([1, 2], "request body: must be a JSON object"),
        ({"assistantId": ""}, 'request body: "assistantId" String should have at least 1 character'),
        ({"policyLayers": "all"}, 'request body: "policyLayers" Input should be a valid list'),
    ],
    ids=["bad-json", "not-object", "empty-assistant", "layers-not-list"],
)
def test_a_bad_body_is_one_line_and_no_session(monkeypatch: pytest.MonkeyPatch, body: Any, message: str) -> None:
    runner = FakeRunner()
    runner.install(monkeypatch)
    with pytest.raises(ConfigError, match="^" + message.replace("(", r"\(")):
        cloud.settings_from_runner_args(daily_args(body))
    sink = io.StringIO()
    handler = logger.add(sink, format="{message}", level="ERROR")
    try:
        assert run_async(bot.bot(daily_args(body))) == 2
    finally:
        logger.remove(handler)
        logger.configure(patcher=None)
    assert runner.calls == [] and message.split(":")[0] in sink.getvalue()


def test_no_room_is_refused() -> None:
    with pytest.raises(ConfigError, match="without a Daily room"):
        cloud.settings_from_runner_args(SimpleNamespace(room_url=None, token=None, body={}))


def test_an_existing_room_can_come_in_the_body_when_the_runner_has_none() -> None:
    body = {
        "roomUrl": "https://acme.daily.co/weekly",
        "roomToken": "body-token-123",
        "assistantId": "a",
        "tenantId": "t",
    }
    settings, parsed = cloud.settings_from_runner_args(SimpleNamespace(room_url=None, token=None, body=body))
    assert settings.room_url == "https://acme.daily.co/weekly" and settings.token.get_secret_value() == "body-token-123"
    assert "body-token-123" not in repr(parsed)
    settings, _ = cloud.settings_from_runner_args(daily_args(body))  # the runner's room wins
    assert settings.room_url == ROOM and settings.token.get_secret_value() == TOKEN


def test_a_failing_session_is_logged_once_without_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    async def run_session_async(settings: Any, **_: Any) -> int:
        raise RuntimeError(f"join exploded with token {TOKEN}")

    monkeypatch.setattr(bot.session.lifecycle, "run_session_async", run_session_async, raising=False)
    sink = io.StringIO()
    handler = logger.add(sink, format="{message}", level="DEBUG")
    try:
        assert run_async(bot.bot(daily_args({"assistantId": "a", "tenantId": "t"}))) == 1
    finally:
        logger.remove(handler)
        logger.configure(patcher=None)
    text = sink.getvalue()
    assert "session failed: RuntimeError: join exploded with token ***" in text and TOKEN not in text


def test_importing_the_package_stays_light() -> None:
    code = "import bot, sys, inspect; assert inspect.iscoroutinefunction(bot.bot); print(sorted(m for m in sys.modules if m.split('.')[0] in ('pipecat', 'pydantic', 'daily', 'aiohttp', 'loguru', 'bot')))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "['bot']"


def test_readyz_without_any_session_does_not_import_the_cloud_module() -> None:
    code = "import bot, sys; print(bot.readyz(), 'bot.cloud' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert out.strip() == "{'ready': True, 'sessions': 0} False"


CANCEL_MID_ROOM = """
import asyncio, sys
from bot.session.lifecycle import run_session_async
from bot.config.settings import Settings

async def main():
    task = asyncio.create_task(run_session_async(Settings(speed=1.0, view="off"), handle_signals=False, session_id="s-1"))
    await asyncio.sleep(1.5)
    task.cancel()  # what the base image does at the platform's session time limit
    try:
        await task
    except asyncio.CancelledError:
        print("cancellation honoured", file=sys.stderr)

asyncio.run(main())
"""


@pytest.mark.slow
def test_a_session_the_host_cancels_publishes_its_end_and_stays_cancelled(tmp_path: Path) -> None:
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))}
    proc = subprocess.run(
        [sys.executable, "-c", CANCEL_MID_ROOM], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "cancellation honoured" in proc.stderr
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    assert envelopes[0]["topic"] == "assistant.session.started"
    assert envelopes[-1]["topic"] == "assistant.session.ended" and envelopes[-1]["payload"]["reason"] == "cancelled"
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))


@pytest.mark.parametrize(
    ("body", "missing"),
    [({}, "an assistant id"), ({"assistantId": "a"}, "a tenant id"), ({"tenantId": "t"}, "an assistant id")],
    ids=["neither", "no-tenant", "no-assistant"],
)
def test_a_room_whose_body_and_secrets_name_no_assistant_or_tenant_is_no_session(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, str], missing: str
) -> None:
    for name in ("ASSISTANT_ID", "TENANT_ID", "assistant_id", "tenant_id"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=f"a Daily room needs {missing}") as info:
        cloud.settings_from_runner_args(daily_args(body))
    assert "demo-assistant/demo-tenant" in str(info.value)


def test_the_session_ends_itself_before_the_platform_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """pcc-deploy.toml's max_session_duration bounds bot(); the bot's own limit is below it, so it ends with totals."""
    import tomllib

    limit = tomllib.loads((ROOT / "pcc-deploy.toml").read_text())["max_session_duration"]
    assert cloud.PLATFORM_MAX_SESSION_SECS == limit and 60 <= limit <= 14400
    ids = {"assistantId": "a", "tenantId": "t"}
    monkeypatch.delenv("BOT_MAX_DURATION_SECS", raising=False)
    settings, _ = cloud.settings_from_runner_args(daily_args(ids))
    assert settings.max_duration_secs == limit - 60
    settings, _ = cloud.settings_from_runner_args(daily_args({**ids, "maxDurationSecs": 600}))
    assert settings.max_duration_secs == 600
    settings, _ = cloud.settings_from_runner_args(daily_args({**ids, "maxDurationSecs": limit + 100}))
    assert settings.max_duration_secs == limit - 60


def test_stdout_carries_no_personal_data_on_pipecat_cloud_unless_the_deployment_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = {"assistantId": "a", "tenantId": "t"}
    monkeypatch.delenv("BOT_STDOUT_PII_MAX_LEVEL", raising=False)
    settings, _ = cloud.settings_from_runner_args(daily_args(ids))
    assert settings.stdout_pii_max_level == 0
    monkeypatch.setenv("BOT_STDOUT_PII_MAX_LEVEL", "2")
    settings, _ = cloud.settings_from_runner_args(daily_args(ids))
    assert settings.stdout_pii_max_level == 2
    monkeypatch.setenv("BOT_FORWARD", "eventbridge")
    settings, _ = cloud.settings_from_runner_args(daily_args(ids))
    assert settings.forwards_to_eventbridge and not settings.stdout_envelopes


def test_a_body_refused_after_its_policy_was_composed_leaves_no_snapshot_behind(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Good layers, then a setting that fails (no assistant or tenant for a real room): the 0600
    snapshot already written is removed, not left in the temp folder per request."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    for name in ("ASSISTANT_ID", "TENANT_ID"):
        monkeypatch.delenv(name, raising=False)
    runner = FakeRunner()
    runner.install(monkeypatch)
    layer = {"kind": "prism.policy.layer", "schemaVersion": 1, "name": "room", "level": "room"}
    assert run_async(bot.bot(daily_args({"policyLayers": [layer]}))) == 2
    assert runner.calls == []
    assert list(tmp_path.iterdir()) == []


def test_an_operators_own_policy_file_is_never_deleted_whatever_its_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Only snapshots this process wrote are removed after a session; an operator's
    BOT_POLICY_PATH named like one (prism-policy-*.json) stays."""
    own = tmp_path / "prism-policy-acme.json"
    own.write_bytes((ROOT / "bot" / "scenarios" / "policy" / "guarded.policy.json").read_bytes())
    monkeypatch.setenv("BOT_POLICY_PATH", str(own))
    runner = FakeRunner(result=0)
    runner.install(monkeypatch)
    assert run_async(bot.bot(daily_args({"assistantId": "asst-7", "tenantId": "tenant-3"}))) == 0
    assert own.exists()
