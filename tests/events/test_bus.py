"""EventBus: subscriptions, isolation of failing subscribers, ring buffer and counters."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from bot.events import EventBus, SessionContext, SpecRegistry
from bot.generated import (
    BotHealthHeartbeat,
    DominanceShare,
    RoomSpeakingStarted,
    RoomVoteCast,
    RoomVoteStarted,
    TopicModel,
)


def started(at: int = 0) -> RoomSpeakingStarted:
    return RoomSpeakingStarted(participant_id="p1", media_time_ms=at)


def heartbeat() -> BotHealthHeartbeat:
    return BotHealthHeartbeat(
        uptime_ms=1, published=0, dropped=0, violations=0, buffer_fill_percent=0.0, participants=0
    )


@pytest.fixture
def logs() -> Iterator[list[str]]:
    lines: list[str] = []
    sink_id = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{message}\n{exception}")
    yield lines
    logger.remove(sink_id)


SUBSCRIPTIONS = [
    ("exact_topic", "room.speaking.started", {"room.speaking.started"}),
    ("prefix_wildcard", "room.*", {"room.speaking.started", "room.vote.started"}),
    ("deeper_prefix_wildcard", "room.speaking.*", {"room.speaking.started"}),
    ("everything", "*", {"room.speaking.started", "room.vote.started", "bot.health.heartbeat"}),
    ("other_exact_topic", "bot.health.heartbeat", {"bot.health.heartbeat"}),
    ("prefix_is_not_a_substring_match", "room.speak.*", set()),
    ("exact_does_not_match_longer_ids", "room.speaking", set()),
]


@pytest.mark.parametrize(("pattern", "expected"), [s[1:] for s in SUBSCRIPTIONS], ids=[s[0] for s in SUBSCRIPTIONS])
def test_subscription_patterns_match_exact_prefix_or_all(bus: EventBus, pattern: str, expected: set[str]) -> None:
    seen: list[dict] = []
    bus.subscribe(pattern, seen.append)
    bus.publish(started())
    bus.publish(RoomVoteStarted(vote_id="v1", question="Ship it?", options=["yes", "no"], closes_at_ms=30_000))
    bus.publish(heartbeat())
    assert {env["topic"] for env in seen} == expected


BAD_PATTERNS = ["", "room*", "*.started", "room.*.started", ".*", "**", "room.**", "ro*m.speaking"]


@pytest.mark.parametrize("pattern", BAD_PATTERNS, ids=[repr(p) for p in BAD_PATTERNS])
def test_bad_subscription_patterns_are_refused(bus: EventBus, pattern: str) -> None:
    with pytest.raises(ValueError, match="bad subscription pattern"):
        bus.subscribe(pattern, lambda env: None)


def test_unsubscribe_stops_delivery(bus: EventBus) -> None:
    seen: list[dict] = []
    unsubscribe = bus.subscribe("*", seen.append)
    bus.publish(started())
    unsubscribe()
    unsubscribe()  # twice is harmless
    bus.publish(started())
    assert len(seen) == 1


def test_a_raising_subscriber_is_counted_and_logged_and_others_still_run(bus: EventBus, logs: list[str]) -> None:
    before: list[dict] = []
    after: list[dict] = []

    def broken(env: dict) -> None:
        raise KeyError("boom")

    bus.subscribe("*", before.append)
    bus.subscribe("room.*", broken)
    bus.subscribe("*", after.append)

    first = bus.publish(started(1))  # the publisher gets its envelope back, no exception
    bus.publish(started(2))

    assert first["meta"]["seq"] == 1
    assert len(before) == len(after) == 2
    assert bus.handler_errors == 2
    assert bus.published == 2
    assert any("broken" in line and "room.speaking.started" in line and "KeyError" in line for line in logs)


def test_async_subscribers_run_on_the_loop_and_their_failures_are_counted(bus: EventBus, logs: list[str]) -> None:
    seen: list[tuple[int, bool]] = []

    async def slow(env: dict) -> None:
        await asyncio.sleep(0)
        seen.append((env["meta"]["seq"], asyncio.get_running_loop() is loop))

    async def failing(env: dict) -> None:
        await asyncio.sleep(0)
        raise RuntimeError("async boom")

    async def main() -> None:
        bus.subscribe("*", slow)
        bus.subscribe("*", failing)
        bus.publish(started(1))
        bus.publish(started(2))
        assert seen == []  # scheduled, not run inside publish
        await bus.drain()

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    assert sorted(seen) == [(1, True), (2, True)]
    assert bus.handler_errors == 2
    assert any("async boom" in line for line in logs)


def test_an_async_subscriber_without_a_running_loop_is_counted_not_raised(bus: EventBus, logs: list[str]) -> None:
    async def handler(env: dict) -> None:  # pragma: no cover - never runs
        pass

    bus.subscribe("*", handler)
    bus.publish(started())
    assert bus.handler_errors == 1
    assert bus.published == 1


@pytest.mark.parametrize(
    ("ring_size", "published", "kept", "fill"),
    [
        (4, 2, 2, 50.0),
        (4, 4, 4, 100.0),
        (4, 10, 4, 100.0),
        (3, 1, 1, 33.33),
        (1, 5, 1, 100.0),
    ],
    ids=["half", "full", "overflowing", "rounded", "size_one"],
)
def test_ring_buffer_is_bounded_and_reports_its_fill(
    registry: SpecRegistry, ring_size: int, published: int, kept: int, fill: float
) -> None:
    bus = EventBus(registry=registry, context=SessionContext(session_id="s"), ring_size=ring_size)
    assert bus.buffer_fill_percent == 0.0
    for i in range(published):
        bus.publish(started(i))
    recent = bus.recent()
    assert len(recent) == kept
    assert [e["meta"]["seq"] for e in recent] == list(range(published - kept + 1, published + 1))
    assert bus.buffer_fill_percent == fill
    assert [e["meta"]["seq"] for e in bus.recent(1)] == [published]


def test_ring_size_below_one_is_refused(registry: SpecRegistry) -> None:
    with pytest.raises(ValueError):
        EventBus(registry=registry, context=SessionContext(session_id="s"), ring_size=0)


def test_counters_track_published_per_topic_and_dropped(bus: EventBus) -> None:
    for i in range(3):
        bus.publish(started(i))
    bus.publish(heartbeat())
    bus.count_drop("sampled")
    bus.count_drop("app_message_too_large", 2)
    assert bus.published == 4
    assert bus.per_topic == {"room.speaking.started": 3, "bot.health.heartbeat": 1}
    assert bus.dropped == 3
    assert bus.drops_by_reason == {"sampled": 1, "app_message_too_large": 2}


NOT_MODELS: list[tuple[str, Any]] = [
    ("dict", {"participantId": "p1", "mediaTimeMs": 0}),
    ("string", "room.speaking.started"),
    ("none", None),
    ("nested_payload_model", DominanceShare(participant_id="p", talk_time_ms=0, share=0.0)),
]


@pytest.mark.parametrize("value", [v for _, v in NOT_MODELS], ids=[i for i, _ in NOT_MODELS])
def test_publishing_anything_but_a_generated_model_is_a_type_error(bus: EventBus, value: Any) -> None:
    with pytest.raises(TypeError, match="generated payload model"):
        bus.publish(value)
    assert bus.published == 0 and bus.last_seq == 0


def test_a_topic_missing_from_the_loaded_spec_is_refused(raw_registry: dict) -> None:
    raw = copy.deepcopy(raw_registry)
    del raw["topics"]["room.speaking.started"]
    bus = EventBus(registry=SpecRegistry(raw), context=SessionContext(session_id="s"))
    with pytest.raises(ValueError, match="not in the loaded spec"):
        bus.publish(started())
    assert bus.last_seq == 0


def test_subscribers_get_the_envelope_the_publisher_gets(bus: EventBus) -> None:
    seen: list[dict] = []
    bus.subscribe("*", seen.append)
    env = bus.publish(started())
    assert seen == [env]
    assert isinstance(started(), TopicModel)


def test_a_runtime_may_only_publish_topics_whose_origin_lists_it(bus: EventBus) -> None:
    with pytest.raises(ValueError, match=r"may not publish room\.vote\.cast"):
        bus.publish(RoomVoteCast(vote_id="v1", option="yes"))
    assert bus.published == 0
