"""The idle timeout (bot/session/idle.py): an idle room ends with reason ``idle_timeout``, activity
keeps a room alive, and the worker carries no per-frame observer for it (Pipecat's own idle
timeout put every frame at every processor through an observer's queue)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
from pipecat.frames.frames import Frame, InputTransportMessageFrame, TranscriptionFrame

from bot.config.settings import Settings
from bot.core.frames import ChatMessageFrame, InboundEnvelopeFrame, MediaTickFrame, SpeakingStateFrame
from bot.events import EventBus, InboundValidator
from bot.pipelines.room import IDLE_FRAMES
from bot.processors.inbound import InboundMessages
from bot.session.idle import IdleWatch
from bot.session.lifecycle import run_session_async
from bot.session.startup import begin
from tests.events.test_inbound import browser_envelope
from tests.pipeline_harness import run_pipeline

# ---- IdleWatch


def test_the_watch_fires_once_after_the_timeout_without_activity() -> None:
    fired: list[float] = []

    async def go() -> float:
        watch = IdleWatch(0.2, on_idle=lambda: _record(fired))
        t0 = time.monotonic()
        await asyncio.wait_for(watch.run(), 5)
        assert watch.fired
        return time.monotonic() - t0

    took = asyncio.run(go())
    assert len(fired) == 1
    assert took >= 0.2


def test_activity_keeps_the_watch_from_firing_and_it_fires_a_timeout_after_the_last_activity() -> None:
    fired: list[float] = []

    async def go() -> tuple[float, float]:
        watch = IdleWatch(0.3, on_idle=lambda: _record(fired))
        task = asyncio.create_task(watch.run())
        t0 = time.monotonic()
        while time.monotonic() - t0 < 1.0:  # activity every 50 ms for 1 s: more than 3 timeouts
            watch.touch()
            await asyncio.sleep(0.05)
        assert not fired and not task.done()
        last = time.monotonic()
        watch.touch()
        await asyncio.wait_for(task, 5)
        return last, fired[0]

    last, at = asyncio.run(go())
    assert at - last >= 0.3


def test_a_cancelled_watch_never_fires() -> None:
    fired: list[float] = []

    async def go() -> None:
        task = asyncio.create_task(IdleWatch(0.1, on_idle=lambda: _record(fired)).run())
        await asyncio.sleep(0.02)
        task.cancel()
        await asyncio.sleep(0.2)

    asyncio.run(asyncio.wait_for(go(), 5))
    assert fired == []


@pytest.mark.parametrize("timeout", [0.0, -1.0])
def test_a_watch_needs_a_positive_timeout(timeout: float) -> None:
    with pytest.raises(ValueError, match="idle timeout"):
        IdleWatch(timeout, on_idle=lambda: _record([]))


async def _record(fired: list[float]) -> None:
    fired.append(time.monotonic())


# ---- where activity is seen: InboundMessages


def test_inbound_messages_reports_every_activity_frame_and_nothing_else(bus: EventBus) -> None:
    seen: list[int] = []
    processor = InboundMessages(
        validator=InboundValidator(bus), on_activity=lambda: seen.append(1), activity_frames=IDLE_FRAMES
    )
    frames: list[Frame] = [
        MediaTickFrame(media_time_ms=20),
        SpeakingStateFrame(participant_id="p-a", speaking=True, media_time_ms=20),
        MediaTickFrame(media_time_ms=40),
        TranscriptionFrame(text="hello", user_id="p-a", timestamp="0"),
        ChatMessageFrame(participant_id="p-a", text="hi"),
        InputTransportMessageFrame(message=browser_envelope()),  # valid: becomes an InboundEnvelopeFrame
        InputTransportMessageFrame(message={"not": "an envelope"}),  # rejected: no activity
    ]
    down, _ = run_pipeline(processor, frames_to_send=frames)
    assert sum(isinstance(f, InboundEnvelopeFrame) for f in down) == 1
    assert len(seen) == 4  # speaking, transcript, chat, the inbound envelope; no tick, no rejected message


# ---- the session


def _quiet_room(tmp_path: Path, *, chat_every_ms: int = 0, duration_ms: int = 600_000) -> Path:
    events: list[dict[str, Any]] = [
        {"atMs": 0, "type": "join", "participant": "p-a"},
        {"atMs": 0, "type": "join", "participant": "p-b"},
    ]
    if chat_every_ms:
        events += [
            {"atMs": at, "type": "chat", "participant": "p-a", "text": f"still here {at}"}
            for at in range(chat_every_ms, duration_ms, chat_every_ms)
        ]
    path = tmp_path / "quiet.json"
    room = {
        "name": "quiet",
        "sampleRate": 16000,
        "durationMs": duration_ms,
        "participants": [{"id": "p-a", "name": "A"}, {"id": "p-b", "name": "B"}],
        "events": events,
    }
    path.write_text(json.dumps(room))
    return path


def _run(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> tuple[int, list[dict[str, Any]], list[list[Any]]]:
    """Run a session in this process; its envelopes, and the observers each worker was given."""
    import pipecat.pipeline.worker as worker_module

    observers: list[list[Any]] = []
    base = worker_module.WorkerObserver

    class Spy(base):  # type: ignore[misc,valid-type]
        def __init__(self, *, observers: list[Any] | None = None, **kwargs: Any) -> None:
            recorded.append(list(observers or []))
            super().__init__(observers=observers, **kwargs)

    recorded = observers
    monkeypatch.setattr(worker_module, "WorkerObserver", Spy)
    envelopes: list[dict[str, Any]] = []

    async def go() -> int:
        started = begin(settings, claim_stdout=False, live_view=False)
        started.runtime.bus.subscribe("*", envelopes.append)
        return await run_session_async(settings, handle_signals=False, started=started)

    code = asyncio.run(asyncio.wait_for(go(), 60))
    return code, envelopes, observers


def test_a_quiet_room_ends_on_the_idle_timeout_and_the_worker_has_no_observer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(simulate=_quiet_room(tmp_path), speed=1, view="off", idle_timeout_secs=1.0)
    t0 = time.monotonic()
    code, envelopes, observers = _run(settings, monkeypatch)
    took = time.monotonic() - t0
    assert code == 0
    assert envelopes[-1]["topic"] == "assistant.session.ended"
    assert envelopes[-1]["payload"]["reason"] == "idle_timeout"
    assert took >= 1.0
    assert observers == [[]]  # no observer: nothing is handed every frame at every processor


def test_chat_keeps_a_quiet_room_alive_past_the_idle_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    room = _quiet_room(tmp_path, chat_every_ms=300, duration_ms=2_500)
    settings = Settings(simulate=room, speed=1, view="off", idle_timeout_secs=1.0)
    code, envelopes, _ = _run(settings, monkeypatch)
    assert code == 0
    assert envelopes[-1]["topic"] == "assistant.session.ended"
    assert envelopes[-1]["payload"]["reason"] == "completed"  # 2.5 s of chat outlived a 1 s idle timeout


def test_without_an_idle_timeout_a_quiet_room_plays_to_its_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(simulate=_quiet_room(tmp_path, duration_ms=1_500), speed=1, view="off", idle_timeout_secs=None)
    code, envelopes, observers = _run(settings, monkeypatch)
    assert code == 0
    assert envelopes[-1]["payload"]["reason"] == "completed"
    assert observers == [[]]
