"""The HTTP API: auth, bad bodies, room lifecycles with real and stand-in bots, metrics."""

from __future__ import annotations

import asyncio
import json
import os
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sup_helpers import (
    CRASH_AFTER_START,
    GARBAGE_THEN_ENDS,
    NEVER_STARTS,
    STARTS_THEN_HANGS,
    TOKEN,
    finished,
    make_settings,
    run,
    running,
)

from bot.forwarding.dryrun_check import check_file


def iso_seconds(text: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


ROOM = {"scenario": "balanced", "speed": 0, "assistantId": "asst-1", "tenantId": "tenant-1"}


def test_every_route_but_health_needs_the_token(tmp_path: Path) -> None:
    async def go() -> None:
        async with running(make_settings(tmp_path)) as client:
            for path in ("/rooms", "/rooms/x", "/metrics"):
                assert (await client.request("GET", path, token=None))[0] == 401
                assert (await client.request("GET", path, token="wrong-token-0123456789"))[0] == 401
            status, body = await client.request("POST", "/rooms", token=None, json=ROOM)
            assert status == 401 and body["error"] == "unauthorized"
            assert (await client.request("DELETE", "/rooms/x", token=None))[0] == 401
            assert (await client.request("GET", "/health", token=None)) == (
                200,
                {"status": "ok", "version": __import__("bot").__version__},
            )
            assert (await client.request("GET", "/rooms"))[0] == 200
            assert client.sup.rooms.rooms == {}, "nothing was started by the refused requests"

    run(go())


BAD_BODIES = [
    ("not-json", b"{nope", 400, "body"),
    ("a-list", [1], 400, "body"),
    ("no-assistant", {"scenario": "balanced", "tenantId": "t"}, 422, "assistantId"),
    ("tenant-not-a-string", {**ROOM, "tenantId": 7}, 422, "tenantId"),
    ("both-room-and-scenario", {**ROOM, "roomUrl": "https://x.daily.co/r"}, 422, "roomUrl"),
    ("neither", {"assistantId": "a", "tenantId": "t"}, 422, "roomUrl"),
    ("room-url-not-http", {"roomUrl": "ftp://x", "assistantId": "a", "tenantId": "t"}, 422, "roomUrl"),
    ("speed-out-of-range", {**ROOM, "speed": 5000}, 422, "speed"),
    ("unknown-field", {**ROOM, "colour": "red"}, 422, "colour"),
    ("layer-not-an-object", {**ROOM, "policyLayers": [1]}, 422, "policyLayers.0"),
    (
        "layer-not-a-policy-layer",
        {**ROOM, "policyLayers": [{"name": "tenant", "rules": {"maxTurnSecs": 90}}]},
        422,
        "policyLayers.0.schemaVersion",
    ),
    (
        "layer-with-a-bad-limit",
        {
            **ROOM,
            "policyLayers": [
                {
                    "kind": "prism.policy.layer",
                    "schemaVersion": 1,
                    "name": "t",
                    "level": "tenant",
                    "turns": {"maxTurnMs": "s3cr3t-in-the-wrong-field"},
                }
            ],
        },
        422,
        "policyLayers.0.turns.maxTurnMs",
    ),
    (
        "layer-with-a-bad-nested-item",
        {
            **ROOM,
            "policyLayers": [
                {
                    "kind": "prism.policy.layer",
                    "schemaVersion": 1,
                    "name": "t",
                    "level": "tenant",
                    "content": {"rules": [{"id": "r", "patterns": ["(s3cr3t"], "action": "warn"}]},
                }
            ],
        },
        422,
        "policyLayers.0.content.rules.0.patterns.0",
    ),
    ("no-such-scenario", {**ROOM, "scenario": "/nonexistent.json"}, 422, "scenario"),
    ("token-without-room", {**ROOM, "roomToken": "s3cr3t-token-value"}, 422, "roomToken"),
    ("command-not-allowed", {**ROOM, "command": ["/bin/sh", "-c", "id"]}, 403, "command"),
    ("bad-timeout", {**ROOM, "idleTimeoutSecs": -1}, 422, "idleTimeoutSecs"),
]


@pytest.mark.parametrize(("body", "status", "field"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES])
def test_bad_bodies_are_refused_naming_the_field(tmp_path: Path, body: Any, status: int, field: str) -> None:
    async def go() -> None:
        async with running(make_settings(tmp_path)) as client:
            kwargs = {"data": body} if isinstance(body, bytes) else {"json": body}
            got, answer = await client.request("POST", "/rooms", **kwargs)
            assert (got, answer["field"]) == (status, field), answer
            assert "s3cr3t" not in json.dumps(answer), "values are never echoed"
            assert client.sup.rooms.rooms == {}

    run(go())


def test_unknown_rooms_are_404(tmp_path: Path) -> None:
    async def go() -> None:
        async with running(make_settings(tmp_path)) as client:
            assert (await client.request("GET", "/rooms/r-nope"))[0] == 404
            assert (await client.request("DELETE", "/rooms/r-nope"))[0] == 404

    run(go())


def test_a_bot_that_never_starts_is_killed_restarted_then_failed(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, allow_command=True, spawn_timeout_secs=0.4, restart_attempts=1, max_rooms=1)

    async def go() -> None:
        async with running(settings) as client:
            room = await client.post_room({**ROOM, "command": NEVER_STARTS})
            assert room["pid"] and room["status"] == "starting"
            status, body = await client.request("POST", "/rooms", json={**ROOM, "command": NEVER_STARTS})
            assert (status, body["error"]) == (429, "too_many_rooms")
            room = await client.wait_room(room["id"], finished, timeout=15)
            assert room["status"] == "failed" and room["attempt"] == 2 and room["restarts"] == 1
            assert "no assistant.session.started within 0.4s" in room["error"]
            m = await client.metrics()
            assert m["bot_spawns_total"] == 2 and m["bot_restarts_total"] == 1

    run(go())


def test_a_non_retryable_failure_is_not_restarted(tmp_path: Path) -> None:
    bad = tmp_path / "broken-room.json"
    bad.write_text('{"participants": 3}')

    async def go() -> None:
        async with running(make_settings(tmp_path, scenarios_dir=tmp_path)) as client:
            room = await client.post_room({**ROOM, "scenario": bad.name})
            room = await client.wait_room(room["id"], finished)
            assert room["status"] == "failed" and room["restarts"] == 0 and room["exitCode"] == 2
            assert "retrying will not help" in room["error"] and "join" in room["error"]
            m = await client.metrics()
            assert m['events_published_total{runtime="bot",topic="assistant.session.failed"}'] == 1

    run(go())


def test_a_silent_bot_is_stopped_on_the_idle_timeout(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, allow_command=True, grace_period_secs=0.5)

    async def go() -> None:
        async with running(settings) as client:
            room = await client.post_room({**ROOM, "command": STARTS_THEN_HANGS, "idleTimeoutSecs": 0.5})
            room = await client.wait_room(room["id"], finished, timeout=10)
            assert (room["status"], room["stopReason"], room["restarts"]) == ("ended", "idle_timeout", 0)

    run(go())


def test_max_duration_stops_a_bot_that_does_not_end_itself(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, allow_command=True, grace_period_secs=0.3)

    async def go() -> None:
        async with running(settings) as client:
            room = await client.post_room({**ROOM, "command": STARTS_THEN_HANGS, "maxDurationSecs": 0.5})
            room = await client.wait_room(room["id"], finished, timeout=10)
            assert (room["status"], room["stopReason"]) == ("ended", "max_duration")

    run(go())


def test_garbage_on_stdout_is_counted_and_the_room_goes_on(tmp_path: Path) -> None:
    async def go() -> None:
        async with running(make_settings(tmp_path, allow_command=True)) as client:
            room = await client.post_room({**ROOM, "command": GARBAGE_THEN_ENDS})
            room = await client.wait_room(room["id"], finished)
            assert room["status"] == "ended" and room["endReason"] == "completed"
            assert room["events"] == {
                "lines": 5,
                "ingested": 2,
                "garbage": 2,
                "invalid": 1,
                "refused": 0,
                "seqGaps": 0,
                "seqDuplicates": 0,
            }
            m = await client.metrics()
            assert (
                m['events_dropped_total{reason="garbage"}'] == 2
                and m['events_dropped_total{reason="unknown_topic"}'] == 1
            )

    run(go())


@pytest.mark.slow
def test_two_rooms_and_a_crashing_one(tmp_path: Path) -> None:
    """Both simulated rooms' eventbridge topics are forwarded (dry run); the crashing bot is restarted
    with backoff, then its room fails; neither affects the others; the metrics add up."""
    settings = make_settings(
        tmp_path, allow_command=True, restart_attempts=2, backoff_base_secs=0.2, backoff_max_secs=1.0
    )

    async def go() -> None:
        async with running(settings) as client:
            a = await client.post_room({**ROOM, "scenario": "rooms/balanced.json"})
            b = await client.post_room({**ROOM, "scenario": "dominant", "assistantId": "asst-2"})
            crash = await client.post_room({**ROOM, "command": CRASH_AFTER_START})
            crash = await client.wait_room(crash["id"], finished)
            a = await client.wait_room(a["id"], finished)
            b = await client.wait_room(b["id"], finished)
            assert (a["status"], a["endReason"], a["exitCode"]) == ("ended", "completed", 0)
            assert (b["status"], b["endReason"], b["exitCode"]) == ("ended", "completed", 0)
            assert crash["status"] == "failed" and crash["attempt"] == 3 and crash["restarts"] == 2
            assert [e["exitCode"] for e in crash["exits"]] == [3, 3, 3]
            delays = [e.get("restartInSecs") for e in crash["exits"]]
            assert 0.1 <= delays[0] <= 0.2 and 0.2 <= delays[1] <= 0.4 and delays[2] is None, (
                "backoff doubles (equal jitter)"
            )
            for before, after in pairwise(crash["exits"]):
                gap = iso_seconds(after["spawnedAt"]) - iso_seconds(before["exitedAt"])
                assert gap >= before["restartInSecs"] - 0.01
            assert len({e["sessionId"] for e in crash["exits"]}) == 3, "a new session per attempt"
            assert "exited with code 3" in crash["error"] and "gave up after 2 restart(s)" in crash["error"]
            await client.sup.forwarder.flush(5)
            m = await client.metrics()
            ingested = a["events"]["ingested"] + b["events"]["ingested"] + crash["events"]["ingested"]
            published = sum(v for k, v in m.items() if k.startswith("events_published_total{"))
            assert published == ingested == m['ingest_lines_total{result="ok"}']
            assert m['events_published_total{runtime="bot",topic="assistant.session.started"}'] == 5
            assert m["bot_spawns_total"] == 5 and m["bot_restarts_total"] == 2
            assert m['bot_exits_total{outcome="crashed"}'] == 3 and m['bot_exits_total{outcome="failed"}'] == 1
            assert m['rooms{status="ended"}'] == 2 and m['rooms{status="failed"}'] == 1
            assert m["seq_gaps_total"] == 0 and m["seq_duplicates_total"] == 0
            assert m['publish_latency_ms_count{topic="assistant.session.started"}'] == 5
            assert m['forward_entries_total{outcome="delivered"}'] > 0 and m["buffer_fill_ratio"] == 0

        # after stop(): the dry-run log holds every eventbridge-destined envelope of both rooms, once
        _, _, problems = check_file(settings.dry_run_path)
        assert problems == []
        sent = [
            json.loads(e["Detail"])
            for line in settings.dry_run_path.read_text().splitlines()
            for e in json.loads(line)["request"]["Entries"]
        ]
        sessions = {a["sessionId"], b["sessionId"]}
        assert {d["sessionId"] for d in sent} >= sessions
        for session in sessions:
            mine = [d for d in sent if d["sessionId"] == session]
            topics = [d["topic"] for d in mine]
            assert topics.count("assistant.session.started") == 1 and topics.count("assistant.session.ended") == 1
            assert "room.speaking.started" not in topics and "bot.health.heartbeat" not in topics
            assert len({d["id"] for d in mine}) == len(mine)
        assert all(
            len(json.loads(line)["request"]["Entries"]) <= 10 for line in settings.dry_run_path.read_text().splitlines()
        )
        joined = [d for d in sent if d["topic"] == "room.participant.joined"]
        assert joined and all(
            "displayName" not in d["payload"] and d["payload"]["participantId"].startswith("h:") for d in joined
        )

    run(go(), timeout=120)


def test_delete_sends_sigterm_and_the_bot_ends_with_reason_signal(tmp_path: Path) -> None:
    """A real bot at real-time speed: only allow-listed variables reach it, its policy layers are in
    BOT_POLICY_PATH, and DELETE ends it gracefully."""
    layers = [
        {
            "kind": "prism.policy.layer",
            "schemaVersion": 1,
            "name": "tenant",
            "level": "tenant",
            "turns": {"maxTurnMs": 90000},
        },
        {"kind": "prism.policy.layer", "schemaVersion": 1, "name": "room", "level": "room"},
    ]
    environ = {
        **os.environ,
        "SUPERVISOR_TOKEN": TOKEN,
        "AWS_SECRET_ACCESS_KEY": "must-not-leak",
        "MESH_API_TOKEN": "mesh-token",
    }

    async def go() -> None:
        async with running(make_settings(tmp_path), environ=environ) as client:
            room = await client.post_room({**ROOM, "speed": 1, "policyLayers": layers})
            room = await client.wait_room(
                room["id"], lambda r: r["status"] == "running" and r["events"]["ingested"] >= 4
            )
            # the supervisor runs on this loop: file reads go to a thread so they cannot stall it
            environ_text = await asyncio.to_thread(
                Path(f"/proc/{room['pid']}/environ").read_text, encoding="utf-8", errors="replace"
            )
            bot_env = dict(item.split("=", 1) for item in environ_text.split("\0") if "=" in item)
            assert "SUPERVISOR_TOKEN" not in bot_env and "AWS_SECRET_ACCESS_KEY" not in bot_env
            assert bot_env["MESH_API_TOKEN"] == "mesh-token" and bot_env["PRISM_PII_SALT"] == "test-salt"
            assert (bot_env["ASSISTANT_ID"], bot_env["TENANT_ID"]) == ("asst-1", "tenant-1")
            policy_path = Path(bot_env["BOT_POLICY_PATH"])
            snapshot = json.loads(await asyncio.to_thread(policy_path.read_text))
            assert snapshot["kind"] == "prism.policy.snapshot" and snapshot["layers"] == ["tenant", "room"]
            assert snapshot["policy"]["turns"]["maxTurnMs"] <= 90000
            assert oct((await asyncio.to_thread(policy_path.stat)).st_mode & 0o777) == "0o600"
            status, done = await client.request("DELETE", f"/rooms/{room['id']}")
            assert status == 200
            assert (done["status"], done["stopReason"], done["endReason"], done["exitCode"]) == (
                "ended",
                "deleted",
                "signal",
                0,
            )
            assert not await asyncio.to_thread(policy_path.exists), "the room's folder is removed"
            with pytest.raises(ProcessLookupError):
                os.kill(room["pid"], 0)

    run(go(), timeout=60)


def test_stopping_the_supervisor_stops_every_bot(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, allow_command=True, grace_period_secs=1)

    async def go() -> None:
        async with running(settings) as client:
            rooms = [await client.post_room({**ROOM, "command": STARTS_THEN_HANGS}) for _ in range(2)]
            for room in rooms:
                await client.wait_room(room["id"], lambda r: r["status"] == "running")
            sup = client.sup
        for room in rooms:  # after stop()
            final = sup.rooms.get(room["id"])
            assert final is not None and (final.status, final.stop_reason) == ("ended", "shutdown")
            with pytest.raises(ProcessLookupError):
                os.kill(room["pid"], 0)

    run(go())
