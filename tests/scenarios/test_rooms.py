"""Every bundled room, end to end: ``python -m bot --simulate ROOM --speed 0`` against ground truth.

Each room is played once per test session through the real CLI (real Silero, real processors,
real sink, stdout as the machine interface); the tests then read the JSON lines. Ground truth
comes from the scenario and the clips' exact voiced intervals (bot/scenarios/tools/truth.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from bot.events import Envelope
from bot.generated import SPEC_VERSION
from bot.scenarios import all_scenarios
from bot.scenarios.tools.scoring import payloads as of
from bot.scenarios.tools.scoring import score_room
from bot.scenarios.tools.truth import load_truth

REPO = Path(__file__).resolve().parents[2]
REGISTRY = json.loads((REPO / "bot" / "generated" / "registry.json").read_text())
ROOMS = {p.stem if p.parent.name == "rooms" else "demo": p for p in all_scenarios()}

pytestmark = pytest.mark.slow
# each room's tests on one xdist worker (./test runs --dist loadgroup): played() is cached per
# process, so a room is played once instead of once per worker
ROOM_PARAMS = [pytest.param(room, id=room, marks=pytest.mark.xdist_group(f"room-{room}")) for room in sorted(ROOMS)]


@cache
def played(room: str) -> tuple[int, list[dict], str]:
    """(exit code, envelopes, stderr) of one run of the room at --speed 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(ROOMS[room]), "--speed", "0", "--view", "off"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, lines, proc.stderr


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_run_exits_zero_with_valid_contiguous_envelopes(room: str) -> None:
    code, envelopes, stderr = played(room)
    assert code == 0, stderr[-2000:]
    assert envelopes, "no envelopes on stdout"
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert envelopes[0]["topic"] == "assistant.session.started"
    assert envelopes[-1]["topic"] == "assistant.session.ended"
    assert envelopes[-1]["payload"]["reason"] == "completed"
    for e in envelopes:
        Envelope.model_validate(e)
        assert e["specVersion"] == SPEC_VERSION
        schema = REGISTRY["topics"][e["topic"]]["schema"]
        errors = list(Draft202012Validator(schema).iter_errors(e["payload"]))
        assert not errors, (e["topic"], errors[0].message)


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_heartbeats_come_on_media_time_even_at_speed_zero(room: str) -> None:
    _, envelopes, _ = played(room)
    beats = [e for e in envelopes if e["topic"] == "bot.health.heartbeat"]
    assert all(e["meta"]["mediaTimeMs"] == e["payload"]["mediaTimeMs"] for e in beats)
    duration = max(e["meta"].get("mediaTimeMs", 0) for e in envelopes)
    media = [e["meta"]["mediaTimeMs"] for e in beats]
    # one at join, then one per BOT_HEARTBEAT_SECS=15 of media time; on a loaded machine the
    # wall-clock backstop may add one where 15 s of wall time passed without (a slow start-up)
    on_media = [m for m in media if m % 15_000 == 0 and m > 0]
    assert media[0] == 0 and on_media == list(range(15_000, duration, 15_000)), media
    assert media == sorted(media)


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_talk_time_shares_within_two_points(room: str) -> None:
    _, envelopes, _ = played(room)
    truth = load_truth(ROOMS[room])
    finals = [s for s in of(envelopes, "room.dominance.score") if s["trigger"] == "final"]
    assert len(finals) == 1
    measured = {p["participantId"]: p["share"] for p in finals[0]["participants"]}
    assert abs(sum(measured.values()) - 1.0) < 1e-6
    for pid, share in truth["shares"].items():
        assert abs(measured.get(pid, 0.0) - share) <= 0.02, (pid, measured.get(pid), share)


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_frame_level_speech_precision_and_recall(room: str) -> None:
    _, envelopes, _ = played(room)
    score = score_room(load_truth(ROOMS[room]), envelopes)
    assert score["precision"] >= 0.95 and score["recall"] >= 0.90, score


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_every_scripted_interruption_is_detected_and_no_backchannel_is_one(room: str) -> None:
    _, envelopes, _ = played(room)
    score = score_room(load_truth(ROOMS[room]), envelopes)
    assert score["interruptionsDetected"] == score["interruptionsScripted"], score
    assert score["interruptionsReported"] == score["interruptionsScripted"], score
    assert score["backchannelsAsInterruption"] == 0, score
    assert score["backchannelsDetected"] == score["backchannelsScripted"], score


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_noise_never_counts_as_speech(room: str) -> None:
    _, envelopes, _ = played(room)
    assert score_room(load_truth(ROOMS[room]), envelopes)["noiseFramesCounted"] == 0


@pytest.mark.parametrize("room", ROOM_PARAMS)
def test_bad_inbound_messages_are_rejected_and_votes_tallied(room: str) -> None:
    code, envelopes, _ = played(room)
    truth = load_truth(ROOMS[room])
    counted = sum(v["totalVotes"] for v in truth["votes"])
    rejected = of(envelopes, "events.inbound.rejected")
    assert len(rejected) == len(truth["appMessages"]) - counted
    assert all(r["reason"] for r in rejected)
    closed = {v["voteId"]: v for v in of(envelopes, "room.vote.closed")}
    for vote in truth["votes"]:
        assert closed[vote["voteId"]]["tally"] == vote["tally"]
        assert closed[vote["voteId"]]["totalVotes"] == vote["totalVotes"]
    assert code == 0


def test_same_events_at_real_time_and_as_fast_as_possible() -> None:
    """Media time, not wall time: a short room gives the same payloads at --speed 0 and --speed 8."""

    def payloads(speed: str) -> list[tuple[str, str]]:
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--simulate", str(ROOMS["balanced"]), "--speed", speed, "--view", "off"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        skip = {
            "bot.health.heartbeat",
            "assistant.session.ended",
            "assistant.room.join.succeeded",
            "assistant.session.started",
        }
        return [
            (e["topic"], json.dumps(e["payload"], sort_keys=True))
            for e in map(json.loads, proc.stdout.splitlines())
            if e["topic"] not in skip
        ]

    assert payloads("0") == payloads("8")


@pytest.mark.xdist_group("room-long")
def test_the_long_room_lets_rules_on_minutes_of_talk_fire() -> None:
    """Over a minute of talk: the default policy's share nudge (after 60 s of talk in all) warns
    Alice, who holds most of it; the demo is too short for that ever to happen."""
    code, envelopes, _ = played("long")
    assert code == 0
    duration = max(e["meta"].get("mediaTimeMs", 0) for e in envelopes)
    assert duration > 60_000
    nudges = [
        e
        for e in envelopes
        if e["topic"] == "conversation.policy.violation" and e["payload"]["rule"] == "turns.maxShare"
    ]
    assert [(n["payload"]["participantId"], n["payload"]["action"]) for n in nudges] == [("p-alice", "warn")]
    assert nudges[0]["meta"]["mediaTimeMs"] > 60_000
    assert of(envelopes, "room.wrapup.prompt"), "the 80 s agenda's wrap-up comes inside the room"
