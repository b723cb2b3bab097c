"""The forwarder: routing, governance, batching, priority flush, retries, eviction, shutdown."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from itertools import pairwise
from typing import Any

import pytest
from fwd_helpers import ScriptedSink, dominance, ended, heartbeat, joined, run, shift, speaking, started, violation

from bot.events import EventBus, Redactor, SpecRegistry
from bot.forwarding import Forwarder, ForwarderConfig, attach
from bot.forwarding.attach import BotForwarding
from bot.forwarding.entries import entry_size
from bot.forwarding.sinks import SendFailed

FAST = ForwarderConfig(max_delay_s=0.05, backoff_base_s=0.001, backoff_max_s=0.01)


def details(sink: ScriptedSink) -> list[dict[str, Any]]:
    return [json.loads(e["Detail"]) for e in sink.delivered]


def test_only_eventbridge_topics_are_forwarded(bus: EventBus) -> None:
    sink = ScriptedSink()

    async def go() -> Forwarder:
        fwd = await Forwarder(bus.registry, sink, config=FAST).start()
        bus.subscribe("*", fwd.submit)
        bus.publish(started())
        bus.publish(speaking(1))  # stdout + app_message only
        bus.publish(heartbeat())  # stdout only
        bus.publish(shift(1))
        await fwd.close()
        return fwd

    fwd = run(go())
    assert [d["topic"] for d in details(sink)] == ["assistant.session.started", "room.topic.shift.suggested"]
    assert fwd.stats.not_forwarded == 2 and fwd.stats.delivered == 2
    assert sink.closed


def test_entry_fields_follow_put_events(bus: EventBus) -> None:
    sink = ScriptedSink()
    config = ForwarderConfig(source="acme.rooms", bus_name="prism-events", max_delay_s=0.01)

    async def go() -> dict[str, Any]:
        fwd = await Forwarder(bus.registry, sink, config=config).start()
        env = bus.publish(started())
        fwd.submit(env)
        await fwd.close()
        return env

    env = run(go())
    (entry,) = sink.delivered
    assert set(entry) == {"Time", "Source", "DetailType", "Detail", "EventBusName"}
    assert entry["Source"] == "acme.rooms" and entry["EventBusName"] == "prism-events"
    assert entry["DetailType"] == "assistant.session.started"
    assert json.loads(entry["Detail"]) == env
    assert entry["Time"].endswith("Z") and entry["Time"][:4].isdigit()


@pytest.mark.parametrize("bus_name", [None, "", "default"], ids=["none", "empty", "default"])
def test_the_default_bus_is_left_out_of_the_entry(bus: EventBus, bus_name: str | None) -> None:
    sink = ScriptedSink()

    async def go() -> None:
        fwd = await Forwarder(bus.registry, sink, config=ForwarderConfig(bus_name=bus_name, max_delay_s=0)).start()
        fwd.submit(bus.publish(started()))
        await fwd.close()

    run(go())
    assert "EventBusName" not in sink.delivered[0]


def test_pii_is_redacted_for_eventbridge_with_the_salt(bus: EventBus) -> None:
    sink = ScriptedSink()

    async def go() -> None:
        fwd = await Forwarder(bus.registry, sink, config=FAST, salt="pepper").start()
        fwd.submit(bus.publish(joined(7)))
        fwd.submit(bus.publish(dominance(1)))
        await fwd.close()

    run(go())
    joined_env, dom_env = details(sink)
    pseudonym = Redactor(bus.registry, "pepper").pseudonym("p-7")
    assert "displayName" not in joined_env["payload"]
    assert joined_env["payload"]["participantId"] == pseudonym
    assert joined_env["pii"] == {"level": 2, "redacted": ["/payload/displayName", "/payload/participantId"]}
    assert [p["participantId"] for p in dom_env["payload"]["participants"]] == [
        Redactor(bus.registry, "pepper").pseudonym(p) for p in ("p-0", "p-1")
    ]
    assert dom_env["payload"]["dominantParticipantId"].startswith("h:")
    assert "Person 7" not in json.dumps(sink.delivered)


def test_sampling_keeps_about_the_rate_but_never_drops_critical(raw_registry: dict[str, Any], bus: EventBus) -> None:
    raw = json.loads(json.dumps(raw_registry))
    raw["topics"]["room.topic.shift.suggested"]["forwarding"]["sampleRate"] = 0.25
    raw["topics"]["assistant.session.started"]["forwarding"]["sampleRate"] = 0.25  # critical: still never sampled
    registry = SpecRegistry(raw)
    from bot.events import Sampler

    sink = ScriptedSink()
    drops: list[tuple[str, str, int]] = []

    async def go() -> Forwarder:
        fwd = Forwarder(
            registry,
            sink,
            config=ForwarderConfig(max_delay_s=0),
            sampler=Sampler(registry, seed=7),
            on_drop=lambda *a: drops.append(a),
        )
        await fwd.start()
        for i in range(400):
            fwd.submit(bus.publish(shift(i)))
        for _ in range(20):
            fwd.submit(bus.publish(started()))
        await fwd.close()
        return fwd

    fwd = run(go())
    topics = [d["topic"] for d in details(sink)]
    kept = topics.count("room.topic.shift.suggested")
    assert 60 <= kept <= 140
    assert topics.count("assistant.session.started") == 20
    assert fwd.stats.dropped["sampled"] == 400 - kept == len(drops)
    assert all(d["meta"]["sampleRate"] == 0.25 for d in details(sink) if d["topic"] == "room.topic.shift.suggested")
    assert fwd.stats.reports == 0, "sampling is declared policy: counted, not reported as a loss"


def test_batches_hold_at_most_ten_entries(bus: EventBus) -> None:
    sink = ScriptedSink()

    async def go() -> None:
        fwd = await Forwarder(bus.registry, sink, config=ForwarderConfig(max_delay_s=5)).start()
        for i in range(25):
            fwd.submit(bus.publish(shift(i)))
        await fwd.flush(5)
        await fwd.close()

    run(go())
    assert [len(c) for c in sink.calls] == [10, 10, 5]
    assert [d["meta"]["seq"] for d in details(sink)] == list(range(1, 26))


def test_a_partial_batch_waits_for_the_window_then_goes(bus: EventBus) -> None:
    sink = ScriptedSink()

    async def go() -> float:
        fwd = await Forwarder(bus.registry, sink, config=ForwarderConfig(max_delay_s=0.3)).start()
        t0 = time.monotonic()
        fwd.submit(bus.publish(shift(1)))
        fwd.submit(bus.publish(shift(2)))
        await asyncio.sleep(0.15)
        assert sink.calls == [], "normal priority waits for the batch window"
        await sink.wait_calls()
        waited = sink.times[0] - t0
        await fwd.close()
        return waited

    waited = run(go())
    # it waited for the 0.3 s window, then went (without the window it would wait for close):
    # the upper bound only has to tell those apart, so a loaded machine cannot fail it
    assert 0.28 <= waited < 5.0
    assert [len(c) for c in sink.calls] == [2]


@pytest.mark.parametrize("make", [started, violation], ids=["critical", "high"])
def test_critical_and_high_flush_at_once_with_what_is_pending(bus: EventBus, make: Any) -> None:
    sink = ScriptedSink()

    async def go() -> float:
        fwd = await Forwarder(bus.registry, sink, config=ForwarderConfig(max_delay_s=10)).start()
        fwd.submit(bus.publish(shift(1)))
        await asyncio.sleep(0.05)
        t0 = time.monotonic()
        fwd.submit(bus.publish(make()))
        await sink.wait_calls()
        latency = sink.times[0] - t0
        await fwd.close()
        return latency

    latency = run(go())
    assert latency < 5.0, "at once, not after the 10 s batch window"
    assert len(sink.calls[0]) == 2, "the urgent entry takes the waiting normal one along"
    assert json.loads(sink.calls[0][0]["Detail"])["topic"] == make().TOPIC.value, "highest priority first"


def test_batches_stay_under_the_size_limit_and_oversized_entries_are_reported(bus: EventBus) -> None:
    sink = ScriptedSink()
    reports: list[Any] = []
    size = None

    async def go() -> Forwarder:
        nonlocal size
        fwd = await Forwarder(
            bus.registry,
            sink,
            config=ForwarderConfig(max_batch_bytes=2000, max_delay_s=0.01),
            on_deferred=reports.append,
        ).start()
        for i in range(9):
            fwd.submit(bus.publish(shift(i)))
        big = bus.publish(shift(99))
        big = {**big, "payload": {**big["payload"], "currentItem": "x" * 3000}}
        fwd.submit(big)
        await fwd.flush(5)
        await fwd.close()
        return fwd

    fwd = run(go())
    for call in sink.calls:
        assert sum(entry_size(e) for e in call) < 2000
    assert len(sink.delivered) == 9 and len(sink.calls) > 1
    assert fwd.stats.dropped["too_large"] == 1
    (report,) = reports
    assert (report.reason, report.topic, report.count, report.limit_bytes) == (
        "too_large",
        "room.topic.shift.suggested",
        1,
        2000,
    )
    assert report.size_bytes > 3000


def test_retryable_failures_are_resent_alone_and_delivered_once(bus: EventBus) -> None:
    failed_once: set[str] = set()

    def script(entries: list[dict[str, Any]], call: int) -> list[str | None]:
        out: list[str | None] = []
        for i, e in enumerate(entries):
            eid = json.loads(e["Detail"])["id"]
            if i % 2 == 0 and eid not in failed_once:
                failed_once.add(eid)
                out.append("ThrottlingException" if i % 4 == 0 else "InternalFailure")
            else:
                out.append(None)
        return out

    sink = ScriptedSink(script)

    async def go() -> tuple[Forwarder, list[str]]:
        fwd = await Forwarder(bus.registry, sink, config=FAST).start()
        ids = [fwd.submit(e) and e["id"] for e in (bus.publish(shift(i)) for i in range(23))]
        await fwd.flush(5)
        await fwd.close()
        return fwd, ids  # type: ignore[return-value]

    fwd, ids = run(go())
    assert sorted(sink.delivered_ids()) == sorted(ids)
    assert len(set(sink.delivered_ids())) == len(sink.delivered_ids()) == 23
    from collections import Counter

    sends = Counter(json.loads(e["Detail"])["id"] for call in sink.calls for e in call)
    assert {i: n for i, n in sends.items() if n > 1} == {i: 2 for i in failed_once}, (
        "only the failed entries are sent again, once"
    )
    assert fwd.stats.retried == len(failed_once) and fwd.stats.error_codes["ThrottlingException"] > 0
    assert fwd.stats.dropped == {}


def test_backoff_grows_between_failed_attempts(bus: EventBus) -> None:
    sink = ScriptedSink(
        lambda entries, call: ["ThrottlingException"] * len(entries) if call <= 4 else [None] * len(entries)
    )
    config = ForwarderConfig(max_delay_s=0, backoff_base_s=0.04, backoff_max_s=1.0)

    async def go() -> None:
        fwd = await Forwarder(bus.registry, sink, config=config, rng=__import__("random").Random(1)).start()
        fwd.submit(bus.publish(started()))
        await fwd.flush(5)
        await fwd.close()

    run(go())
    gaps = [b - a for a, b in pairwise(sink.times)]
    assert len(sink.calls) == 5 and len(sink.delivered) == 1
    ceilings = [0.04, 0.08, 0.16, 0.32]
    assert all(gap <= ceiling + 0.05 for gap, ceiling in zip(gaps, ceilings, strict=True)), gaps
    assert sum(gaps) >= 0.05, "full jitter still waits on average"


def test_non_retryable_codes_are_rejected_and_reported(bus: EventBus) -> None:
    reports: list[Any] = []
    sink = ScriptedSink(lambda entries, call: ["MalformedDetail"] + [None] * (len(entries) - 1))

    async def go() -> Forwarder:
        fwd = await Forwarder(bus.registry, sink, config=FAST, on_deferred=reports.append).start()
        fwd.submit(bus.publish(shift(1)))
        fwd.submit(bus.publish(shift(2)))
        await fwd.flush(5)
        await fwd.close()
        return fwd

    fwd = run(go())
    assert len(sink.calls) == 1, "never resent"
    assert fwd.stats.dropped["rejected"] == 1
    assert [(r.reason, r.count) for r in reports] == [("rejected", 1)]


def test_retries_stop_after_max_attempts(bus: EventBus) -> None:
    reports: list[Any] = []
    sink = ScriptedSink(lambda entries, call: ["ThrottlingException"] * len(entries))
    config = ForwarderConfig(max_delay_s=0, max_attempts=3, backoff_base_s=0.001, backoff_max_s=0.002)

    async def go() -> Forwarder:
        fwd = await Forwarder(bus.registry, sink, config=config, on_deferred=reports.append).start()
        fwd.submit(bus.publish(started()))
        await fwd.flush(5)
        await fwd.close()
        return fwd

    fwd = run(go())
    assert len(sink.calls) == 3
    assert fwd.stats.dropped["retry_exhausted"] == 1
    assert [(r.reason, r.topic) for r in reports] == [("retry_exhausted", "assistant.session.started")]


@pytest.mark.parametrize(
    ("retryable", "calls"), [(True, 2), (False, 1)], ids=["retryable-call-error", "final-call-error"]
)
def test_a_failed_call_is_retried_only_when_retryable(bus: EventBus, retryable: bool, calls: int) -> None:
    def script(entries: list[dict[str, Any]], call: int) -> list[str | None]:
        if call == 1:
            raise SendFailed(
                "ThrottlingException" if retryable else "AccessDeniedException", "nope", retryable=retryable
            )
        return [None] * len(entries)

    sink = ScriptedSink(script)

    async def go() -> Forwarder:
        fwd = await Forwarder(bus.registry, sink, config=FAST).start()
        fwd.submit(bus.publish(started()))
        await fwd.flush(5)
        await fwd.close()
        return fwd

    fwd = run(go())
    assert len(sink.calls) == calls
    assert len(sink.delivered) == (1 if retryable else 0)
    assert fwd.stats.dropped.get("rejected", 0) == (0 if retryable else 1)


class ShortAnswerSink(ScriptedSink):
    """A buggy sink: its first call answers one result for a batch of several entries."""

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        self.calls.append(list(entries))
        if len(self.calls) == 1:
            return [None]
        self.delivered.extend(entries)
        return [None] * len(entries)


def test_a_sink_answering_too_few_results_is_a_retryable_failure_not_a_silent_loss(bus: EventBus) -> None:
    sink = ShortAnswerSink()

    async def go() -> Forwarder:
        fwd = await Forwarder(bus.registry, sink, config=FAST).start()
        fwd.submit(bus.publish(shift(1)))
        fwd.submit(bus.publish(shift(2)))
        await fwd.flush(5)
        await fwd.close()
        return fwd

    fwd = run(go())
    assert [len(c) for c in sink.calls] == [2, 2], "the whole batch is resent"
    assert len(sink.delivered) == 2 and fwd.stats.delivered == 2 and not fwd.stats.dropped


def test_a_full_buffer_evicts_lowest_priority_oldest_first_and_reports_it(bus: EventBus) -> None:
    reports: list[Any] = []
    sink = ScriptedSink()
    config = ForwarderConfig(max_entries=2, buffer_entries=4, max_delay_s=0, max_in_flight=1)

    async def go() -> Forwarder:
        sink.gate = asyncio.Event()  # the first request hangs: everything else piles up
        fwd = await Forwarder(bus.registry, sink, config=config, on_deferred=reports.append).start()
        fwd.submit(bus.publish(started()))
        await asyncio.sleep(0.02)  # in flight now
        normal = [bus.publish(joined(i)) for i in range(3)]  # ordinary (not a summary)
        for env in normal:
            fwd.submit(env)
        fwd.submit(bus.publish(violation()))  # high: buffer full now (3 normal + 1 high)
        fwd.submit(bus.publish(violation()))  # evicts the oldest normal
        fwd.submit(bus.publish(ended()))  # critical: evicts the next oldest normal
        await asyncio.sleep(0.02)
        sink.gate.set()
        await fwd.flush(5)
        await fwd.close()
        return fwd

    fwd = run(go())
    delivered = details(sink)
    joins = [d["payload"]["mediaTimeMs"] for d in delivered if d["topic"] == "room.participant.joined"]
    assert joins == [2], "the two oldest normal entries gave way"
    assert [d["topic"] for d in delivered].count("conversation.policy.violation") == 2
    assert "assistant.session.ended" in [d["topic"] for d in delivered]
    assert fwd.stats.dropped["evicted"] == 2
    evictions = [r for r in reports if r.reason == "evicted"]
    assert sum(r.count for r in evictions) == 2 and {r.topic for r in evictions} == {"room.participant.joined"}


def test_a_low_priority_entry_is_refused_when_the_buffer_is_full_of_higher_ones(bus: EventBus) -> None:
    reports: list[Any] = []
    sink = ScriptedSink()
    config = ForwarderConfig(max_entries=1, buffer_entries=2, max_delay_s=0, max_in_flight=1)

    async def go() -> Forwarder:
        sink.gate = asyncio.Event()
        fwd = await Forwarder(bus.registry, sink, config=config, on_deferred=reports.append).start()
        fwd.submit(bus.publish(started()))
        await asyncio.sleep(0.02)
        fwd.submit(bus.publish(violation()))
        fwd.submit(bus.publish(violation()))
        assert fwd.submit(bus.publish(shift(1))) is False
        sink.gate.set()
        await fwd.close()
        return fwd

    fwd = run(go())
    assert fwd.stats.dropped["buffer_full"] == 1
    assert [(r.reason, r.topic) for r in reports] == [("buffer_full", "room.topic.shift.suggested")]


def test_close_sends_what_is_left_within_its_bound(bus: EventBus) -> None:
    sink = ScriptedSink()

    async def go() -> float:
        fwd = await Forwarder(bus.registry, sink, config=ForwarderConfig(max_delay_s=30)).start()
        for i in range(13):
            fwd.submit(bus.publish(shift(i)))
        t0 = time.monotonic()
        await fwd.close(timeout=2)
        return time.monotonic() - t0

    took = run(go())
    assert took < 1.9 and len(sink.delivered) == 13, "sent at once, not after the window or the 2 s bound"


def test_close_gives_up_after_its_timeout_and_reports_the_rest(bus: EventBus) -> None:
    reports: list[Any] = []
    sink = ScriptedSink()

    async def go() -> tuple[Forwarder, float]:
        sink.gate = asyncio.Event()  # EventBridge never answers
        fwd = await Forwarder(
            bus.registry, sink, config=ForwarderConfig(max_delay_s=0, max_in_flight=1), on_deferred=reports.append
        ).start()
        for i in range(15):
            fwd.submit(bus.publish(shift(i)))
        await asyncio.sleep(0.02)
        t0 = time.monotonic()
        await fwd.close(timeout=0.3)
        return fwd, time.monotonic() - t0

    fwd, took = run(go())
    assert took < 5.0, "gave up after its 0.3 s bound (EventBridge never answers)"
    assert fwd.stats.dropped["shutdown"] == 15, "5 buffered + 10 in flight"
    assert sum(r.count for r in reports) == 15 and {r.reason for r in reports} == {"retry_exhausted"}
    assert fwd.submit(bus.publish(shift(99))) is False and fwd.stats.dropped["closed"] == 1


def test_submit_before_start_and_from_other_threads(bus: EventBus) -> None:
    sink = ScriptedSink()
    fwd = Forwarder(bus.registry, sink, config=ForwarderConfig(max_delay_s=0.02))
    fwd.submit(bus.publish(started()))  # no loop yet: the bot publishes this before asyncio exists

    async def go() -> None:
        await fwd.start()

        def worker(k: int) -> None:
            for i in range(50):
                fwd.submit(bus.publish(shift(1000 * k + i)))

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        await asyncio.to_thread(lambda: [t.join() for t in threads])
        await asyncio.sleep(0.1)
        await fwd.close()

    run(go())
    assert len(sink.delivered) == 201 == len(set(sink.delivered_ids()))


def test_attach_replays_what_the_bus_published_before(bus: EventBus) -> None:
    sink = ScriptedSink()
    early = bus.publish(started())
    fwd = Forwarder(bus.registry, sink, config=ForwarderConfig(max_delay_s=0.01))
    detach = attach(bus, fwd)
    fwd.submit(early)  # a racing second submit of the same envelope is ignored

    async def go() -> None:
        await fwd.start()
        bus.publish(shift(1))
        bus.publish(speaking(1))
        await fwd.close()

    run(go())
    detach()
    assert [d["topic"] for d in details(sink)] == ["assistant.session.started", "room.topic.shift.suggested"]
    assert fwd.stats.dropped["duplicate"] == 1


def test_bot_forwarding_reports_losses_on_the_bus(bus: EventBus, tmp_path: Any) -> None:
    from bot.events import Sampler

    seen: list[dict[str, Any]] = []
    bus.subscribe("forwarding.delivery.deferred", seen.append)
    sink = ScriptedSink(
        lambda entries, call: ["AccessDeniedException"] * len(entries) if call == 1 else [None] * len(entries)
    )
    bus.publish(started())

    async def go() -> dict[str, Any]:
        fb = BotForwarding.create(
            bus,
            redactor=Redactor(bus.registry),
            sampler=Sampler(bus.registry),
            sink=sink,
            config=ForwarderConfig(max_delay_s=0.01),
        )
        await fb.start()
        await sink.wait_calls(2)
        bus.publish(ended())
        return await fb.aclose(timeout=2)

    stats = run(go())
    assert [e["payload"]["reason"] for e in seen] == ["rejected"]
    assert bus.drops_by_reason["eventbridge_rejected"] == 1
    delivered = [d["topic"] for d in details(sink)]
    assert delivered == ["forwarding.delivery.deferred", "assistant.session.ended"], (
        "the loss report is itself forwarded"
    )
    assert stats["delivered"] == 2


def test_bot_forwarding_writes_a_dry_run_log(bus: EventBus, tmp_path: Any) -> None:
    from bot.events import Sampler
    from bot.forwarding.dryrun_check import check_file

    path = tmp_path / "fwd.jsonl"
    bus.publish(started())

    async def go() -> None:
        fb = BotForwarding.create(
            bus,
            redactor=Redactor(bus.registry),
            sampler=Sampler(bus.registry),
            dry_run_path=path,
            bus_name="prism",
            source="prism.test",
        )
        await fb.start()
        for i in range(12):
            bus.publish(shift(i))
        bus.publish(ended())
        await fb.aclose(timeout=2)

    run(go())
    requests, entries, problems = check_file(path)
    assert problems == [] and entries == 14 and requests >= 2
