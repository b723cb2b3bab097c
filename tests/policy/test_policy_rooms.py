"""The policy test rooms end to end (bot/scenarios/policy/): real Silero, real processors, real sink.

Each room is played with its composed policy; the violations must be exactly the expected ones.

- in-process: the room pipeline with the policy processors wired as proposed for
  ``build_room_pipeline`` (tests/policy/harness.py), and a real local LLM server for the
  facilitator;
- as a subprocess, ``python -m bot --simulate ROOM --speed 0 --view off`` with ``BOT_POLICY_PATH``
  (and ``OPENAI_BASE_URL`` for the facilitator): skipped until the lead's wiring is in
  (``Settings.policy``), then it must give the same violations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from typing import Any

import pytest

from bot.config.settings import Settings
from tests.facilitator.llm_server import Reply, ScriptedLLMServer
from tests.policy.harness import POLICY_ROOMS, REPO, composed, payloads, play

pytestmark = pytest.mark.slow

Violation = tuple[Any, ...]
"""(rule, kind, participantId, action, severity)"""

GUARDED: list[Violation] = [
    ("content.vendor-names", "content", "p-carol", "block", "high"),
    ("content.phone-numbers", "content", "p-bob", "redact", "medium"),
    ("content.phone-numbers", "content", "p-alice", "redact", "medium"),
    *[("rates.inboundMessages", "rate_limit", "p-bob", "block", "medium")] * 3,
    ("content.incidents", "content", "p-carol", "warn", "low"),
    ("content.insults", "content", "p-carol", "interrupt", "high"),
    ("rates.inboundMessages", "rate_limit", "p-bob", "block", "medium"),  # the other 2 of the window: count 2
    ("rates.chatMessages", "rate_limit", "p-bob", "block", "low"),
    ("rates.chatMessages", "rate_limit", "p-bob", "block", "low"),
]
"""Ordered by media time; the content guard's times are exact (transcripts at the utterance's end step, chat at its step).
Violations of one participant and rule are aggregated per 10 s window: the first 3 at once, the rest as one with count."""
GUARDED_TIMES = {
    "content.vendor-names": [7_780],
    "content.phone-numbers": [11_500, 12_000],
    "content.incidents": [18_280],
    "content.insults": [22_000],
    "rates.chatMessages": [23_100, 23_120],
}

MONOLOGUE: list[Violation] = [
    ("turns.maxShare", "turn_limit", "p-alice", "warn", "low"),
    ("turns.maxTurnMs", "turn_limit", "p-alice", "interrupt", "medium"),
    ("tools.deny.start_vote", "tool_denied", None, "block", "medium"),
    ("turns.maxBotTurnsPerMinute", "rate_limit", None, "block", "low"),
]
MONOLOGUE_SCRIPT = [
    Reply.tool("start_vote", {"question": "Ship on Friday?", "options": ["yes", "no"]}),  # denied by assistant-standup
    Reply.tool("nudge_participant", {"participant_id": "p-alice", "message": "Alice, let's hear from Bob and Carol."}),
    Reply.say("Time to move on to Risks."),  # the third bot message within a minute: over room-monologue's limit of 2
]


def by_time(envelopes: list[dict[str, Any]]) -> list[Violation]:
    """Violations sorted by media time (stable): publication order differs between the
    validator's hook (published at once) and the pipeline's events (published at the sink)."""
    items = [
        (e["payload"].get("mediaTimeMs", 0), i, e["payload"])
        for i, e in enumerate(envelopes)
        if e["topic"] == "conversation.policy.violation"
    ]
    return [
        (p["rule"], p["kind"], p.get("participantId"), p["action"], p["severity"])
        for _, _, p in sorted(items, key=lambda x: (x[0], x[1]))
    ]


def validator_passes_media_time() -> bool:
    """Whether InboundValidator hands the message's media time to its rate limiter (then the
    flood's violations carry exactly the messages' time; else the limiter's last tick)."""
    from bot.events import EventBus, InboundValidator, SessionContext, SpecRegistry

    seen: list[Any] = []

    def limiter(sender: str, media_time_ms: int | None = None) -> bool:
        seen.append(media_time_ms)
        return True

    bus = EventBus(
        registry=SpecRegistry.load(),
        context=SessionContext(session_id="s", assistant_id="a", tenant_id="t", room_id="r"),
    )
    InboundValidator(bus, rate_limiter=limiter).check("{}", "p-x", media_time_ms=4_321)
    return seen == [4_321]


def check_guarded(envelopes: list[dict[str, Any]]) -> None:
    assert by_time(envelopes) == GUARDED
    loaded = composed("guarded")
    vs = payloads(envelopes, "conversation.policy.violation")
    assert {v["policyVersion"] for v in vs} == {loaded.version}
    for rule, times in GUARDED_TIMES.items():
        assert sorted(v["mediaTimeMs"] for v in vs if v["rule"] == rule) == times, rule
    flood = [v for v in vs if v["rule"] == "rates.inboundMessages"]
    assert [v.get("count") for v in flood] == [None, None, None, 2]  # 5 refused: 3, then the window's count
    assert flood[3]["windowMs"] == 10_000 and flood[3]["mediaTimeMs"] == flood[0]["mediaTimeMs"] // 100 * 100 + 10_000
    if validator_passes_media_time():
        assert [v["mediaTimeMs"] for v in flood[:3]] == [13_000] * 3
    else:  # the limiter's fallback: the last tick the PolicyEnforcer saw
        assert 11_000 <= flood[0]["mediaTimeMs"] <= 13_000, flood
    assert [v.get("count") for v in vs if v["rule"] == "rates.chatMessages"] == [None, None]
    rejected = payloads(envelopes, "events.inbound.rejected")
    assert [(r["reason"], r["senderId"], r.get("count")) for r in rejected] == [
        *[("rate_limited", "p-bob", None)] * 3,
        ("rate_limited", "p-bob", 2),
    ]
    [started] = payloads(envelopes, "room.vote.started")
    assert started["question"] == "Ship on Friday? Call [redacted] first", "chat is guarded before Votes publishes it"
    [closed] = payloads(envelopes, "room.vote.closed")
    assert closed["totalVotes"] == 1  # the 3 casts that passed the bucket are one ballot
    assert [
        (r["targetParticipantId"], r["reason"], r["mediaTimeMs"])
        for r in payloads(envelopes, "room.interrupt.request")
        if r["reason"] == "policy"
    ] == [("p-carol", "policy", 22_000)]
    assert payloads(envelopes, "facilitator.message") == []
    wire = json.dumps(vs)
    for offending in ("payment", "PAYMENT", "555-01", "idiot", "memory leak"):
        assert offending not in wire


def check_monologue(envelopes: list[dict[str, Any]]) -> None:
    assert by_time(envelopes) == MONOLOGUE
    vs = {v["rule"]: v for v in payloads(envelopes, "conversation.policy.violation")}
    onset = 1_000
    assert onset + 10_000 <= vs["turns.maxShare"]["mediaTimeMs"] <= onset + 12_500  # 10 s of talk, VAD segments
    assert onset + 11_500 <= vs["turns.maxTurnMs"]["mediaTimeMs"] <= onset + 12_500  # 12 s continuous turn
    assert vs["tools.deny.start_vote"]["mediaTimeMs"] >= vs["turns.maxTurnMs"]["mediaTimeMs"]
    assert vs["turns.maxBotTurnsPerMinute"]["mediaTimeMs"] >= 25_000  # the time box's trigger
    interrupts = payloads(envelopes, "room.interrupt.request")
    assert [(r["targetParticipantId"], r["reason"]) for r in interrupts] == [
        ("p-alice", "policy"),
        ("p-alice", "monologue"),
    ]
    messages = payloads(envelopes, "facilitator.message")
    assert [(m["audience"], m.get("participantId"), m["reason"]) for m in messages] == [
        ("participant", "p-alice", "nudge"),
        ("participant", "p-alice", "nudge"),
    ]
    assert messages[0]["text"].startswith("You have had ")  # the policy's direct nudge
    assert messages[1]["text"] == "Alice, let's hear from Bob and Carol."  # the LLM's, through nudge_participant
    assert payloads(envelopes, "room.vote.started") == [], "the denied vote never started"


# --------------------------------------------------------------------------------------------
# In-process
# --------------------------------------------------------------------------------------------


@cache
def guarded_in_process() -> list[dict[str, Any]]:
    return play("guarded", composed("guarded"))["envelopes"]


@cache
def monologue_in_process() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    with ScriptedLLMServer(list(MONOLOGUE_SCRIPT)) as server:
        envelopes = play("monologue", composed("monologue"), llm_base_url=server.base_url)["envelopes"]
        return envelopes, list(server.requests)


def test_guarded_room_gives_exactly_the_expected_violations() -> None:
    check_guarded(guarded_in_process())


def test_monologue_room_gives_exactly_the_expected_violations() -> None:
    envelopes, requests = monologue_in_process()
    check_monologue(envelopes)
    assert [
        json.loads(r["messages"][-1]["content"].split("Room summary: ", 1)[1])["mediaTimeS"] for r in requests
    ] == sorted(json.loads(r["messages"][-1]["content"].split("Room summary: ", 1)[1])["mediaTimeS"] for r in requests)
    assert [r["messages"][-1]["content"].split(".", 1)[0] for r in requests] == [
        "Trigger: policy",
        "Trigger: monologue",
        "Trigger: time_box",
    ]
    for request in requests:
        assert "start_vote" not in [t["function"]["name"] for t in request["tools"]]


def test_the_policy_loaded_event_comes_first_with_its_layers() -> None:
    envelopes = guarded_in_process()
    first = envelopes[0]
    assert first["topic"] == "conversation.policy.loaded"
    assert first["payload"]["layers"] == ["prism-platform", "tenant-acme", "room-guarded"]
    assert first["payload"]["ruleCount"] == 14  # content.links: the bot sends no links (issue 11)


def test_every_violation_envelope_is_valid_and_contiguous() -> None:
    from jsonschema import Draft202012Validator

    registry = json.loads((REPO / "bot" / "generated" / "registry.json").read_text())
    for envelopes in (guarded_in_process(), monologue_in_process()[0]):
        assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
        for e in envelopes:
            errors = list(Draft202012Validator(registry["topics"][e["topic"]]["schema"]).iter_errors(e["payload"]))
            assert not errors, (e["topic"], errors[0].message)


# --------------------------------------------------------------------------------------------
# As the bot runs: python -m bot --simulate ROOM with BOT_POLICY_PATH
# --------------------------------------------------------------------------------------------

wired = pytest.mark.skipif(
    "policy" not in Settings.model_fields,
    reason="needs the lead's wiring: Settings.policy (BOT_POLICY_PATH) and the policy processors in build_room_pipeline",
)


def run_bot(room: str, extra_env: dict[str, str]) -> tuple[int, list[dict[str, Any]], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "OPENAI_"))}
    env.update({"BOT_POLICY_PATH": str(POLICY_ROOMS / f"{room}.policy.json"), **extra_env})
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--simulate",
            str(POLICY_ROOMS / f"{room}.json"),
            "--speed",
            "0",
            "--view",
            "off",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines() if line.strip()], proc.stderr


@wired
def test_guarded_room_as_a_subprocess() -> None:
    code, envelopes, stderr = run_bot("guarded", {})
    assert code == 0, stderr[-2000:]
    loaded = [e for e in envelopes if e["topic"] == "conversation.policy.loaded"]
    assert [e["payload"]["policyVersion"] for e in loaded] == [composed("guarded").version]
    check_guarded(envelopes)


@wired
def test_monologue_room_as_a_subprocess_with_a_local_llm() -> None:
    with ScriptedLLMServer(list(MONOLOGUE_SCRIPT)) as server:
        code, envelopes, stderr = run_bot(
            "monologue",
            {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "sk-test", "OPENAI_MODEL": "scripted-model"},
        )
    assert code == 0, stderr[-2000:]
    check_monologue(envelopes)
    assert "sk-test" not in stderr


@wired
def test_a_bad_policy_fails_the_session_at_stage_policy(tmp_path: Any) -> None:
    bad = tmp_path / "p.json"
    data = json.loads((POLICY_ROOMS / "guarded.policy.json").read_text())
    data["policy"]["turns"]["maxTurnMs"] = 1
    bad.write_text(json.dumps(data))
    code, envelopes, stderr = run_bot("guarded", {"BOT_POLICY_PATH": str(bad)})
    assert code == 2
    failed = [e["payload"] for e in envelopes if e["topic"] == "assistant.session.failed"]
    assert [(f["stage"], f["retryable"]) for f in failed] == [("policy", False)]
    assert '"policyVersion"' in failed[0]["error"] or '"policy.turns.maxTurnMs"' in failed[0]["error"]
    assert stderr.strip().splitlines()[-1].startswith(f"error: BOT_POLICY_PATH (--policy): {bad}: ")
