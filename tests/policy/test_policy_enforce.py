"""Enforcement logic on media time: RoomPolicy, BotOutputGate, ToolGate, InboundRateLimiter."""

from __future__ import annotations

from typing import Any

import pytest

from bot.generated import ConversationPolicyViolation, FacilitatorMessage, RoomInterruptRequest
from bot.policy import BotOutputGate, InboundRateLimiter, LoadedPolicy, RoomPolicy, ToolGate
from tests.policy.harness import policy_of

TOOLS = ("start_vote", "close_vote", "suggest_topic_shift", "nudge_participant")


def policy(**sections: Any) -> LoadedPolicy:
    return policy_of(**sections)


def kinds(events: list[Any]) -> list[tuple[str, ...]]:
    out = []
    for e in events:
        if isinstance(e, ConversationPolicyViolation):
            out.append(("violation", e.rule, e.kind, e.action, e.participant_id or "-", e.severity, e.media_time_ms))
        elif isinstance(e, RoomInterruptRequest):
            out.append(("interrupt", e.target_participant_id, e.reason, e.monologue_ms, e.media_time_ms))
        elif isinstance(e, FacilitatorMessage):
            out.append(("message", e.audience, e.participant_id or "-", e.reason))
    return out


def run_ticks(room: RoomPolicy, end: int, start: int = 100) -> list[Any]:
    out: list[Any] = []
    for t in range(start, end + 1, 100):
        out.extend(room.tick(t))
    return out


# --------------------------------------------------------------------------------------------
# Turns
# --------------------------------------------------------------------------------------------


def test_a_turn_past_the_limit_is_a_violation_and_an_interrupt_request() -> None:
    loaded = policy(turns={"maxTurnMs": 10_000, "turnRepeatMs": 0, "maxShare": None})
    room = RoomPolicy(loaded)
    room.joined(0, "p-a")
    room.speaking(1_000, "p-a", True)
    events = run_ticks(room, 20_000)
    assert kinds(events) == [
        ("violation", "turns.maxTurnMs", "turn_limit", "interrupt", "p-a", "medium", 11_000),
        ("interrupt", "p-a", "policy", 10_000, 11_000),
    ]
    assert events[0].policy_version == loaded.version


def test_the_turn_limit_repeats_while_the_turn_goes_on() -> None:
    room = RoomPolicy(policy(turns={"maxTurnMs": 10_000, "turnRepeatMs": 5_000, "maxShare": None}))
    room.speaking(0, "p-a", True)
    times = [e.media_time_ms for e in run_ticks(room, 21_000) if isinstance(e, ConversationPolicyViolation)]
    assert times == [10_000, 15_000, 20_000]


def test_short_pauses_and_backchannels_do_not_reset_the_turn_but_a_real_turn_does() -> None:
    room = RoomPolicy(policy(turns={"maxTurnMs": 10_000, "turnRepeatMs": 0, "maxShare": None}))
    for start, end in [(0, 4_000), (4_500, 8_000)]:  # a breath of 500 ms: same turn
        room.speaking(start, "p-a", True)
        room.speaking(end, "p-a", False)
    room.speaking(8_200, "p-a", True)
    room.speaking(8_400, "p-b", True)  # "yeah": a backchannel
    room.speaking(8_800, "p-b", False)
    assert [e.media_time_ms for e in run_ticks(room, 10_500) if isinstance(e, RoomInterruptRequest)] == [10_000]
    other = RoomPolicy(policy(turns={"maxTurnMs": 10_000, "turnRepeatMs": 0, "maxShare": None}))
    other.speaking(0, "p-a", True)
    other.speaking(3_000, "p-b", True)  # B holds the floor for 3 s: A's turn restarts after it
    other.speaking(6_000, "p-b", False)
    assert [e.media_time_ms for e in run_ticks(other, 16_500) if isinstance(e, RoomInterruptRequest)] == [16_000]


def test_no_turn_limit_configured_means_no_turn_events() -> None:
    room = RoomPolicy(policy(turns={"maxTurnMs": None, "maxShare": None}))
    room.speaking(0, "p-a", True)
    assert run_ticks(room, 200_000, start=1_000) == []


def share_room(**turns: Any) -> RoomPolicy:
    room = RoomPolicy(
        policy(turns={"maxTurnMs": None, "maxShare": 0.6, "shareMinTalkMs": 10_000, "nudgeCooldownMs": 30_000, **turns})
    )
    room.joined(0, "p-a")
    room.joined(0, "p-b")
    return room


def test_a_share_over_the_limit_nudges_once_per_cooldown() -> None:
    room = share_room()
    room.speaking(0, "p-a", True)
    events = run_ticks(room, 45_000)
    assert kinds(events) == [
        ("violation", "turns.maxShare", "turn_limit", "warn", "p-a", "low", 10_000),
        ("message", "participant", "p-a", "nudge"),
        ("violation", "turns.maxShare", "turn_limit", "warn", "p-a", "low", 40_000),
        ("message", "participant", "p-a", "nudge"),
    ]
    assert "Let's give the others" in events[1].text


def test_no_share_nudge_before_enough_talk_or_for_a_balanced_room() -> None:
    room = share_room()
    room.speaking(0, "p-a", True)
    assert run_ticks(room, 9_900) == []
    balanced = share_room()
    for pid, start in [("p-a", 0), ("p-b", 10_000), ("p-a", 20_000), ("p-b", 30_000)]:
        balanced.speaking(start, pid, True)
        balanced.speaking(start + 9_000, pid, False)
    assert run_ticks(balanced, 40_000) == []


@pytest.mark.parametrize(
    ("style", "text"), [("direct", "You have had 100% of the talk time"), ("silent", None)], ids=["direct", "silent"]
)
def test_nudge_style_words_the_nudge_or_skips_it(style: str, text: str | None) -> None:
    room = RoomPolicy(
        policy(turns={"maxTurnMs": None, "maxShare": 0.6, "shareMinTalkMs": 1_000}, facilitation={"nudgeStyle": style})
    )
    room.joined(0, "p-a")
    room.joined(0, "p-b")
    room.speaking(0, "p-a", True)
    events = run_ticks(room, 2_000)
    messages = [e for e in events if isinstance(e, FacilitatorMessage)]
    assert [e.rule for e in events if isinstance(e, ConversationPolicyViolation)] == ["turns.maxShare"]
    assert messages[0].text.startswith(text) if text else messages == []


def test_someone_who_left_is_not_nudged() -> None:
    room = share_room()
    room.speaking(0, "p-a", True)
    room.left(9_000, "p-a")
    room.speaking(9_000, "p-b", True)
    assert [e for e in run_ticks(room, 20_000) if isinstance(e, FacilitatorMessage)] == []


# --------------------------------------------------------------------------------------------
# Transcripts and chat
# --------------------------------------------------------------------------------------------


CONTENT = {
    "rules": [
        {"id": "vendor", "phrases": ["payment provider"], "action": "block", "severity": "high"},
        {"id": "phone", "patterns": [r"\b\d{3}-\d{4}\b"], "action": "redact"},
        {"id": "incident", "phrases": ["outage"], "action": "warn", "severity": "low"},
        {
            "id": "insult",
            "phrases": ["idiot"],
            "action": "interrupt",
            "severity": "high",
            "appliesTo": ["transcript", "chat"],
        },
    ]
}


TEXT_CASES = [
    ("clean", "all good", "all good", []),
    (
        "redacted",
        "call 555-0142",
        "call [redacted]",
        [("violation", "content.phone", "content", "redact", "p-a", "medium", 5_000)],
    ),
    (
        "blocked",
        "the Payment Provider is late",
        None,
        [("violation", "content.vendor", "content", "block", "p-a", "high", 5_000)],
    ),
    ("warned", "an outage", "an outage", [("violation", "content.incident", "content", "warn", "p-a", "low", 5_000)]),
    (
        "interrupting",
        "what an idiot",
        None,
        [
            ("violation", "content.insult", "content", "interrupt", "p-a", "high", 5_000),
            ("interrupt", "p-a", "policy", 1_000, 5_000),
        ],
    ),
]


@pytest.mark.parametrize(("text", "passed", "events"), [c[1:] for c in TEXT_CASES], ids=[c[0] for c in TEXT_CASES])
def test_transcripts_pass_the_content_guard(text: str, passed: str | None, events: list[tuple[Any, ...]]) -> None:
    room = RoomPolicy(policy(content=CONTENT))
    room.speaking(4_000, "p-a", True)
    decision = room.transcript(5_000, "p-a", text)
    assert decision.text == passed
    assert kinds(decision.events) == events


def test_chat_over_its_bucket_is_dropped_with_a_rate_limit_violation_but_not_the_bots() -> None:
    room = RoomPolicy(policy(rates={"chatMessages": {"capacity": 2, "refillEveryMs": 10_000}}), bot_id="bot")
    decisions = [room.chat(1_000, "p-a", "hi") for _ in range(3)]
    assert [d.text for d in decisions] == ["hi", "hi", None]
    assert kinds(decisions[2].events) == [
        ("violation", "rates.chatMessages", "rate_limit", "block", "p-a", "low", 1_000)
    ]
    assert all(room.chat(1_000, "bot", "/vote a? | b | c").text for _ in range(5))
    assert room.chat(11_000, "p-a", "again").text == "again"


def test_interim_transcripts_are_guarded_without_violations() -> None:
    room = RoomPolicy(policy(content=CONTENT))
    assert room.interim("p-a", "call 555-0142") == "call [redacted]"
    assert room.interim("p-a", "payment provider") is None


# --------------------------------------------------------------------------------------------
# The bot's own output
# --------------------------------------------------------------------------------------------


def message(text: str = "Let's hear from Bob.") -> FacilitatorMessage:
    return FacilitatorMessage(text=text, audience="room", reason="facilitation")


def test_bot_messages_are_limited_per_minute_and_by_their_bucket() -> None:
    gate = BotOutputGate(
        policy(turns={"maxBotTurnsPerMinute": 2}, rates={"botMessages": {"capacity": 5, "refillEveryMs": 1_000}})
    )
    results = [gate.message(t, message()) for t in (0, 1_000, 2_000, 60_000)]
    assert [m is not None for m, _ in results] == [True, True, False, True]
    assert kinds(results[2][1]) == [
        ("violation", "turns.maxBotTurnsPerMinute", "rate_limit", "block", "-", "low", 2_000)
    ]
    bucket = BotOutputGate(
        policy(turns={"maxBotTurnsPerMinute": None}, rates={"botMessages": {"capacity": 1, "refillEveryMs": 20_000}})
    )
    assert [bucket.message(t, message())[0] is not None for t in (0, 1_000, 20_000)] == [True, False, True]
    assert kinds(bucket.message(20_500, message())[1]) == [
        ("violation", "rates.botMessages", "rate_limit", "block", "-", "low", 20_500)
    ]


def test_a_refused_bot_message_consumes_no_token() -> None:
    gate = BotOutputGate(
        policy(turns={"maxBotTurnsPerMinute": 1}, rates={"botMessages": {"capacity": 1, "refillEveryMs": 1_000}})
    )
    assert gate.message(0, message())[0] is not None
    assert gate.message(500, message())[0] is None  # window full
    assert gate.message(60_000, message())[0] is not None


def test_the_bots_own_output_passes_the_content_guard() -> None:
    gate = BotOutputGate(policy(content=CONTENT))
    redacted, v1 = gate.message(0, message("Call 555-0142 later"))
    assert redacted is not None and redacted.text == "Call [redacted] later"
    blocked, v2 = gate.message(0, message("The payment provider said"))
    assert blocked is None
    assert [(v.rule, v.action, v.participant_id) for v in v1 + v2] == [
        ("content.phone", "redact", None),
        ("content.vendor", "block", None),
    ]
    not_for_bot, v3 = gate.message(0, message("you idiot"))  # the insult rule does not apply to the bot channel
    assert not_for_bot is not None and v3 == []


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------


TOOL_CASES = [
    ("allowed", {}, "close_vote", True, None),
    ("unknown-tool", {}, "delete_room", False, ("tools.unknown", "tool_denied")),
    ("denied", {"deny": ["close_vote"]}, "close_vote", False, ("tools.deny.close_vote", "tool_denied")),
    ("not-in-allow-list", {"allow": ["start_vote"]}, "close_vote", False, ("tools.allow", "tool_denied")),
    (
        "deny-wins-over-allow",
        {"allow": ["close_vote"], "deny": ["close_vote"]},
        "close_vote",
        False,
        ("tools.deny.close_vote", "tool_denied"),
    ),
]


@pytest.mark.parametrize(
    ("rules", "tool", "allowed", "rule"), [c[1:] for c in TOOL_CASES], ids=[c[0] for c in TOOL_CASES]
)
def test_tool_calls_pass_allow_and_deny_lists(
    rules: dict[str, Any], tool: str, allowed: bool, rule: tuple[str, str] | None
) -> None:
    gate = ToolGate(policy(tools=rules), known=TOOLS)
    decision = gate.check(7_000, tool)
    assert decision.allowed is allowed
    if rule:
        assert decision.violation is not None
        assert (decision.violation.rule, decision.violation.kind, decision.violation.action) == (*rule, "block")
        assert decision.violation.participant_id is None and decision.violation.media_time_ms == 7_000


def test_per_tool_rate_limits_on_media_time() -> None:
    gate = ToolGate(policy(tools={"rates": {"close_vote": {"capacity": 1, "refillEveryMs": 60_000}}}), known=TOOLS)
    results = [gate.check(t, "close_vote") for t in (0, 30_000, 60_000)]
    assert [r.allowed for r in results] == [True, False, True]
    assert results[1].violation is not None and (results[1].violation.rule, results[1].violation.kind) == (
        "tools.rates.close_vote",
        "rate_limit",
    )


def test_only_permitted_tools_are_offered() -> None:
    gate = ToolGate(policy(tools={"allow": ["start_vote", "close_vote"], "deny": ["start_vote"]}), known=TOOLS)
    assert gate.offered() == ["close_vote"]


# --------------------------------------------------------------------------------------------
# Inbound app messages
# --------------------------------------------------------------------------------------------


def test_inbound_limiter_refuses_an_empty_bucket_and_reports_a_violation() -> None:
    seen: list[ConversationPolicyViolation] = []
    limiter = InboundRateLimiter(
        policy(rates={"inboundMessages": {"capacity": 2, "refillEveryMs": 5_000}}), on_violation=seen.append
    )
    assert [limiter("p-a", 1_000) for _ in range(3)] + [limiter("p-b", 1_000), limiter("p-a", 6_000)] == [
        True,
        True,
        False,
        True,
        True,
    ]
    assert kinds(seen) == [("violation", "rates.inboundMessages", "rate_limit", "block", "p-a", "medium", 1_000)]
    assert limiter.rejected == {"p-a": 1}


def test_inbound_limiter_without_a_media_time_uses_its_clock_or_the_last_tick() -> None:
    loaded = policy(rates={"inboundMessages": {"capacity": 1, "refillEveryMs": 5_000}})
    ticked = InboundRateLimiter(loaded)
    ticked.observe(2_000)
    assert [ticked("p-a"), ticked("p-a")] == [True, False]
    ticked.observe(7_000)
    assert ticked("p-a")
    now = [0]
    clocked = InboundRateLimiter(loaded, clock=lambda: now[0])
    assert [clocked("p-a"), clocked("p-a")] == [True, False]
    now[0] = 5_000
    assert clocked("p-a")


def test_no_inbound_limit_configured_lets_everything_through() -> None:
    limiter = InboundRateLimiter(policy(rates={"inboundMessages": None}))
    assert all(limiter("p-a", 0) for _ in range(1_000))
