"""SimulatedRoom played through a real Pipecat pipeline: what arrives, when, and how it ends."""

from __future__ import annotations

import asyncio
import json
import sys
import wave
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from pipecat.frames.frames import (  # noqa: E402
    DataFrame,
    EndFrame,
    EndWorkerFrame,
    Frame,
    OutputTransportMessageUrgentFrame,
    StartFrame,
    SystemFrame,
    TranscriptionFrame,
    UserAudioRawFrame,
)
from pipecat.pipeline.pipeline import Pipeline  # noqa: E402
from pipecat.pipeline.worker import PipelineParams, PipelineWorker  # noqa: E402
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor  # noqa: E402
from pipecat.transports.daily.transport import (  # noqa: E402
    DailyInputTransportMessageFrame,
    DailyOutputTransportMessageFrame,
    DailyOutputTransportMessageUrgentFrame,
)
from pipecat.workers.runner import WorkerRunner  # noqa: E402

from bot.core.errors import ConfigError  # noqa: E402
from bot.core.frames import (  # noqa: E402
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    RoomAudioFrame,
    RoomEndedFrame,
)
from bot.core.media import media_time_of  # noqa: E402
from bot.rooms.scenario import load_scenario  # noqa: E402
from bot.rooms.simulated import ScenarioPlayer, SimulatedRoom, media_iso  # noqa: E402
from tests.pipeline_harness import run_async  # noqa: E402

# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------


def write_wav(path: Path, seconds: float, *, rate: int = 16000, freq: float = 300.0) -> None:
    """A sine burst: not speech, just plumbing."""
    t = np.arange(int(seconds * rate)) / rate
    samples = np.round(0.5 * 32767 * np.sin(2 * np.pi * freq * t)).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())


def write_room(directory: Path, doc: dict[str, Any]) -> Path:
    path = directory / "room.json"
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    """Alice all along with one 1 s utterance; Bob joins late, chats, makes noise, messages, leaves."""
    write_wav(tmp_path / "a.wav", 1.0)
    return write_room(
        tmp_path,
        {
            "participants": [{"id": "p-alice", "name": "Alice"}, {"id": "p-bob", "name": "Bob"}],
            "durationMs": 2000,
            "events": [
                {"atMs": 0, "type": "join", "participant": "p-alice"},
                {"atMs": 200, "type": "join", "participant": "p-bob"},
                {"atMs": 100, "type": "speech", "participant": "p-alice", "audio": "a.wav", "text": "hello there"},
                {"atMs": 500, "type": "chat", "participant": "p-bob", "text": "link to the doc?"},
                {"atMs": 600, "type": "noise", "participant": "p-bob", "durationMs": 200, "kind": "pink"},
                {"atMs": 700, "type": "app_message", "participant": "p-bob", "message": {"not": "an envelope"}},
                {"atMs": 1400, "type": "leave", "participant": "p-bob"},
            ],
        },
    )


@pytest.fixture
def short(tmp_path: Path) -> Path:
    """~1.5 s with overlap, chat and a transcript: cheap enough to play in real time."""
    write_wav(tmp_path / "a.wav", 0.6)
    write_wav(tmp_path / "b.wav", 0.4, freq=500)
    return write_room(
        tmp_path,
        {
            "participants": [{"id": "a", "name": "A"}, {"id": "b", "name": "B"}],
            "durationMs": 1500,
            "events": [
                {"atMs": 0, "type": "join", "participant": "a"},
                {"atMs": 0, "type": "join", "participant": "b"},
                {"atMs": 100, "type": "speech", "participant": "a", "audio": "a.wav", "text": "one"},
                {"atMs": 500, "type": "speech", "participant": "b", "audio": "b.wav", "text": "two"},
                {"atMs": 900, "type": "chat", "participant": "a", "text": "hi"},
                {"atMs": 1000, "type": "noise", "participant": "b", "durationMs": 200, "kind": "white"},
                {"atMs": 1300, "type": "leave", "participant": "b"},
            ],
        },
    )


class Recorder(FrameProcessor):
    """Forwards everything; keeps what passes downstream (but the StartFrame, whose repr warns)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.frames: list[Frame] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction == FrameDirection.DOWNSTREAM and not isinstance(frame, StartFrame):
            self.frames.append(frame)
        await self.push_frame(frame, direction)


async def play(
    room: SimulatedRoom, *processors: FrameProcessor, during: Any = None
) -> tuple[list[Frame], WorkerRunner]:
    """Run ``room.input() → processors → Recorder → room.output()`` to the end."""
    recorder = Recorder()
    worker = PipelineWorker(
        Pipeline([room.input(), *processors, recorder, room.output()]),
        params=PipelineParams(audio_in_sample_rate=room.sample_rate),
        enable_rtvi=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    if during is None:
        await asyncio.wait_for(runner.run(), timeout=30)
    else:
        await asyncio.wait_for(asyncio.gather(runner.run(), during(worker)), timeout=30)
    return recorder.frames, runner


def run(coro: Any) -> Any:
    return run_async(coro)


def flat(frames: list[Frame]) -> list[Frame]:
    """The frames with each ``RoomAudioFrame`` replaced by the participant chunks it carries."""
    out: list[Frame] = []
    for f in frames:
        out.extend(f.frames if isinstance(f, RoomAudioFrame) else [f])
    return out


def of(frames: list[Frame], kind: type) -> list[Any]:
    return [f for f in flat(frames) if isinstance(f, kind)]


def audio_of(frames: list[Frame], user_id: str) -> list[UserAudioRawFrame]:
    return [f for f in of(frames, UserAudioRawFrame) if f.user_id == user_id]


# --------------------------------------------------------------------------------------------
# what the pipeline receives
# --------------------------------------------------------------------------------------------


def test_each_joined_participant_gets_one_20ms_frame_per_step(tiny: Path) -> None:
    room = SimulatedRoom(tiny, speed=0)
    frames, _ = run(play(room))

    alice, bob = audio_of(frames, "p-alice"), audio_of(frames, "p-bob")
    assert len(alice) == 2000 // 20  # joined for the whole room
    assert len(bob) == (1400 - 200) // 20  # from join to leave
    for f in alice + bob:
        assert (f.sample_rate, f.num_channels, f.num_frames, len(f.audio)) == (16000, 1, 320, 640)
        assert f.transport_source == "microphone"
    assert [media_time_of(f) for f in alice] == list(range(0, 2000, 20))
    assert [media_time_of(f) for f in bob] == list(range(200, 1400, 20))
    assert room.stats.audio_frames_pushed == len(alice) + len(bob)


def test_audio_is_silent_except_during_speech_and_noise(tiny: Path) -> None:
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))

    def loud(f: UserAudioRawFrame) -> bool:
        return bool(np.any(np.frombuffer(f.audio, dtype="<i2")))

    alice_loud = [media_time_of(f) for f in audio_of(frames, "p-alice") if loud(f)]
    bob_loud = [media_time_of(f) for f in audio_of(frames, "p-bob") if loud(f)]
    assert alice_loud == list(range(100, 1100, 20))
    assert bob_loud == list(range(600, 800, 20))


def test_speech_frames_carry_the_clip_samples(tiny: Path) -> None:
    scenario = load_scenario(tiny)
    clip = scenario.speech_by_participant()["p-alice"][0].samples
    frames, _ = run(play(SimulatedRoom(scenario, speed=0)))
    played = b"".join(f.audio for f in audio_of(frames, "p-alice") if 100 <= media_time_of(f) < 1100)
    assert played == clip.astype("<i2").tobytes()


def test_transcript_arrives_when_the_utterance_ends(tiny: Path) -> None:
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))

    (transcript,) = of(frames, TranscriptionFrame)
    assert (transcript.text, transcript.user_id, transcript.finalized) == ("hello there", "p-alice", True)
    assert media_time_of(transcript) == 1100
    assert transcript.timestamp == media_iso(1100) == "2026-01-01T00:00:01.100Z"
    last_alice_audio = max(
        i
        for i, f in enumerate(flat(frames))
        if isinstance(f, UserAudioRawFrame) and f.user_id == "p-alice" and media_time_of(f) == 1080
    )
    assert flat(frames).index(transcript) > last_alice_audio


def test_chat_arrives_like_daily_prebuilt_chat(tiny: Path) -> None:
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))

    chat, raw = of(frames, DailyInputTransportMessageFrame)
    assert chat.participant_id == "p-bob"
    assert chat.message == {
        "event": "chat-msg",
        "message": "link to the doc?",
        "name": "Bob",
        "room": "main-room",
        "date": "2026-01-01T00:00:00.500Z",
    }
    assert media_time_of(chat) == 500
    assert raw.message == {"not": "an envelope"} and raw.participant_id == "p-bob"
    assert media_time_of(raw) == 700


def test_joins_and_leaves_arrive_with_display_names_before_and_after_audio(tiny: Path) -> None:
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))

    joins = of(frames, ParticipantJoinedFrame)
    assert [(j.participant_id, j.display_name, j.media_time_ms) for j in joins] == [
        ("p-alice", "Alice", 0),
        ("p-bob", "Bob", 200),
    ]
    (left,) = of(frames, ParticipantLeftFrame)
    assert (left.participant_id, left.media_time_ms, media_time_of(left)) == ("p-bob", 1400, 1400)
    frames = flat(frames)
    bob_audio = [i for i, f in enumerate(frames) if isinstance(f, UserAudioRawFrame) and f.user_id == "p-bob"]
    assert frames.index(joins[1]) < bob_audio[0] and frames.index(left) > bob_audio[-1]


def test_media_ticks_every_100ms(tiny: Path) -> None:
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))
    ticks = of(frames, MediaTickFrame)
    assert [t.media_time_ms for t in ticks] == list(range(100, 2001, 100))
    assert all(media_time_of(t) == t.media_time_ms for t in ticks)


def test_every_pushed_frame_is_stamped_and_time_never_goes_back(tiny: Path) -> None:
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))
    pushed = [f for f in frames if not isinstance(f, (StartFrame, EndFrame))]
    times = [media_time_of(f) for f in pushed]
    assert None not in times
    system_times = [media_time_of(f) for f in pushed if isinstance(f, SystemFrame)]
    assert system_times == sorted(system_times)


def test_room_ends_with_room_ended_then_a_clean_end(tiny: Path) -> None:
    room = SimulatedRoom(tiny, speed=0)
    frames, runner = run(play(room))

    (ended,) = of(frames, RoomEndedFrame)
    assert (ended.media_time_ms, ended.reason) == (2000, "completed")
    tail = [type(f) for f in frames[frames.index(ended) :]]
    assert tail[0] is RoomEndedFrame and tail[-1] is EndFrame and EndWorkerFrame in tail
    assert not any(isinstance(f, (UserAudioRawFrame, RoomAudioFrame)) for f in frames[frames.index(ended) :])
    assert runner.task_manager.current_tasks() == []
    assert room.stats.completed and room.media_ms_played == 2000
    assert room.frames_pushed == len(frames) - 1  # all but the EndFrame came from the player
    assert room.wall_seconds > 0


def test_8khz_room_sends_160_sample_frames(tiny: Path) -> None:
    doc = json.loads(tiny.read_text())
    doc["sampleRate"] = 8000
    tiny.write_text(json.dumps(doc))
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))
    alice = audio_of(frames, "p-alice")
    assert len(alice) == 100 and {(f.sample_rate, f.num_frames) for f in alice} == {(8000, 160)}


# --------------------------------------------------------------------------------------------
# speed
# --------------------------------------------------------------------------------------------


def _signature(frames: list[Frame]) -> list[tuple[str, str | None, int | None]]:
    return [
        (type(f).__name__, getattr(f, "user_id", None) or getattr(f, "participant_id", None), media_time_of(f))
        for f in frames
    ]


def test_results_are_identical_at_speed_0_and_real_time(short: Path) -> None:
    fast_room, slow_room = SimulatedRoom(short, speed=0), SimulatedRoom(short, speed=1.0)
    fast, _ = run(play(fast_room))
    slow, _ = run(play(slow_room))

    # Each processor keeps system frames in order and data frames in order; a data frame (the
    # transcript) may overtake or trail system frames depending on timing, so compare both
    # subsequences exactly and the whole as a multiset.
    for kind in (SystemFrame, DataFrame):
        assert _signature([f for f in fast if isinstance(f, kind)]) == _signature(
            [f for f in slow if isinstance(f, kind)]
        )
    assert Counter(_signature(fast)) == Counter(_signature(slow))
    assert [f.audio for f in of(fast, UserAudioRawFrame)] == [f.audio for f in of(slow, UserAudioRawFrame)]
    assert slow_room.wall_seconds >= 1.45  # the media clock followed the wall clock
    assert fast_room.wall_seconds < slow_room.wall_seconds


@pytest.mark.parametrize("audio_frames", ["room", "participant"])
def test_every_audio_path_delivers_what_pipecats_audio_path_delivers(short: Path, audio_frames: Any) -> None:
    direct, _ = run(play(SimulatedRoom(short, speed=0, audio_frames=audio_frames)))
    through_pipecat, _ = run(play(SimulatedRoom(short, speed=0, audio_frames="pipecat")))
    assert not of(through_pipecat, RoomAudioFrame)
    for kind in (SystemFrame, DataFrame):
        assert _signature([f for f in flat(direct) if isinstance(f, kind)]) == _signature(
            [f for f in flat(through_pipecat) if isinstance(f, kind)]
        )
    assert [f.audio for f in of(direct, UserAudioRawFrame)] == [f.audio for f in of(through_pipecat, UserAudioRawFrame)]


def test_a_step_s_audio_is_one_room_audio_frame_in_participant_order(tiny: Path) -> None:
    room = SimulatedRoom(tiny, speed=0)
    frames, _ = run(play(room))
    steps = [f for f in frames if isinstance(f, RoomAudioFrame)]
    assert [media_time_of(f) for f in steps] == [f.media_time_ms for f in steps] == list(range(0, 2000, 20))
    for step in steps:
        ids = [c.user_id for c in step.frames]
        expected = ["p-alice", "p-bob"] if 200 <= step.media_time_ms < 1400 else ["p-alice"]
        assert ids == expected  # bob from his join's step to the step before his leave
        assert {media_time_of(c) for c in step.frames} == {step.media_time_ms}
        assert str(step) == step.name  # cheap: Pipecat formats every pushed frame
    assert room.stats.audio_frames_pushed == 100 + 60  # chunks: alice all along, bob for 1.2 s
    assert len(flat(frames)) == len(frames) - len(steps) + 160
    assert room.frames_pushed == len(frames) - 1  # one frame per step for the audio (and the EndFrame)


def test_joins_and_leaves_mid_step_keep_their_place_around_the_step_s_audio(tiny: Path) -> None:
    doc = json.loads(tiny.read_text())
    doc["events"] += [
        {"atMs": 510, "type": "join", "participant": "p-carol"},
        {"atMs": 530, "type": "speech", "participant": "p-carol", "audio": "a.wav"},
        {"atMs": 1550, "type": "leave", "participant": "p-carol"},
    ]
    doc["participants"].append({"id": "p-carol", "name": "Carol"})
    tiny.write_text(json.dumps(doc))
    frames, _ = run(play(SimulatedRoom(tiny, speed=0)))
    per_participant, _ = run(play(SimulatedRoom(tiny, speed=0, audio_frames="participant")))
    assert _signature(flat(frames)) == _signature(per_participant)
    order = [(type(f).__name__, getattr(f, "participant_id", None)) for f in frames if media_time_of(f) == 500]
    assert ("ParticipantJoinedFrame", "p-carol") in order
    assert order.index(("ParticipantJoinedFrame", "p-carol")) < order.index(("RoomAudioFrame", None))
    step = next(f for f in frames if isinstance(f, RoomAudioFrame) and f.media_time_ms == 500)
    assert [c.user_id for c in step.frames] == ["p-alice", "p-bob", "p-carol"]  # joined at 510: audio from 500
    step = next(f for f in frames if isinstance(f, RoomAudioFrame) and f.media_time_ms == 1540)
    assert "p-carol" in [c.user_id for c in step.frames]
    step = next(f for f in frames if isinstance(f, RoomAudioFrame) and f.media_time_ms == 1560)
    assert "p-carol" not in [c.user_id for c in step.frames]  # left at 1550: gone from the 1560 step
    (left,) = [f for f in frames if isinstance(f, ParticipantLeftFrame) and f.participant_id == "p-carol"]
    assert frames.index(left) < frames.index(step)  # the leave (due at 1560) comes before that step's audio


def test_an_unknown_audio_path_is_a_config_error(short: Path) -> None:
    with pytest.raises(ConfigError, match="audio_frames must be one of room, participant, pipecat"):
        SimulatedRoom(short, speed=0, audio_frames="batched")  # type: ignore[arg-type]


def test_speed_4_plays_four_times_faster(short: Path) -> None:
    room = SimulatedRoom(short, speed=4.0)
    run(play(room))
    assert 1.5 / 4 * 0.95 <= room.wall_seconds < 1.5 / 4 + 0.3


@pytest.mark.parametrize("speed", [-1, float("nan"), float("inf")], ids=["negative", "nan", "inf"])
def test_bad_speed_is_a_config_error(short: Path, speed: float) -> None:
    with pytest.raises(ConfigError, match="speed"):
        SimulatedRoom(short, speed=speed)


# --------------------------------------------------------------------------------------------
# ending early
# --------------------------------------------------------------------------------------------


@pytest.fixture
def long_room(tmp_path: Path) -> Path:
    return write_room(
        tmp_path,
        {"durationMs": 60000, "events": [{"atMs": 0, "type": "join", "participant": "p"}]},
    )


def test_cancel_stops_playback_with_no_dangling_tasks(long_room: Path) -> None:
    room = SimulatedRoom(long_room, speed=1.0)

    async def cancel_soon(worker: PipelineWorker) -> None:
        await asyncio.sleep(0.3)
        await worker.cancel(reason="test")

    frames, runner = run(play(room, during=cancel_soon))
    assert not room.stats.completed and not of(frames, RoomEndedFrame)
    assert 0 < room.media_ms_played < 2000
    assert runner.task_manager.current_tasks() == []


def test_end_frame_from_outside_ends_playback_gracefully(long_room: Path) -> None:
    room = SimulatedRoom(long_room, speed=1.0)

    async def end_soon(worker: PipelineWorker) -> None:
        await asyncio.sleep(0.3)
        await worker.queue_frame(EndFrame(reason="host says bye"))

    frames, runner = run(play(room, during=end_soon))
    assert isinstance(frames[-1], EndFrame) and not room.stats.completed
    assert runner.task_manager.current_tasks() == []


# --------------------------------------------------------------------------------------------
# backpressure
# --------------------------------------------------------------------------------------------


class SlowAudio(FrameProcessor):
    """Takes 1 ms per audio frame and records how far ahead the player is when it does."""

    def __init__(self, room: SimulatedRoom) -> None:
        super().__init__()
        self.room = room
        self.max_lead_ms = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, (UserAudioRawFrame, RoomAudioFrame)):
            await asyncio.sleep(0.001)
            self.max_lead_ms = max(self.max_lead_ms, self.room.media_ms_played - media_time_of(frame))
        await self.push_frame(frame, direction)


def test_fast_playback_waits_for_a_slow_pipeline(short: Path) -> None:
    room = SimulatedRoom(short, speed=0, max_lead_ms=200)
    slow = SlowAudio(room)
    run(play(room, slow))
    assert room.stats.completed
    assert slow.max_lead_ms <= 200 + 3 * 20


class SwallowStamped(FrameProcessor):
    """Consumes everything but the pipeline's own control frames: the output never sees media time."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if media_time_of(frame) is None or isinstance(frame, EndWorkerFrame):
            await self.push_frame(frame, direction)


def test_backpressure_gives_up_when_nothing_stamped_reaches_the_output(short: Path) -> None:
    room = SimulatedRoom(short, speed=0, max_lead_ms=100, stall_secs=0.05)
    run(play(room, SwallowStamped()))
    assert room.stats.completed


# --------------------------------------------------------------------------------------------
# outbound app messages
# --------------------------------------------------------------------------------------------


class Greeter(FrameProcessor):
    """Says hello to each joiner (urgent, to them), and goodbye to everyone at the end."""

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        await self.push_frame(frame, direction)
        if isinstance(frame, ParticipantJoinedFrame):
            out = DailyOutputTransportMessageUrgentFrame(
                message={"hello": frame.display_name}, participant_id=frame.participant_id
            )
            out.metadata.update(frame.metadata)  # carry the media time, like the sink does
            await self.push_frame(out)
        elif isinstance(frame, TranscriptionFrame):
            await self.push_frame(DailyOutputTransportMessageFrame(message={"heard": frame.text}))
        elif isinstance(frame, RoomEndedFrame):
            await self.push_frame(OutputTransportMessageUrgentFrame(message={"bye": "all"}))


def test_outbound_app_messages_are_captured_with_recipient(tiny: Path) -> None:
    room = SimulatedRoom(tiny, speed=0)
    run(play(room, Greeter()))

    got = {json.dumps(m["message"]): m for m in room.sent_messages}
    assert len(room.sent_messages) == 4
    assert (got['{"hello": "Alice"}']["recipient"], got['{"hello": "Alice"}']["media_time_ms"]) == ("p-alice", 0)
    assert (got['{"hello": "Bob"}']["recipient"], got['{"hello": "Bob"}']["media_time_ms"]) == ("p-bob", 200)
    assert got['{"heard": "hello there"}']["recipient"] is None
    assert got['{"bye": "all"}']["recipient"] is None
    assert got['{"bye": "all"}']["media_time_ms"] <= 2000


def test_verbose_echoes_messages_to_stderr_only(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    room = SimulatedRoom(tiny, speed=0, verbose=True)
    run(play(room, Greeter()))

    out, err = capsys.readouterr()
    assert out == ""
    lines = [line for line in err.splitlines() if line.startswith("[room")]
    assert len(lines) == 4
    assert any("→ p-alice]" in line and '{"hello":"Alice"}' in line for line in lines)
    assert any("→ *]" in line and '{"bye":"all"}' in line for line in lines)


def test_quiet_room_prints_nothing(tiny: Path, capsys: pytest.CaptureFixture[str]) -> None:
    room = SimulatedRoom(tiny, speed=0)
    run(play(room, Greeter()))
    out, err = capsys.readouterr()
    assert out == "" and "[room" not in err


# --------------------------------------------------------------------------------------------
# browser envelopes (the inbound path)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def envelope_room(tmp_path: Path) -> Path:
    return write_room(
        tmp_path,
        {
            "durationMs": 600,
            "events": [
                {"atMs": 0, "type": "join", "participant": "p-bob"},
                {"atMs": 0, "type": "join", "participant": "p-eve"},
                {
                    "atMs": 100,
                    "type": "app_message",
                    "participant": "p-bob",
                    "envelope": {"topic": "room.vote.cast", "payload": {"choice": "yes"}},
                },
                {
                    "atMs": 200,
                    "type": "app_message",
                    "participant": "p-eve",
                    "envelope": {"topic": "room.vote.cast", "payload": {"choice": "no"}},
                },
                {
                    "atMs": 300,
                    "type": "app_message",
                    "participant": "p-bob",
                    "envelope": {"topic": "room.vote.cast", "payload": {"choice": "no"}},
                },
            ],
        },
    )


def test_envelope_form_is_wrapped_like_a_browser_would(envelope_room: Path) -> None:
    import uuid_utils

    player = ScenarioPlayer(load_scenario(envelope_room), version="9.9.9")
    messages = [
        (f.participant_id, f.message)
        for _, frames in player.steps()
        for f in frames
        if isinstance(f, DailyInputTransportMessageFrame)
    ]
    assert [(pid, m["meta"]["seq"]) for pid, m in messages] == [("p-bob", 1), ("p-eve", 1), ("p-bob", 2)]
    _, env = messages[0]
    assert set(env) == {"id", "ts", "topic", "specVersion", "runtime", "sessionId", "payload", "meta"}
    assert (env["topic"], env["payload"], env["specVersion"]) == ("room.vote.cast", {"choice": "yes"}, "9.9.9")
    assert (env["runtime"], env["sessionId"]) == ("browser", "browser-p-bob")
    uid = uuid_utils.UUID(env["id"])
    assert uid.version == 7 and env["ts"] == uid.timestamp


def test_envelope_form_uses_the_generated_spec_version(envelope_room: Path) -> None:
    try:
        from bot.generated import SPEC_VERSION
    except ImportError:
        pytest.skip("bot.generated is not generated yet (python -m codegen)")
    frames, _ = run(play(SimulatedRoom(envelope_room, speed=0)))
    envelopes = [f.message for f in of(frames, DailyInputTransportMessageFrame)]
    assert len(envelopes) == 3 and {e["specVersion"] for e in envelopes} == {str(SPEC_VERSION)}
