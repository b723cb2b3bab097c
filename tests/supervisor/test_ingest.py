"""Ingestion of a bot's stdout: validation against the spec, seq accounting, metrics."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from sup_helpers import REPO  # noqa: F401 (sys.path)

from bot.events import EventBus, SessionContext, SpecRegistry
from bot.generated import AssistantSessionStarted, ConversationPolicyViolation, RoomSpeakingStarted
from supervisor.ingest import TOO_LONG, Ingestor, StreamStats
from supervisor.metrics import Metrics


@pytest.fixture
def registry() -> SpecRegistry:
    return SpecRegistry.load()


@pytest.fixture
def bus(registry: SpecRegistry) -> EventBus:
    return EventBus(registry=registry, context=SessionContext(session_id=str(uuid.uuid4()), room_id="room-1"))


@pytest.fixture
def ingestor(registry: SpecRegistry) -> Ingestor:
    return Ingestor(registry, Metrics(), clock_ms=lambda: 2_000_000_000_000.0)


def line(envelope: dict[str, Any]) -> bytes:
    return orjson.dumps(envelope)


def speaking(bus: EventBus, i: int = 0) -> dict[str, Any]:
    return bus.publish(RoomSpeakingStarted(participant_id=f"p-{i}", media_time_ms=i))


def test_a_valid_line_is_ingested_and_counted(bus: EventBus, ingestor: Ingestor) -> None:
    stats = StreamStats()
    env = bus.publish(
        AssistantSessionStarted(
            assistant_id="a", tenant_id="t", bot_version="0", room_url="simulated://x", transport="simulated"
        )
    )
    assert ingestor.ingest(line(env), stats) == env
    m = ingestor.metrics
    assert stats.ingested == 1 and m.published[("bot", "assistant.session.started")] == 1 and m.lines["ok"] == 1
    assert m.latency.total() == 1


BAD = [
    ("not-json", b"hello", "garbage", "garbage"),
    ("a-list", b"[1, 2]", "garbage", "garbage"),
    ("unknown-topic", b'{"topic": "room.nope"}', "invalid", "unknown_topic"),
    ("no-topic", b'{"id": 1}', "invalid", "unknown_topic"),
    ("too-long", TOO_LONG, "garbage", "garbage"),
]


@pytest.mark.parametrize(("raw", "kind", "reason"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_garbage_is_counted_never_fatal(ingestor: Ingestor, raw: bytes, kind: str, reason: str) -> None:
    stats = StreamStats()
    assert ingestor.ingest(raw, stats) is None
    assert getattr(stats, kind) == 1 and ingestor.metrics.dropped[reason] == 1 and ingestor.metrics.lines[kind] == 1


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda e: e["payload"].pop("participantId"), "/payload/participantId: missing"),
        (lambda e: e["payload"].__setitem__("mediaTimeMs", "12"), "/payload/mediaTimeMs: int_type"),
        (lambda e: e["payload"].__setitem__("extra", 1), "/payload/extra: extra_forbidden"),
        (lambda e: e["meta"].__setitem__("seq", 0), "/meta/seq: greater_than_equal"),
        (lambda e: e.__setitem__("id", "not-a-uuid"), "/id: string_pattern_mismatch"),
        (lambda e: e.__setitem__("runtime", "toaster"), "/runtime: literal_error"),
    ],
    ids=["missing-field", "wrong-type", "extra-field", "bad-seq", "bad-id", "bad-runtime"],
)
def test_an_invalid_envelope_is_rejected_naming_the_rule(
    bus: EventBus, ingestor: Ingestor, change: Any, where: str
) -> None:
    env = orjson.loads(line(speaking(bus)))
    change(env)
    stats = StreamStats()
    assert ingestor.ingest(line(env), stats) is None
    assert stats.invalid == 1 and stats.last_error == f"room.speaking.started: {where}"
    assert "p-0" not in (stats.last_error or ""), "never the content"


def test_seq_gaps_and_duplicates_are_counted_per_session(registry: SpecRegistry, ingestor: Ingestor) -> None:
    a = EventBus(registry=registry, context=SessionContext(session_id="a"))
    b = EventBus(registry=registry, context=SessionContext(session_id="b"))
    a_envs = [speaking(a, i) for i in range(5)]
    b_envs = [speaking(b, i) for i in range(2)]
    stats = StreamStats()
    for env in [a_envs[0], b_envs[0], a_envs[1], a_envs[4], b_envs[1], a_envs[4], a_envs[2]]:
        ingestor.ingest(line(env), stats)
    assert stats.gaps == 2, "a: 3 and 4 missing when 5 came"
    assert stats.duplicates == 2, "a: 5 again, then 3 after 5"
    assert ingestor.metrics.seq_gaps == 2 and ingestor.metrics.seq_duplicates == 2


def test_violations_and_spec_mismatches_are_counted(bus: EventBus, ingestor: Ingestor) -> None:
    stats = StreamStats()
    for kind in ("turn_limit", "content", "content"):
        env = bus.publish(
            ConversationPolicyViolation(
                policy_version="sha256:" + "1" * 64, rule="r", kind=kind, action="warn", severity="low"
            )
        )  # type: ignore[arg-type]
        ingestor.ingest(line(env), stats)
    other = {**speaking(bus), "specVersion": "sha256:" + "f" * 64}
    assert ingestor.ingest(line(other), stats) is not None, "another spec version is fine while the payload is valid"
    m = ingestor.metrics
    assert m.violations == {"turn_limit": 1, "content": 2}
    assert m.spec_mismatch["envelope"] == 1


def test_latency_is_envelope_ts_to_ingestion(bus: EventBus, registry: SpecRegistry) -> None:
    env = speaking(bus)
    ingestor = Ingestor(registry, Metrics(), clock_ms=lambda: env["ts"] + 42.0)
    ingestor.ingest(line(env), StreamStats())
    h = ingestor.metrics.latency
    assert h.sums["room.speaking.started"] == 42.0
    assert h.counts["room.speaking.started"][h.buckets.index(50.0)] == 1
