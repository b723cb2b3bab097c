"""The voice end to end: ``python -m bot --simulate ROOM --voice`` against a local OpenAI-compatible
TTS server (real PCM from espeak-ng, Pipecat's OpenAI TTS service, the real ``openai`` client).

Timing is asserted against the rooms' ground truth (bot/scenarios/tools/truth.py), on media time:
the bot never starts over a participant, yields within 200 ms, and its own audio changes nothing
in the room's analytics.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import wave
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from bot.scenarios import all_scenarios
from bot.scenarios.tools.truth import load_truth
from bot.voice.timing import bot_spans, measure
from tests.voice.tts_server import LocalTTSServer

REPO = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((REPO / "bot" / "generated" / "registry.json").read_text())
ROOMS = {p.stem if p.parent.name == "rooms" else "demo": p for p in all_scenarios()}
CLIPS = REPO / "bot" / "scenarios" / "clips"

pytestmark = pytest.mark.slow


def play(
    scenario: Path, tmp: Path, *extra: str, mode: str = "ok", speed: str = "0", env_extra: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]], str, LocalTTSServer]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "OPENAI_"))}
    with LocalTTSServer(mode=mode, lifetime_secs=240) as server:
        env["OPENAI_BASE_URL"] = server.base_url
        env.update(env_extra or {})
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "bot",
                "--simulate",
                str(scenario),
                "--speed",
                speed,
                "--view",
                "off",
                "--voice",
                "--bot-audio",
                str(tmp / "bot.wav"),
                *extra,
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, lines, proc.stderr, server


@cache
def voiced(room: str) -> tuple[int, list[dict[str, Any]], str, Path]:
    tmp = Path(os.environ.get("PYTEST_TMPDIR", "/tmp")) / f"prism-voice-{os.getpid()}-{room}"
    tmp.mkdir(parents=True, exist_ok=True)
    code, envelopes, stderr, _ = play(ROOMS[room], tmp)
    return code, envelopes, stderr, tmp


def payloads(envelopes: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in envelopes if e["topic"] == topic]


def intervals(room_path: Path) -> dict[str, list[list[int]]]:
    truth = load_truth(room_path)
    return {pid: p["intervals"] for pid, p in truth["participants"].items()}


@pytest.mark.parametrize("room", sorted(ROOMS), ids=sorted(ROOMS))
def test_the_bot_speaks_in_gaps_never_over_anyone_and_yields_within_200_ms(room: str) -> None:
    code, envelopes, stderr, _tmp = voiced(room)
    assert code == 0, stderr[-2000:]
    for e in envelopes:
        errors = list(Draft202012Validator(REGISTRY["topics"][e["topic"]]["schema"]).iter_errors(e["payload"]))
        assert not errors, (e["topic"], errors[0].message)
    started = payloads(envelopes, "facilitator.speech.started")
    stopped = payloads(envelopes, "facilitator.speech.stopped")
    assert len(started) == len(stopped)
    for p in started + stopped:
        assert "text" not in p and p["textLength"] > 0  # the length, never the words
    timing = measure(intervals(ROOMS[room]), bot_spans(envelopes))
    assert timing.overlaps == [], timing.overlaps
    assert all(ms <= 200 for ms in timing.barge_in_stop_ms), timing.barge_in_stop_ms
    for p in stopped:
        assert p["reason"] in ("completed", "barge_in", "ended")


@pytest.mark.parametrize("room", ["dominant", "demo"])
def test_the_wav_holds_the_bots_speech_where_the_events_say(room: str) -> None:
    code, envelopes, stderr, tmp = voiced(room)
    assert code == 0, stderr[-2000:]
    spans = bot_spans(envelopes)
    assert spans, "the bot said nothing in this room"
    with wave.open(str(tmp / "bot.wav")) as w:
        rate = w.getframerate()
        import numpy as np

        samples = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert (tmp / "bot.mix.wav").exists()
    loud = np.flatnonzero(np.abs(samples) > 300)
    assert loud.size
    for start, end, _ in spans:
        inside = loud[(loud >= start * rate // 1000) & (loud < end * rate // 1000)]
        assert inside.size, (start, end)
    # nothing audible outside the spans the events report
    mask = np.zeros(samples.size, dtype=bool)
    for start, end, _ in spans:
        mask[start * rate // 1000 : end * rate // 1000 + rate // 50] = True
    assert not np.any(mask[loud] == False)  # noqa: E712


def test_the_bots_audio_changes_nothing_in_the_rooms_analytics() -> None:
    """Not in speaking state, shares or overlaps: voice on and voice off give the same analytics."""
    code, on, stderr, _ = voiced("dominant")
    assert code == 0, stderr[-2000:]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "OPENAI_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(ROOMS["dominant"]), "--speed", "0", "--view", "off"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    off = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    for topic in ("room.speaking.started", "room.speaking.stopped", "room.dominance.score", "room.overlap.detected"):
        assert payloads(on, topic) == payloads(off, topic), topic
        assert all("prism-bot" not in json.dumps(p) for p in payloads(on, topic))


@pytest.mark.parametrize("mode", ["error", "hang"], ids=["http-500", "timeout"])
def test_a_failing_tts_service_never_stops_the_room(mode: str, tmp_path: Path) -> None:
    # real time x4: the room lasts ~12 s, so the failures come before its end whatever the load
    code, envelopes, stderr, server = play(
        ROOMS["dominant"], tmp_path, "--voice-timeout-secs", "0.5", mode=mode, speed="4"
    )
    assert code == 0, stderr[-2000:]
    assert envelopes[-1]["topic"] == "assistant.session.ended" and envelopes[-1]["payload"]["reason"] == "completed"
    assert server.requests, "the TTS service was never asked"
    assert payloads(envelopes, "facilitator.speech.started") == []
    assert "voice: TTS failed" in stderr
    assert "tts_errors=" in stderr and "tts_errors=0" not in stderr


def test_policy_off_keeps_the_bot_silent(tmp_path: Path) -> None:
    layer = {"kind": "prism.policy.layer", "schemaVersion": 1, "name": "quiet", "level": "platform"}
    layer["facilitation"] = {"voice": "off"}
    policy = tmp_path / "layers.json"
    policy.write_text(json.dumps([layer]))
    code, envelopes, stderr, server = play(ROOMS["dominant"], tmp_path, "--policy", str(policy))
    assert code == 0, stderr[-2000:]
    assert server.requests == []
    assert payloads(envelopes, "facilitator.speech.started") == []
    executed = payloads(envelopes, "room.interrupt.executed")
    assert executed and {(p["outcome"], p["skipReason"]) for p in executed} == {("skipped", "policy")}


def test_an_interrupt_request_is_carried_out_aloud_in_the_speakers_pause(tmp_path: Path) -> None:
    """Alice holds the floor 18 s (monologue request at 15 s), pauses; the bot asks Bob in."""
    scenario = {
        "name": "voice-interrupt",
        "sampleRate": 16000,
        "durationMs": 30000,
        "participants": [{"id": "p-alice", "name": "Alice"}, {"id": "p-bob", "name": "Bob"}],
        "events": [
            {"atMs": 0, "type": "join", "participant": "p-alice"},
            {"atMs": 0, "type": "join", "participant": "p-bob"},
            {
                "atMs": 500,
                "type": "speech",
                "participant": "p-alice",
                "audio": str(CLIPS / "alice-monologue.wav"),
                "text": "...",
            },
            {
                "atMs": 25000,
                "type": "speech",
                "participant": "p-bob",
                "audio": str(CLIPS / "bob-1.wav"),
                "text": "Sure.",
            },
        ],
    }
    path = tmp_path / "room.json"
    path.write_text(json.dumps(scenario))
    code, envelopes, stderr, server = play(path, tmp_path, speed="4")
    assert code == 0, stderr[-2000:]
    request = payloads(envelopes, "room.interrupt.request")
    executed = payloads(envelopes, "room.interrupt.executed")
    assert request and request[0]["targetParticipantId"] == "p-alice"
    assert executed and executed[0]["outcome"] == "executed" and executed[0]["method"] == "speech"
    started = [p for p in payloads(envelopes, "facilitator.speech.started") if p["kind"] == "interrupt"]
    assert started and started[0]["targetParticipantId"] == "p-alice"
    assert any("Alice" in r["input"] and "Bob" in r["input"] for r in server.requests)
    timing = measure(intervals(path), bot_spans(envelopes))
    assert timing.overlaps == []
