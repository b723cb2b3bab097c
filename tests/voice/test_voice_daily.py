"""The voice on the Daily output path: Pipecat's real DailyTransport (daily-python's CallClient faked,
as in tests/rooms/test_daily_room.py), the real OpenAI TTS service against the local TTS server.

What daily-python's microphone track would receive is recorded at ``write_audio_frame`` (the
one call the transport makes per 40 ms chunk), paced like a device.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pipecat.frames.frames import OutputAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.workers.runner import WorkerRunner

from bot.core.frames import EnvelopeFrame, SpeechOnsetFrame
from bot.generated import RoomWrapupPrompt
from bot.policy import default_policy
from bot.processors.media_clock import MediaClockStamper
from bot.processors.voice import build_voice
from bot.voice.director import VoiceDirector, VoiceParams
from bot.voice.tts import build_tts
from tests.pipeline_harness import run_async
from tests.rooms.test_daily_room import FakeCallClient, FakeDailyRoom, Recorder, participant
from tests.voice.tts_server import LocalTTSServer


async def speak_then_barge_in(room: FakeDailyRoom, base_url: str) -> tuple[list[int], VoiceDirector, float]:
    await room.join(1)
    client = room.transport._client
    written: list[int] = []
    stopped_writing_at: list[float] = []

    async def device(frame: OutputAudioRawFrame) -> bool:  # daily-python's track, paced in real time
        written.append(len(frame.audio))
        stopped_writing_at[:] = [time.monotonic()]
        await asyncio.sleep(len(frame.audio) / 2 / frame.sample_rate)
        return True

    client.write_audio_frame = device  # type: ignore[method-assign]
    loaded = default_policy()
    director = VoiceDirector(loaded, VoiceParams.from_policy(loaded, gap_ms=300, min_gap_ms=0, max_share=1.0))
    tts = build_tts("openai", base_url=base_url, api_key="sk-test", timeout_secs=5)
    recorder = Recorder()
    worker = PipelineWorker(
        Pipeline(
            [
                room.input(),
                MediaClockStamper(clock=room.clock.now_ms),
                recorder,
                *build_voice(director, tts),
                room.output(),
            ]
        ),
        params=PipelineParams(audio_in_sample_rate=16000),
        enable_rtvi=False,
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    cut_at = 0.0
    try:
        await asyncio.wait_for(recorder.started.wait(), 10)
        await asyncio.sleep(0.5)
        await worker.queue_frame(
            EnvelopeFrame(
                payload=RoomWrapupPrompt(remaining_ms=120_000, message="m"), media_time_ms=room.clock.now_ms()
            )
        )
        deadline = time.monotonic() + 10
        while sum(written) < 24_000 * 2 * 0.6 and time.monotonic() < deadline:  # noqa: ASYNC110 (600 ms out)
            await asyncio.sleep(0.02)
        now = room.clock.now_ms()
        cut_at = time.monotonic()
        await worker.queue_frame(SpeechOnsetFrame(participant_id="alice", media_time_ms=now - 40, decided_at_ms=now))
        await asyncio.sleep(1.0)
        assert await room.end("completed")
        await asyncio.wait_for(running, 10)
    finally:
        if not running.done():
            await worker.cancel()
            await running
        await room.close()
    return written, director, (stopped_writing_at[0] - cut_at) if stopped_writing_at else -1.0


@pytest.mark.slow
def test_the_voice_goes_out_on_dailys_microphone_and_a_barge_in_flushes_it() -> None:
    fake = FakeCallClient([participant("alice")])
    room: Any = FakeDailyRoom(fake, voice=True)
    assert room.params.audio_out_enabled and room.params.microphone_out_enabled
    with LocalTTSServer(lifetime_secs=60) as server:
        written, director, tail = run_async(speak_then_barge_in(room, server.base_url), timeout=40)
    assert server.requests and server.requests[0]["response_format"] == "pcm"
    assert written, "no audio reached the Daily transport"
    utterance_bytes = director.stats["spoken"] and sum(written)
    assert director.stats["spoken"] == 1 and director.stats["barge_ins"] == 1
    # the whole sentence is ~3 s; only what played before the barge-in (plus what the device had) went out
    assert utterance_bytes < 24_000 * 2 * 1.6
    # the transport's queue is flushed: at most the 40 ms chunk already on its way starts after the
    # cut (without the flush, the ~100 ms the voice sends ahead kept going out: 65-80 ms measured)
    assert tail < 0.045, f"audio kept going out {tail:.3f}s after the barge-in"


def test_without_the_voice_the_bot_publishes_no_audio_track() -> None:
    room = FakeDailyRoom(FakeCallClient())
    assert not room.params.audio_out_enabled and not room.params.microphone_out_enabled
