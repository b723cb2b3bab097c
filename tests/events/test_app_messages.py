"""The app-message forwarder: only app_message topics, a 4096-byte cap on the whole envelope,
and every envelope not sent is counted and reported."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from bot.events import AppMessageForwarder, EventBus, Redactor, Sampler, SessionContext, SpecRegistry
from bot.generated import (
    BotHealthHeartbeat,
    EventsInboundRejected,
    FacilitatorMessage,
    RoomParticipantJoined,
    RoomSpeakingStarted,
    TopicModel,
)


def forwarder_for(bus: EventBus, *, enabled: bool = True, seed: int | None = 0) -> AppMessageForwarder:
    return AppMessageForwarder(bus, Redactor(bus.registry, "salt"), Sampler(bus.registry, seed=seed), enabled=enabled)


def facilitator(text: str) -> FacilitatorMessage:
    return FacilitatorMessage(text=text, audience="room", reason="nudge")


ROUTING: list[tuple[str, TopicModel, bool]] = [
    ("speaking_started_goes", RoomSpeakingStarted(participant_id="p1", media_time_ms=0), True),
    ("facilitator_message_goes", facilitator("Let's hear from someone else."), True),
    (
        "participant_joined_stays",
        RoomParticipantJoined(participant_id="p1", display_name="Ann", media_time_ms=0),
        False,
    ),
    (
        "heartbeat_stays",
        BotHealthHeartbeat(uptime_ms=1, published=0, dropped=0, violations=0, buffer_fill_percent=0.0, participants=1),
        False,
    ),
    ("inbound_rejected_stays", EventsInboundRejected(reason="schema", sender_id="p1"), False),
]


@pytest.mark.parametrize(("model", "goes"), [r[1:] for r in ROUTING], ids=[r[0] for r in ROUTING])
def test_only_app_message_topics_pass(bus: EventBus, model: TopicModel, goes: bool) -> None:
    forwarder = forwarder_for(bus)
    env = bus.publish(model)
    out = forwarder.prepare(env)
    assert (out is not None) == goes
    assert out is None or out == env
    assert forwarder.prepared == int(goes)
    assert bus.dropped == 0


def test_an_envelope_over_4096_bytes_is_not_sent_but_counted_and_reported(bus: EventBus, collect) -> None:
    deferred = collect("forwarding.delivery.deferred")
    forwarder = forwarder_for(bus)
    assert forwarder.max_bytes == 4096
    env = bus.publish(facilitator("\U0001f600" * 1000))  # 4000 bytes of text alone
    size = len(orjson.dumps(env))
    assert size > 4096

    assert forwarder.prepare(env) is None

    assert forwarder.sent == 0 and forwarder.too_large == 1
    assert bus.dropped == 1
    assert bus.drops_by_reason == {"app_message_too_large": 1}
    assert len(deferred) == 1
    assert deferred[0]["payload"] == {
        "destination": "app_message",
        "count": 1,
        "reason": "too_large",
        "topic": "facilitator.message",
        "sizeBytes": size,
        "limitBytes": 4096,
    }


def _text_for_size(registry: SpecRegistry, target: int) -> str:
    """Facilitator text whose envelope (seq 1 of a fresh session) serializes to ``target`` bytes."""
    base = "a" * 1000
    probe = EventBus(registry=registry, context=SessionContext(session_id="s")).publish(facilitator(base))
    extra = target - len(orjson.dumps(probe))  # each 'é' adds 1 byte, each emoji 3
    assert 0 <= extra <= 3000
    emoji, accents = divmod(extra, 3)
    return "\U0001f600" * emoji + "é" * accents + "a" * (1000 - emoji - accents)


@pytest.mark.parametrize(
    ("size", "sent"), [(4095, True), (4096, True), (4097, False)], ids=["under", "at_limit", "one_over"]
)
def test_the_limit_is_on_utf8_bytes_of_the_whole_envelope(registry: SpecRegistry, size: int, sent: bool) -> None:
    text = _text_for_size(registry, size)
    bus = EventBus(registry=registry, context=SessionContext(session_id="s"))
    env = bus.publish(facilitator(text))
    assert len(orjson.dumps(env)) == size
    assert (forwarder_for(bus).prepare(env) is not None) == sent
    assert bus.dropped == (0 if sent else 1)


def test_a_disabled_forwarder_drops_and_counts(bus: EventBus) -> None:
    forwarder = forwarder_for(bus, enabled=False)
    env = bus.publish(RoomSpeakingStarted(participant_id="p1", media_time_ms=0))
    assert forwarder.prepare(env) is None
    assert bus.drops_by_reason == {"forwarding_disabled": 1}
    assert forwarder.sent == 0


def test_a_disabled_forwarder_ignores_topics_that_never_go_to_browsers(bus: EventBus) -> None:
    forwarder = forwarder_for(bus, enabled=False)
    assert forwarder.prepare(bus.publish(EventsInboundRejected(reason="schema", sender_id="p1"))) is None
    assert bus.dropped == 0


def test_sampled_copies_say_their_sample_rate_and_drops_are_counted(raw_registry: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_registry)
    raw["topics"]["room.speaking.started"]["forwarding"]["sampleRate"] = 0.5
    registry = SpecRegistry(raw)
    bus = EventBus(registry=registry, context=SessionContext(session_id="s"))
    forwarder = forwarder_for(bus, seed=5)
    sent = []
    for i in range(1_000):
        env = bus.publish(RoomSpeakingStarted(participant_id="p1", media_time_ms=i))
        out = forwarder.prepare(env)
        if out is not None:
            sent.append(out)
            assert "sampleRate" not in env["meta"]  # the bus's envelope is untouched
    assert 400 < len(sent) < 600
    assert all(out["meta"]["sampleRate"] == 0.5 for out in sent)
    assert bus.drops_by_reason == {"sampled": 1_000 - len(sent)}


# ---- what became of each send (the room reports it back) -----------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_sends_are_counted_by_outcome_and_losses_reported_rate_limited_never_lost(bus: EventBus, collect) -> None:
    deferred = collect("forwarding.delivery.deferred")
    clock = FakeClock()
    forwarder = AppMessageForwarder(bus, Redactor(bus.registry, "salt"), Sampler(bus.registry, seed=0), monotonic=clock)
    forwarder.record("sent", "room.speaking.started")
    forwarder.record("not_connected", "room.speaking.started", "signalling interrupted")  # reported at once
    forwarder.record("not_connected", "room.speaking.stopped")  # within the second: held
    forwarder.record("not_connected", "room.speaking.stopped")
    clock.t += 1.0
    forwarder.record("not_connected", "room.speaking.stopped")  # a second later: carries the held ones
    forwarder.record("timed_out", "facilitator.message")  # another reason: reported at once
    forwarder.record("failed", "facilitator.message", "ChannelNotOpen")
    forwarder.record("failed", "facilitator.message")
    forwarder.flush()

    reports = [(d["payload"]["reason"], d["payload"]["count"], d["payload"].get("topic")) for d in deferred]
    assert reports == [
        ("not_connected", 1, "room.speaking.started"),
        ("not_connected", 3, "room.speaking.stopped"),  # all three of one topic: the report names it
        ("timed_out", 1, "facilitator.message"),
        ("rejected", 1, "facilitator.message"),
        ("rejected", 1, "facilitator.message"),
    ]
    assert dict(forwarder.outcomes) == {"sent": 1, "failed": 2, "timed_out": 1, "not_connected": 4, "too_large": 0}
    assert forwarder.sent == 1 and forwarder.lost == 7
    assert sum(count for _, count, _ in reports) == forwarder.lost  # every loss is in a report
    assert bus.drops_by_reason == {"app_message_not_connected": 4, "app_message_timed_out": 1, "app_message_failed": 2}


def test_a_send_that_succeeds_again_reports_the_held_losses_at_once(bus: EventBus, collect) -> None:
    deferred = collect("forwarding.delivery.deferred")
    forwarder = AppMessageForwarder(
        bus, Redactor(bus.registry, "salt"), Sampler(bus.registry, seed=0), monotonic=FakeClock()
    )
    for _ in range(3):
        forwarder.record("not_connected", "room.speaking.started")
    assert [d["payload"]["count"] for d in deferred] == [1]
    forwarder.record("sent", "room.speaking.started")
    assert [d["payload"]["count"] for d in deferred] == [1, 2]


def test_an_unknown_outcome_is_refused(bus: EventBus) -> None:
    with pytest.raises(ValueError, match="unknown app message outcome"):
        forwarder_for(bus).record("delivered")
