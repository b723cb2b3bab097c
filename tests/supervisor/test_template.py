"""The bot template: rooms forked from one pre-imported process behave as exec'd bots do.

Real processes throughout: the real template (``python -m supervisor.template``), real forks, the
real bot, the real supervisor. ``template_probe`` is a stand-in bot forked from the same template
(the ``module`` of a request) to look at what a forked process was given.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import threading
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sup_helpers import STARTS_THEN_HANGS, finished, make_settings, run, running

from supervisor import forking
from supervisor.adopted import ForkedBotProcess, forking_supported, parent_of, reap_room_orphans
from supervisor.forking import BotTemplate, template_environment
from supervisor.process import bot_environment
from supervisor.template import serve

pytestmark = pytest.mark.skipif(forking_supported() is not None, reason="the bot template needs Linux")

PROBE = "tests.supervisor.template_probe"
ROOM = {"scenario": "demo", "speed": 0, "assistantId": "asst-1", "tenantId": "tenant-1"}


@contextlib.asynccontextmanager
async def template(environ: dict[str, str] | None = None) -> AsyncIterator[BotTemplate]:
    tpl = BotTemplate(os.environ if environ is None else environ)
    tpl.start()
    try:
        assert await tpl.wait_ready(90), "the template never became ready"
        yield tpl
    finally:
        await tpl.close()


async def lines_of(proc: ForkedBotProcess) -> list[bytes]:
    return [line async for line in proc.stdout_lines()]


async def fork_probe(
    tpl: BotTemplate, tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> ForkedBotProcess:
    env = env if env is not None else bot_environment(source=os.environ, room_env={"ASSISTANT_ID": "a"})
    proc = await tpl.spawn(list(args), env=env, cwd=tmp_path, module=PROBE)
    assert proc is not None, "the template did not fork"
    return proc


def test_the_template_has_one_thread_and_no_secret(tmp_path: Path) -> None:
    """Nothing it preloads starts a thread (a fork copies only the calling thread), and its own
    environment is the system variables only."""
    environ = {**os.environ, "OPENAI_API_KEY": "sk-template-must-not-see", "SUPERVISOR_TOKEN": "nope"}

    async def go() -> None:
        async with template(environ) as tpl:
            assert tpl.info["threads"] == 1 and tpl.info["failed"] == 0, tpl.info
            assert tpl.pid is not None
            assert len(os.listdir(f"/proc/{tpl.pid}/task")) == 1
            text = await asyncio.to_thread(Path(f"/proc/{tpl.pid}/environ").read_bytes)
            names = {item.split(b"=", 1)[0].decode() for item in text.split(b"\0") if b"=" in item}
            assert names == set(template_environment(environ)), names
            assert b"sk-template-must-not-see" not in text and b"SUPERVISOR_TOKEN" not in text

    run(go(), 120)


def test_a_fork_is_refused_while_the_template_has_a_thread() -> None:
    """The check before each fork, in-process (no fork happens: this process has a thread)."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    r, w = os.pipe()
    try:
        request = {"id": 7, "argv": [], "env": {}, "cwd": "/", "module": PROBE}
        socket.send_fds(ours, [json.dumps(request).encode()], [r, w, w, r])
        ours.shutdown(socket.SHUT_WR)  # then EOF: serve() returns
        assert serve(theirs) is None
        reply = json.loads(ours.recv(65536))
        assert reply["id"] == 7 and "threads" in reply["error"] and "unsafe" in reply["error"]
    finally:
        stop.set()
        thread.join()
        os.close(r)
        os.close(w)
        ours.close()
        theirs.close()


def test_a_forked_process_gets_exactly_the_rooms_environment_argv_folder_and_session(tmp_path: Path) -> None:
    """``os.environ`` is replaced wholesale: a supervisor variable that is not allow-listed is absent,
    nothing of the template's own environment remains, and the room's secrets are there."""
    environ = {**os.environ, "NOT_ALLOW_LISTED": "leak", "OPENAI_API_KEY": "sk-room"}
    room_env = bot_environment(source=environ, room_env={"ASSISTANT_ID": "a1", "TENANT_ID": "t1"})
    assert "OPENBLAS_NUM_THREADS" not in room_env  # the template's own, must not show in the room

    async def go() -> None:
        async with template(environ) as tpl:
            proc = await fork_probe(tpl, tmp_path, "env", env=room_env)
            out, code = await asyncio.gather(lines_of(proc), proc.wait())
            assert code == 0
            seen = json.loads(out[0])
            assert seen["env"] == room_env
            assert seen["argv"][1:] == ["env"] and seen["argv"][0].endswith("template_probe.py")
            assert seen["cwd"] == str(tmp_path) and seen["sys_path0"] == str(tmp_path)
            assert seen["sid"] == seen["pid"] == seen["pgid"] == proc.pid, "its own session and group"
            assert seen["threads"] == 1
            assert seen["comm"] == "prism-bot", "named in ps/top (its command line is the template's)"
            assert seen["fds"] == [0, 1, 2, 3], "stdio (and the listing's own fd) only: no socket, no pipe ends"

    run(go(), 120)


def test_exit_codes_signals_and_stdin_are_a_processs_own(tmp_path: Path) -> None:
    async def go() -> None:
        async with template() as tpl:
            proc = await fork_probe(tpl, tmp_path, "exit", "3")
            assert await proc.wait() == 3 and proc.returncode == 3
            assert not proc.signal(signal.SIGTERM), "gone: no signal"

            echo = await fork_probe(tpl, tmp_path, "echo")
            assert await echo.send_line(b"hello\n")
            reader = echo.stdout_lines()
            assert await asyncio.wait_for(reader.__anext__(), 10) == b"echo: hello"
            assert echo.signal(signal.SIGKILL)
            assert await echo.wait() == -signal.SIGKILL
            assert not await echo.send_line(b"more\n")

            sleeper = await fork_probe(tpl, tmp_path, "sleep")
            first = await asyncio.wait_for(sleeper.stdout_lines().__anext__(), 10)
            assert json.loads(first)["pid"] == sleeper.pid
            assert parent_of(sleeper.pid) == os.getpid(), "re-parented to the supervisor (a child subreaper)"
            assert await sleeper.stop(5) == -signal.SIGTERM, "SIGTERM as sent (Python's default: dies)"
            with pytest.raises(ProcessLookupError):
                os.kill(sleeper.pid, 0)  # reaped by us: nothing left

    run(go(), 120)


def test_orphans_of_a_forked_room_are_reaped_not_left_as_zombies(tmp_path: Path) -> None:
    """A room's own child that outlives it comes to the supervisor (a subreaper): once it exits,
    the supervisor collects it."""

    def zombies() -> list[int]:
        me = os.getpid()
        found = []
        for tid in os.listdir(f"/proc/{me}/task"):
            for pid in Path(f"/proc/{me}/task/{tid}/children").read_text().split():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z":
                        found.append(int(pid))
        return found

    async def go() -> None:
        async with template() as tpl:
            proc = await fork_probe(tpl, tmp_path, "orphan")
            orphan = json.loads(await asyncio.wait_for(proc.stdout_lines().__anext__(), 10))["orphan"]
            assert await proc.wait() == 0
            assert parent_of(orphan) == os.getpid(), "the orphan came to the supervisor (a subreaper)"
            # it exits 2 s after it was forked. Whoever comes first reaps it: this call, or the
            # supervisor itself (after a room's exit, and on the template's watch loop), so the
            # test waits for it to be gone rather than for a zombie (a fixed 1 s sleep raced the
            # room-exit reap on a loaded machine)
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                reap_room_orphans()
                try:
                    os.kill(orphan, 0)
                except ProcessLookupError:
                    break
                assert asyncio.get_running_loop().time() < deadline, "the orphan was never reaped"
                await asyncio.sleep(0.05)
            assert zombies() == []

    run(go(), 120)


def record_topics(client: Any) -> dict[str, list[str]]:
    """Every envelope's topic the supervisor ingests, per room (a wrapper around its submit)."""
    seen: dict[str, list[str]] = {}
    rooms = client.sup.rooms
    submit = rooms.submit

    def recording(envelope: dict[str, Any], room_id: str) -> Any:
        seen.setdefault(room_id, []).append(envelope["topic"])
        return submit(envelope, room_id) if submit is not None else None

    rooms.submit = recording
    return seen


@pytest.mark.slow
def test_a_forked_room_plays_to_its_end_like_an_execd_one(tmp_path: Path) -> None:
    """Same scenario at speed 0, once forked and once exec'd: both complete, same topics, same counts."""
    results: dict[bool, dict[str, Any]] = {}

    async def play(use_template: bool) -> None:
        settings = make_settings(tmp_path / str(use_template), bot_template=use_template)
        async with running(settings) as client:
            tpl = client.sup.rooms.template
            if use_template:
                assert tpl is not None and await tpl.wait_ready(90)
            else:
                assert tpl is None
            topics = record_topics(client)
            room = await client.post_room(ROOM)
            other = await client.post_room({**ROOM, "assistantId": "asst-2"})
            room = await client.wait_room(room["id"], finished, timeout=60)
            other = await client.wait_room(other["id"], finished, timeout=60)
            assert room["spawnedBy"] == other["spawnedBy"] == ("template" if use_template else "exec")
            assert room["sessionId"] != other["sessionId"], "each fork draws its own ids"
            m = await client.metrics()
            assert m[f'bot_spawn_paths_total{{path="{room["spawnedBy"]}"}}'] == 2
            results[use_template] = {**room, "topics": Counter(topics[room["id"]])}

    for use_template in (True, False):
        (tmp_path / str(use_template)).mkdir()
        run(play(use_template), 120)
    forked, execd = results[True], results[False]
    for room in (forked, execd):
        assert (room["status"], room["endReason"], room["exitCode"]) == ("ended", "completed", 0), room
    assert forked["events"] == execd["events"], "as many envelopes, all valid, no gaps"
    assert forked["topics"] == execd["topics"], "the same topics, as often"


def test_delete_ends_a_forked_bot_with_reason_signal_and_a_crash_is_restarted(tmp_path: Path) -> None:
    """SIGTERM: the bot's graceful end (``assistant.session.ended`` reason ``signal``, exit 0); a
    SIGKILLed bot is a crash, restarted (forked again), and the other room never notices; a
    message on stdin reaches a forked bot (it answers ``events.inbound.rejected``)."""
    settings = make_settings(tmp_path, restart_attempts=1, backoff_base_secs=0.05, backoff_max_secs=0.1)

    async def go() -> None:
        async with running(settings.model_copy(update={"bot_template": True})) as client:
            assert client.sup.rooms.template is not None and await client.sup.rooms.template.wait_ready(90)
            topics = record_topics(client)
            calm = await client.post_room({**ROOM, "speed": 1})
            doomed = await client.post_room({**ROOM, "speed": 1, "assistantId": "asst-2"})
            calm = await client.wait_room(calm["id"], lambda r: r["status"] == "running", timeout=30)
            doomed = await client.wait_room(doomed["id"], lambda r: r["status"] == "running", timeout=30)
            assert calm["spawnedBy"] == doomed["spawnedBy"] == "template"

            status, body = await client.request(
                "POST",
                f"/rooms/{calm['id']}/messages?participantId=p-viewer",
                json={"topic": "room.not.a.topic", "payload": {}},
            )
            assert status == 202, body

            os.kill(doomed["pid"], signal.SIGKILL)
            doomed = await client.wait_room(doomed["id"], lambda r: r["attempt"] == 2 and r["status"] == "running")
            assert doomed["exits"][0]["exitCode"] == -9 and "killed by signal 9" in doomed["error"]
            assert doomed["spawnedBy"] == "template"

            status, done = await client.request("DELETE", f"/rooms/{calm['id']}")
            assert status == 200
            assert (done["status"], done["stopReason"], done["endReason"], done["exitCode"]) == (
                "ended",
                "deleted",
                "signal",
                0,
            )
            assert done["restarts"] == 0, "the other room's crash did not touch it"
            with pytest.raises(ProcessLookupError):
                os.kill(done["pid"] or calm["pid"], 0)
            assert "events.inbound.rejected" in topics[calm["id"]], "the message reached the bot on its stdin"
            await client.request("DELETE", f"/rooms/{doomed['id']}")

    run(go(), 120)


@pytest.mark.slow
def test_killing_the_template_leaves_running_rooms_and_new_rooms_still_start(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, bot_template=True, allow_command=True)

    async def go() -> None:
        async with running(settings) as client:
            tpl = client.sup.rooms.template
            assert tpl is not None and await tpl.wait_ready(90)
            first = await client.post_room({**ROOM, "speed": 4})
            first = await client.wait_room(first["id"], lambda r: r["status"] == "running", timeout=30)
            assert first["spawnedBy"] == "template"
            old_pid = tpl.pid
            assert old_pid is not None
            os.kill(old_pid, signal.SIGKILL)
            # a room created now is not kept waiting: exec while the template restarts
            second = await client.post_room({**ROOM, "assistantId": "asst-2"})
            second = await client.wait_room(second["id"], finished, timeout=60)
            assert (second["spawnedBy"], second["endReason"], second["exitCode"]) == ("exec", "completed", 0)
            # a custom command is always exec'd, template or not
            custom = await client.post_room({**ROOM, "command": STARTS_THEN_HANGS})
            assert (await client.wait_room(custom["id"], lambda r: r["status"] == "running"))["spawnedBy"] == "exec"
            await client.request("DELETE", f"/rooms/{custom['id']}")
            first = await client.wait_room(first["id"], finished, timeout=90)
            assert (first["status"], first["endReason"], first["exitCode"], first["restarts"]) == (
                "ended",
                "completed",
                0,
                0,
            ), "the running room finished, with its real exit code"
            assert await tpl.wait_ready(90) and tpl.pid != old_pid, "the template was restarted"
            third = await client.post_room({**ROOM, "assistantId": "asst-3"})
            third = await client.wait_room(third["id"], finished, timeout=60)
            assert (third["spawnedBy"], third["endReason"]) == ("template", "completed")

    run(go(), 200)


@pytest.mark.slow
def test_a_hung_template_is_killed_and_the_room_starts_with_exec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forking, "REQUEST_TIMEOUT_S", 1.0)
    settings = make_settings(tmp_path, bot_template=True)

    async def go() -> None:
        async with running(settings) as client:
            tpl = client.sup.rooms.template
            assert tpl is not None and await tpl.wait_ready(90)
            hung = tpl.pid
            assert hung is not None
            os.kill(hung, signal.SIGSTOP)
            room = await client.post_room(ROOM)
            room = await client.wait_room(room["id"], finished, timeout=60)
            assert (room["spawnedBy"], room["endReason"], room["exitCode"]) == ("exec", "completed", 0)
            assert await tpl.wait_ready(90) and tpl.pid != hung, "killed and restarted"
            with pytest.raises(ProcessLookupError):
                os.kill(hung, 0)

    run(go(), 150)


def test_a_hung_idle_template_is_found_by_its_ping_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forking, "PING_EVERY_S", 0.3)
    monkeypatch.setattr(forking, "REQUEST_TIMEOUT_S", 1.0)
    monkeypatch.setattr(forking, "RESTART_DELAYS_S", (0.1,))

    async def go() -> None:
        async with template() as tpl:
            hung = tpl.pid
            assert hung is not None
            await asyncio.sleep(1.0)
            assert tpl.pid == hung and tpl.restarts == 0, "a template that answers its pings is kept"
            os.kill(hung, signal.SIGSTOP)
            for _ in range(200):
                await asyncio.sleep(0.05)
                if tpl.pid != hung:
                    break
            assert await tpl.wait_ready(90) and tpl.pid != hung and tpl.restarts == 1
            with pytest.raises(ProcessLookupError):
                os.kill(hung, 0)

    run(go(), 120)


def test_the_template_can_be_turned_off(tmp_path: Path) -> None:
    from supervisor.metrics import Metrics
    from supervisor.rooms import RoomManager

    def manager(**overrides: Any) -> RoomManager:
        return RoomManager(make_settings(tmp_path, **overrides), ingestor=None, metrics=Metrics())  # type: ignore[arg-type]

    assert manager(bot_template=True).template is not None
    assert manager(bot_template=False).template is None
    # start-time variables the bots get are the template's too: the template stays on for them
    assert manager(bot_template=True, bot_env="MY_VAR,PYTHONMALLOC").template is not None
    from supervisor.__main__ import load_settings

    assert load_settings(["--insecure-no-auth"]).bot_template is True
    assert load_settings(["--insecure-no-auth", "--no-bot-template"]).bot_template is False


def test_the_caches_every_room_would_fill_are_filled_once_in_the_template() -> None:
    """The link filter's RE2 programs (about 60 ms per room) are compiled before the fork."""
    from bot.policy import links
    from supervisor.template import WARM, warm

    links.compiled.cache_clear()
    assert warm(WARM) == []
    assert links.compiled.cache_info().currsize == 1
    failed = warm([("bot.policy.links", "no_such_cache")])
    assert len(failed) == 1 and failed[0].startswith("bot.policy.links.no_such_cache(): AttributeError")


def test_a_request_the_supervisor_gave_up_on_runs_no_bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A late reply (the supervisor timed out, killed the template and exec'd the room): the room's
    process the template had already forked must not run as a second, unwatched bot of the room.
    It waits at its adoption gate, finds it closed, leaves, and its zombie is reaped."""
    marker = tmp_path / "ran"
    plain_recv = BotTemplate._recv

    async def late_recv(self: BotTemplate) -> dict[str, Any]:
        await asyncio.sleep(1.0)  # longer than the request timeout below: the reply comes too late
        return await plain_recv(self)

    async def go() -> None:
        async with template(dict(os.environ)) as tpl:
            monkeypatch.setattr(forking, "REQUEST_TIMEOUT_S", 0.5)
            monkeypatch.setattr(BotTemplate, "_recv", late_recv)
            env = bot_environment(source=os.environ, room_env={"ASSISTANT_ID": "a"})
            assert await tpl.spawn(["touch", str(marker)], env=env, cwd=tmp_path, module=PROBE) is None
            reaped = 0
            for _ in range(100):  # generous: the forked process leaves as soon as its gate closes
                await asyncio.sleep(0.05)
                reaped += reap_room_orphans()
                if reaped:
                    break
            assert reaped >= 1, "the process forked for the abandoned request was reaped"
            assert not marker.exists(), "the abandoned room's process ran the bot"

    run(go(), 120)


def test_a_room_that_sets_a_start_time_variable_otherwise_starts_with_exec() -> None:
    template_env = template_environment({"PATH": "/usr/bin", "TZ": "UTC", "LANG": "C.UTF-8"})
    room = bot_environment(source={"PATH": "/usr/bin", "TZ": "UTC", "LANG": "C.UTF-8"}, room_env={"X": "1"})
    assert forking.start_time_differences(room, template_env) == []
    # the template takes start-time variables as the rooms do: the supervisor's .env fallback, and
    # those of SUPERVISOR_BOT_ENV (PYTHON*, LD_*, MALLOC_*, ...), so rooms fork with them
    source = {"PATH": "/usr/bin", "LANG": "C.UTF-8", "PYTHONMALLOC": "malloc", "MY_VAR": "x"}
    dotenv = {"TZ": "Asia/Tokyo"}
    names = ["MY_VAR", "PYTHONMALLOC"]
    room_tz = bot_environment(source=source, room_env={}, extra_names=names, fallback=dotenv)
    same = template_environment(source, extra_names=names, fallback=dotenv)
    assert "MY_VAR" not in same and same["PYTHONMALLOC"] == "malloc"  # not a start-time variable: a room's only
    assert forking.start_time_differences(room_tz, same) == []
    # a room that still differs (a template started otherwise) is exec'd: a fork would keep the template's
    assert forking.start_time_differences(room_tz, template_env) == ["PYTHONMALLOC", "TZ"]


def test_a_template_killed_while_a_request_is_in_flight_means_exec_not_a_failed_room(tmp_path: Path) -> None:
    """Its exit noticed between the request's steps: the room starts with exec (spawn answers
    None); before, an assertion error reached the room manager and failed the room."""

    async def go() -> None:
        async with template(dict(os.environ)) as tpl:
            env = bot_environment(source=os.environ, room_env={"ASSISTANT_ID": "a"})
            request = asyncio.create_task(tpl.spawn(["env"], env=env, cwd=tmp_path, module=PROBE))
            await asyncio.sleep(0)  # the request has taken the lock and is sending
            await tpl._kill()  # what noticing the template's exit does in that turn
            assert await request is None

    run(go(), 120)
