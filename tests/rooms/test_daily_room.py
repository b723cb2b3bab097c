"""DailyRoom: joining before the pipeline, participants already present and later, chat, leaving.

The unit tests run Pipecat's real DailyTransport code with only daily-python's ``CallClient``
replaced by a fake; Daily's events are fired from a worker thread, as daily-core does. The last
tests join a real ``DailyTransport`` against an unresolvable host.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from pipecat.frames.frames import (  # noqa: E402
    Frame,
    StartFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.transports.daily.transport import (  # noqa: E402
    DailyInputTransportMessageFrame,
    DailyOutputTransportMessageUrgentFrame,
)
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from bot.core.frames import MediaTickFrame, ParticipantJoinedFrame, ParticipantLeftFrame  # noqa: E402
from bot.core.media import media_time_of  # noqa: E402
from bot.processors.media_clock import MediaClockStamper  # noqa: E402
from bot.rooms.daily import (  # noqa: E402
    DailyJoinError,
    DailyRoom,
    MediaClock,
    _RoomTransport,
    room_id_from_url,
    sanitize_room_url,
    split_room_url,
)
from bot.session.join import JoinFailed, join_with_retries  # noqa: E402
from tests.pipeline_harness import run_async  # noqa: E402

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJyIjoic3RhbmR1cCJ9.c2VjcmV0LXNpZ25hdHVyZQ"
URL = "https://acme.daily.co/standup"
PCM_20MS = bytes(640)  # 320 samples of 16 kHz int16 silence


def participant(pid: str, name: str | None = None) -> dict[str, Any]:
    return {"id": pid, "info": {"isLocal": False, "userName": name or pid.title()}}


class FakeCallClient:
    """What Pipecat's DailyTransportClient calls on daily-python's CallClient, recorded."""

    def __init__(self, present: list[dict[str, Any]] | None = None, *, join_error: str | None = None) -> None:
        self.present = {p["id"]: p for p in present or []}
        self.join_error = join_error
        self.joined_with: tuple[str, str | None] | None = None
        self.renderers: dict[str, Any] = {}
        self.subscribed: list[str] = []
        self.transcription_allow: list[list[str]] = []
        self.transcription_started = False
        self.sent: list[tuple[Any, str | None]] = []
        self.left = 0
        self.released = 0

    def update_subscription_profiles(self, *args: Any, **kwargs: Any) -> None:
        pass

    def set_user_name(self, name: str) -> None:
        self.user_name = name

    def join(self, url: str, token: str | None, completion: Any = None, client_settings: Any = None) -> None:
        self.joined_with = (url, token)
        if self.join_error:
            completion(None, self.join_error)
        else:
            completion({"participants": {"local": {"id": "bot"}}, "meetingSession": {"id": "m-1"}}, None)

    def participants(self) -> dict[str, Any]:
        return {"local": {"id": "bot", "info": {"isLocal": True, "userName": "Prism"}}, **self.present}

    def update_subscriptions(
        self, participant_settings: Any = None, profile_settings: Any = None, completion: Any = None
    ) -> None:
        self.subscribed.extend((participant_settings or {}).keys())
        completion(None)

    def set_audio_renderer(
        self,
        pid: str,
        callback: Any,
        audio_source: str = "microphone",
        sample_rate: int = 16000,
        callback_interval_ms: int = 20,
    ) -> None:
        self.renderers[pid] = callback

    def start_transcription(self, settings: Any = None, completion: Any = None) -> None:
        self.transcription_started = True
        completion(None)

    def stop_transcription(self, completion: Any = None) -> None:
        completion(None)

    def update_transcription(self, participants: Any = None, instance_id: Any = None, completion: Any = None) -> None:
        self.transcription_allow.append(list(participants or []))
        completion(None)

    def send_app_message(self, message: Any, participant_id: str | None, completion: Any = None) -> None:
        self.sent.append((message, participant_id))
        completion(None)

    def leave(self, completion: Any = None) -> None:
        self.left += 1
        completion(None)

    def release(self) -> None:
        self.released += 1


async def resolves(host: str, port: int) -> list[Any]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", port))]


class FakeDailyRoom(DailyRoom):
    """A DailyRoom whose transports talk to FakeCallClients (one per join attempt)."""

    def __init__(self, *clients: FakeCallClient, url: str = URL, **kwargs: Any) -> None:
        kwargs.setdefault("resolver", resolves)
        super().__init__(url, token=TOKEN, **kwargs)
        self.clients = list(clients)
        self.used: list[FakeCallClient] = []

    def _make_transport(self) -> Any:
        return super()._new_transport()

    def _new_transport(self) -> Any:
        transport = self._make_transport()
        real, transport._client._client = transport._client._client, self.clients.pop(0)
        real.release()
        self.used.append(transport._client._client)
        return transport

    # Daily calls its event handler from its own threads; do the same.
    async def fire(self, event: str, *args: Any) -> None:
        client = self.transport._client
        await asyncio.to_thread(getattr(client, event), *args)

    async def audio(self, pid: str, chunks: int = 1) -> None:
        renderer = self.used[-1].renderers[pid]
        data = SimpleNamespace(audio_frames=PCM_20MS, sample_rate=16000, num_channels=1)
        for _ in range(chunks):
            await asyncio.to_thread(renderer, pid, data, "microphone")


class Recorder(FrameProcessor):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames: list[Frame] = []
        self.started = asyncio.Event()
        self.changed = asyncio.Event()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, StartFrame):
            self.started.set()
        elif direction == FrameDirection.DOWNSTREAM:
            self.frames.append(frame)
            self.changed.set()
        await self.push_frame(frame, direction)


SETTLE_S = 5.0


async def settle(recorder: Recorder, predicate: Any) -> None:
    """Until ``predicate(recorder.frames)`` holds; fails after ``SETTLE_S`` naming the frames seen."""
    try:
        async with asyncio.timeout(SETTLE_S):
            while not predicate(recorder.frames):
                recorder.changed.clear()
                await recorder.changed.wait()
    except TimeoutError:
        raise AssertionError(f"timed out; got {[type(f).__name__ for f in recorder.frames]}") from None


async def run_room(room: FakeDailyRoom, script: Any, *, between: Any = None) -> Recorder:
    """join → (between) → pipeline [input, stamper, recorder, output] → script → room.end → close."""
    count = await room.join(1)
    room.count_at_join = count
    if between is not None:
        await between()
    recorder = Recorder()
    worker = PipelineWorker(
        Pipeline([room.input(), MediaClockStamper(clock=room.clock.now_ms), recorder, room.output()]),
        params=PipelineParams(audio_in_sample_rate=16000),
        enable_rtvi=False,
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    try:
        await asyncio.wait_for(recorder.started.wait(), 10)
        await script(room, recorder)
        assert await room.end("completed")
        await asyncio.wait_for(running, 10)
    finally:
        if not running.done():
            await worker.cancel()
            await running
        await room.close()
    return recorder


def of(frames: list[Frame], kind: type) -> list[Any]:
    return [f for f in frames if isinstance(f, kind)]


# --------------------------------------------------------------------------------------------
# URLs and the clock
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://acme.daily.co/standup", "https://acme.daily.co/standup"),
        ("https://acme.daily.co/standup?t=SECRET", "https://acme.daily.co/standup"),
        ("https://user:pw@acme.daily.co/standup#frag", "https://acme.daily.co/standup"),
        ("HTTPS://Acme.Daily.co:8443/a/b?x=1&t=2", "https://acme.daily.co:8443/a/b"),
        ("  https://acme.daily.co/standup/  ", "https://acme.daily.co/standup/"),
    ],
    ids=["plain", "token-query", "userinfo-fragment", "port-case", "trailing-slash"],
)
def test_room_urls_in_events_carry_no_token_query_or_userinfo(url: str, clean: str) -> None:
    assert sanitize_room_url(url) == clean


def test_a_token_in_the_url_is_taken_out_and_used_as_the_token() -> None:
    assert split_room_url("https://acme.daily.co/standup?t=abc123&x=1") == ("https://acme.daily.co/standup", "abc123")
    assert split_room_url("https://acme.daily.co/standup") == ("https://acme.daily.co/standup", None)
    room = DailyRoom("https://acme.daily.co/standup?t=abc12345")
    assert room.url == "https://acme.daily.co/standup" and room._token == "abc12345"
    assert "abc12345" not in repr(vars(room).get("url")) and room._scrub("x abc12345 y") == "x *** y"


@pytest.mark.parametrize(
    ("url", "room_id"),
    [
        ("https://acme.daily.co/standup", "standup"),
        ("https://acme.daily.co/a/b/", "b"),
        ("https://acme.daily.co", "acme.daily.co"),
    ],
    ids=["name", "nested-trailing-slash", "no-path"],
)
def test_room_id_is_the_last_path_segment(url: str, room_id: str) -> None:
    assert room_id_from_url(url) == room_id


def test_a_non_http_room_url_is_refused() -> None:
    with pytest.raises(ValueError):
        DailyRoom("ftp://acme.daily.co/standup")


def test_media_clock_counts_from_start() -> None:
    now = [100.0]
    clock = MediaClock(lambda: now[0])
    assert clock.now_ms() == 0 and not clock.started
    clock.start()
    now[0] = 101.25
    clock.start()  # idempotent
    assert clock.now_ms() == 1250


# --------------------------------------------------------------------------------------------
# joining
# --------------------------------------------------------------------------------------------


def test_join_returns_the_participants_already_there_and_passes_the_token_only_to_daily() -> None:
    fake = FakeCallClient([participant("alice"), participant("bob", "Bob B.")])
    room = FakeDailyRoom(fake)

    async def go() -> int:
        try:
            return await room.join(1)
        finally:
            await room.close()

    assert run_async(go()) == 2
    assert fake.joined_with == (URL, TOKEN)
    assert room.present == {"alice": "Alice", "bob": "Bob B."}
    assert fake.left == 1 and fake.released == 1


def test_a_failed_join_raises_a_retryable_error_without_the_token_and_releases_the_client() -> None:
    fake = FakeCallClient(join_error=f"Authorization failed for token {TOKEN}")
    room = FakeDailyRoom(fake)
    with pytest.raises(DailyJoinError) as info:
        run_async(room.join(1))
    assert info.value.retryable
    assert TOKEN not in str(info.value) and "***" in str(info.value)
    assert URL in str(info.value)
    assert fake.released == 1 and fake.left == 0 and not room.joined


def test_join_retries_with_a_fresh_transport_per_attempt() -> None:
    first, second = FakeCallClient(join_error="room lookup failed"), FakeCallClient([participant("alice")])
    room = FakeDailyRoom(first, second)
    events: list[tuple[Any, ...]] = []

    async def go() -> Any:
        try:
            return await join_with_retries(
                room.join,
                attempts=3,
                base_delay_s=0.01,
                on_requested=lambda *a: events.append(("requested", *a)),
                on_failed=lambda *a: events.append(("failed", *a)),
                on_succeeded=lambda *a: events.append(("succeeded", a[0], a[2])),
            )
        finally:
            await room.close()

    result = run_async(go())
    assert result.attempt == 2 and result.participant_count == 1
    assert [e[0] for e in events] == ["requested", "failed", "requested", "succeeded"]
    assert events[1][3] is True and events[-1] == ("succeeded", 2, 1)
    assert first.released == 1 and second.released == 1 and second.left == 1


def test_a_host_that_does_not_exist_fails_before_daily_is_asked_and_is_permanent() -> None:
    async def no_such_host(host: str, port: int) -> Any:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    fake = FakeCallClient()
    room = FakeDailyRoom(fake, url="https://video.acme.example/standup", resolver=no_such_host)
    with pytest.raises(DailyJoinError, match=r"cannot resolve video\.acme\.example") as info:
        run_async(room.join(1))
    assert not info.value.retryable and info.value.kind == "no_room"
    assert fake.joined_with is None and room.clients == [fake]


@pytest.mark.parametrize(
    "failure",
    [
        socket.gaierror(socket.EAI_NONAME, "Name or service not known"),  # daily.co blocked by the resolver
        socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution"),  # its name servers unreachable
        TimeoutError(),
    ],
    ids=["nxdomain", "eai-again", "timeout"],
)
def test_a_failed_lookup_of_a_daily_co_host_still_lets_daily_python_try_its_fallback_domains(
    failure: BaseException,
) -> None:
    async def lookup_fails(host: str, port: int) -> Any:
        raise failure

    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake, resolver=lookup_fails)

    async def go() -> int:
        try:
            return await room.join(1)
        finally:
            await room.close()

    assert run_async(go()) == 1
    assert fake.joined_with == (URL, TOKEN)


def test_a_temporary_lookup_failure_of_another_host_lets_daily_try_too() -> None:
    async def eai_again(host: str, port: int) -> Any:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    fake = FakeCallClient()
    room = FakeDailyRoom(fake, url="https://video.acme.example/standup", resolver=eai_again)

    async def go() -> int:
        try:
            return await room.join(1)
        finally:
            await room.close()

    assert run_async(go()) == 0 and fake.joined_with is not None


# Join errors as daily-python 0.36 reports them (the join completion's error string): English
# messages from its daily.abi3.so and Daily's error types.
PERMANENT_JOIN_ERRORS = [
    ("You are not authorized to join this meeting.", "not_allowed"),
    ("exp-token", "token"),
    ("nbf-token: meeting token is not valid yet", "token"),
    ("no-room", "no_room"),
    ("This room is no longer available", "room_expired"),
    ("exp-room", "room_expired"),
    ("This room is not available yet, please try later", "room_not_yet"),
    ("meeting-full", "full"),
    ("knocking was refused: access request denied", "refused"),
    ("ejected", "refused"),
    ("Invalid join properties", "client"),
    ("Server returned 401 Unauthorized (authorization failed)", "not_allowed"),
]
TRANSIENT_JOIN_ERRORS = [
    "Failed to lookup room",
    "This room has no worker available",
    "Unknown error while trying to fetch room info",
    "RoomLookup(failed to lookup address information: Temporary failure in name resolution)",
    "Timed out waiting for response",
    "something nobody has seen before",
]


@pytest.mark.parametrize(("error", "kind"), PERMANENT_JOIN_ERRORS)
def test_a_permanent_join_error_fails_at_once_not_retryable_with_exit_5(error: str, kind: str) -> None:
    fake, spare = FakeCallClient(join_error=error), FakeCallClient()
    room = FakeDailyRoom(fake, spare)
    failed: list[tuple[Any, ...]] = []

    async def go() -> JoinFailed:
        try:
            await join_with_retries(room.join, attempts=3, base_delay_s=0.01, on_failed=lambda *a: failed.append(a))
        except JoinFailed as exc:
            return exc
        finally:
            await room.close()
        raise AssertionError("joined")

    exc = run_async(go())
    assert exc.attempts == 1 and room.clients == [spare]  # no second attempt
    assert not exc.retryable and exc.kind == kind and exc.exit_code == 5
    assert failed == [(1, str(exc.last_error), False, 0)]
    assert "(not retryable)" in str(exc)


@pytest.mark.parametrize("error", TRANSIENT_JOIN_ERRORS)
def test_a_transient_join_error_is_retried_and_exits_4(error: str) -> None:
    room = FakeDailyRoom(*(FakeCallClient(join_error=error) for _ in range(3)))

    async def go() -> JoinFailed:
        try:
            await join_with_retries(room.join, attempts=3, base_delay_s=0.01)
        except JoinFailed as exc:
            return exc
        finally:
            await room.close()
        raise AssertionError("joined")

    exc = run_async(go())
    assert exc.attempts == 3 and exc.retryable and exc.exit_code == 4


def test_a_room_named_like_an_error_does_not_decide_the_class() -> None:
    fake = FakeCallClient(join_error="Failed to lookup room")
    room = FakeDailyRoom(fake, url="https://acme.daily.co/meeting-full-token-404")
    with pytest.raises(DailyJoinError) as info:
        run_async(room.join(1))
    assert info.value.retryable


class SlowOnJoinedTransport(_RoomTransport):
    async def _on_joined(self, data: Any) -> None:
        await super()._on_joined(data)
        if self._room.slow_first and not getattr(self._room, "slowed", False):
            self._room.slowed = True
            await asyncio.sleep(2)


class SlowJoinedTransportRoom(FakeDailyRoom):
    """daily-core completes the first join, but the transport's on-joined work outlasts the attempt's limit."""

    slow_first = True

    def _make_transport(self) -> Any:
        return SlowOnJoinedTransport(self, self.url, self._token, self.bot_name, self.params)


def test_a_join_that_completes_as_the_attempt_times_out_leaves_the_call_and_the_next_attempt_joins() -> None:
    late, second = FakeCallClient([participant("alice")]), FakeCallClient([participant("alice")])
    room = SlowJoinedTransportRoom(late, second, join_timeout_s=0.3)

    async def go() -> Any:
        try:
            result = await join_with_retries(room.join, attempts=3, base_delay_s=0.01)
            return result, dict(room.present)
        finally:
            await room.close()

    result, present = run_async(go())
    assert result.attempt == 2 and present == {"alice": "Alice"}
    deadline = time.monotonic() + 5
    while late.released == 0 and time.monotonic() < deadline:  # the abandon runs on its own thread
        time.sleep(0.01)
    assert late.left == 1 and late.released == 1  # the late join left the call: no second bot
    assert second.left == 1 and second.released == 1


class LateJoinCallClient(FakeCallClient):
    """A CallClient whose join completes only after ``delay_s``; leave() waits for it, as daily-core's does."""

    def __init__(self, delay_s: float, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.delay_s = delay_s
        self.join_done = threading.Event()
        self.in_call_after_release: bool | None = None

    def join(self, url: str, token: str | None, completion: Any = None, client_settings: Any = None) -> None:
        self.joined_with = (url, token)

        def later() -> None:
            time.sleep(self.delay_s)
            self.join_done.set()
            completion({"participants": {"local": {"id": "bot"}}, "meetingSession": {"id": "m-1"}}, None)

        threading.Thread(target=later, daemon=True).start()

    def leave(self, completion: Any = None) -> None:
        self.join_done.wait(5)
        super().leave(completion)

    def release(self) -> None:
        self.in_call_after_release = self.join_done.is_set() and self.left == 0
        super().release()


def test_an_abandoned_join_that_completes_later_leaves_before_release() -> None:
    late, second = LateJoinCallClient(0.5), FakeCallClient()
    room = FakeDailyRoom(late, second, join_timeout_s=0.1)

    async def go() -> Any:
        try:
            return await join_with_retries(room.join, attempts=2, base_delay_s=0.01)
        finally:
            await room.close()

    assert run_async(go()).attempt == 2
    deadline = time.monotonic() + 5
    while late.released == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert late.left == 1 and late.released == 1 and late.in_call_after_release is False


def test_input_before_join_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="join"):
        DailyRoom(URL).input()


# --------------------------------------------------------------------------------------------
# the pipeline: participants, audio, transcription, chat, leaving
# --------------------------------------------------------------------------------------------


def test_participants_already_present_are_announced_and_their_audio_captured() -> None:
    fake = FakeCallClient([participant("alice"), participant("bob", "Bob B.")])
    room = FakeDailyRoom(fake)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 2)
        assert set(fake.renderers) == {"alice", "bob"}
        await room.audio("alice", 3)
        await room.audio("bob", 2)
        await settle(rec, lambda fs: len(of(fs, UserAudioRawFrame)) == 5)

    rec = run_async(run_room(room, script))
    joined = of(rec.frames, ParticipantJoinedFrame)
    assert [(j.participant_id, j.display_name) for j in joined] == [("alice", "Alice"), ("bob", "Bob B.")]
    assert room.count_at_join == 2
    audio = of(rec.frames, UserAudioRawFrame)
    assert {a.user_id for a in audio} == {"alice", "bob"}
    alice = [media_time_of(a) for a in audio if a.user_id == "alice"]
    # sample-counted, 20 ms apart; delivered back to back (a burst), so each may slew back by 10 %
    assert all(18 <= b - a <= 20 for a, b in itertools.pairwise(alice))
    assert all(t is not None and t >= 0 for t in alice)
    kinds = [type(f).__name__ for f in rec.frames]
    assert kinds[-3:] == ["RoomEndedFrame", "EndWorkerFrame", "EndFrame"]


def test_participants_joining_between_join_and_pipeline_start_are_captured() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def between() -> None:  # the pipeline does not exist yet
        await room.fire("on_participant_joined", participant("carol"))
        await asyncio.sleep(0.05)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 2)
        await room.audio("carol", 1)
        await settle(rec, lambda fs: len(of(fs, UserAudioRawFrame)) == 1)

    rec = run_async(run_room(room, script, between=between))
    assert [j.participant_id for j in of(rec.frames, ParticipantJoinedFrame)] == ["alice", "carol"]
    assert set(fake.renderers) == {"alice", "carol"}


def test_late_joiners_are_announced_captured_and_leave_pushes_participant_left() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 1)
        await asyncio.sleep(0.03)
        await room.fire("on_participant_joined", participant("dan", "Dan"))
        await room.fire("on_participant_joined", participant("dan", "Dan"))  # duplicate event: ignored
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 2)
        await room.audio("dan", 2)
        await settle(rec, lambda fs: len(of(fs, UserAudioRawFrame)) == 2)
        assert room.present == {"alice": "Alice", "dan": "Dan"}
        await room.fire("on_participant_left", participant("dan"), "leftCall")
        await room.fire("on_participant_left", participant("nobody"), "leftCall")  # never joined: ignored
        await settle(rec, lambda fs: len(of(fs, ParticipantLeftFrame)) == 1)
        assert room.present == {"alice": "Alice"}

    rec = run_async(run_room(room, script))
    joined = of(rec.frames, ParticipantJoinedFrame)
    left = of(rec.frames, ParticipantLeftFrame)
    assert [j.participant_id for j in joined] == ["alice", "dan"]
    assert joined[1].media_time_ms >= joined[0].media_time_ms + 30
    assert [(x.participant_id, x.reason) for x in left] == [("dan", "left")]
    assert left[0].media_time_ms >= joined[1].media_time_ms
    assert "dan" in fake.renderers and fake.subscribed.count("dan") == 1  # captured once


def test_chat_arrives_as_the_daily_app_message_frame_unchanged() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)
    chat = {
        "event": "chat-msg",
        "message": "hello room",
        "name": "Alice",
        "room": "main-room",
        "date": "2026-01-01T00:00:00.000Z",
    }

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 1)
        await room.fire("on_app_message", chat, "alice")
        await settle(rec, lambda fs: len(of(fs, DailyInputTransportMessageFrame)) == 1)

    rec = run_async(run_room(room, script))
    (msg,) = of(rec.frames, DailyInputTransportMessageFrame)
    assert msg.message == chat and msg.participant_id == "alice"
    assert media_time_of(msg) is not None


def test_transcription_is_started_and_allowed_for_present_and_later_participants() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake, transcription=True)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 1)
        await asyncio.to_thread(room.transport._client.on_transcription_started, {"instanceId": "tx-1"})
        await room.fire("on_participant_joined", participant("bob"))
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 2)
        await room.fire(
            "on_transcription_message",
            {
                "participantId": "bob",
                "text": "hi all",
                "timestamp": "2026-01-01T00:00:01Z",
                "rawResponse": {"is_final": True},
            },
        )
        await settle(rec, lambda fs: len(of(fs, TranscriptionFrame)) == 1)

    rec = run_async(run_room(room, script))
    assert fake.transcription_started
    assert fake.transcription_allow and fake.transcription_allow[-1] == ["alice", "bob"]
    (tx,) = of(rec.frames, TranscriptionFrame)
    assert tx.user_id == "bob" and tx.text == "hi all" and media_time_of(tx) is not None


def test_app_messages_go_out_through_the_joined_client() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await room.input().push_frame(
            DailyOutputTransportMessageUrgentFrame(message={"topic": "x"}, participant_id="alice")
        )
        deadline = time.monotonic() + 5
        # Why the noqa: the fake records from Daily's completion path, which may be another thread,
        # where an asyncio.Event cannot be set; polling a list is thread-safe.
        while not fake.sent and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    run_async(run_room(room, script))
    assert fake.sent == [({"topic": "x"}, "alice")]


def test_media_ticks_flow_while_the_room_runs() -> None:
    fake = FakeCallClient()
    room = FakeDailyRoom(fake)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, MediaTickFrame)) >= 3)

    rec = run_async(run_room(room, script))
    ticks = [t.media_time_ms for t in of(rec.frames, MediaTickFrame)]
    assert ticks == sorted(set(ticks)) and all(t % 100 == 0 and t > 0 for t in ticks)
    assert room.count_at_join == 0


def test_the_room_leaves_once_even_after_the_pipeline_released_its_share() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        assert fake.left == 0

    run_async(run_room(room, script))
    assert fake.left == 1 and fake.released == 1


def test_waiting_for_an_empty_room_ends_after_the_last_leave() -> None:
    fake = FakeCallClient([participant("alice")])
    room = FakeDailyRoom(fake)
    ended: list[float] = []

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        watcher = asyncio.create_task(room.wait_until_empty(0.2))
        await asyncio.sleep(0.3)
        assert not watcher.done()  # alice is still here
        t0 = time.monotonic()
        await room.fire("on_participant_left", participant("alice"), "leftCall")
        await asyncio.wait_for(watcher, 3)
        ended.append(time.monotonic() - t0)

    run_async(run_room(room, script))
    assert 0.15 <= ended[0] < 2


# --------------------------------------------------------------------------------------------
# the real DailyTransport against an unresolvable host (no network here but DNS says no)
# --------------------------------------------------------------------------------------------

UNRESOLVABLE = "https://nonexistent-prism-test.invalid/room"


def _nothing_on_stdout(capfd: pytest.CaptureFixture[str], secret: str) -> None:
    out, err = capfd.readouterr()
    assert out == ""
    assert secret not in err


def test_real_transport_unresolvable_host_fails_fast_with_the_lookup(capfd: pytest.CaptureFixture[str]) -> None:
    room = DailyRoom(UNRESOLVABLE + "?t=" + TOKEN)

    async def go() -> tuple[float, BaseException]:
        t0 = time.monotonic()
        try:
            await join_with_retries(room.join, attempts=2, base_delay_s=0.05)
        except JoinFailed as exc:
            return time.monotonic() - t0, exc
        finally:
            await room.close()
        raise AssertionError("joined an unresolvable host")

    elapsed, exc = run_async(go())
    assert elapsed < 15, elapsed  # daily-core alone takes ~19 s to report it
    assert "cannot resolve nonexistent-prism-test.invalid" in str(exc)
    assert TOKEN not in str(exc)
    _nothing_on_stdout(capfd, TOKEN)


@pytest.mark.slow
def test_real_transport_join_failure_is_detected_by_daily_itself(capfd: pytest.CaptureFixture[str]) -> None:
    """Without the lookup daily-core reports the failure itself, after ~19 s (measured: 19.0 s)."""
    room = DailyRoom(UNRESOLVABLE + "?t=" + TOKEN, dns_timeout_s=None, join_timeout_s=40)

    async def go() -> tuple[float, BaseException]:
        t0 = time.monotonic()
        try:
            await room.join(1)
        except DailyJoinError as exc:
            return time.monotonic() - t0, exc
        finally:
            await room.close()
        raise AssertionError("joined an unresolvable host")

    elapsed, exc = run_async(go())
    assert elapsed < 35, elapsed
    assert "failed to lookup address information" in str(exc) or "RoomLookup" in str(exc)
    assert TOKEN not in str(exc)
    _nothing_on_stdout(capfd, TOKEN)


def test_real_transport_join_timeout_bounds_a_slow_join() -> None:
    """A join daily-core has not answered yet is abandoned at join_timeout_s (its release runs off-loop)."""
    room = DailyRoom(UNRESOLVABLE, dns_timeout_s=None, join_timeout_s=1.0)

    async def go() -> tuple[float, BaseException]:
        t0 = time.monotonic()
        try:
            await room.join(1)
        except DailyJoinError as exc:
            return time.monotonic() - t0, exc
        finally:
            await room.close()
        raise AssertionError("joined an unresolvable host")

    elapsed, exc = run_async(go())
    assert elapsed < 15, elapsed  # 1 s bound; daily-core alone ~19 s
    assert "did not complete the join within 1s" in str(exc)


def test_real_transport_join_retries_stop_at_the_time_budget() -> None:
    room = DailyRoom(UNRESOLVABLE, dns_timeout_s=None, join_timeout_s=30)
    failed: list[tuple[Any, ...]] = []

    async def go() -> tuple[float, BaseException]:
        t0 = time.monotonic()
        try:
            await join_with_retries(
                room.join, attempts=3, budget_s=1.5, base_delay_s=0.05, on_failed=lambda *a: failed.append(a)
            )
        except JoinFailed as exc:
            return time.monotonic() - t0, exc
        finally:
            await room.close()
        raise AssertionError("joined an unresolvable host")

    elapsed, exc = run_async(go())
    assert elapsed < 15, elapsed  # budget 1.5 s; 3 × 30 s without it
    assert failed and failed[-1][2] is False  # the last report says no retry follows
    assert "budget" in str(exc) or "timed out" in str(exc)


class SendingCallClient(FakeCallClient):
    """send_app_message answers per message: ``ok``, an error string, or never (``hang``)."""

    def __init__(self, *args: Any, answers: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.answers = answers

    def send_app_message(self, message: Any, participant_id: str | None, completion: Any = None) -> None:
        self.sent.append((message, participant_id))
        answer = self.answers.get(message.get("topic"), "ok")
        if answer == "hang":
            return
        threading.Thread(target=completion, args=(None if answer == "ok" else answer,), daemon=True).start()


def test_each_app_message_send_ends_in_one_reported_outcome() -> None:
    fake = SendingCallClient([participant("alice")], answers={"bad": "ChannelNotOpen", "slow": "hang"})
    room = FakeDailyRoom(fake, app_message_timeout_s=0.3)
    outcomes: list[tuple[str, str | None]] = []
    finished: list[bool] = []
    room.report_app_messages_to(
        lambda outcome, topic, error: outcomes.append((outcome, topic)), lambda: finished.append(True)
    )

    async def send(topic: str) -> None:
        await room.input().push_frame(DailyOutputTransportMessageUrgentFrame(message={"topic": topic}))

    async def until(n: int) -> None:
        deadline = time.monotonic() + 5
        while len(outcomes) < n:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.01)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        for topic in ("ok", "bad", "slow"):
            await send(topic)
            await until(len(outcomes) + 1)
        # daily-core reports the signalling connection interrupted (Pipecat 1.14 would drop the
        # next message silently, as if sent)
        await room.fire("on_network_connection_status_updated", {"connection": "signalling", "event": "interrupted"})
        await asyncio.sleep(0.1)
        await send("during-interruption")
        await until(4)
        await room.fire("on_network_connection_status_updated", {"connection": "signalling", "event": "connected"})
        await asyncio.sleep(0.1)
        await send("after")
        await until(5)

    run_async(run_room(room, script))
    assert outcomes == [
        ("sent", "ok"),
        ("failed", "bad"),
        ("timed_out", "slow"),
        ("not_connected", "during-interruption"),
        ("sent", "after"),
    ]
    assert [m["topic"] for m, _ in fake.sent] == ["ok", "bad", "slow", "after"]  # nothing sent into the outage
    assert finished == [True]


def test_audio_chunks_reach_the_loop_in_order_without_blocking_daily_cores_thread() -> None:
    """Pipecat 1.14 blocks daily-core's thread until the loop has queued each 20 ms chunk; ours does not."""
    from pipecat.transports.daily.transport import DailyCallbacks, DailyParams, DailyTransportClient
    from pipecat.utils.asyncio.task_manager import TaskManager

    from bot.rooms.daily import install_nonblocking_audio_hop

    async def noop(*_args: Any) -> None:
        return None

    async def go() -> tuple[float, list[int]]:
        loop = asyncio.get_running_loop()
        callbacks = DailyCallbacks(**{name: noop for name in DailyCallbacks.model_fields})
        client = DailyTransportClient(URL, None, "bot", DailyParams(), callbacks, "t")
        client._task_manager = TaskManager(loop=loop)
        client._audio_queue = asyncio.Queue()
        client._audio_renderers = {"alice": {"microphone": noop}}
        install_nonblocking_audio_hop(client)

        def daily_core() -> None:
            for i in range(5):
                client._audio_data_received("alice", SimpleNamespace(index=i), "microphone")

        thread = threading.Thread(target=daily_core, daemon=True)
        thread.start()
        time.sleep(0.5)  # noqa: ASYNC251  # the loop is busy (blocked, on purpose) while daily-core delivers
        thread.join(0.5)
        blocked = thread.is_alive()  # still waiting for the loop (Pipecat's hop)
        while thread.is_alive():  # let the loop serve a blocked hop, so the test ends either way
            thread.join(0)
            await asyncio.sleep(0.05)
        await asyncio.sleep(0)
        queued = [client._audio_queue.get_nowait()[2].index for _ in range(client._audio_queue.qsize())]
        return blocked, queued

    blocked, queued = run_async(asyncio.wait_for(go(), 10))
    assert not blocked, "daily-core's thread waited for the busy loop"
    assert queued == [0, 1, 2, 3, 4]


# daily-core's answer to start_transcription without the rights (daily-python 0.36's daily.abi3.so)
NO_TRANSCRIPTION_RIGHTS = (
    "unable to start transcription (is transcription enabled? are you a room owner or transcription admin?)"
)


class NoTranscriptionCallClient(FakeCallClient):
    def start_transcription(self, settings: Any = None, completion: Any = None) -> None:
        completion(NO_TRANSCRIPTION_RIGHTS)


def test_a_token_without_transcription_rights_is_reported_not_silent() -> None:
    from loguru import logger

    fake = NoTranscriptionCallClient([participant("alice")])
    room = FakeDailyRoom(fake, transcription=True)
    lines: list[str] = []
    handler = logger.add(lambda m: lines.append(str(m)), level="WARNING", format="{message}")

    async def go() -> int:
        try:
            return await room.join(1)
        finally:
            await room.close()

    try:
        assert run_async(go()) == 1  # the join itself succeeds
    finally:
        logger.remove(handler)
    assert room.transcription_status == "failed" and "room owner or transcription admin" in (
        room.transcription_error or ""
    )
    said = [line for line in lines if "Daily transcription is off" in line]
    assert len(said) == 1 and "pacing and the facilitator get no words" in said[0]


def test_join_succeeded_says_whether_transcription_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.events import SessionContext, create_runtime
    from bot.session import join_room

    def published(client: FakeCallClient, transcription: bool) -> dict[str, Any]:
        monkeypatch.setattr(
            "bot.rooms.daily.DailyRoom", lambda *a, **k: FakeDailyRoom(client, transcription=transcription)
        )
        runtime = create_runtime(SessionContext(session_id="s", assistant_id="a", tenant_id="t", room_id="standup"))
        seen: list[dict[str, Any]] = []
        runtime.bus.subscribe("assistant.room.join.succeeded", seen.append)
        settings = SimpleNamespace(
            room_url=URL,
            token=None,
            bot_name="Prism",
            transcription=transcription,
            voice=False,
            join_attempts=1,
            join_budget_secs=10,
        )
        rooms: list[Any] = []

        async def go() -> None:
            try:
                await join_room.join_daily(settings, runtime.bus, lambda s: s, on_room=rooms.append)
            finally:
                await rooms[0].close()

        run_async(go())
        return seen[0]["payload"]

    assert published(NoTranscriptionCallClient(), True)["transcription"] == "failed"
    assert published(FakeCallClient(), True)["transcription"] == "on"
    assert published(FakeCallClient(), False)["transcription"] == "off"


def test_participants_who_left_are_no_longer_asked_to_be_transcribed() -> None:
    fake = FakeCallClient([participant("alice"), participant("bob")])
    room = FakeDailyRoom(fake, transcription=True)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 2)
        await asyncio.to_thread(room.transport._client.on_transcription_started, {"instanceId": "tx-1"})
        await room.fire("on_participant_left", participant("alice"), "leftCall")
        await settle(rec, lambda fs: len(of(fs, ParticipantLeftFrame)) == 1)
        await room.fire("on_participant_joined", participant("carol"))
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 3)

    run_async(run_room(room, script))
    assert fake.transcription_allow[-1] == ["bob", "carol"]
    assert all("alice" not in allowed for allowed in fake.transcription_allow[-2:])


class RejoinableCallClient(FakeCallClient):
    """Joins more than once, as daily-python's CallClient can after a call that dropped."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.joins = 0

    def join(self, url: str, token: str | None, completion: Any = None, client_settings: Any = None) -> None:
        self.joins += 1
        super().join(url, token, completion, client_settings)


def test_after_a_network_drop_the_room_rejoins_the_same_call_and_reconciles_who_is_there() -> None:
    fake = RejoinableCallClient([participant("alice"), participant("bob")])
    room = FakeDailyRoom(fake, transcription=True)

    async def script(room: FakeDailyRoom, rec: Recorder) -> None:
        await settle(rec, lambda fs: len(of(fs, ParticipantJoinedFrame)) == 2)
        await asyncio.to_thread(room.transport._client.on_transcription_started, {"instanceId": "tx-1"})
        await room.fire("on_error", "signalling connection lost: websocket closed")
        await room.fire("on_call_state_updated", "left")
        await asyncio.wait_for(room.disconnected.wait(), 5)
        assert room.drop is not None and room.drop.retryable and room.drop.kind == "network"
        # during the outage bob left and carol came
        del fake.present["bob"]
        fake.present["carol"] = participant("carol")
        fake.renderers.clear()
        assert await room.rejoin(1) == 2
        assert room.drop is None and not room.disconnected.is_set()
        await settle(
            rec, lambda fs: len(of(fs, ParticipantLeftFrame)) == 1 and len(of(fs, ParticipantJoinedFrame)) == 3
        )
        assert set(fake.renderers) == {"alice", "carol"}  # audio captured again
        await room.audio("alice", 2)
        await settle(rec, lambda fs: len(of(fs, UserAudioRawFrame)) == 2)
        await room.input().push_frame(DailyOutputTransportMessageUrgentFrame(message={"topic": "after"}))
        deadline = time.monotonic() + 5
        while not fake.sent:
            if time.monotonic() > deadline:
                return
            await asyncio.sleep(0.01)

    rec = run_async(run_room(room, script))
    assert fake.joins == 2
    (left,) = of(rec.frames, ParticipantLeftFrame)
    assert left.participant_id == "bob"
    assert [j.participant_id for j in of(rec.frames, ParticipantJoinedFrame)][-1] == "carol"
    assert [m["topic"] for m, _ in fake.sent] == ["after"]
    assert sorted(fake.transcription_allow[-1]) == ["alice", "carol"]


def test_a_rejoin_refused_by_daily_is_classified_like_a_join() -> None:
    fake = RejoinableCallClient([participant("alice")])
    room = FakeDailyRoom(fake)

    async def go() -> DailyJoinError:
        try:
            await room.join(1)
            fake.join_error = "exp-room"
            with pytest.raises(DailyJoinError) as info:
                await room.rejoin(1)
            return info.value
        finally:
            await room.close()

    error = run_async(go())
    assert not error.retryable and error.kind == "room_expired"


def test_real_call_client_takes_the_rooms_hooks_and_an_abandoned_one_leaves_and_releases() -> None:
    """daily-python's real CallClient, never joined: the room's hooks sit on Pipecat's client (an
    instance daily-core calls back), and leave-then-release of an abandoned one returns at once."""
    from bot.rooms.daily import _drop, _leave_and_release

    room = DailyRoom(URL)
    transport = room._new_transport()
    client = transport._client
    assert type(client._client).__module__ == "daily" and type(client._client).__name__ == "CallClient"
    assert client.on_error.__qualname__.startswith("_forward_daily_errors")
    assert client._call_audio_callback.__qualname__.startswith("install_nonblocking_audio_hop")
    client._event_queue = None  # (setup() would have made the queues)
    client._call_async_callback = _drop  # as _abandon does: daily-core's late events go nowhere
    call_client, client._client = client._client, None
    t0 = time.monotonic()
    _leave_and_release(call_client, leave_timeout_s=5)
    assert time.monotonic() - t0 < 2
