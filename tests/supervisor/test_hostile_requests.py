"""Hostile requests: each is a 4xx naming the field, before a room exists; never a 500."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from sup_helpers import TOKEN, make_settings, run, running

ROOM = {"assistantId": "asst-1", "tenantId": "tenant-1"}


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BODIES = [
    ("nul-in-room-url", orjson.dumps({**ROOM, "roomUrl": "https://acme.daily.co/a\u0000b"}), 422, "roomUrl"),
    ("newline-in-room-url", orjson.dumps({**ROOM, "roomUrl": "https://acme.daily.co/a\nb"}), 422, "roomUrl"),
    (
        "nul-in-room-token",
        orjson.dumps({**ROOM, "roomUrl": "https://acme.daily.co/a", "roomToken": "ey\u0000J"}),
        422,
        "roomToken",
    ),
    ("nul-in-scenario", orjson.dumps({**ROOM, "scenario": "demo\u0000.json"}), 422, "scenario"),
    (
        "policy-layers-1000-deep",
        b'{"assistantId": "asst-1", "tenantId": "tenant-1", "scenario": "demo", "policyLayers": [{"x": '
        + _nested(1000).encode()
        + b"}]}",
        422,
        "policyLayers",
    ),
    (
        "any-field-1000-deep",
        b'{"assistantId": "asst-1", "tenantId": "tenant-1", "scenario": "demo", "extra": '
        + _nested(1000).encode()
        + b"}",
        422,
        "body",
    ),
]


@pytest.mark.parametrize(("body", "status", "field"), [b[1:] for b in BODIES], ids=[b[0] for b in BODIES])
def test_a_hostile_body_is_a_4xx_naming_the_field_and_no_room(
    tmp_path: Path, body: bytes, status: int, field: str
) -> None:
    async def scenario() -> None:
        async with running(make_settings(tmp_path)) as client:
            got, answer = await client.request(
                "POST", "/rooms", data=body, headers={"Content-Type": "application/json"}
            )
            assert (got, answer["field"]) == (status, field), answer
            assert "\u0000" not in answer["message"]
            assert (await client.request("GET", "/rooms"))[1] == {"rooms": []}

    run(scenario())


async def _raw(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return data


@pytest.mark.parametrize(
    "value",
    [b"Bearer \xff\xfe\xc3(", b"\xff\xff", b"Bearer " + TOKEN.encode()[:-1] + b"\xe9"],
    ids=["bearer-latin1", "no-scheme", "almost-the-token"],
)
def test_a_non_utf8_authorization_header_is_401_naming_the_header(tmp_path: Path, value: bytes) -> None:
    async def scenario() -> None:
        async with running(make_settings(tmp_path)) as client:
            request = b"GET /rooms HTTP/1.1\r\nHost: x\r\nAuthorization: " + value + b"\r\nConnection: close\r\n\r\n"
            port = client.sup.port
            assert port is not None
            answer = await _raw(port, request)
            head, _, body = answer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 401"), answer[:200]
            assert orjson.loads(body)["field"] == "Authorization"

    run(scenario())


def test_one_tenant_cannot_take_every_room(tmp_path: Path) -> None:
    from sup_helpers import STARTS_THEN_HANGS

    settings = make_settings(tmp_path, allow_command=True, max_rooms=4, max_rooms_per_tenant=2, grace_period_secs=1)

    async def scenario() -> None:
        async with running(settings) as client:
            body = {"scenario": "demo", "assistantId": "a", "tenantId": "greedy", "command": STARTS_THEN_HANGS}
            first = [await client.post_room(body) for _ in range(2)]
            status, answer = await client.request("POST", "/rooms", json=body)
            assert status == 429 and "SUPERVISOR_MAX_ROOMS_PER_TENANT" in answer["message"]
            other = await client.post_room({**body, "tenantId": "other"})
            assert other["scenario"] == "demo.json", "the API shows the scenario relative to the folder"
            for room in [*first, other]:
                await client.request("DELETE", f"/rooms/{room['id']}?wait=false")

    run(scenario())


@pytest.mark.parametrize(
    "body",
    [
        {**ROOM, "scenario": "demo", "eyJhbGciOiJIUzI1NiJ9.secret-token": 1},
        {
            **ROOM,
            "scenario": "demo",
            "policyLayers": [
                {
                    "kind": "prism.policy.layer",
                    "schemaVersion": 1,
                    "name": "x",
                    "level": "tenant",
                    "\u202eevil\x1b[2J": 1,
                }
            ],
        },
    ],
    ids=["unknown-top-level-key", "unknown-policy-key"],
)
def test_a_key_the_client_made_up_is_never_echoed(tmp_path: Path, body: dict[str, object]) -> None:
    async def scenario() -> None:
        async with running(make_settings(tmp_path)) as client:
            status, answer = await client.request("POST", "/rooms", json=body)
            assert status == 422, answer
            text = orjson.dumps(answer).decode()
            assert "secret-token" not in text and "evil" not in text and "\\u001b" not in text, answer
            assert answer["field"] in ("?", "policyLayers.0", "policyLayers.0.?"), answer

    run(scenario())
