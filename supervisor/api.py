"""The HTTP API: rooms, health, metrics. JSON in and out; bearer-token auth.

| method | path | what |
|---|---|---|
| POST | /rooms | start a room's bot (201 + the room) |
| GET | /rooms | every room (active and recently finished) |
| GET | /rooms/{id} | one room |
| DELETE | /rooms/{id} | stop its bot: SIGTERM, SIGKILL after the grace period (200 + the final room) |
| GET | /health | liveness; the only route without a token |
| GET | /metrics | Prometheus text |

and the browser routes of :mod:`supervisor.live` (live feed, view tokens, votes, dashboard).

Errors are ``{"error": <code>, "field"?: <body field>, "message": <text>}``; a bad body never echoes
its values (a room token may be in it).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from bot import __version__
from supervisor import live
from supervisor.metrics import CONTENT_TYPE
from supervisor.rooms import RequestError, TooManyRooms, parse_request

if TYPE_CHECKING:
    from supervisor.app import Supervisor
    from supervisor.view_tokens import ViewGrant

MAX_BODY_BYTES = 256 * 1024
OPEN_PATHS = frozenset({"/health"})
SUPERVISOR_KEY = web.AppKey["Supervisor"]("supervisor")  # typed without importing supervisor.app (a cycle)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)


def error(
    status: int, code: str, message: str, *, field: str | None = None, headers: dict[str, str] | None = None
) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if field is not None:
        body["field"] = field
    return _json(body, status, headers)


def auth_middleware(
    token: str | None, check_view: Callable[[str], ViewGrant | None] | None = None
) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Bearer token on every route but the open ones; a view token (``check_view``) on the routes
    a page uses (``supervisor.live.VIEW_ROUTES``), where it also scopes the request to its room."""
    expected = token.encode("utf-8") if token else None

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        name = live.route_name(request)
        grant = None
        if name in live.VIEW_ROUTES and check_view is not None:
            view_token = live.view_token_of(request)
            grant = check_view(view_token) if view_token else None
        request[live.GRANT_KEY] = grant
        if expected is not None and request.path not in OPEN_PATHS and name not in live.OPEN_ROUTES and grant is None:
            header = request.headers.get("Authorization", "")
            scheme, _, given = header.partition(" ")
            # aiohttp hands undecodable header bytes over as surrogates: compare bytes, never raise
            given_bytes = given.strip().encode("utf-8", "surrogateescape")
            if scheme.lower() != "bearer" or not hmac.compare_digest(given_bytes, expected):
                return error(
                    401,
                    "unauthorized",
                    "a valid bearer token is required (Authorization: Bearer <SUPERVISOR_TOKEN>)",
                    field="Authorization",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                return error(exc.status, exc.reason.lower().replace(" ", "_"), exc.reason)
            raise

    return middleware


def _sup(request: web.Request) -> Supervisor:
    return request.app[SUPERVISOR_KEY]


async def create_room(request: web.Request) -> web.Response:
    sup = _sup(request)
    try:
        async with asyncio.timeout(sup.settings.body_timeout_secs):
            raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        return error(413, "too_large", f"the body is over {MAX_BODY_BYTES} bytes", field="body")
    except TimeoutError:
        return error(
            408, "request_timeout", f"the body did not arrive within {sup.settings.body_timeout_secs:g}s", field="body"
        )
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        return error(400, "bad_request", "the body is not valid JSON", field="body")
    try:
        room_request = parse_request(body, sup.settings)
        room = await sup.rooms.create(room_request)
    except RequestError as exc:
        return error(
            exc.status,
            "invalid_request" if exc.status == 422 else "bad_request" if exc.status == 400 else "forbidden",
            exc.message,
            field=exc.field,
        )
    except TooManyRooms as exc:
        return error(429, "too_many_rooms", str(exc))
    return _json(room.as_dict(), 201, headers={"Location": f"/rooms/{room.id}"})


async def list_rooms(request: web.Request) -> web.Response:
    rooms = _sup(request).rooms.rooms.values()
    return _json({"rooms": [room.as_dict() for room in rooms]})


async def get_room(request: web.Request) -> web.Response:
    room = _sup(request).rooms.get(request.match_info["room_id"])
    if room is None:
        return error(404, "not_found", "no such room")
    return _json(room.as_dict())


async def delete_room(request: web.Request) -> web.Response:
    wait = request.query.get("wait", "true").lower() not in ("0", "false", "no")
    room = await _sup(request).rooms.stop(request.match_info["room_id"], "deleted", wait=wait)
    if room is None:
        return error(404, "not_found", "no such room")
    return _json(room.as_dict(), 200 if wait else 202)


async def health(request: web.Request) -> web.Response:
    return _json({"status": "ok", "version": __version__})


async def metrics(request: web.Request) -> web.Response:
    body = _sup(request).metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


def build_app(supervisor: Supervisor) -> web.Application:
    settings = supervisor.settings
    token = None if settings.insecure_no_auth else settings.token.get_secret_value() if settings.token else None
    app = web.Application(
        middlewares=[auth_middleware(token, supervisor.view_tokens.check)], client_max_size=MAX_BODY_BYTES
    )
    app[SUPERVISOR_KEY] = supervisor
    app.router.add_post("/rooms", create_room)
    app.router.add_get("/rooms", list_rooms)
    app.router.add_get("/rooms/{room_id}", get_room)
    app.router.add_delete("/rooms/{room_id}", delete_room)
    app.router.add_get("/health", health)
    app.router.add_get("/metrics", metrics)
    live.add_routes(app)
    return app
