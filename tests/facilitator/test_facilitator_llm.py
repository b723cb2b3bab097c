"""The LLM facilitator against a real local OpenAI-compatible server (aiohttp, SSE streaming).

Pipecat's OpenAI LLM service runs inside a small pipeline with the policy processors around it,
as in the room: PolicyEnforcer → FacilitatorInput → FacilitatorLLMService → FacilitatorOutput →
PolicyOutputGate. Scripted answers: plain text, a tool call, a denied tool, malformed arguments,
a 500 and a timeout. Nothing the LLM does may end the room or reach the worker as an error.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from pipecat.frames.frames import Frame, TranscriptionFrame
from pipecat.pipeline.pipeline import Pipeline

from bot.core.frames import ChatMessageFrame, EnvelopeFrame, MediaTickFrame, ParticipantJoinedFrame, SpeakingStateFrame
from bot.core.media import stamp
from bot.generated import ConversationPolicyViolation, FacilitatorMessage, RoomInterruptRequest
from bot.policy import LoadedPolicy
from bot.processors.facilitator import FacilitatorInput, build_facilitator
from bot.processors.policy import PolicyEnforcer, PolicyOutputGate
from tests.facilitator.llm_server import Reply, ScriptedLLMServer
from tests.pipeline_harness import SleepFrame, run_pipeline
from tests.policy.harness import policy_of

BOT = "prism-bot"


def policy(**sections: Any) -> LoadedPolicy:
    base = {
        "turns": {"maxTurnMs": None, "maxShare": None},
        "facilitation": {"summaryEveryMs": 30_000, "minGapMs": 1_000},
        "content": {
            "rules": [
                {"id": "vendor", "phrases": ["payment provider"], "action": "block"},
                {"id": "phone", "patterns": [r"\d{3}-\d{4}"], "action": "redact"},
            ]
        },
    }
    return policy_of(**{**base, **sections})


def transcript(pid: str, at: int, text: str) -> TranscriptionFrame:
    return stamp(TranscriptionFrame(text=text, user_id=pid, timestamp="2026-01-01T00:00:00.000Z"), at)


def room_start() -> list[Frame]:
    return [
        ParticipantJoinedFrame(participant_id="p-a", display_name="Alice", media_time_ms=0),
        ParticipantJoinedFrame(participant_id="p-b", display_name="Bob", media_time_ms=0),
    ]


def ask(at: int, wait: float = 0.4) -> list[Frame]:
    """Activity, then the tick that makes the brain ask; then time for the answer."""
    return [
        transcript("p-a", at - 500, "we keep going"),
        SleepFrame(sleep=0.05),
        MediaTickFrame(media_time_ms=at),
        SleepFrame(sleep=wait),
    ]


def drive(
    script: list[Reply], frames: list[Frame], loaded: LoadedPolicy | None = None, timeout_secs: float = 5.0
) -> tuple[list[Frame], list[dict[str, Any]]]:
    loaded = loaded or policy()
    with ScriptedLLMServer(script) as server:
        facilitator = build_facilitator(
            loaded,
            api_key="sk-test",
            base_url=server.base_url,
            model="scripted-model",
            timeout_secs=timeout_secs,
            bot_id=BOT,
        )
        pipeline = Pipeline([PolicyEnforcer(policy=loaded, bot_id=BOT), *facilitator, PolicyOutputGate(policy=loaded)])
        down, up = run_pipeline(pipeline, frames_to_send=frames)
        requests = list(server.requests)
    assert list(up) == [], "nothing of the LLM (errors included) may reach the worker"
    return list(down), requests


def published(frames: list[Frame]) -> list[Any]:
    return [f.payload for f in frames if isinstance(f, EnvelopeFrame)]


def summary_of(request: dict[str, Any]) -> dict[str, Any]:
    user = [m for m in request["messages"] if m["role"] == "user"][-1]["content"]
    return json.loads(user.split("Room summary: ", 1)[1])


def test_a_text_answer_becomes_a_facilitator_message_and_the_request_is_compact_and_guarded() -> None:
    frames = [
        *room_start(),
        transcript("p-a", 1_000, "call me on 555-0142"),
        transcript("p-b", 2_000, "the payment provider changed the API"),
        SleepFrame(sleep=0.05),
        *ask(30_000),
    ]
    down, requests = drive([Reply.say("Thanks Alice. Bob, what do you think?")], frames)
    messages = [f for f in down if isinstance(f, EnvelopeFrame) and isinstance(f.payload, FacilitatorMessage)]
    assert [(f.payload.text, f.payload.audience, f.payload.reason, f.media_time_ms) for f in messages] == [
        ("Thanks Alice. Bob, what do you think?", "room", "facilitation", 30_000)
    ]
    assert [p.rule for p in published(down) if isinstance(p, ConversationPolicyViolation)] == [
        "content.phone",
        "content.vendor",
    ]
    [request] = requests
    assert request["model"] == "scripted-model" and request["stream"] is True
    assert [t["function"]["name"] for t in request["tools"]] == [
        "start_vote",
        "close_vote",
        "suggest_topic_shift",
        "nudge_participant",
    ]
    assert request["messages"][0]["role"] == "system" and "facilitator" in request["messages"][0]["content"]
    body = json.dumps(request)
    assert "555-0142" not in body and "payment provider" not in body, "only guarded text reaches the LLM"
    assert summary_of(request)["recent"] == [
        {"atS": 1.0, "who": "Alice", "says": "call me on [redacted]"},
        {"atS": 29.5, "who": "Alice", "says": "we keep going"},
    ]


def test_an_allowed_tool_call_acts_and_a_denied_one_is_only_reported() -> None:
    loaded = policy(tools={"deny": ["start_vote"]})
    script = [
        Reply.tool("start_vote", {"question": "Ship Friday?", "options": ["yes", "no"]}),
        Reply.tool("nudge_participant", {"participant_id": "p-b", "message": "Bob, your view?"}),
    ]
    down, requests = drive(script, [*room_start(), *ask(30_000), *ask(60_000)], loaded)
    assert len(requests) == 2
    assert "start_vote" not in [t["function"]["name"] for t in requests[0]["tools"]], "denied tools are not offered"
    payloads = published(down)
    assert [(type(p).__name__, getattr(p, "rule", None) or getattr(p, "reason", None)) for p in payloads] == [
        ("ConversationPolicyViolation", "tools.deny.start_vote"),
        ("FacilitatorMessage", "nudge"),
    ]
    violation = payloads[0]
    assert (violation.kind, violation.action, violation.participant_id, violation.media_time_ms) == (
        "tool_denied",
        "block",
        None,
        30_000,
    )
    nudge = next(f for f in down if isinstance(f, EnvelopeFrame) and isinstance(f.payload, FacilitatorMessage))
    assert (nudge.recipient, nudge.media_time_ms) == ("p-b", 60_000)
    assert not any(isinstance(f, ChatMessageFrame) for f in down), "the denied vote was never started"


def test_a_started_vote_is_the_bots_chat_command_at_the_head_of_the_pipeline() -> None:
    down, _ = drive(
        [Reply.tool("start_vote", {"question": "Ship Friday?", "options": ["yes", "no"]})],
        [*room_start(), *ask(30_000)],
    )
    commands = [f for f in down if isinstance(f, ChatMessageFrame)]
    assert [(c.participant_id, c.text, c.media_time_ms) for c in commands] == [
        (BOT, "/vote Ship Friday? | yes | no", 30_000)
    ]


@pytest.mark.parametrize(
    "bad",
    [
        Reply.tool("nudge_participant", '{"participant_id": "p-b", "message": '),
        Reply.tool("nudge_participant", {"participant_id": 42}),
        Reply.error(500),
        Reply.hang(3.0),
    ],
    ids=["malformed-json", "invalid-arguments", "http-500", "timeout"],
)
def test_llm_failures_never_end_the_room_and_the_facilitator_recovers(bad: Reply) -> None:
    loaded = policy(facilitation={"summaryEveryMs": 30_000, "minGapMs": 1_000})
    frames = [*room_start(), *ask(30_000, wait=1.2), *ask(100_000)]
    down, requests = drive([bad, Reply.say("Back on track: Bob, go ahead.")], frames, loaded, timeout_secs=0.5)
    assert len(requests) == 2, "the second request (after the backoff) went out"
    assert [m.text for m in published(down) if isinstance(m, FacilitatorMessage)] == ["Back on track: Bob, go ahead."]
    assert [p for p in published(down) if isinstance(p, ConversationPolicyViolation)] == []
    assert sum(isinstance(f, MediaTickFrame) for f in down) == 2, "every room frame still flowed"


def test_the_last_answer_of_a_room_is_not_lost_at_the_end() -> None:
    down, _ = drive(
        [Reply.say("Good meeting, everyone.")],
        [*room_start(), transcript("p-a", 1_000, "bye"), SleepFrame(sleep=0.05), MediaTickFrame(media_time_ms=30_000)],
    )
    assert [m.text for m in published(down) if isinstance(m, FacilitatorMessage)] == ["Good meeting, everyone."]


def test_a_forced_violation_of_every_kind_is_published_and_the_bot_keeps_running() -> None:
    loaded = policy(
        turns={"maxTurnMs": 5_000, "turnRepeatMs": 0, "maxShare": None},
        rates={"chatMessages": {"capacity": 1, "refillEveryMs": 60_000}},
        tools={"deny": ["start_vote"]},
        facilitation={"summaryEveryMs": 30_000, "minGapMs": 1_000},
    )
    frames = [
        *room_start(),
        SpeakingStateFrame(participant_id="p-a", speaking=True, media_time_ms=1_000),
        *[MediaTickFrame(media_time_ms=t) for t in range(100, 6_001, 100)],  # turn_limit at 6 s → asks the LLM
        SleepFrame(sleep=0.4),
        SpeakingStateFrame(participant_id="p-a", speaking=False, media_time_ms=6_500),
        transcript("p-b", 7_000, "the payment provider again"),  # content
        ChatMessageFrame(participant_id="p-b", text="one", media_time_ms=8_000),
        ChatMessageFrame(participant_id="p-b", text="two", media_time_ms=8_100),  # rate_limit
        SleepFrame(sleep=0.05),
        *ask(40_000),  # still running: a later request is answered
    ]
    down, _ = drive(
        [Reply.tool("start_vote", {"question": "Ship?", "options": ["yes", "no"]}), Reply.say("Let's continue.")],
        frames,
        loaded,
    )
    payloads = published(down)
    kinds = [(p.kind, p.rule) for p in payloads if isinstance(p, ConversationPolicyViolation)]
    assert kinds == [
        ("turn_limit", "turns.maxTurnMs"),
        ("tool_denied", "tools.deny.start_vote"),
        ("content", "content.vendor"),
        ("rate_limit", "rates.chatMessages"),
    ]
    assert [p.reason for p in payloads if isinstance(p, RoomInterruptRequest)] == ["policy"]
    assert [p.text for p in payloads if isinstance(p, FacilitatorMessage)] == ["Let's continue."]
    assert [f.text for f in down if isinstance(f, ChatMessageFrame)] == ["one"]


def test_a_hung_server_holds_the_end_of_the_room_no_longer_than_the_request_timeout() -> None:
    loaded = policy()
    with ScriptedLLMServer([Reply.hang(30.0)]) as server:
        facilitator = build_facilitator(
            loaded, api_key="sk-test", base_url=server.base_url, model="m", timeout_secs=0.3, bot_id=BOT
        )
        assert isinstance(facilitator[0], FacilitatorInput) and facilitator[0].drain_secs == pytest.approx(1.3)
        frames = [
            *room_start(),
            transcript("p-a", 1_000, "hi"),
            SleepFrame(sleep=0.05),
            MediaTickFrame(media_time_ms=30_000),
        ]
        started = time.monotonic()
        down, up = run_pipeline(Pipeline(facilitator), frames_to_send=frames)
        elapsed = time.monotonic() - started
    assert published(list(down)) == [] and list(up) == []
    assert elapsed < 10.0  # bounded by the 1.3 s drain; the server hangs 30 s (generous: a loaded machine)


@pytest.mark.timeout(60)
def test_an_answer_with_a_lone_surrogate_costs_at_most_that_answer() -> None:
    """Issue 11, item 9: the answer used to enter the "said recently" history raw, and every later
    request failed to encode: one bad answer disabled the facilitator for the session."""
    loaded = policy(facilitation={"summaryEveryMs": 30_000, "minGapMs": 1_000})
    frames = [*room_start(), *ask(30_000, wait=1.0), *ask(100_000, wait=1.0)]
    down, requests = drive([Reply.say("Good point\ud800 Bob."), Reply.say("Back on track.")], frames, loaded)
    assert len(requests) == 2, "the request after the bad answer went out"
    content = json.dumps(requests[1])
    assert "\\ud800" not in content and "\ud800" not in content
    texts = [m.text for m in published(down) if isinstance(m, FacilitatorMessage)]
    assert texts[-1] == "Back on track."
    assert all("\ud800" not in t for t in texts)
