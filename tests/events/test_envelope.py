"""The envelope every publish produces: id, ts, seq, context and shape."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from bot.events import Envelope, EventBus, SessionContext, SpecRegistry, uuid7_ms
from bot.generated import SPEC_VERSION, ForwardingDeliveryDeferred, RoomSpeakingStarted, RoomSpeakingStopped, Topic


def started(pid: str = "p1", at: int = 0) -> RoomSpeakingStarted:
    return RoomSpeakingStarted(participant_id=pid, media_time_ms=at)


def test_id_is_a_uuid7_whose_time_is_ts(bus: EventBus) -> None:
    before = time.time_ns() // 1_000_000
    envelopes = [bus.publish(started(at=i)) for i in range(200)]
    after = time.time_ns() // 1_000_000
    for env in envelopes:
        parsed = uuid.UUID(env["id"])
        assert parsed.version == 7
        assert parsed.variant == uuid.RFC_4122
        assert uuid7_ms(env["id"]) == env["ts"]
        assert before <= env["ts"] <= after
    assert len({env["id"] for env in envelopes}) == len(envelopes)


def test_seq_is_contiguous_from_one_across_topics(bus: EventBus) -> None:
    seqs = []
    for i in range(50):
        seqs.append(bus.publish(started(at=i))["meta"]["seq"])
        seqs.append(
            bus.publish(RoomSpeakingStopped(participant_id="p1", media_time_ms=i, duration_ms=1))["meta"]["seq"]
        )
    assert seqs == list(range(1, 101))
    assert bus.last_seq == 100


def test_seq_stays_contiguous_when_threads_publish_at_once(bus: EventBus) -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def record(env: dict) -> None:
        with lock:
            seen.append(env["meta"]["seq"])

    bus.subscribe("*", record)
    threads = [threading.Thread(target=lambda: [bus.publish(started()) for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == list(range(1, 2001))


def test_each_bus_is_one_session_with_its_own_seq(registry: SpecRegistry) -> None:
    a = EventBus(registry=registry, context=SessionContext(session_id="a"))
    b = EventBus(registry=registry, context=SessionContext(session_id="b"))
    assert [a.publish(started())["meta"]["seq"] for _ in range(3)] == [1, 2, 3]
    assert b.publish(started())["meta"]["seq"] == 1


def test_envelope_validates_against_the_envelope_model(bus: EventBus) -> None:
    env = bus.publish(started(at=1234), media_time_ms=1234)
    model = Envelope.model_validate(env)
    assert model.topic == Topic.ROOM_SPEAKING_STARTED
    assert model.spec_version == SPEC_VERSION == env["specVersion"]
    assert model.runtime == "bot"
    assert model.meta.seq == 1
    assert model.meta.media_time_ms == 1234
    assert env["payload"] == {"participantId": "p1", "mediaTimeMs": 1234}
    assert model.model_dump(mode="json", by_alias=True, exclude_none=True) == env


def test_meta_has_only_seq_unless_media_time_is_given(bus: EventBus) -> None:
    assert bus.publish(started())["meta"] == {"seq": 1}


CONTEXTS = [
    ("session_only", SessionContext(session_id="s"), {"runtime": "bot", "sessionId": "s"}),
    (
        "all_set",
        SessionContext(session_id="s", assistant_id="a", tenant_id="t", room_id="r"),
        {"runtime": "bot", "sessionId": "s", "assistantId": "a", "tenantId": "t", "roomId": "r"},
    ),
    ("room_only", SessionContext(session_id="s", room_id="r"), {"runtime": "bot", "sessionId": "s", "roomId": "r"}),
    (
        "empty_strings_are_unset",
        SessionContext(session_id="s", assistant_id="", tenant_id=""),
        {"runtime": "bot", "sessionId": "s"},
    ),
    (
        "supervisor_runtime",
        SessionContext(session_id="s", runtime="supervisor"),
        {"runtime": "supervisor", "sessionId": "s"},
    ),
]


@pytest.mark.parametrize(("context", "expected"), [c[1:] for c in CONTEXTS], ids=[c[0] for c in CONTEXTS])
def test_context_fields_are_present_only_when_set(
    registry: SpecRegistry, context: SessionContext, expected: dict
) -> None:
    payload = (
        started()
        if context.runtime == "bot"
        else ForwardingDeliveryDeferred(destination="eventbridge", count=1, reason="throttled")
    )
    env = EventBus(registry=registry, context=context).publish(payload)
    fixed = {"id", "ts", "topic", "specVersion", "payload", "meta"}
    assert {k: v for k, v in env.items() if k not in fixed} == expected
    Envelope.model_validate(env)


def test_uuid7_ms_reads_the_48_bit_time_prefix() -> None:
    assert uuid7_ms("01890a5d-ac96-774b-bcce-b302099a8057") == 0x01890A5DAC96
