"""Property tests for inbound validation: whatever a browser sends, ``check()`` answers Accepted or
Rejected with a known reason and never raises; and every valid payload of a browser topic passes."""

from __future__ import annotations

import json
import math
import typing
from typing import Any

import orjson
import pytest
import uuid_utils
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.events import Accepted, EventBus, InboundValidator, Rejected, SessionContext, SpecRegistry
from bot.generated import SPEC_VERSION, EventsInboundRejected

REGISTRY = SpecRegistry.load()
REASONS = set(typing.get_args(EventsInboundRejected.model_fields["reason"].annotation))
BROWSER_TOPICS = sorted(tid for tid, rule in REGISTRY.topics.items() if "browser" in rule.origin)
PROPERTY_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_validator() -> tuple[InboundValidator, list[dict]]:
    bus = EventBus(registry=REGISTRY, context=SessionContext(session_id="s"))
    published: list[dict] = []
    bus.subscribe("*", published.append)
    return InboundValidator(bus), published


def to_json(value: Any) -> bytes:
    """How any sender might serialize it (big integers included, unlike orjson)."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def assert_answers(raw: Any, sender: str = "sender-1") -> Accepted | Rejected:
    validator, published = fresh_validator()
    result = validator.check(raw, sender)  # must not raise
    assert isinstance(result, (Accepted, Rejected))
    if isinstance(result, Rejected):
        assert result.reason in REASONS
        rejected = [e for e in published if e["topic"] == "events.inbound.rejected"]
        assert len(rejected) == 1 and rejected[0]["payload"]["reason"] == result.reason
    return result


# ---- arbitrary input

any_text = st.text(alphabet=st.characters(exclude_categories=()), max_size=60)  # lone surrogates included
json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=40,
)
odd_values = st.recursive(  # what a careless caller might hand over: non-JSON leaves and keys
    json_scalars | any_text | st.floats() | st.binary(max_size=8) | st.integers(min_value=2**64),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), children, max_size=4)
    ),
    max_leaves=20,
)


@PROPERTY_SETTINGS
@given(json_values, st.booleans())
def test_any_json_value_is_answered(value: Any, serialized: bool) -> None:
    assert_answers(to_json(value) if serialized else value)


@PROPERTY_SETTINGS
@given(st.binary(max_size=5000))
def test_any_bytes_are_answered(raw: bytes) -> None:
    assert_answers(raw)


@PROPERTY_SETTINGS
@given(any_text, st.text(max_size=140))  # Daily's sender is valid Unicode (a Rust String); the message may not be
def test_any_text_and_any_sender_are_answered(raw: str, sender: str) -> None:
    assert_answers(raw, sender)


@PROPERTY_SETTINGS
@given(odd_values)
def test_non_json_python_values_are_answered(value: Any) -> None:
    assert_answers(value)


def topic_like() -> st.SearchStrategy[Any]:
    return (
        st.sampled_from(sorted(REGISTRY.topics))
        | st.text(max_size=140)
        | st.from_regex(r"\A[a-z]+(\.[a-z*]+){1,3}\Z")
        | json_scalars
    )


envelope_like = st.fixed_dictionaries(
    {
        "topic": topic_like(),
        "payload": json_values
        | st.dictionaries(st.sampled_from(["voteId", "option", "voter", "participantId"]), json_values, max_size=4),
    },
    optional={
        "id": st.just(None).map(lambda _: str(uuid_utils.uuid7())) | st.text(max_size=40),
        "ts": st.integers(min_value=-1, max_value=2**53) | json_scalars,
        "specVersion": st.sampled_from([SPEC_VERSION, "sha256:" + "0" * 64]) | st.text(max_size=80),
        "runtime": st.sampled_from(["browser", "bot", "supervisor"]) | json_scalars,
        "sessionId": st.text(max_size=140),
        "meta": st.fixed_dictionaries({"seq": st.integers(min_value=-2, max_value=10)}) | json_values,
        "pii": json_values,
        "extra": json_values,
    },
)


@PROPERTY_SETTINGS
@given(envelope_like, st.booleans())
def test_envelope_shaped_dicts_with_random_payloads_are_answered(value: dict[str, Any], serialized: bool) -> None:
    assert_answers(to_json(value) if serialized else value)


# ---- valid payloads of browser topics


def strategy_for(node: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against a payload-schema node (the subset spec/meta/topic.schema.json allows)."""
    types = node["type"] if isinstance(node["type"], list) else [node["type"]]
    base = next(t for t in types if t != "null")
    inner = _base_strategy(base, node)
    return st.none() | inner if "null" in types else inner


def _base_strategy(kind: str, node: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return st.sampled_from([v for v in node["enum"] if v is not None])
    if "const" in node:
        return st.just(node["const"])
    if kind == "string":
        lo, hi = node.get("minLength", 0), node.get("maxLength", 200)
        if "pattern" in node:
            return st.from_regex(node["pattern"], fullmatch=True).filter(lambda s: lo <= len(s) <= hi and "\n" not in s)
        return st.text(min_size=lo, max_size=hi)
    if kind == "integer":
        lo = node.get("minimum", node.get("exclusiveMinimum", -(2**53)) + (1 if "exclusiveMinimum" in node else 0))
        hi = node.get("maximum", node.get("exclusiveMaximum", 2**53) - (1 if "exclusiveMaximum" in node else 0))
        return st.integers(min_value=math.ceil(lo), max_value=math.floor(hi))
    if kind == "number":
        return st.floats(
            min_value=node.get("minimum", node.get("exclusiveMinimum")),
            max_value=node.get("maximum", node.get("exclusiveMaximum")),
            exclude_min="exclusiveMinimum" in node,
            exclude_max="exclusiveMaximum" in node,
            allow_nan=False,
            allow_infinity=False,
        )
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(
            strategy_for(node["items"]),
            min_size=node.get("minItems", 0),
            max_size=node.get("maxItems", 5),
            unique_by=(lambda v: orjson.dumps(v)) if node.get("uniqueItems") else None,
        )
    if kind == "object":
        if "properties" in node:
            required = set(node.get("required", []))
            props = node["properties"]
            return st.fixed_dictionaries(
                {k: strategy_for(v) for k, v in props.items() if k in required},
                optional={k: strategy_for(v) for k, v in props.items() if k not in required},
            )
        return st.dictionaries(st.text(max_size=20), strategy_for(node["additionalProperties"]), max_size=5)
    raise AssertionError(f"unsupported schema type {kind!r}")


def test_there_is_a_browser_topic_to_test() -> None:
    assert BROWSER_TOPICS, "no topic lists browser in its origin"


@pytest.mark.parametrize("topic", BROWSER_TOPICS)
def test_valid_payloads_of_browser_topics_are_accepted(topic: str) -> None:
    schema = REGISTRY.raw["topics"][topic]["schema"]

    @PROPERTY_SETTINGS
    @given(payload=strategy_for(schema), parsed=st.booleans())
    def check(payload: dict[str, Any], parsed: bool) -> None:
        uid = uuid_utils.uuid7()
        env = {
            "id": str(uid),
            "ts": uid.timestamp,
            "topic": topic,
            "specVersion": SPEC_VERSION,
            "runtime": "browser",
            "sessionId": "browser-1",
            "payload": payload,
            "meta": {"seq": 1},
        }
        raw = orjson.dumps(env)
        assume(len(raw) <= 4096)
        result = assert_answers(env if parsed else raw, "sender-1")
        assert isinstance(result, Accepted), result
        assert result.payload.to_wire() == {
            k: v for k, v in payload.items() if v is not None or k in schema["required"]
        }
        assert result.sender_id == "sender-1"

    check()
