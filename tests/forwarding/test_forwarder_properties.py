"""Property: whatever the traffic and the failures, every envelope offered to the forwarder is
delivered exactly once or counted as dropped, and every request obeys the PutEvents limits."""

from __future__ import annotations

import json
import random
import uuid
from collections import Counter
from typing import Any

from fwd_helpers import ScriptedSink, ended, run, shift, started, violation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.events import EventBus, SessionContext, SpecRegistry
from bot.forwarding import Forwarder, ForwarderConfig
from bot.forwarding.entries import entry_size

REGISTRY = SpecRegistry.load()
MAKERS = [started, ended, violation, lambda: shift(1)]  # critical, critical, high, normal
CODES = [None, None, None, "ThrottlingException", "InternalFailure", "MalformedDetail"]

traffic = st.lists(st.tuples(st.integers(0, len(MAKERS) - 1), st.integers(0, 3000)), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(traffic=traffic, seed=st.integers(0, 2**16), buffer_entries=st.integers(10, 40), max_attempts=st.integers(1, 4))
def test_every_envelope_is_delivered_once_or_counted(
    traffic: list[tuple[int, int]], seed: int, buffer_entries: int, max_attempts: int
) -> None:
    rng = random.Random(seed)
    sink = ScriptedSink(lambda entries, call: [rng.choice(CODES) for _ in entries])
    limit = 4000
    config = ForwarderConfig(
        max_delay_s=0,
        max_batch_bytes=limit,
        buffer_entries=buffer_entries,
        max_attempts=max_attempts,
        backoff_base_s=0.0005,
        backoff_max_s=0.001,
        close_timeout_s=5,
    )
    bus = EventBus(registry=REGISTRY, context=SessionContext(session_id=str(uuid.uuid4())))
    reports: list[Any] = []

    async def go() -> tuple[Forwarder, list[str]]:
        fwd = await Forwarder(REGISTRY, sink, config=config, on_deferred=reports.append).start()
        ids = []
        for kind, pad in traffic:
            env = bus.publish(MAKERS[kind]())
            if pad and env["topic"] == "room.topic.shift.suggested":
                env = {**env, "payload": {**env["payload"], "currentItem": "x" * pad}}
            ids.append(env["id"])
            fwd.submit(env)
        await fwd.close()
        return fwd, ids

    fwd, ids = run(go())
    delivered = Counter(sink.delivered_ids())
    assert all(n == 1 for n in delivered.values()), "never delivered twice"
    assert set(delivered) <= set(ids)
    stats = fwd.stats
    assert stats.submitted == len(ids)
    assert stats.delivered == len(delivered)
    assert stats.delivered + sum(stats.dropped.values()) == len(ids), stats.as_dict()
    assert stats.reports == len(reports) and sum(r.count for r in reports) == sum(
        n for k, n in stats.dropped.items() if k not in ("sampled", "duplicate", "closed")
    )
    for call in sink.calls:
        assert 1 <= len(call) <= 10 and sum(entry_size(e) for e in call) < limit
        assert all(json.loads(e["Detail"])["topic"] == e["DetailType"] for e in call)
