"""Inbound app messages from browsers: every rejection reason, what is accepted, and what the
rejection events may (and may not) say."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import uuid_utils

from bot.events import Accepted, EventBus, InboundValidator, Rejected
from bot.generated import SPEC_VERSION, RoomVoteCast, Topic

OTHER_VERSION = "sha256:" + "ab" * 32
THIRD_VERSION = "sha256:" + "cd" * 32
SECRET = "SECRET-Ann-said-her-pin-is-4711"
SENDER = "5f0c0a38-0c51-4a2c-9f7e-2f54c3f0a001"


def browser_envelope(payload: Any = None, **fields: Any) -> dict[str, Any]:
    uid = uuid_utils.uuid7()
    env = {
        "id": str(uid),
        "ts": uid.timestamp,
        "topic": "room.vote.cast",
        "specVersion": SPEC_VERSION,
        "runtime": "browser",
        "sessionId": "browser-session-1",
        "payload": {"voteId": "v1", "option": "yes"} if payload is None else payload,
        "meta": {"seq": 1},
    }
    env.update(fields)
    return env


def as_json(value: Any) -> bytes:
    return orjson.dumps(value)


def nested(depth: int) -> Any:
    value: Any = SECRET
    for _ in range(depth):
        value = [value]
    return value


@pytest.fixture
def validator(bus: EventBus) -> InboundValidator:
    return InboundValidator(bus)


REJECTIONS: list[tuple[str, Any, str]] = [
    ("not_json_bytes", b"{not json " + SECRET.encode(), "not_json"),
    ("not_json_text", "vote yes " + SECRET, "not_json"),
    ("not_json_empty", b"", "not_json"),
    ("not_json_lone_surrogate", '{"topic": "\ud800' + SECRET + '"}', "not_json"),
    ("not_json_unserializable_value", {"topic": "room.vote.cast", "payload": {SECRET: object()}}, "not_json"),
    ("too_large_text", as_json(browser_envelope({"voteId": "v1", "option": SECRET * 200})), "too_large"),
    ("too_large_parsed", browser_envelope({"voteId": "v1", "option": SECRET * 200}), "too_large"),
    ("too_large_deep_nesting", as_json(browser_envelope({"voteId": "v1", "option": nested(40)})), "too_large"),
    ("too_large_deep_nesting_parsed", browser_envelope({"voteId": "v1", "option": nested(40)}), "too_large"),
    ("unknown_topic", as_json(browser_envelope(topic="room.vote.retracted")), "unknown_topic"),
    ("unknown_topic_that_is_content", as_json(browser_envelope(topic=SECRET + " is my pin")), "unknown_topic"),
    (
        "origin_bot_topic",
        as_json(browser_envelope({"participantId": "p1", "mediaTimeMs": 0}, topic="room.speaking.started")),
        "origin",
    ),
    ("origin_runtime_not_browser", as_json(browser_envelope(runtime="bot")), "origin"),
    ("schema_not_an_object", as_json([SECRET]), "schema"),
    ("schema_scalar", as_json(SECRET), "schema"),
    ("schema_topic_missing", as_json({"payload": {"option": SECRET}}), "schema"),
    ("schema_topic_not_a_string", as_json({"topic": 7, "payload": {"option": SECRET}}), "schema"),
    (
        "schema_envelope_field_missing",
        as_json({k: v for k, v in browser_envelope({"voteId": "v1", "option": SECRET}).items() if k != "id"}),
        "schema",
    ),
    ("schema_bad_envelope_id", as_json(browser_envelope({"voteId": "v1", "option": SECRET}, id=SECRET)), "schema"),
    ("schema_payload_missing_field", as_json(browser_envelope({"option": SECRET})), "schema"),
    ("schema_payload_wrong_type", as_json(browser_envelope({"voteId": "v1", "option": 4711})), "schema"),
    ("schema_payload_bad_pattern", as_json(browser_envelope({"voteId": SECRET + " !", "option": "yes"})), "schema"),
    (
        "spec_version_mismatch_and_invalid_payload",
        as_json(browser_envelope({"voteId": "v1"}, specVersion=OTHER_VERSION)),
        "spec_version",
    ),
]


@pytest.mark.parametrize(("raw", "reason"), [r[1:] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_each_bad_message_is_rejected_with_its_reason_and_reported(
    bus: EventBus, validator: InboundValidator, collect: Callable, raw: Any, reason: str
) -> None:
    rejected = collect("events.inbound.rejected")
    result = validator.check(raw, SENDER)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert validator.stats.rejected == {reason: 1}
    assert validator.stats.accepted == 0
    assert len(rejected) == 1
    payload = rejected[0]["payload"]
    assert payload["reason"] == reason
    assert payload["senderId"] == SENDER


@pytest.mark.parametrize("raw", [r[1] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_rejection_events_never_carry_the_content(bus: EventBus, validator: InboundValidator, raw: Any) -> None:
    published: list[dict] = []
    bus.subscribe("*", published.append)
    validator.check(raw, SENDER)
    assert published
    text = orjson.dumps(published).decode()
    assert SECRET not in text
    # without the spec versions: a sha256 may hold any four digits
    assert "4711" not in text.replace(bus.registry.spec_version, "")


DETAIL = re.compile(r"^/[A-Za-z0-9_/?]*: [^:]+$")


@pytest.mark.parametrize("raw", [r[1] for r in REJECTIONS], ids=[r[0] for r in REJECTIONS])
def test_every_detail_is_a_pointer_and_a_rule(bus: EventBus, validator: InboundValidator, raw: Any) -> None:
    """docs/events.md: a JSON pointer into the message, a colon, the rule; never a parser's message."""
    result = validator.check(raw, SENDER)
    assert isinstance(result, Rejected) and DETAIL.match(result.detail), result.detail
    assert "line 1" not in result.detail and "char" not in result.detail.replace("character", "")


def test_not_json_says_where_the_text_stops_being_json(validator: InboundValidator) -> None:
    result = validator.check(b"{not json", SENDER)
    assert isinstance(result, Rejected) and result.detail == "/: must be JSON (invalid at character 1)"


def test_rate_limited_senders_are_rejected_before_parsing(bus: EventBus, collect: Callable) -> None:
    calls: list[str] = []

    def limiter(sender: str, media_time_ms: int | None = None) -> bool:
        calls.append(sender)
        return len(calls) <= 2

    validator = InboundValidator(bus, rate_limiter=limiter)
    rejected = collect("events.inbound.rejected")
    good = as_json(browser_envelope())
    results = [validator.check(good, SENDER) for _ in range(3)]
    assert [type(r).__name__ for r in results] == ["Accepted", "Accepted", "Rejected"]
    assert results[2].reason == "rate_limited"
    assert calls == [SENDER] * 3
    assert [e["payload"]["reason"] for e in rejected] == ["rate_limited"]
    assert validator.check(b"garbage", SENDER).reason == "rate_limited"  # not even parsed


@pytest.mark.parametrize("as_bytes", [True, False], ids=["json_bytes", "parsed_by_daily"])
def test_a_valid_vote_is_accepted_with_the_daily_sender(
    bus: EventBus, validator: InboundValidator, collect: Callable, as_bytes: bool
) -> None:
    published = collect("*")
    env = browser_envelope({"voteId": "v1", "option": "yes"})
    result = validator.check(as_json(env) if as_bytes else env, SENDER)
    assert isinstance(result, Accepted)
    assert result.topic is Topic.ROOM_VOTE_CAST
    assert result.payload == RoomVoteCast(vote_id="v1", option="yes")
    assert result.sender_id == SENDER
    assert result.version_matches
    assert published == []  # nothing to report
    assert validator.stats.accepted == 1


def test_a_payload_cannot_name_its_own_voter(bus: EventBus, validator: InboundValidator, collect: Callable) -> None:
    rejected = collect("events.inbound.rejected")
    env = browser_envelope({"voteId": "v1", "option": "yes", "voter": "someone-else"})
    result = validator.check(as_json(env), SENDER)
    assert isinstance(result, Rejected)
    assert result.reason == "schema"
    assert result.detail == "/payload/voter: extra_forbidden"
    assert rejected[0]["payload"]["senderId"] == SENDER
    assert "someone-else" not in orjson.dumps(rejected).decode()


def test_an_empty_sender_is_reported_as_unknown(bus: EventBus, validator: InboundValidator, collect: Callable) -> None:
    rejected = collect("events.inbound.rejected")
    validator.check(b"nope", "")
    assert rejected[0]["payload"]["senderId"] == "unknown"


def test_another_spec_version_is_reported_once_per_version_and_valid_payloads_still_count(
    bus: EventBus, validator: InboundValidator, collect: Callable
) -> None:
    mismatches = collect("events.runtime.version.mismatch")
    rejected = collect("events.inbound.rejected")
    results = [
        validator.check(as_json(browser_envelope(specVersion=OTHER_VERSION)), SENDER),
        validator.check(as_json(browser_envelope(specVersion=OTHER_VERSION)), "other-sender"),
        validator.check(as_json(browser_envelope(specVersion=THIRD_VERSION)), SENDER),
        validator.check(as_json(browser_envelope()), SENDER),
    ]
    assert all(isinstance(r, Accepted) for r in results)
    assert [r.version_matches for r in results] == [False, False, False, True]
    assert [m["payload"] for m in mismatches] == [
        {
            "runtime": "bot",
            "localSpecVersion": SPEC_VERSION,
            "remoteSpecVersion": OTHER_VERSION,
            "source": "inbound",
            "senderId": SENDER,
        },
        {
            "runtime": "bot",
            "localSpecVersion": SPEC_VERSION,
            "remoteSpecVersion": THIRD_VERSION,
            "source": "inbound",
            "senderId": SENDER,
        },
    ]
    assert rejected == []


def test_a_mismatched_version_with_an_invalid_payload_is_a_spec_version_rejection(
    bus: EventBus, validator: InboundValidator, collect: Callable
) -> None:
    mismatches = collect("events.runtime.version.mismatch")
    result = validator.check(
        as_json(browser_envelope({"voteId": "v1", "option": ""}, specVersion=OTHER_VERSION)), SENDER
    )
    assert isinstance(result, Rejected) and result.reason == "spec_version"
    assert result.detail == "/payload/option: string_too_short"
    assert len(mismatches) == 1


def test_rejected_events_carry_the_claimed_topic_only_when_it_looks_like_one(
    bus: EventBus, validator: InboundValidator, collect: Callable
) -> None:
    rejected = collect("events.inbound.rejected")
    validator.check(as_json(browser_envelope(topic="room.vote.retracted")), "p-1")  # one sender each: the same
    validator.check(as_json(browser_envelope(topic="röom.vote")), "p-2")  # sender and reason in one window are
    validator.check(as_json(browser_envelope(topic="room vote")), "p-3")  # aggregated
    assert [e["payload"].get("topic") for e in rejected] == ["room.vote.retracted", None, None]


def test_size_is_reported_in_bytes_as_received(bus: EventBus, validator: InboundValidator, collect: Callable) -> None:
    rejected = collect("events.inbound.rejected")
    text = '{"topic": "zoë"'  # 16 bytes, 15 characters, not JSON
    validator.check(text, SENDER)
    assert rejected[0]["payload"]["sizeBytes"] == len(text.encode()) == 16


def test_media_time_is_stamped_on_the_rejection(bus: EventBus, validator: InboundValidator, collect: Callable) -> None:
    rejected = collect("events.inbound.rejected")
    validator.check(b"x", SENDER, media_time_ms=1234)
    assert rejected[0]["meta"]["mediaTimeMs"] == 1234
