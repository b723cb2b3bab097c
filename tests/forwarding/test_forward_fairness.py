"""Issue 11, defect 2: a flooding room beside a normal one, with a slow EventBridge.

Before: 7,971 entries of the normal room evicted from the shared buffer (its vote.closed, its
topic shift, 13 of 17 dominance scores). Now the normal room's every entry is delivered, the flood's
losses are its own, counted per room and reported per room.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fwd_helpers import ScriptedSink, dominance, ended, run, shift, started, violation

from bot.events import EventBus, SessionContext, SpecRegistry
from bot.forwarding import Forwarder, ForwarderConfig
from bot.generated import RoomDominanceScore, RoomVoteClosed, RoomVoteStarted

REGISTRY = SpecRegistry.load()


def _bus(name: str) -> EventBus:
    ctx = SessionContext(session_id=str(uuid.uuid4()), assistant_id="a", tenant_id=name, room_id=name)
    return EventBus(registry=REGISTRY, context=ctx)


def normal_room(bus: EventBus) -> list[dict[str, Any]]:
    """A room's eventbridge record: lifecycle, a vote, a topic shift, 17 scores and the final one: 23 entries."""
    out = [bus.publish(started())]
    out.append(bus.publish(RoomVoteStarted(vote_id="v1", question="Ship?", options=["yes", "no"], closes_at_ms=1)))
    out += [bus.publish(dominance(i)) for i in range(8)]
    out.append(bus.publish(RoomVoteClosed(vote_id="v1", tally={"yes": 2, "no": 1}, total_votes=3)))
    out.append(bus.publish(shift(1)))
    out += [bus.publish(dominance(i)) for i in range(8, 17)]
    final = dominance(17).model_copy(update={"trigger": "final"})
    assert isinstance(final, RoomDominanceScore)
    out.append(bus.publish(final))
    out.append(bus.publish(ended()))
    return out


def test_a_flood_beside_a_normal_room_costs_the_normal_room_nothing() -> None:
    sink = ScriptedSink(delay=0.01)  # slow EventBridge: ~1,000 entries/s at best
    config = ForwarderConfig(buffer_entries=64, max_delay_s=0.01, max_in_flight=1)
    flood_bus, quiet_bus = _bus("flood"), _bus("quiet")
    reports: list[tuple[Any, str]] = []

    async def go() -> Forwarder:
        fwd = await Forwarder(
            REGISTRY, sink, config=config, on_flow_deferred=lambda m, flow: reports.append((m, flow))
        ).start()
        quiet = normal_room(quiet_bus)
        fwd.submit(flood_bus.publish(started()), "flood")
        for k in range(5000):  # the flood, with the normal room's record interleaved
            fwd.submit(flood_bus.publish(violation()), "flood")
            if k % 250 == 0 and quiet:
                fwd.submit(quiet.pop(0), "quiet")
            if k % 100 == 0:
                await asyncio.sleep(0)
        for env in quiet:
            fwd.submit(env, "quiet")
        fwd.submit(flood_bus.publish(ended()), "flood")
        await fwd.flush(20)
        await fwd.close()
        return fwd

    fwd = run(go(), 60)
    details = [__import__("orjson").loads(e["Detail"]) for e in sink.delivered]
    quiet = [d for d in details if d["tenantId"] == "quiet"]
    assert len(quiet) == 23, "every entry of the normal room is delivered"
    topics = [d["topic"] for d in quiet]
    assert topics.count("room.dominance.score") == 18 and "room.vote.closed" in topics
    assert "room.topic.shift.suggested" in topics and "assistant.session.ended" in topics
    assert fwd.flow_stats("quiet")["dropped"] == {} and fwd.flow_stats("quiet")["delivered"] == 23
    flood = fwd.flow_stats("flood")
    assert flood["dropped"]["evicted"] > 1000, "the flood pays for itself"
    assert {d["topic"] for d in details if d["tenantId"] == "flood"} >= {
        "assistant.session.started",
        "assistant.session.ended",
    }
    assert reports and {flow for _, flow in reports} == {"flood"}, "losses are reported per room"


def test_duplicates_are_per_room() -> None:
    """One room's id never makes another room's envelope a duplicate, and one room's volume never
    pushes another room's ids out of the dedupe window."""
    sink = ScriptedSink()
    config = ForwarderConfig(dedupe_window=100, buffer_entries=100_000)
    quiet_bus, flood_bus = _bus("quiet"), _bus("flood")

    async def go() -> Forwarder:
        fwd = await Forwarder(REGISTRY, sink, config=config).start()
        mine = quiet_bus.publish(shift(1))
        assert fwd.submit(mine, "quiet")
        assert fwd.submit({**mine, "tenantId": "flood"}, "flood"), "same id, another room: not a duplicate"
        for _ in range(1000):
            fwd.submit(flood_bus.publish(violation()), "flood")
        assert not fwd.submit(mine, "quiet"), "still a duplicate after another room's 1,000 envelopes"
        await fwd.close()
        return fwd

    fwd = run(go(), 30)
    assert fwd.stats.dropped["duplicate"] == 1


def test_a_flood_of_rejected_entries_is_counted_but_logged_boundedly() -> None:
    from loguru import logger

    sink = ScriptedSink(lambda entries, _n: ["!ValidationException"] * len(entries))
    bus = _bus("flood")
    lines: list[str] = []

    async def go() -> Forwarder:
        fwd = await Forwarder(REGISTRY, sink, config=ForwarderConfig(max_delay_s=0, buffer_entries=10_000)).start()
        for _ in range(3000):
            fwd.submit(bus.publish(violation()))
        await fwd.flush(20)
        await fwd.close()
        return fwd

    handle = logger.add(lines.append, level="WARNING", format="{message}")
    try:
        fwd = run(go(), 60)
    finally:
        logger.remove(handle)
    assert fwd.stats.dropped["rejected"] == 3000
    rejected = [line for line in lines if "rejected a" in line]
    assert 10 <= len(rejected) <= 13, len(rejected)


def test_losses_are_reported_at_once_then_at_most_once_per_interval() -> None:
    sink = ScriptedSink(delay=0.01)
    config = ForwarderConfig(buffer_entries=64, max_delay_s=0.01, max_in_flight=1, report_interval_s=1.0)
    bus = _bus("flood")
    reports: list[Any] = []

    async def go() -> Forwarder:
        fwd = await Forwarder(REGISTRY, sink, config=config, on_deferred=reports.append).start()
        for k in range(5000):  # about 0.5 s of evictions
            fwd.submit(bus.publish(violation()))
            if k % 50 == 0:
                await asyncio.sleep(0.005)
        await fwd.close()
        return fwd

    fwd = run(go(), 60)
    assert fwd.stats.dropped["evicted"] > 1000
    assert sum(r.count for r in reports) == sum(fwd.stats.dropped.values())
    assert 1 <= len(reports) <= 4, f"{len(reports)} reports: one per sending round would be hundreds"
