"""Wiring of PolicyEnforcer and PolicyOutputGate: frames in, texts replaced or dropped, events out.

The rules themselves are tested in test_policy_enforce.py; these only check the adapters.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pipecat.frames.frames import Frame, InterimTranscriptionFrame, TextFrame, TranscriptionFrame

from bot.core.frames import (
    ChatMessageFrame,
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    SpeakingStateFrame,
)
from bot.core.media import stamp
from bot.generated import ConversationPolicyViolation, FacilitatorMessage, RoomInterruptRequest
from bot.policy import InboundRateLimiter, LoadedPolicy
from bot.processors.policy import PolicyEnforcer, PolicyOutputGate
from tests.pipeline_harness import run_pipeline
from tests.policy.harness import policy_of


def policy(**sections: Any) -> LoadedPolicy:
    return policy_of(**sections)


LOADED = policy(
    turns={"maxTurnMs": 5_000, "turnRepeatMs": 0, "maxShare": None},
    rates={
        "chatMessages": {"capacity": 1, "refillEveryMs": 60_000},
        "botMessages": {"capacity": 1, "refillEveryMs": 60_000},
    },
    content={
        "rules": [
            {"id": "vendor", "phrases": ["payment provider"], "action": "block"},
            {"id": "phone", "patterns": [r"\d{3}-\d{4}"], "action": "redact"},
        ]
    },
)


def run(processor: Any, frames: list[Frame]) -> list[Frame]:
    down, up = run_pipeline(processor, frames_to_send=frames)
    assert list(up) == []
    return list(down)


def envelopes(frames: list[Frame]) -> list[EnvelopeFrame]:
    return [f for f in frames if isinstance(f, EnvelopeFrame)]


def transcript(pid: str, at: int, text: str) -> TranscriptionFrame:
    return stamp(TranscriptionFrame(text=text, user_id=pid, timestamp="2026-01-01T00:00:00.000Z"), at)


def test_enforcer_redacts_in_place_drops_blocked_text_and_reports_without_the_text() -> None:
    out = run(
        PolicyEnforcer(policy=LOADED),
        [
            transcript("p-a", 1_000, "call 555-0142 please"),
            transcript("p-a", 2_000, "the payment provider again"),
            InterimTranscriptionFrame(text="the payment provider", user_id="p-a", timestamp="t"),
            transcript("p-a", 3_000, "fine"),
            ChatMessageFrame(participant_id="p-b", text="my number 555-0199", media_time_ms=4_000),
            ChatMessageFrame(participant_id="p-b", text="again", media_time_ms=4_100),
            TextFrame(text="unrelated"),
        ],
    )
    texts = [
        (type(f).__name__, f.text)
        for f in out
        if isinstance(f, (TranscriptionFrame, ChatMessageFrame, TextFrame)) and not isinstance(f, EnvelopeFrame)
    ]
    assert texts == [
        ("TranscriptionFrame", "call [redacted] please"),
        ("TranscriptionFrame", "fine"),
        ("ChatMessageFrame", "my number [redacted]"),
        ("TextFrame", "unrelated"),
    ]
    violations = [e.payload for e in envelopes(out)]
    assert [(v.rule, v.action, v.participant_id, v.media_time_ms) for v in violations] == [
        ("content.phone", "redact", "p-a", 1_000),
        ("content.vendor", "block", "p-a", 2_000),
        ("content.phone", "redact", "p-b", 4_000),
        ("rates.chatMessages", "block", "p-b", 4_100),
    ]
    for frame in envelopes(out):
        wire = str(frame.payload.to_wire())
        assert "555" not in wire and "payment" not in wire
        assert frame.media_time_ms == frame.payload.media_time_ms


def test_enforcer_interrupts_a_turn_past_the_limit_on_ticks_and_tells_the_limiter_the_time() -> None:
    limiter = InboundRateLimiter(LOADED)
    out = run(
        PolicyEnforcer(policy=LOADED, limiter=limiter),
        [
            ParticipantJoinedFrame(participant_id="p-a", media_time_ms=0),
            SpeakingStateFrame(participant_id="p-a", speaking=True, media_time_ms=1_000),
            *[MediaTickFrame(media_time_ms=t) for t in range(100, 7_001, 100)],
            ParticipantLeftFrame(participant_id="p-a", media_time_ms=7_000),
        ],
    )
    payloads = [e.payload for e in envelopes(out)]
    assert [type(p).__name__ for p in payloads] == ["ConversationPolicyViolation", "RoomInterruptRequest"]
    assert isinstance(payloads[0], ConversationPolicyViolation) and payloads[0].rule == "turns.maxTurnMs"
    assert isinstance(payloads[1], RoomInterruptRequest) and (payloads[1].reason, payloads[1].media_time_ms) == (
        "policy",
        6_000,
    )
    forwarded = Counter(type(f).__name__ for f in out if not isinstance(f, EnvelopeFrame))
    assert forwarded == {
        "MediaTickFrame": 70,
        "ParticipantJoinedFrame": 1,
        "SpeakingStateFrame": 1,
        "ParticipantLeftFrame": 1,
    }
    assert limiter._now == 7_000


def test_a_nudge_goes_to_its_participant_only() -> None:
    loaded = policy(turns={"maxTurnMs": None, "maxShare": 0.5, "shareMinTalkMs": 1_000})
    out = run(
        PolicyEnforcer(policy=loaded),
        [
            ParticipantJoinedFrame(participant_id="p-a", media_time_ms=0),
            ParticipantJoinedFrame(participant_id="p-b", media_time_ms=0),
            SpeakingStateFrame(participant_id="p-a", speaking=True, media_time_ms=0),
            *[MediaTickFrame(media_time_ms=t) for t in range(100, 1_101, 100)],
        ],
    )
    nudges = [e for e in envelopes(out) if isinstance(e.payload, FacilitatorMessage)]
    assert [(e.recipient, e.payload.participant_id, e.media_time_ms) for e in nudges] == [("p-a", "p-a", 1_000)]


def test_output_gate_drops_over_the_bots_bucket_and_redacts_its_text() -> None:
    def say(text: str, at: int) -> EnvelopeFrame:
        return EnvelopeFrame(
            payload=FacilitatorMessage(text=text, audience="room", reason="facilitation"), media_time_ms=at
        )

    out = run(
        PolicyOutputGate(policy=LOADED),
        [say("call 555-0142", 1_000), say("second", 2_000), MediaTickFrame(media_time_ms=2_100)],
    )
    sent = [e.payload for e in envelopes(out) if isinstance(e.payload, FacilitatorMessage)]
    assert [m.text for m in sent] == ["call [redacted]"]
    rules = [
        (e.payload.rule, e.payload.media_time_ms)
        for e in envelopes(out)
        if isinstance(e.payload, ConversationPolicyViolation)
    ]
    assert rules == [("content.phone", 1_000), ("rates.botMessages", 2_000)]
    assert any(isinstance(f, MediaTickFrame) for f in out)


def test_other_envelopes_pass_the_gate_untouched() -> None:
    interrupt = EnvelopeFrame(
        payload=RoomInterruptRequest(target_participant_id="p-a", reason="monologue", monologue_ms=1), media_time_ms=5
    )
    out = run(PolicyOutputGate(policy=LOADED), [interrupt])
    assert envelopes(out) == [interrupt]
