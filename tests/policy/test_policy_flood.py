"""One flooding participant: its rejections and violations are aggregated per window and the
violation notices go to it alone, never to the whole room (issue 11, item 2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.events.noise import BURST, WINDOW_MS, NoiseAggregator
from tests.policy.harness import payloads, play, policy_of

CHATS = 5_000
CASTS = 2_000
SPAN_MS = 20_000


def flood_room(tmp_path: Path) -> Path:
    events: list[dict[str, Any]] = [
        {"atMs": 0, "type": "join", "participant": "p-alice"},
        {"atMs": 0, "type": "join", "participant": "p-mallory"},
        {"atMs": 100, "type": "chat", "participant": "p-alice", "text": "a spam question"},
    ]
    events += [
        {"atMs": 200 + i * SPAN_MS // CHATS, "type": "chat", "participant": "p-mallory", "text": f"spam {i}"}
        for i in range(CHATS)
    ]
    events += [
        {
            "atMs": 200 + i * SPAN_MS // CASTS,
            "type": "app_message",
            "participant": "p-mallory",
            "envelope": {"topic": "room.vote.cast", "payload": {"voteId": "v", "option": "x" * 101}},
        }
        for i in range(CASTS)
    ]
    events.sort(key=lambda e: e["atMs"])
    room = {
        "name": "flood",
        "sampleRate": 16000,
        "durationMs": SPAN_MS + 1_000,
        "participants": [{"id": "p-alice", "name": "Alice"}, {"id": "p-mallory", "name": "Mallory"}],
        "events": events,
    }
    path = tmp_path / "flood.json"
    path.write_text(json.dumps(room))
    return path


def total(events: list[dict[str, Any]]) -> int:
    return sum(e.get("count", 1) for e in events)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_flooding_participant_costs_a_bounded_number_of_events_and_only_it_hears_about_it(tmp_path: Path) -> None:
    policy = policy_of(
        rates={"chatMessages": None, "inboundMessages": None},
        content={"rules": [{"id": "spam", "phrases": ["spam"], "action": "block", "appliesTo": ["chat"]}]},
    )
    result = play(flood_room(tmp_path), policy)
    envelopes = result["envelopes"]
    violations = [v for v in payloads(envelopes, "conversation.policy.violation") if v["participantId"] == "p-mallory"]
    rejected = [r for r in payloads(envelopes, "events.inbound.rejected") if r["senderId"] == "p-mallory"]
    windows = (SPAN_MS + 1_000) // WINDOW_MS + 1
    assert total(violations) == CHATS, "every violation is counted"
    assert len(violations) <= (BURST + 1) * windows, len(violations)
    assert total(rejected) == CASTS
    assert len(rejected) <= (BURST + 1) * windows, len(rejected)
    assert all(v["windowMs"] == WINDOW_MS for v in violations + rejected if "count" in v)
    # the one from Alice is hers alone, not merged with Mallory's
    assert [
        v.get("count") for v in payloads(envelopes, "conversation.policy.violation") if v["participantId"] == "p-alice"
    ] == [None]
    notices = [s for s in result["sent"] if s["message"]["topic"] == "conversation.policy.violation"]
    assert notices, "violations still reach the browser of the one who caused them"
    assert all(s["recipient"] == s["message"]["payload"]["participantId"] for s in notices), "never broadcast"


def test_the_aggregator_publishes_the_first_and_counts_the_rest_per_key_and_window() -> None:
    noise = NoiseAggregator(window_ms=1_000, max_keys=2, burst=2)
    admitted = [noise.admit("a", t) for t in range(0, 2_500, 10)]
    assert admitted.count(True) == 6  # the first two of each window: 0, 1000, 2000
    summaries = noise.due(2_490, final=True)
    assert [(s.count, s.start_ms, s.window_ms) for s in summaries] == [
        (98, 0, 1_000),
        (98, 1_000, 1_000),
        (48, 2_000, 1_000),
    ]
    assert noise.due(5_000, final=True) == []
    assert noise.admit("b", 3_000) and noise.admit("c", 3_000)
    assert not noise.admit("d", 3_000) and noise.overflow == 1, "bounded keys: a new one past the cap is counted"
    assert noise.admit("d", 4_000), "windows that ended make room"


def test_the_heartbeat_counts_every_violation_an_aggregate_stands_for() -> None:
    from bot.events import SessionContext, create_runtime
    from bot.generated.topics import Topic
    from bot.policy.enforce import violation

    policy = policy_of()
    runtime = create_runtime(SessionContext(session_id="s-1", assistant_id="a-1", tenant_id="t-1", room_id="r"))
    bus = runtime.bus
    bus.publish(violation(policy, "rates.chatMessages", "rate_limit", "block", 0, "p-1"))
    bus.publish(
        violation(policy, "rates.chatMessages", "rate_limit", "block", 10_000, "p-1", count=41, window_ms=10_000)
    )
    assert bus.per_topic[Topic.CONVERSATION_POLICY_VIOLATION] == 2
    assert bus.occurrences[Topic.CONVERSATION_POLICY_VIOLATION] == 42  # what bot.health.heartbeat reports
