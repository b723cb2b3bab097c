"""The real sink against EventBridge (a local moto server): every eventbridge-destined envelope a bot
produces arrives exactly once, also when PutEvents throttles some entries or whole calls.

The moto server binds 127.0.0.1 on a free port; a rule on a custom bus sends everything with our
source to an SQS queue, which the test reads back.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from fwd_helpers import dominance, ended, joined, run, shift, speaking, started, violation

from bot.events import EventBus, SessionContext, SpecRegistry
from bot.forwarding import EventBridgeSink, Forwarder, ForwarderConfig
from supervisor.ingest import Ingestor, StreamStats
from supervisor.metrics import Metrics

REPO = Path(__file__).resolve().parents[2]
DOMINANT = REPO / "bot" / "scenarios" / "rooms" / "dominant.json"
SOURCE = "prism.room-bot"
FAST_RETRY = ForwarderConfig(source=SOURCE, max_delay_s=0.05, backoff_base_s=0.01, backoff_max_s=0.05)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class Aws:
    """A fresh bus → rule → SQS queue on the moto server."""

    def __init__(self, url: str) -> None:
        kwargs = {
            "endpoint_url": url,
            "region_name": "us-east-1",
            "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing",
        }
        self.events = boto3.client("events", **kwargs)
        self.sqs = boto3.client("sqs", **kwargs)
        self.bus = f"prism-{uuid.uuid4().hex[:8]}"
        self.events.create_event_bus(Name=self.bus)
        self.queue = self.sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        self.events.put_rule(Name="all-prism", EventBusName=self.bus, EventPattern=json.dumps({"source": [SOURCE]}))
        self.events.put_targets(Rule="all-prism", EventBusName=self.bus, Targets=[{"Id": "queue", "Arn": arn}])

    def received(self) -> list[dict[str, Any]]:
        """Every event the queue got (as EventBridge delivered it)."""
        out: list[dict[str, Any]] = []
        empty = 0
        while empty < 2:
            messages = self.sqs.receive_message(QueueUrl=self.queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            empty = empty + 1 if not messages else 0
            out.extend(json.loads(m["Body"]) for m in messages)
        return out


@pytest.fixture
def aws(moto_url: str) -> Aws:
    return Aws(moto_url)


class ThrottlingClient:
    """Wraps the real client: the first attempt of every third entry fails with ThrottlingException
    (the rest of its request goes through), and one whole call is throttled."""

    def __init__(self, real: Any, *, whole_call: int = 2) -> None:
        self.real = real
        self.calls = 0
        self.whole_call = whole_call
        self.seen = 0
        self.failed: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls += 1
        if self.calls == self.whole_call:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "PutEvents")
        results: list[dict[str, Any] | None] = [None] * len(Entries)
        passing: list[tuple[int, dict[str, Any]]] = []
        for i, entry in enumerate(Entries):
            eid = json.loads(entry["Detail"])["id"]
            if not self.failed[eid]:
                self.seen += 1
                if self.seen % 3 == 0:
                    self.failed[eid] += 1
                    results[i] = {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                    continue
            passing.append((i, entry))
        if passing:
            response = self.real.put_events(Entries=[e for _, e in passing])
            for (i, entry), result in zip(passing, response["Entries"], strict=True):
                results[i] = result
                if "EventId" in result:
                    self.sent[json.loads(entry["Detail"])["id"]] += 1
        return {"FailedEntryCount": sum(1 for r in results if r and "ErrorCode" in r), "Entries": results}

    def close(self) -> None:
        self.real.close()


def eventbridge_ids(envelopes: list[dict[str, Any]], registry: SpecRegistry) -> list[str]:
    return [e["id"] for e in envelopes if "eventbridge" in registry.topics[e["topic"]].destinations]


def forward(lines: list[bytes], client: Any, *, bus_name: str) -> tuple[list[dict[str, Any]], Forwarder, StreamStats]:
    """Lines → supervisor ingestion → forwarder → the real sink (with ``client``)."""
    registry = SpecRegistry.load()
    ingestor = Ingestor(registry, Metrics())
    stats = StreamStats()
    config = ForwarderConfig(**{**FAST_RETRY.__dict__, "bus_name": bus_name})

    async def go() -> tuple[list[dict[str, Any]], Forwarder]:
        fwd = await Forwarder(registry, EventBridgeSink(client=client), config=config, salt="test-salt").start()
        valid = []
        for line in lines:
            envelope = ingestor.ingest(line, stats)
            if envelope is not None:
                valid.append(envelope)
                fwd.submit(envelope)
        assert await fwd.flush(20)
        await fwd.close()
        return valid, fwd

    valid, fwd = run(go(), timeout=60)
    return valid, fwd, stats


def synthetic_lines() -> list[bytes]:
    import orjson

    registry = SpecRegistry.load()
    bus = EventBus(
        registry=registry,
        context=SessionContext(
            session_id=str(uuid.uuid4()), assistant_id="asst-1", tenant_id="tenant-1", room_id="room-1"
        ),
    )
    lines: list[bytes] = []
    bus.subscribe("*", lambda e: lines.append(orjson.dumps(e)))
    bus.publish(started())
    for i in range(30):
        bus.publish(joined(i % 4))
        bus.publish(speaking(i))
        bus.publish(dominance(i))
        bus.publish(shift(i))
        if i % 10 == 0:
            bus.publish(violation())
    bus.publish(ended())
    return lines


def test_synthetic_session_arrives_exactly_once_across_throttling(aws: Aws) -> None:
    lines = synthetic_lines()
    client = ThrottlingClient(aws.events)
    valid, fwd, _ = forward(lines, client, bus_name=aws.bus)
    expected = eventbridge_ids(valid, SpecRegistry.load())
    got = [m["detail"]["id"] for m in aws.received()]
    assert sorted(got) == sorted(expected), "no loss"
    assert len(got) == len(set(got)), "no duplicates"
    assert sum(client.failed.values()) > 10 and client.calls > len(expected) // 10 + 1
    assert fwd.stats.retried > 0 and fwd.stats.dropped == {}
    assert fwd.stats.error_codes["ThrottlingException"] >= sum(client.failed.values())


def slow_bot_lines() -> list[bytes]:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(DOMINANT), "--speed", "0", "--view", "off"],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        env={k: v for k, v in __import__("os").environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))},
    )
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    return proc.stdout.splitlines()


@pytest.fixture(scope="module")
def bot_lines() -> list[bytes]:
    return slow_bot_lines()


@pytest.mark.slow
@pytest.mark.parametrize("throttle", [False, True], ids=["clean", "throttled"])
def test_a_real_bot_room_arrives_exactly_once(aws: Aws, bot_lines: list[bytes], throttle: bool) -> None:
    client: Any = ThrottlingClient(aws.events) if throttle else aws.events
    valid, fwd, stats = forward(bot_lines, client, bus_name=aws.bus)
    assert stats.ingested == len(bot_lines) and stats.gaps == 0 and stats.garbage == stats.invalid == 0
    registry = SpecRegistry.load()
    expected = eventbridge_ids(valid, registry)
    received = aws.received()
    got = [m["detail"]["id"] for m in received]
    assert len(expected) >= 15
    assert sorted(got) == sorted(expected) and len(set(got)) == len(got)
    assert {m["source"] for m in received} == {SOURCE}
    assert all(m["detail-type"] == m["detail"]["topic"] for m in received)
    for message in received:  # redacted for eventbridge: no display names, hashed participant ids
        detail = message["detail"]
        if detail["topic"] == "room.participant.joined":
            assert "displayName" not in detail["payload"] and detail["payload"]["participantId"].startswith("h:")
    if throttle:
        assert fwd.stats.retried > 0 and sum(client.failed.values()) > 0
        assert max(client.sent.values()) == 1
