"""A bot's lines must carry its room's identity: others are refused, counted, never forwarded."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from sup_helpers import make_settings, python_bot, run, running

from bot.events import EventBus, SessionContext, SpecRegistry
from bot.generated import RoomVoteClosed
from supervisor.ingest import Ingestor, StreamStats
from supervisor.metrics import Metrics
from supervisor.provenance import Provenance

REGISTRY = SpecRegistry.load()


def _envelope(**context: Any) -> dict[str, Any]:
    ctx = {"session_id": "s-1", "assistant_id": "asst-1", "tenant_id": "tenant-1", **context}
    bus = EventBus(registry=REGISTRY, context=SessionContext(**ctx))
    return bus.publish(RoomVoteClosed(vote_id="v", tally={"yes": 1}, total_votes=1))


FORGED = [
    ("another-tenant", {"tenantId": "tenant-2"}, "tenantId"),
    ("no-tenant", {"tenantId": None}, "tenantId"),
    ("another-assistant", {"assistantId": "asst-2"}, "assistantId"),
    ("runtime-supervisor", {"runtime": "supervisor"}, "runtime"),
    ("runtime-browser", {"runtime": "browser"}, "runtime"),
    ("another-session", {"sessionId": "s-2"}, "sessionId"),
]


@pytest.mark.parametrize(("change", "field"), [(c, f) for _, c, f in FORGED], ids=[i for i, _, _ in FORGED])
def test_an_envelope_claiming_another_identity_is_refused_and_counted(change: dict[str, Any], field: str) -> None:
    ingestor = Ingestor(REGISTRY, Metrics())
    stats = StreamStats()
    expect = Provenance(tenant_id="tenant-1", assistant_id="asst-1")
    assert ingestor.ingest(orjson.dumps(_envelope()), stats, expect=expect) is not None  # binds session s-1
    forged = {**_envelope(), **change}
    assert ingestor.ingest(orjson.dumps(forged), stats, expect=expect) is None
    assert stats.refused == 1 and ingestor.metrics.refused[field] == 1
    assert ingestor.metrics.dropped["identity_mismatch"] == 1
    assert ingestor.metrics.lines == {"ok": 1, "refused": 1}


def test_a_topic_the_bot_may_not_publish_is_refused() -> None:
    vote_cast = {**_envelope(), "topic": "room.vote.cast", "payload": {"voteId": "v", "option": "yes"}}
    ingestor = Ingestor(REGISTRY, Metrics())
    expect = Provenance(tenant_id="tenant-1", assistant_id="asst-1")
    assert ingestor.ingest(orjson.dumps(vote_cast), StreamStats(), expect=expect) is None
    assert ingestor.metrics.refused["origin"] == 1


def test_a_new_bot_process_may_open_a_new_session() -> None:
    ingestor = Ingestor(REGISTRY, Metrics())
    expect = Provenance(tenant_id="tenant-1", assistant_id="asst-1")
    assert ingestor.ingest(orjson.dumps(_envelope()), StreamStats(), expect=expect) is not None
    expect.new_process()
    assert ingestor.ingest(orjson.dumps(_envelope(session_id="s-2")), StreamStats(), expect=expect) is not None


FORGING_BOT = python_bot(
    "import orjson\n"
    "from bot.generated import RoomVoteClosed\n"
    "start()\n"
    "real = bus.publish(RoomVoteClosed(vote_id='real', tally={'yes': 1}, total_votes=1))\n"
    "for n, change in enumerate([{'tenantId': 'victim'}, {'runtime': 'supervisor'}, {'sessionId': 'other'}]):\n"
    "    forged = {**real, 'id': str(uuid.uuid4())[:14] + '7' + str(uuid.uuid4())[15:], 'payload': {**real['payload'], 'voteId': f'forged-{n}'}, **change}\n"
    "    sys.stdout.buffer.write(orjson.dumps(forged) + b'\\n')\n"
    "sys.stdout.buffer.flush()\n"
    "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=3, dropped=0))\n"
)


def test_the_supervisor_forwards_only_its_rooms_identity(tmp_path: Path) -> None:
    async def scenario() -> None:
        settings = make_settings(tmp_path, allow_command=True)
        async with running(settings) as client:
            room = await client.post_room(
                {"scenario": "demo", "assistantId": "asst-1", "tenantId": "tenant-1", "command": FORGING_BOT}
            )
            room = await client.wait_room(room["id"], lambda r: r["status"] in ("ended", "failed"))
            assert room["status"] == "ended", room
            assert room["events"]["refused"] == 3
            m = await client.metrics()
            for field in ("tenantId", "runtime", "sessionId"):
                assert m[f'ingest_refused_total{{field="{field}"}}'] == 1
            await client.sup.forwarder.flush(5)
        lines = (tmp_path / "forward.jsonl").read_text().splitlines()
        details = [orjson.loads(e["Detail"]) for line in lines for e in orjson.loads(line)["request"]["Entries"]]
        votes = [d["payload"]["voteId"] for d in details if d["topic"] == "room.vote.closed"]
        assert votes == ["real"]
        assert {d["tenantId"] for d in details if d["runtime"] == "bot"} == {"tenant-1"}

    run(scenario())


class _RejectingSink:
    """Rejects every room.vote.closed entry (a final code), accepts the rest."""

    name = "rejecting"

    def __init__(self) -> None:
        self.delivered: list[dict[str, Any]] = []

    async def send(self, entries: list[dict[str, Any]]) -> list[str | None]:
        results: list[str | None] = []
        for entry in entries:
            if entry["DetailType"] == "room.vote.closed":
                results.append("!ValidationException")
            else:
                results.append(None)
                self.delivered.append(orjson.loads(entry["Detail"]))
        return results

    async def close(self) -> None:
        pass


def test_the_supervisor_publishes_its_own_losses_as_the_spec_allows(tmp_path: Path) -> None:
    """docs/supervisor.md said only the bot publishes forwarding.delivery.deferred; the spec's origin
    lists the supervisor too, and the supervisor does publish (runtime supervisor, its own session)."""
    rule = REGISTRY.rule("forwarding.delivery.deferred")
    assert rule is not None and "supervisor" in rule.origin
    sink = _RejectingSink()
    bot = python_bot(
        "from bot.generated import RoomVoteClosed\n"
        "start()\n"
        "bus.publish(RoomVoteClosed(vote_id='v', tally={'yes': 1}, total_votes=1))\n"
        "bus.publish(AssistantSessionEnded(reason='completed', duration_ms=1, published=2, dropped=0))\n"
    )

    async def scenario() -> None:
        async with running(make_settings(tmp_path, allow_command=True), sink=sink) as client:
            room = await client.post_room({"scenario": "demo", "assistantId": "a", "tenantId": "t", "command": bot})
            room = await client.wait_room(room["id"], lambda r: r["status"] in ("ended", "failed"))
            for _ in range(100):
                if any(d["topic"] == "forwarding.delivery.deferred" for d in sink.delivered):
                    break
                await asyncio.sleep(0.05)
            room = (await client.request("GET", f"/rooms/{room['id']}"))[1]
            assert room["forwarding"]["dropped"] == {"rejected": 1}

    run(scenario())
    reports = [d for d in sink.delivered if d["topic"] == "forwarding.delivery.deferred"]
    assert len(reports) == 1 and reports[0]["runtime"] == "supervisor"
    assert reports[0]["payload"] == {
        "destination": "eventbridge",
        "count": 1,
        "reason": "rejected",
        "topic": "room.vote.closed",
    }
    assert reports[0]["sessionId"].startswith("supervisor-")
