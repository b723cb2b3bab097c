"""bot.config.dotenv_check: a ``.env`` says what it ignores (misspelled names, unparsable lines), naming ``.env:LINE``,
and bytes that are not UTF-8 are one error line naming the file, exit 2."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from bot.config.dotenv_check import dotenv_problems, dotenv_warnings_silenced, quiet_dotenv_values
from bot.config.flags import VariableNamedSettings, check_env_files, env_alias, settings_from_flags, settings_parser
from bot.core.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
BOT_LIKE = [
    "ROOM_URL",
    "DAILY_TOKEN",
    "BOT_SPEED",
    "BOT_DEBUG",
    "MESH_URL",
    "OPENAI_API_KEY",
    "PRISM_PII_SALT",
    "EVENTBRIDGE_REGION",
]
SECRET = "s3cr3t-value-never-shown"


def problems(tmp_path: Path, text: str | bytes, known: list[str] = BOT_LIKE, **kwargs: object) -> list[str]:
    dotenv = tmp_path / ".env"
    dotenv.write_bytes(text if isinstance(text, bytes) else text.encode())
    return dotenv_problems(dotenv, known, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("line", "warning"),
    [
        pytest.param("ROOMURL=x", "ROOMURL is not a setting (did you mean ROOM_URL?)", id="missing-underscore"),
        pytest.param("BOT_SPEEED=2", "BOT_SPEEED is not a setting (did you mean BOT_SPEED?)", id="extra-letter"),
        pytest.param("room_urll=x", "room_urll is not a setting (did you mean ROOM_URL?)", id="lower-case-as-written"),
        pytest.param(
            "export DAILY_TOKN=x", "DAILY_TOKN is not a setting (did you mean DAILY_TOKEN?)", id="export-form"
        ),
        pytest.param("BOT_NOT_A_THING=1", "BOT_NOT_A_THING is not a setting", id="program-prefix-without-a-near-name"),
        pytest.param(
            "OPENAI_KEY=x", "OPENAI_KEY is not a setting (did you mean OPENAI_API_KEY?)", id="program-prefix-near-name"
        ),
        pytest.param("ROOMURL", "ROOMURL is not a setting (did you mean ROOM_URL?)", id="name-without-value"),
    ],
)
def test_a_misspelled_or_prefixed_unknown_name_is_one_warning_naming_the_line(
    tmp_path: Path, line: str, warning: str
) -> None:
    path = str(tmp_path / ".env")
    assert problems(tmp_path, f"# settings\nBOT_SPEED=1\n{line}\n") == [f"{path}:3: {warning}"]


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("room_url=https://a.daily.co/r", id="a-setting-in-lower-case"),
        pytest.param("Bot_Speed=2", id="a-setting-in-mixed-case"),
        pytest.param("DATABASE_URL=postgres://x", id="another-programs-url"),
        pytest.param("REDIS_URL=redis://x", id="another-programs-url-near-MESH_URL"),
        pytest.param("DEBUG=1", id="generic-debug"),
        pytest.param("LOG_LEVEL=INFO", id="generic-log-level"),
        pytest.param("AWS_REGION=eu-west-1", id="aws"),
        pytest.param("SUPERVISOR_TOKEN=x", id="a-prefix-none-of-the-known-names-has"),
        pytest.param("# ROOMURL=x", id="a-comment"),
        pytest.param("DAILY_API_URL=https://api.daily.co/v1", id="pipecats-daily-variable"),
        pytest.param("OPENAI_ORG_ID=org-1", id="openai-sdk-variable"),
        pytest.param("EVENTBRIDGE_MAX_BYTES=262144", id="the-supervisors-eventbridge-variable"),
    ],
)
def test_a_setting_in_any_case_or_another_programs_variable_is_fine(tmp_path: Path, line: str) -> None:
    assert problems(tmp_path, f"{line}\n") == []


def test_also_known_names_are_fine_and_suggested(tmp_path: Path) -> None:
    text = "SUPERVISOR_PORT=1\nBOT_SPEED=2\nBOT_SPEEDD=3\n"
    found = problems(tmp_path, text, known=["SUPERVISOR_PORT", "SUPERVISOR_HOST"], also_known=["BOT_SPEED"])
    assert found == [f"{tmp_path / '.env'}:3: BOT_SPEEDD is not a setting (did you mean BOT_SPEED?)"]


def test_each_unknown_name_is_named_once_at_its_first_line(tmp_path: Path) -> None:
    found = problems(tmp_path, "ROOMURL=a\nBOT_SPEED=1\nROOMURL=b\nroomurl=c\n")
    assert found == [f"{tmp_path / '.env'}:1: ROOMURL is not a setting (did you mean ROOM_URL?)"]


def test_an_unparsable_line_is_one_warning_at_its_own_line(tmp_path: Path) -> None:
    """dotenv counts the statement from the blank lines before it (line 2 here); the warning names line 4."""
    found = problems(tmp_path, "BOT_SPEED=1\n\n\nTHIS IS GARBAGE\nROOM_URL=https://a.daily.co/r\n")
    assert found == [f"{tmp_path / '.env'}:4: not a NAME=value line; it is ignored"]


def test_a_warning_never_shows_a_value(tmp_path: Path) -> None:
    found = problems(tmp_path, f"ROOMURL={SECRET}\nDAILY_TOKEN {SECRET}\nBOT_X='{SECRET}'\n")
    assert len(found) == 3
    assert not any(SECRET in warning for warning in found)


@pytest.mark.parametrize(
    ("data", "line"),
    [
        pytest.param(b"\xff=1\n", 1, id="first-line"),
        pytest.param(b"BOT_SPEED=1\r\n# caf\xe9\r\nROOM_URL=x\n", 2, id="crlf-comment"),
        pytest.param(b"A=1\n\nB='multi\nline \xe9t\xe9'\n", 4, id="inside-a-multiline-value"),
    ],
)
def test_bytes_that_are_not_utf8_are_a_config_error_naming_file_and_line(
    tmp_path: Path, data: bytes, line: int
) -> None:
    with pytest.raises(ConfigError) as caught:
        problems(tmp_path, data)
    assert str(caught.value) == f"{tmp_path / '.env'}:{line}: not valid UTF-8 (save the file as UTF-8)"
    assert caught.value.exit_code == 2


def test_no_file_and_a_fifo_have_no_problems(tmp_path: Path) -> None:
    """A FIFO reads only once: the settings must get its contents, so it is not checked."""
    assert dotenv_problems(tmp_path / ".env", BOT_LIKE) == []
    os.mkfifo(tmp_path / ".env")
    assert dotenv_problems(tmp_path / ".env", BOT_LIKE) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("BOT_SPEED=1\n")
    dotenv.chmod(0)
    with pytest.raises(ConfigError, match=r"\.env: cannot read it"):
        dotenv_problems(dotenv, BOT_LIKE)


def test_dotenvs_own_parse_warning_is_silenced_only_inside_the_block(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("THIS IS GARBAGE\nA=1\n")
    caplog.set_level(logging.WARNING, logger="dotenv.main")
    with dotenv_warnings_silenced():
        from dotenv import dotenv_values

        assert dotenv_values(dotenv) == {"A": "1"}
    assert quiet_dotenv_values(dotenv) == {"A": "1"}
    assert caplog.records == []
    from dotenv import dotenv_values

    dotenv_values(dotenv)
    assert [r.getMessage() for r in caplog.records] == ["python-dotenv could not parse statement starting at line 1"]


# --- through settings_from_flags, the shared path of both programs


class Room(VariableNamedSettings):
    """Reads ``.env`` from the working directory, as both programs do."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    room_url: str | None = Field(default=None, validation_alias=env_alias("ROOM_URL"), description="Room.")
    speed: float = Field(default=1.0, validation_alias=env_alias("BOT_SPEED"), description="Speed.")


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in ("ROOM_URL", "BOT_SPEED", "ROOMURL", "room_url", "bot_speed"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def load_room(*argv: str) -> Room:
    return settings_from_flags(
        Room, settings_parser(Room, prog="room", description="", epilog="").parse_args(list(argv))
    )


def test_settings_warn_once_and_dotenv_stays_quiet(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    (in_tmp / ".env").write_text(f"ROOMURL={SECRET}\nTHIS IS GARBAGE\nbot_speed=2\n")
    caplog.set_level(logging.WARNING, logger="dotenv.main")
    room = load_room()
    assert (room.room_url, room.speed) == (None, 2.0), "the misspelled name is still ignored; the known one is read"
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "warning: .env:1: ROOMURL is not a setting (did you mean ROOM_URL?)",
        "warning: .env:2: not a NAME=value line; it is ignored",
    ]
    assert caplog.records == [], "python-dotenv's own line (which names no file) is not repeated"


def test_settings_refuse_a_dotenv_that_is_not_utf8(in_tmp: Path) -> None:
    (in_tmp / ".env").write_bytes(b"BOT_SPEED=2\nROOM_URL=caf\xe9\n")
    with pytest.raises(ConfigError, match=r"^\.env:2: not valid UTF-8"):
        load_room()


def test_a_class_without_an_env_file_is_not_checked(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    class NoFile(Room):
        model_config = SettingsConfigDict(env_file=None)

    (in_tmp / ".env").write_bytes(b"ROOMURL=\xff\n")
    check_env_files(NoFile)
    assert capsys.readouterr().err == ""


def test_the_supervisor_takes_the_bots_variables_in_its_dotenv(
    in_tmp: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The supervisor passes bot secrets on from its .env, and a checkout's .env serves both."""
    from supervisor.__main__ import load_settings

    monkeypatch.delenv("SUPERVISOR_MAX_ROOMS", raising=False)
    (in_tmp / ".env").write_text(
        "DAILY_API_KEY=k\nOPENAI_API_KEY=k\nBOT_SPEED=2\nSUPERVISOR_MAX_ROOM=3\nOPENAI_API_KYE=k\n"
    )
    load_settings(["--insecure-no-auth"])
    assert capsys.readouterr().err.splitlines() == [
        "warning: .env:4: SUPERVISOR_MAX_ROOM is not a setting (did you mean SUPERVISOR_MAX_ROOMS?)",
        "warning: .env:5: OPENAI_API_KYE is not a setting (did you mean OPENAI_API_KEY?)",
    ]


# --- end to end: python -m bot from a folder with a .env


def run_bot_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("BOT_", "ROOM", "DAILY_", "ASSISTANT_ID", "TENANT_ID"))
    }
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], cwd=folder, env=env, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def misspelled_run(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    folder = tmp_path_factory.mktemp("bot-dotenv")
    (folder / ".env").write_text(f"ROOMURL=https://{SECRET}.daily.co/room\n\nTHIS IS GARBAGE\nBOT_VIEW=off\n")
    return run_bot_in(folder, "--speed", "0")


def test_bot_warns_once_about_a_misspelled_name_and_a_garbage_line(
    misspelled_run: subprocess.CompletedProcess[str],
) -> None:
    assert misspelled_run.returncode == 0, misspelled_run.stderr
    lines = misspelled_run.stderr.splitlines()
    for warning in (
        "warning: .env:1: ROOMURL is not a setting (did you mean ROOM_URL?)",
        "warning: .env:3: not a NAME=value line; it is ignored",
    ):
        assert lines.count(warning) == 1, misspelled_run.stderr
    assert SECRET not in misspelled_run.stderr


def test_bot_does_not_repeat_dotenvs_own_parse_warning(misspelled_run: subprocess.CompletedProcess[str]) -> None:
    assert "python-dotenv could not parse" not in misspelled_run.stderr, misspelled_run.stderr


def test_bot_refuses_a_dotenv_that_is_not_utf8_in_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"BOT_VIEW=off\nROOM_URL=https://caf\xe9.daily.co/r\n")
    proc = run_bot_in(tmp_path, "--speed", "0")
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == ["error: .env:2: not valid UTF-8 (save the file as UTF-8)"]


@pytest.mark.parametrize("line", [f"DAILY_API_KEY:{SECRET}", f"BOT_TOKEN,{SECRET}", f"OPENAI_API_KEY {SECRET}"])
def test_a_line_without_equals_is_never_named_as_a_key(tmp_path: Path, line: str) -> None:
    """python-dotenv reads such a line as one long key, value included."""
    found = problems(tmp_path, f"{line}\n")
    assert found == [f"{tmp_path / '.env'}:1: not a NAME=value line; it is ignored"]
    assert SECRET not in "".join(found)
