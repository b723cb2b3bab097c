"""stdout is the IPC channel: one compact JSON envelope per line, nothing else, and a reader that
goes away ends the stream quietly."""

from __future__ import annotations

import copy
import io
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.events import Envelope, EventBus, Redactor, SessionContext, SpecRegistry, StdoutEmitter, create_runtime
from bot.generated import RoomParticipantJoined, RoomSpeakingStarted, RoomSpeakingStopped

REPO = Path(__file__).resolve().parents[2]


class FlushRecorder(io.BytesIO):
    """A binary stream that records what was visible at each flush."""

    def __init__(self) -> None:
        super().__init__()
        self.flushed: list[bytes] = []

    def flush(self) -> None:
        super().flush()
        self.flushed.append(self.getvalue())


def started(at: int = 0) -> RoomSpeakingStarted:
    return RoomSpeakingStarted(participant_id="p1", media_time_ms=at)


def test_each_envelope_is_one_compact_json_line_flushed_at_once(context: SessionContext) -> None:
    out = FlushRecorder()
    runtime = create_runtime(context, stdout=out)
    envelopes = [runtime.bus.publish(started(i)) for i in range(3)]
    envelopes.append(runtime.bus.publish(RoomSpeakingStopped(participant_id="p1", media_time_ms=9, duration_ms=9)))

    lines = out.getvalue().split(b"\n")
    assert lines[-1] == b""
    assert [orjson.loads(line) for line in lines[:-1]] == envelopes
    for line, env in zip(lines[:-1], envelopes, strict=True):
        assert line == orjson.dumps(env)  # compact: no spaces between tokens
        assert b": " not in line and b", " not in line
        Envelope.model_validate(orjson.loads(line))
    # flushed after every line, never holding a partial line
    assert len(out.flushed) == 4
    assert all(snapshot.endswith(b"\n") and snapshot.count(b"\n") == i + 1 for i, snapshot in enumerate(out.flushed))
    assert runtime.stdout is not None and runtime.stdout.lines == 4


def test_non_ascii_is_written_as_utf8(context: SessionContext) -> None:
    out = io.BytesIO()
    runtime = create_runtime(context, stdout=out)
    runtime.bus.publish(RoomParticipantJoined(participant_id="p1", display_name="Zoë 😀", media_time_ms=0))
    line = out.getvalue()
    assert "Zoë 😀".encode() in line
    assert orjson.loads(line)["payload"]["displayName"] == "Zoë 😀"


def test_only_stdout_routed_topics_are_written(raw_registry: dict[str, Any], context: SessionContext) -> None:
    raw = copy.deepcopy(raw_registry)
    raw["topics"]["room.speaking.started"]["forwarding"]["destinations"] = ["app_message"]
    out = io.BytesIO()
    runtime = create_runtime(context, registry=SpecRegistry(raw), stdout=out)
    runtime.bus.publish(started())
    runtime.bus.publish(RoomSpeakingStopped(participant_id="p1", media_time_ms=1, duration_ms=1))
    topics = [orjson.loads(line)["topic"] for line in out.getvalue().splitlines()]
    assert topics == ["room.speaking.stopped"]


def test_fd_mode_writes_whole_lines_to_the_descriptor(registry: SpecRegistry, bus: EventBus) -> None:
    read_end, write_end = os.pipe()
    try:
        emitter = StdoutEmitter(registry, Redactor(registry), fd=write_end)
        bus.subscribe("*", emitter)
        sent = [bus.publish(started(i)) for i in range(5)]
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end, "rb") as reader:
            read_end = -1
            got = [orjson.loads(line) for line in reader.read().splitlines()]
        assert got == sent
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)


@pytest.mark.parametrize("mode", ["fd", "stream"])
def test_a_closed_reader_stops_the_emitter_quietly_and_tells_its_owner(
    registry: SpecRegistry, bus: EventBus, mode: str
) -> None:
    closed: list[bool] = []
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone: writing raises EPIPE
    stream = None
    if mode == "fd":
        emitter = StdoutEmitter(registry, Redactor(registry), fd=write_end, on_closed=lambda: closed.append(True))
    else:
        stream = os.fdopen(write_end, "wb", buffering=0)
        emitter = StdoutEmitter(registry, Redactor(registry), stream=stream, on_closed=lambda: closed.append(True))
    bus.subscribe("*", emitter)
    try:
        for i in range(3):
            bus.publish(started(i))  # no exception reaches the publisher
        assert emitter.closed
        assert closed == [True]  # told once
        assert emitter.lines == 0
        assert bus.handler_errors == 0
        assert bus.published == 3
    finally:
        if stream is not None:
            stream.close()
        else:
            os.close(write_end)


def test_fd_and_stream_are_exclusive(registry: SpecRegistry) -> None:
    with pytest.raises(ValueError):
        StdoutEmitter(registry, Redactor(registry))
    with pytest.raises(ValueError):
        StdoutEmitter(registry, Redactor(registry), fd=1, stream=io.BytesIO())


# ---- real processes

PUBLISH_10K = textwrap.dedent(
    """
    import sys
    from bot.events import SessionContext, create_runtime
    from bot.generated import RoomSpeakingStarted

    closed = []
    runtime = create_runtime(SessionContext(session_id="s"), claim_stdout=True, on_stdout_closed=lambda: closed.append(1))
    for i in range(10_000):
        if closed:
            break
        runtime.bus.publish(RoomSpeakingStarted(participant_id="p1", media_time_ms=i))
    print(f"published={runtime.bus.published} closed={bool(closed)}", file=sys.stderr)
    sys.exit(0)
    """
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


@pytest.mark.slow
def test_piping_into_head_ends_cleanly_without_a_traceback() -> None:
    bot = subprocess.Popen(
        [sys.executable, "-c", PUBLISH_10K], cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    head = subprocess.Popen(["head", "-n", "3"], stdin=bot.stdout, stdout=subprocess.PIPE)
    assert bot.stdout is not None
    bot.stdout.close()  # head owns the read end now
    head_out, _ = head.communicate(timeout=60)
    _, bot_err = bot.communicate(timeout=60)
    stderr = bot_err.decode()

    assert head.returncode == 0
    assert bot.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert "closed=True" in stderr  # it stopped because the reader went away, not because it ran out
    assert "stdout was closed by the reader" in stderr
    lines = head_out.splitlines()
    assert [orjson.loads(line)["meta"]["seq"] for line in lines] == [1, 2, 3]


STRAY_PRINT = textwrap.dedent(
    """
    import os, sys
    from bot.events import SessionContext, create_runtime
    from bot.generated import RoomSpeakingStarted

    print("before-claim")
    runtime = create_runtime(SessionContext(session_id="s"), claim_stdout=True)
    print("stray print")
    sys.stdout.write("stray write\\n")
    os.write(1, b"native write to fd 1\\n")
    runtime.bus.publish(RoomSpeakingStarted(participant_id="p1", media_time_ms=0))
    print("after publish")
    """
)


@pytest.mark.slow
def test_a_stray_print_after_claiming_stdout_goes_to_stderr() -> None:
    result = subprocess.run([sys.executable, "-c", STRAY_PRINT], cwd=REPO, env=_env(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    stdout_lines = result.stdout.splitlines()
    assert stdout_lines[0] == b"before-claim"  # printed before the claim: still stdout, and flushed first
    assert len(stdout_lines) == 2
    assert orjson.loads(stdout_lines[1])["topic"] == "room.speaking.started"
    for text in (b"stray print", b"stray write", b"native write to fd 1", b"after publish"):
        assert text in result.stderr
        assert text not in result.stdout


CLAIM_TWICE = textwrap.dedent(
    """
    from bot.events import SessionContext, create_runtime
    from bot.generated import RoomSpeakingStarted

    first = create_runtime(SessionContext(session_id="s"), claim_stdout=True)
    first.bus.publish(RoomSpeakingStarted(participant_id="p1", media_time_ms=0))
    second = create_runtime(SessionContext(session_id="s"), claim_stdout=True)
    second.bus.publish(RoomSpeakingStarted(participant_id="p2", media_time_ms=0))
    """
)


@pytest.mark.slow
def test_a_second_claim_writes_to_the_real_stdout_too() -> None:
    """A start-up that fails after claiming stdout reports the failure with a second runtime."""
    result = subprocess.run([sys.executable, "-c", CLAIM_TWICE], cwd=REPO, env=_env(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert [orjson.loads(line)["payload"]["participantId"] for line in result.stdout.splitlines()] == ["p1", "p2"]
    assert b"participantId" not in result.stderr


# ---- stdout is a governed destination with a per-deployment PII ceiling ---------------------------


def joined_and_facilitator_lines(**runtime_kwargs: Any) -> list[dict[str, Any]]:
    from bot.generated import FacilitatorMessage

    out = io.BytesIO()
    runtime = create_runtime(
        SessionContext(session_id="s", assistant_id="a", tenant_id="t", room_id="r"),
        salt="salt",
        stdout=out,
        **runtime_kwargs,
    )
    runtime.bus.publish(RoomParticipantJoined(participant_id="p-1", display_name="Ann Example", media_time_ms=0))
    runtime.bus.publish(FacilitatorMessage(text="Ann, you said the budget is late", audience="room", reason="nudge"))
    runtime.bus.publish(started())
    copy_for_browsers = runtime.app_messages.prepare(runtime.bus.publish(started(20)))
    assert copy_for_browsers is not None and copy_for_browsers["payload"]["participantId"] == "p1"  # unchanged
    return [orjson.loads(line) for line in out.getvalue().splitlines()][:3]


def test_by_default_stdout_carries_what_the_spec_allows() -> None:
    joined, said, speaking = joined_and_facilitator_lines()
    assert joined["payload"]["displayName"] == "Ann Example" and said["payload"]["text"].startswith("Ann")
    assert speaking["payload"]["participantId"] == "p1"


def test_a_stdout_ceiling_of_0_drops_every_personal_field_there() -> None:
    joined, said, speaking = joined_and_facilitator_lines(stdout_pii_max_level=0)
    assert "displayName" not in joined["payload"] and "participantId" not in joined["payload"]
    assert joined["pii"]["redacted"] == ["/payload/displayName", "/payload/participantId"]
    assert "text" not in said["payload"] and "participantId" not in speaking["payload"]
    assert "Ann" not in orjson.dumps([joined, said, speaking]).decode()


def test_a_stdout_ceiling_of_1_keeps_pseudonymous_ids_and_drops_names_and_text() -> None:
    joined, said, speaking = joined_and_facilitator_lines(stdout_pii_max_level=1)
    assert speaking["payload"]["participantId"] == "p1"  # level 1: kept
    assert "displayName" not in joined["payload"] and "text" not in said["payload"]  # levels 2 and 3: dropped


def test_stdout_can_carry_no_envelopes_at_all() -> None:
    assert joined_and_facilitator_lines(stdout_envelopes=False) == []


def test_a_ceiling_above_the_spec_does_not_raise_it(registry: SpecRegistry) -> None:
    assert registry.with_pii_ceiling("stdout", 5) is registry
    assert registry.with_pii_ceiling("eventbridge", 3).pii_ceiling("eventbridge") == 1
