"""``bot.session.boot``: the first envelope before pydantic, and its agreement with the validated settings."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot import __version__
from bot.cli.main import load_settings
from bot.config import early_identity, identity
from bot.config.early_identity import NotSure, identity_from, read_identity_settings
from bot.config.identity import Identity, InvalidIdentity
from bot.config.settings import Settings, env_name
from bot.core.errors import ConfigError
from bot.events import Envelope, SessionContext, create_runtime
from bot.generated import AssistantSessionStarted
from bot.session.boot import Booted, publish_started
from bot.session.startup import adopt_boot_envelope, begin, identity_from_settings

REPO = Path(__file__).resolve().parents[2]
SPEC = json.loads((REPO / "spec" / "topics" / "assistant.session.started.json").read_text())


def publish_to_pipe(
    argv: list[str], environ: dict[str, str] | None = None, env_file: Path | str = "/nonexistent/.env"
) -> tuple[Booted | None, bytes]:
    read, write = os.pipe()
    try:
        booted = publish_started(argv, environ=environ or {}, env_file=env_file, fd=write)
    finally:
        os.close(write)
    with os.fdopen(read, "rb") as stream:
        return booted, stream.read()


# ---- the table bot.session.boot keeps, checked against the one authority


def test_identity_settings_name_the_same_variables_flags_and_defaults_as_settings() -> None:
    for field, variable in early_identity.IDENTITY_SETTINGS.items():
        assert env_name(field) == variable
    assert Settings.model_fields["assistant_id"].default == identity.DEFAULT_ASSISTANT_ID
    assert Settings.model_fields["tenant_id"].default == identity.DEFAULT_TENANT_ID
    assert Settings.model_fields["view"].annotation.__args__ == early_identity.VIEWS  # type: ignore[union-attr]
    meta = {type(m).__name__: m for m in Settings.model_fields["assistant_id"].metadata}
    assert meta["MaxLen"].max_length == identity.IDENTITY_MAX


# ---- what it writes


def test_the_first_line_is_a_valid_started_envelope_with_seq_1() -> None:
    booted, out = publish_to_pipe(
        ["--room-url", "https://user:pw@acme.daily.co/standup?t=SECRET", "--assistant-id", "a-1"], {"TENANT_ID": "t-1"}
    )
    assert booted is not None and out == booted.line and out.endswith(b"\n") and out.count(b"\n") == 1
    envelope = json.loads(out)
    Envelope.model_validate(envelope)
    jsonschema.validate(envelope["payload"], SPEC["schema"])
    assert envelope["topic"] == "assistant.session.started" and envelope["meta"] == {"seq": 1}
    assert envelope["payload"] == {
        "assistantId": "a-1",
        "tenantId": "t-1",
        "botVersion": __version__,
        "roomUrl": "https://acme.daily.co/standup",
        "transport": "daily",
    }
    assert (envelope["assistantId"], envelope["tenantId"], envelope["roomId"]) == ("a-1", "t-1", "standup")
    assert b"SECRET" not in out and b"pw" not in out


def test_the_line_is_byte_for_byte_what_the_stdout_emitter_writes() -> None:
    booted, _ = publish_to_pipe(["--simulate", "rooms/eight.json", "--assistant-id", "asst-ü"])
    assert booted is not None
    read, write = os.pipe()
    runtime = create_runtime(
        SessionContext(session_id=booted.session_id, assistant_id="asst-ü", tenant_id="demo-tenant", room_id="eight"),
        stdout=os.fdopen(write, "wb"),
    )
    assert runtime.stdout is not None and runtime.stdout.render(booted.envelope) == booted.line
    os.close(read)


@pytest.mark.parametrize(
    "argv, environ, why",
    [
        (["--help"], {}, "help"),
        (["-h"], {}, "help"),
        (["--view", "live"], {}, "the live view draws the start"),
        ([], {"BOT_VIEW": "bogus"}, "a view the settings reject"),
        (["--assistant-id", ""], {}, "an empty assistant id"),
        ([], {"TENANT_ID": "t" * 129}, "a tenant id over 128 characters"),
        (["--room-url", "ftp://acme.daily.co/x"], {}, "not http"),
        (["--room-url", "https://"], {}, "no host"),
        (["--room-url", "https://acme.daily.co/a b"], {}, "a space"),
        (["--tenant-id", "-x"], {}, "a value argparse reads as a flag"),
        (["--room-url"], {}, "a flag without its value"),
    ],
)
def test_nothing_is_written_when_the_identity_is_not_certain(
    argv: list[str], environ: dict[str, str], why: str
) -> None:
    booted, out = publish_to_pipe(argv, environ)
    assert booted is None and out == b"", why


def test_a_dotenv_that_is_not_a_regular_file_leaves_the_start_to_the_settings(tmp_path: Path) -> None:
    (tmp_path / ".env").mkdir()
    assert publish_to_pipe([], env_file=tmp_path / ".env") == (None, b"")


def test_a_reader_already_gone_is_not_an_error_here() -> None:
    read, write = os.pipe()
    os.close(read)
    assert (
        publish_started([], environ={}, env_file="/nonexistent/.env", fd=write) is not None
    )  # EPIPE: the emitter will see it
    os.close(write)


def test_publishing_the_start_imports_no_pydantic() -> None:
    code = (
        "import os, sys\n"
        "from bot.session.boot import publish_started\n"
        "fd = os.open(os.devnull, os.O_WRONLY)\n"
        "assert publish_started([], environ={}, fd=fd) is not None\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_settings', 'pipecat', 'daily', 'openai', 'numpy', 'loguru', 'orjson'))\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        check=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("BOT_")},
    )


# ---- precedence, as pydantic-settings has it: flag > environment > .env > default


def test_precedence_flag_then_environment_then_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('ASSISTANT_ID=from-dotenv\nexport TENANT_ID="from dotenv"\nROOM_URL=https://dotenv.daily.co/r\n')
    values = read_identity_settings(["--room-url=https://flag.daily.co/r"], {"assistant_id": "from-env"}, dotenv)
    assert values == {"room_url": "https://flag.daily.co/r", "assistant_id": "from-env", "tenant_id": "from dotenv"}


# ---- the two readers agree (property): bot.session.boot's identity is the settings' identity

IDS = st.one_of(
    st.just(""),
    st.just(" spaced "),
    st.just("-_"),
    st.text(alphabet="abcü-_.", min_size=1, max_size=12),
    st.just("x" * 129),
)
URLS = st.sampled_from(
    [
        "",
        "https://acme.daily.co/standup",
        "https://u:p@acme.daily.co/r?t=tok#f",
        "http://127.0.0.1:9/x/",
        "https://acme.daily.co",
        "ftp://x/y",
        "https://",
        "https://a.co/a b",
        "HTTPS://ACME.daily.co/Room",
    ]
)
PATHS = st.sampled_from(["", "rooms/eight.json", "dir/", "./a//b.json", "x.tar.gz", " space.json", ".hidden"])
VIEWS = st.sampled_from(["auto", "off", "live", "bogus", ""])
FIELDS = {"room_url": URLS, "simulate": PATHS, "assistant_id": IDS, "tenant_id": IDS, "view": VIEWS}


@st.composite
def sources(draw: st.DrawFn) -> tuple[list[str], dict[str, str], str | None]:
    argv: list[str] = []
    environ: dict[str, str] = {}
    dotenv: list[str] = []
    for field, values in FIELDS.items():
        variable = early_identity.IDENTITY_SETTINGS[field]
        for where in draw(
            st.lists(
                st.sampled_from(
                    [
                        "flag",
                        "flag=",
                        "env",
                        "env-lower",
                        "env-field-name",
                        "dotenv",
                        "dotenv-field-name",
                        "dotenv-bare",
                    ]
                ),
                max_size=2,
                unique=True,
            )
        ):
            value = draw(values)
            if where == "flag":
                argv += ["--" + field.replace("_", "-"), value]
            elif where == "flag=":
                argv.append(f"--{field.replace('_', '-')}={value}")
            elif where in ("env", "env-lower"):
                environ[variable if where == "env" else variable.lower()] = value
            elif where == "env-field-name":  # SIMULATE, VIEW: not the documented variable, read by neither
                environ[field.upper()] = value
            elif where == "dotenv-field-name":
                dotenv.append(f"{field}={json.dumps(value)}")
            elif where == "dotenv":
                dotenv.append(f"{variable}={json.dumps(value)}")
            else:
                dotenv.append(variable)  # no '=': a name without a value
    if draw(st.booleans()):
        argv += ["--speed", "0"]
    return argv, environ, "\n".join(dotenv) + "\n" if dotenv else None


@contextlib.contextmanager
def process_state(environ: dict[str, str], cwd: Path) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(
        {
            k: v
            for k, v in saved_env.items()
            if k.upper() not in early_identity.IDENTITY_SETTINGS.values() and not k.startswith("BOT_")
        },
        **environ,
    )
    os.chdir(cwd)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        os.chdir(saved_cwd)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(source=sources())
def test_boot_and_settings_name_the_same_session(
    tmp_path: Path, source: tuple[list[str], dict[str, str], str | None]
) -> None:
    argv, environ, dotenv = source
    env_file = tmp_path / ".env"
    env_file.unlink(missing_ok=True)
    if dotenv is not None:
        env_file.write_text(dotenv, encoding="utf-8")
    with process_state(environ, tmp_path):
        try:
            values = read_identity_settings(argv, os.environ, ".env")
            values.pop("view", None)
            ours: Identity | None = identity_from(values)
        except (NotSure, InvalidIdentity):
            ours = None
        try:
            theirs: Identity | None = identity_from_settings(load_settings(argv))
        except ConfigError:
            theirs = None
    if ours is not None and theirs is not None:
        assert ours == theirs
    if theirs is None:
        return  # boot may have published; the settings then fail with stage config
    if ours is None:  # boot only stands back for a value the settings reject, or a .env entry without a value
        assert dotenv is not None and any("=" not in line for line in dotenv.splitlines() if line)


# ---- adoption


def booted_for(settings_argv: list[str]) -> tuple[Booted, Settings]:
    booted, _ = publish_to_pipe(settings_argv)
    assert booted is not None
    return booted, load_settings(settings_argv)


def test_begin_adopts_the_boot_envelope_and_continues_the_sequence(capfd: pytest.CaptureFixture[str]) -> None:
    booted, settings_ = booted_for(["--simulate", "rooms/balanced.json"])
    started = begin(settings_, claim_stdout=False, live_view=False, booted=booted)
    bus = started.runtime.bus
    assert bus.recent() == [booted.envelope] and bus.last_seq == 1 and bus.published == 1
    assert bus.context.session_id == booted.session_id
    assert started.room_id == "balanced" and started.transport == "simulated"
    from bot.generated import AssistantRoomJoinRequested

    second = bus.publish(AssistantRoomJoinRequested(room_id="balanced", attempt=1, max_attempts=1))
    assert second["meta"]["seq"] == 2 and second["sessionId"] == booted.session_id
    out = capfd.readouterr().out
    assert (
        "assistant.session.started" not in out and "assistant.room.join.requested" in out
    )  # adopted, not written twice


def test_begin_refuses_a_boot_that_named_another_session() -> None:
    booted, _ = booted_for(["--assistant-id", "a-1"])
    other = load_settings(["--assistant-id", "a-2"])
    with pytest.raises(RuntimeError, match=r"bug: bot\.session\.boot published"):
        begin(other, claim_stdout=False, live_view=False, booted=booted)


def test_adoption_refuses_a_line_the_typed_path_would_write_differently() -> None:
    booted, _ = booted_for([])
    forged = Booted(booted.identity, booted.session_id, booted.envelope, booted.line.replace(b'"seq":1', b'"seq": 1'))
    runtime = create_runtime(
        SessionContext(
            session_id=booted.session_id, assistant_id="demo-assistant", tenant_id="demo-tenant", room_id="demo"
        ),
        stdout=open(os.devnull, "wb"),
    )
    with pytest.raises(RuntimeError, match="stdout emitter would write differently"):
        adopt_boot_envelope(runtime, forged)
    bad_payload = dict(booted.envelope, payload={**booted.envelope["payload"], "transport": "carrier-pigeon"})
    with pytest.raises(ValidationError, match="transport"):
        adopt_boot_envelope(runtime, Booted(booted.identity, booted.session_id, bad_payload, booted.line))
    assert AssistantSessionStarted.model_validate(booted.envelope["payload"]).to_wire() == booted.envelope["payload"]


@pytest.mark.parametrize(
    "change, problem",
    [
        (lambda e: e["meta"].update(seq=2), "seq 2 where 1 is next"),
        (lambda e: e.update(sessionId="someone-else"), "another session"),
        (lambda e: e.update(specVersion="sha256:" + "0" * 64), "another spec version"),
        (lambda e: e.update(topic="no.such.topic"), "an unknown topic"),
        (lambda e: e.update(topic="room.vote.cast"), "another origin"),
    ],
)
def test_the_bus_adopts_only_an_envelope_that_fits_it(change: object, problem: str) -> None:
    booted, _ = booted_for([])
    envelope = json.loads(booted.line)
    change(envelope)  # type: ignore[operator]
    runtime = create_runtime(
        SessionContext(
            session_id=booted.session_id, assistant_id="demo-assistant", tenant_id="demo-tenant", room_id="demo"
        )
    )
    with pytest.raises(ValueError, match=problem):
        runtime.bus.adopt(envelope)
    assert runtime.bus.last_seq == 0


# ---- the command line, end to end


def test_dotenv_in_the_working_directory_names_the_session(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "ASSISTANT_ID=asst-from-dotenv\nTENANT_ID=tenant-from-dotenv\nBOT_MAX_DURATION_SECS=0.5\n"
    )
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "ASSISTANT_ID", "TENANT_ID"))
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--speed", "0"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    assert envelopes[0]["payload"]["assistantId"] == "asst-from-dotenv"
    assert {e["assistantId"] for e in envelopes} == {"asst-from-dotenv"} and {e["tenantId"] for e in envelopes} == {
        "tenant-from-dotenv"
    }
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert len({e["sessionId"] for e in envelopes}) == 1


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "ASSISTANT_ID", "TENANT_ID"))
    }
    env.update(extra)
    return env


def test_a_fields_own_name_is_not_a_variable_only_the_documented_one_is() -> None:
    """``SIMULATE``, ``VIEW``, ``TOKEN``, ``SPEED``: generic names a container may carry for other
    programs; neither reader takes them (only ``BOT_SIMULATE``, ``DAILY_TOKEN``, ...)."""
    with process_state(
        {"SIMULATE": "rooms/eight.json", "VIEW": "live", "TOKEN": "not-ours", "SPEED": "nan", "debug": "true"}, REPO
    ):
        settings_ = load_settings([])
        values = read_identity_settings([], os.environ, "/nonexistent/.env")
    assert (
        settings_.simulate is None
        and settings_.view == "auto"
        and settings_.token is None
        and settings_.speed == 1.0
        and not settings_.debug
    )
    assert values == {}
    assert Settings(speed=2.0).speed == 2.0  # code still passes fields by name


def test_view_live_under_another_name_does_not_swallow_the_session() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--speed", "0"],
        cwd=REPO,
        env=clean_env(VIEW="live", SIMULATE="x.json"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    assert envelopes[0]["roomId"] == "demo" and envelopes[-1]["topic"] == "assistant.session.ended"


@pytest.mark.parametrize("closed", ["stderr", "stdout"])
def test_a_closed_stream_at_spawn_is_handled(closed: str) -> None:
    fds = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    fds[closed] = subprocess.DEVNULL
    code = "import os, runpy, sys; os.close({fd}); sys.{name} = None; sys.argv = ['bot', '--speed', '0']; runpy.run_module('bot', run_name='__main__')"
    proc = subprocess.run(
        [sys.executable, "-c", code.format(fd=1 if closed == "stdout" else 2, name=closed)],
        cwd=REPO,
        env=clean_env(),
        timeout=120,
        **fds,
    )
    if closed == "stderr":  # the room plays; only the logs have nowhere to go
        assert proc.returncode == 0
        assert json.loads(proc.stdout.splitlines()[-1])["topic"] == "assistant.session.ended"
    else:
        assert proc.returncode == 2 and b"stdout is closed" in proc.stderr and b"Traceback" not in proc.stderr


def test_an_identity_that_is_not_utf8_is_one_clear_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--speed", "0", "--assistant-id", os.fsdecode(b"\xff")],
        cwd=REPO,
        env=clean_env(),
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stdout == b""
    assert b"--assistant-id" in proc.stderr and b"Traceback" not in proc.stderr


def test_sigterm_while_starting_ends_the_published_session() -> None:
    """Between the first line and the session's own signal handlers (a few hundred ms)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "--speed", "1"],
        cwd=REPO,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # readline() must not read ahead: communicate() would never see what it buffered
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    proc.send_signal(15)
    rest, stderr = proc.communicate(timeout=10)
    envelopes = [json.loads(line) for line in [first, *rest.splitlines()]]
    assert proc.returncode == 0, stderr
    assert envelopes[0]["topic"] == "assistant.session.started"
    assert envelopes[-1]["topic"] == "assistant.session.ended" and envelopes[-1]["payload"]["reason"] == "signal"
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert len({e["sessionId"] for e in envelopes}) == 1 and b"Traceback" not in stderr


def test_the_settings_take_the_identity_the_boot_read_instead_of_reading_it_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One read of the identity per session: what the first envelope named is what the session uses,
    even if the environment it came from were read differently a moment later."""
    monkeypatch.setenv("TENANT_ID", "tenant-from-env")
    settings = load_settings(["--assistant-id", "a-1"], already_read={"tenant_id": "tenant-the-boot-read"})
    assert (settings.assistant_id, settings.tenant_id) == ("a-1", "tenant-the-boot-read")
    assert load_settings(["--assistant-id", "a-1"]).tenant_id == "tenant-from-env"
