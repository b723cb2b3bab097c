"""Secret scrubbing: configured values and credential shapes never survive, in strings or log lines."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest
from loguru import logger
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from bot.config.secrets import MASK, SECRET_ENV_VARS, SecretScrubber, log_patcher, scrubber_from_env, scrubbing_sink  # noqa: E402
from bot.config.settings import SECRET_FIELDS, Settings, env_name  # noqa: E402
from supervisor.settings import ENV_ONLY  # noqa: E402
from supervisor.settings import env_name as supervisor_env_name  # noqa: E402

DAILY = "dly-meeting-9f8e7d6c"
MESH = "mesh-77aa88bb99cc"
OPENAI = "sk-proj-abcdefghijklmnopqrstuvwx"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJyIjoic3RhbmR1cCJ9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def scrub() -> SecretScrubber:
    return SecretScrubber([DAILY, SecretStr(MESH), None, "", "ab"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"joining with {DAILY}", "joining with ***"),
        (f"{MESH}{MESH}", "******"),
        (f"Authorization: Bearer {JWT}", "Authorization: Bearer ***"),
        ("authorization: basic dXNlcjpwYXNz", "authorization: basic ***"),
        ("GET /x?token=abc123&y=1", "GET /x?token=***&y=1"),
        ("api_key=zzz999 next", "api_key=*** next"),
        ("MESH_API_TOKEN: abcdef", "MESH_API_TOKEN: ***"),
        ('{"token": "abc", "apiKey": "def", "name": "ok"}', '{"token": "***", "apiKey": "***", "name": "ok"}'),
        ("https://acme.daily.co/standup?t=xyz789", "https://acme.daily.co/standup?t=***"),
        ("https://acme.daily.co/standup?x=1&t=xyz789#f", "https://acme.daily.co/standup?x=1&t=***#f"),
        (f"token {JWT} rejected", "token *** rejected"),
        (f"key {OPENAI} bad", "key *** bad"),
        ("https://bob:hunter22@mesh.example.com/graphql", "https://***@mesh.example.com/graphql"),
        ("nothing to see: 42 participants", "nothing to see: 42 participants"),
    ],
    ids=[
        "configured-value",
        "repeated-value",
        "bearer-header",
        "basic-header",
        "token-query",
        "api-key-assignment",
        "env-style",
        "json-fields",
        "daily-url-token",
        "daily-url-token-amp",
        "jwt",
        "openai-key",
        "url-userinfo",
        "harmless",
    ],
)
def test_secrets_and_credential_shapes_are_masked(scrub: SecretScrubber, text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_short_and_empty_values_are_not_registered(scrub: SecretScrubber) -> None:
    assert scrub.count == 2
    assert scrub("ab cd") == "ab cd"


def test_a_secret_containing_another_is_masked_whole() -> None:
    scrub = SecretScrubber(["abcd", "xxabcdxx"])
    assert scrub("v=xxabcdxx") == "v=***"


def test_scrub_obj_walks_json_values(scrub: SecretScrubber) -> None:
    value = {"error": f"join failed: {DAILY}", "n": 3, "list": [MESH, {"deep": f"t={DAILY}"}], "ok": True}
    assert scrub.scrub_obj(value) == {
        "error": "join failed: ***",
        "n": 3,
        "list": [MASK, {"deep": "t=***"}],
        "ok": True,
    }


def test_scrubber_from_env_reads_the_secret_variables() -> None:
    env = {"DAILY_TOKEN": DAILY, "MESH_API_TOKEN": MESH, "OPENAI_API_KEY": "plainkey123", "HOME": "/home/me"}
    scrub = scrubber_from_env(env, SecretStr("from-settings-1"))
    assert scrub(f"{DAILY} {MESH} plainkey123 from-settings-1 /home/me") == "*** *** *** *** /home/me"
    assert scrub.contains_secret(f"x{MESH}x") and not scrub.contains_secret("clean")


def test_every_secret_str_setting_is_listed_in_secret_fields() -> None:
    secret_str_fields = {name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)}
    assert set(SECRET_FIELDS) == secret_str_fields


def test_the_secret_variables_are_those_of_the_secret_settings() -> None:
    """``SECRET_ENV_VARS`` is written out (bot.config.secrets must load without the settings); it must still
    say what the settings say: the bot's secret fields first, in order, and the supervisor's too."""
    assert SECRET_ENV_VARS[: len(SECRET_FIELDS)] == tuple(env_name(name) for name in SECRET_FIELDS)
    assert {supervisor_env_name(name) for name in ENV_ONLY} <= set(SECRET_ENV_VARS)


def test_the_scrubber_loads_without_the_settings() -> None:
    """The error handler of ``python -m bot`` scrubs with it even when pydantic-settings failed to load."""
    code = "import sys; sys.modules['pydantic_settings'] = None; import bot.config.secrets; print(sorted(m for m in sys.modules if m.startswith('bot.')))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "bot.config.settings" not in proc.stdout


def test_the_loguru_patcher_covers_every_sink(scrub: SecretScrubber) -> None:
    first, second = io.StringIO(), io.StringIO()
    logger.remove()
    logger.configure(patcher=log_patcher(scrub))
    try:
        logger.add(first, format="{message} {extra}", level="DEBUG")
        logger.add(second, format="{message}", level="DEBUG")
        logger.bind(url=f"https://a.daily.co/r?t={DAILY}").info(f"joining with token {DAILY} and {MESH}")
        logger.debug(f"Authorization: Bearer {JWT}")
    finally:
        logger.remove()
        logger.configure(patcher=None)
        logger.add(sys.stderr)
    for out in (first.getvalue(), second.getvalue()):
        assert DAILY not in out and MESH not in out and JWT not in out
        assert "joining with token *** and ***" in out
    assert "t=***" in first.getvalue()


def test_the_scrubbing_sink_also_covers_tracebacks(scrub: SecretScrubber) -> None:
    out = io.StringIO()
    logger.remove()
    try:
        logger.add(
            scrubbing_sink(out, scrub),
            format="{message}",
            level="DEBUG",
            backtrace=True,
            diagnose=False,
            colorize=False,
        )
        try:
            raise RuntimeError(f"could not join with {DAILY}")
        except RuntimeError:
            logger.exception("join failed")
    finally:
        logger.remove()
        logger.add(sys.stderr)
    text = out.getvalue()
    assert "RuntimeError: could not join with ***" in text and DAILY not in text


def test_secrets_given_on_the_command_line_and_in_dotenv_are_found(tmp_path: Path) -> None:
    from bot.config.secrets import SECRET_FLAGS, secrets_given

    dotenv = tmp_path / ".env"
    dotenv.write_text("daily_token=from-dotenv-token\nOPENAI_API_KEY='sk-from-dotenv'\nBOT_SPEED=2\n")
    argv = ["--token", "flag-token", "--pii-salt=flag-salt", "--speed", "0", "--mesh-api-token"]
    assert sorted(secrets_given(argv, dotenv)) == ["flag-salt", "flag-token", "from-dotenv-token", "sk-from-dotenv"]
    assert secrets_given([], tmp_path / "missing.env") == []
    assert SECRET_FLAGS == tuple("--" + name.replace("_", "-") for name in SECRET_FIELDS)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/etc/passwd: invalid JSON", "/etc/passwd: invalid JSON"),
        ("secret: keep it short", "secret: keep it short"),
        ("the token: expired", "the token: expired"),
        ("password: hunter2", "password: ***"),
        ("token: correcthorsebattery", "token: ***"),
        ("MESH_API_TOKEN: abcdef", "MESH_API_TOKEN: ***"),
        ("x.token=abc", "x.token=***"),
    ],
    ids=["path-then-words", "prose-secret", "prose-token", "digit-value", "long-value", "compound-key", "dotted-key"],
)
def test_common_words_after_a_key_word_are_not_masked(text: str, expected: str) -> None:
    """Issue 11, item 13: "/etc/passwd: invalid JSON" became "passwd: *** JSON"."""
    assert SecretScrubber()(text) == expected


def test_log_lines_escape_terminal_controls_and_bidi(capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 11, item 7: a display name in a log line must not drive the operator's terminal."""
    import sys

    from loguru import logger

    scrub = SecretScrubber(["s3cr3t-value"])
    logger.remove()
    logger.configure(patcher=log_patcher(scrub))
    logger.add(scrubbing_sink(sys.stderr, scrub), format="{message} {extra}", level="INFO")
    try:
        logger.bind(who="\x1b]0;title\x07").info("joined: Mal\x1b]52;c;ZXZpbA==\x07\u202eexe.txt\x1b[2J s3cr3t-value")
        try:
            raise ValueError("chat \x1b[2J\ud800")
        except ValueError:
            logger.exception("boom")
    finally:
        logger.remove()
        logger.configure(patcher=None)
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "\x07" not in err and "\ud800" not in err
    assert "joined: Mal\\x1b]52;c;ZXZpbA==\\x07\\u202eexe.txt\\x1b[2J ***" in err
    assert "]0;title" in err  # escaped (extra is shown as a dict repr)
    assert "chat \\x1b[2J\\ud800" in err, "tracebacks too"


def test_error_lines_and_supervisor_logs_escape_terminal_controls(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json as _json

    from loguru import logger

    from bot.policy.__main__ import main as policy_main
    from supervisor.app import configure_logging

    layer = {"kind": "prism.policy.layer", "schemaVersion": 1, "name": "t", "level": "tenant"}
    layer["content"] = {"rules": [{"id": "r", "patterns": ["(\x1b]0;x\x07"], "action": "warn"}]}
    path = tmp_path / "evil\u202etxt.json"
    path.write_text(_json.dumps(layer))
    assert policy_main(["check", str(path)]) == 2
    configure_logging("INFO")
    try:
        logger.bind(room="r-\x1b[2J").warning("bot said: \x1b]52;c;ZXZpbA==\x07")
    finally:
        logger.remove()
        logger.configure(patcher=None, extra={})
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err and "\x07" not in err
    assert "evil\\u202etxt.json" in err and "bot said: \\x1b]52;c;ZXZpbA==\\x07" in err and "[r-\\x1b[2J]" in err
