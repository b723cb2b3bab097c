"""Redaction per destination (driven by the real spec) and sampling."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest

from bot.events import EventBus, Redactor, Sampler, SessionContext, SpecRegistry
from bot.generated import (
    DominanceShare,
    FacilitatorMessage,
    RoomDominanceScore,
    RoomParticipantJoined,
    RoomSpeakingStarted,
    TopicModel,
)

SALT = "test-salt"


def h(value: str, salt: str = SALT) -> str:
    return "h:" + hashlib.sha256(salt.encode() + value.encode()).hexdigest()


def envelope_of(registry: SpecRegistry, model: TopicModel) -> dict[str, Any]:
    return EventBus(registry=registry, context=SessionContext(session_id="s")).publish(model)


def redact(registry: SpecRegistry, model: TopicModel, destination: str, salt: str = SALT) -> tuple[dict, dict]:
    env = envelope_of(registry, model)
    original = copy.deepcopy(env)
    out = Redactor(registry, salt).apply(env, registry.topics[env["topic"]], destination)
    assert env == original, "the original envelope was mutated"
    return env, out


JOINED = RoomParticipantJoined(participant_id="p-ann", display_name="Ann Example", media_time_ms=5)
DOMINANCE = RoomDominanceScore(
    window_ms=60_000,
    participants=[
        DominanceShare(participant_id=f"p{i}", talk_time_ms=t, share=s)
        for i, (t, s) in enumerate([(30_000, 0.5), (15_000, 0.25), (15_000, 0.25), (0, 0.0)])
    ],
    gini=0.4,
    dominant_participant_id="p0",
    trigger="change",
    media_time_ms=60_000,
)
NO_DOMINANT = DOMINANCE.model_copy(update={"dominant_participant_id": None})

REDACTIONS = [
    (
        "joined_to_eventbridge_drops_name_and_hashes_id",
        JOINED,
        "eventbridge",
        {"participantId": h("p-ann"), "mediaTimeMs": 5},
        ["/payload/displayName", "/payload/participantId"],
    ),
    (
        "joined_to_stdout_is_intact",
        JOINED,
        "stdout",
        {"participantId": "p-ann", "displayName": "Ann Example", "mediaTimeMs": 5},
        None,
    ),
    (
        "joined_to_app_message_is_intact",
        JOINED,
        "app_message",
        {"participantId": "p-ann", "displayName": "Ann Example", "mediaTimeMs": 5},
        None,
    ),
    (
        "dominance_to_eventbridge_hashes_every_array_item",
        DOMINANCE,
        "eventbridge",
        {
            "windowMs": 60_000,
            "participants": [
                {"participantId": h("p0"), "talkTimeMs": 30_000, "share": 0.5},
                {"participantId": h("p1"), "talkTimeMs": 15_000, "share": 0.25},
                {"participantId": h("p2"), "talkTimeMs": 15_000, "share": 0.25},
                {"participantId": h("p3"), "talkTimeMs": 0, "share": 0.0},
            ],
            "gini": 0.4,
            "dominantParticipantId": h("p0"),
            "trigger": "change",
            "mediaTimeMs": 60_000,
        },
        [f"/payload/participants/{i}/participantId" for i in range(4)] + ["/payload/dominantParticipantId"],
    ),
    (
        "null_is_not_hashed_nor_listed",
        NO_DOMINANT,
        "eventbridge",
        None,  # checked below
        [f"/payload/participants/{i}/participantId" for i in range(4)],
    ),
    (
        "dominance_to_app_message_is_intact",
        DOMINANCE,
        "app_message",
        DOMINANCE.to_wire(),
        None,
    ),
]


@pytest.mark.parametrize(
    ("model", "destination", "payload", "redacted"), [r[1:] for r in REDACTIONS], ids=[r[0] for r in REDACTIONS]
)
def test_redaction_per_destination_follows_the_spec(
    registry: SpecRegistry, model: TopicModel, destination: str, payload: dict | None, redacted: list[str] | None
) -> None:
    env, out = redact(registry, model, destination)
    if payload is not None:
        assert out["payload"] == payload
    if redacted is None:
        assert "pii" not in out
        assert out == env
    else:
        level = registry.topics[env["topic"]].pii_level
        assert out["pii"] == {"level": level, "redacted": redacted}
    # everything but payload and pii is the publisher's envelope
    assert {k: v for k, v in out.items() if k not in ("payload", "pii")} == {
        k: v for k, v in env.items() if k != "payload"
    }


def test_null_optional_pii_stays_null(registry: SpecRegistry) -> None:
    _, out = redact(registry, NO_DOMINANT, "eventbridge")
    assert out["payload"]["dominantParticipantId"] is None


def test_an_absent_optional_field_is_not_reported_as_redacted(registry: SpecRegistry) -> None:
    _, out = redact(registry, RoomParticipantJoined(participant_id="p", media_time_ms=0), "eventbridge")
    assert out["payload"] == {"participantId": h("p"), "mediaTimeMs": 0}
    assert out["pii"]["redacted"] == ["/payload/participantId"]


def test_redaction_never_mutates_the_original_even_in_nested_arrays(registry: SpecRegistry) -> None:
    env = envelope_of(registry, DOMINANCE)
    inner = env["payload"]["participants"][0]
    snapshot = copy.deepcopy(env)
    redactor = Redactor(registry, SALT)
    for destination in ("eventbridge", "app_message", "stdout"):
        redactor.apply(env, registry.topics[env["topic"]], destination)
    assert env == snapshot
    assert env["payload"]["participants"][0] is inner
    assert inner["participantId"] == "p0"


def test_hash_is_salted_and_stable(registry: SpecRegistry) -> None:
    _, a1 = redact(registry, JOINED, "eventbridge", salt="salt-a")
    _, a2 = redact(registry, JOINED, "eventbridge", salt="salt-a")
    _, b = redact(registry, JOINED, "eventbridge", salt="salt-b")
    assert a1["payload"]["participantId"] == a2["payload"]["participantId"] == h("p-ann", "salt-a")
    assert b["payload"]["participantId"] == h("p-ann", "salt-b") != a1["payload"]["participantId"]
    assert Redactor(registry, b"salt-a").pseudonym("p-ann") == h("p-ann", "salt-a")


def _registry_with(raw: dict, change) -> SpecRegistry:
    raw = copy.deepcopy(raw)
    change(raw)
    return SpecRegistry(raw)


def test_pii_above_a_destinations_max_level_falls_back_to_its_default_action(raw_registry: dict) -> None:
    """Fail closed: a level-1 field going to a destination with maxLevel 0 and no explicit rule is dropped."""
    registry = _registry_with(raw_registry, lambda r: r["piiPolicy"]["destinations"]["app_message"].update(maxLevel=0))
    _, out = redact(registry, RoomSpeakingStarted(participant_id="p1", media_time_ms=1), "app_message")
    assert out["payload"] == {"mediaTimeMs": 1}
    assert out["pii"] == {"level": 1, "redacted": ["/payload/participantId"]}


def test_the_fallback_action_is_the_destinations_own(raw_registry: dict) -> None:
    def change(r: dict) -> None:
        r["piiPolicy"]["destinations"]["app_message"].update(maxLevel=2, action="mask")

    registry = _registry_with(raw_registry, change)
    _, out = redact(
        registry, FacilitatorMessage(text="Ann said something", audience="room", reason="nudge"), "app_message"
    )
    assert out["payload"]["text"] == "***"
    assert out["pii"] == {"level": 3, "redacted": ["/payload/text"]}


def test_explicit_rules_win_over_the_fallback(raw_registry: dict) -> None:
    def change(r: dict) -> None:
        r["topics"]["room.participant.joined"]["forwarding"]["redact"][0]["action"] = "mask"

    registry = _registry_with(raw_registry, change)
    _, out = redact(registry, JOINED, "eventbridge")
    assert out["payload"] == {"participantId": h("p-ann"), "displayName": "***", "mediaTimeMs": 5}


# ---- sampling


def _sampled_registry(raw: dict) -> SpecRegistry:
    def change(r: dict) -> None:
        r["topics"]["room.speaking.started"]["forwarding"]["sampleRate"] = 0.5
        r["topics"]["assistant.session.started"]["forwarding"]["sampleRate"] = 0.1  # critical
        assert r["topics"]["assistant.session.started"]["forwarding"]["priority"] == "critical"

    return _registry_with(raw, change)


@pytest.mark.parametrize(
    ("topic", "destination"),
    [
        ("assistant.session.started", "eventbridge"),
        ("assistant.session.started", "stdout"),
        ("room.speaking.started", "stdout"),
        ("room.pacing.updated", "app_message"),
    ],
    ids=["critical_to_eventbridge", "critical_to_stdout", "sampled_topic_to_stdout", "rate_one"],
)
def test_sampling_never_drops_critical_topics_stdout_or_rate_one(
    raw_registry: dict, topic: str, destination: str
) -> None:
    registry = _sampled_registry(raw_registry)
    sampler = Sampler(registry, seed=1)
    rule = registry.topics[topic]
    assert all(sampler.keep(rule, destination) for _ in range(2_000))


@pytest.mark.parametrize("destination", ["app_message", "eventbridge"])
def test_sampling_keeps_about_sample_rate_of_other_topics(raw_registry: dict, destination: str) -> None:
    registry = _sampled_registry(raw_registry)
    rule = registry.topics["room.speaking.started"]
    n = 10_000
    sampler = Sampler(registry, seed=42)
    kept = sum(sampler.keep(rule, destination) for _ in range(n))
    assert abs(kept / n - 0.5) < 0.03  # 6 standard deviations


def test_a_seeded_sampler_is_reproducible(raw_registry: dict) -> None:
    registry = _sampled_registry(raw_registry)
    rule = registry.topics["room.speaking.started"]
    a, b = Sampler(registry, seed=3), Sampler(registry, seed=3)
    assert [a.keep(rule, "app_message") for _ in range(500)] == [b.keep(rule, "app_message") for _ in range(500)]
