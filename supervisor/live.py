"""Browser-facing routes: the live feed (SSE), view tokens, votes from pages, the dashboard.

| method | path | auth | what |
|---|---|---|---|
| POST | /view-tokens | bearer | a short-lived view token for one room (or ``*``) and optionally a participant |
| GET | /rooms/{id}/events | bearer or view token | Server-Sent Events: the room's envelopes, resumable |
| POST | /rooms/{id}/messages | bearer + ``participantId``, or a view token with a participant | a browser envelope (``room.vote.cast``) for a simulated room's bot |
| GET | /view/rooms | bearer or a ``*`` view token | the rooms a page may list |
| GET | / and /rooms/{id}/view | none (no data in them) | the dashboard page; it reads the token from the URL fragment |
| GET | /static/{file} | none | the built dashboard (``web/dist-browser``) |

A page passes its view token as ``?token=`` (``EventSource`` cannot set headers) or as
``Authorization: Bearer``; the supervisor's own token is never handed to a page.

The SSE stream: a ``hello`` event (room status, session, how many envelopes the resume point is
past the backlog), then one ``message`` event per envelope with ``id`` = ``meta.seq``; a client
that reconnects with ``Last-Event-ID`` gets exactly the envelopes after it. ``dropped`` (the
client fell behind by more than its queue: reconnect to resume) and ``end`` (the room is over)
close the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from aiohttp_sse import sse_response

from supervisor.feed import FeedItem, Subscriber, TooManySubscribers
from supervisor.view_tokens import PARTICIPANT_PATTERN, ViewGrant

if TYPE_CHECKING:
    from supervisor.app import Supervisor

WEB_DIR = Path(__file__).resolve().parent.parent / "web" / "dist-browser"
"""The built page (``cd web && npm run bundle``; scripts/setup.sh runs it)."""
MAX_MESSAGE_BYTES = 4096
"""Daily's app-message limit: the same envelope must be sendable in a real room."""
SEND_TIMEOUT_SECS = 10.0
"""A write to a page that takes longer than this ends its stream (it resumes on reconnect)."""
RETRY_MS = 2000
VIEW_ROUTES = frozenset({"events", "messages", "view-rooms"})
"""Routes a view token may open (the rest of the API needs the bearer token)."""
OPEN_ROUTES = frozenset({"page-index", "page-room", "static"})
GRANT_KEY: Any = web.RequestKey("prism.grant", object) if hasattr(web, "RequestKey") else "prism.grant"
"""``request[GRANT_KEY]``: a :class:`ViewGrant`, or ``None`` for the supervisor's bearer token."""


class Overflowed(Exception):
    pass


def _sup(request: web.Request) -> Supervisor:
    from supervisor.api import SUPERVISOR_KEY

    return request.app[SUPERVISOR_KEY]


def _error(status: int, code: str, message: str) -> web.Response:
    from supervisor.api import error

    return error(status, code, message)


def grant_of(request: web.Request) -> ViewGrant | None:
    return request.get(GRANT_KEY)


def room_allowed(request: web.Request, room_id: str) -> bool:
    grant = grant_of(request)
    return grant is None or grant.allows(room_id)


async def issue_view_token(request: web.Request) -> web.Response:
    """``POST /view-tokens {"roomId", "participantId"?, "ttlSecs"?}`` → ``{token, expiresAt, viewPath}``."""
    sup = _sup(request)
    try:
        body = orjson.loads(await request.read() or b"null")
    except orjson.JSONDecodeError:
        return _error(400, "bad_request", "the body is not valid JSON")
    if not isinstance(body, dict) or set(body) - {"roomId", "participantId", "ttlSecs"}:
        return _error(422, "invalid_request", "the body is {roomId, participantId?, ttlSecs?}")
    room_id, participant, ttl = body.get("roomId"), body.get("participantId"), body.get("ttlSecs")
    if not isinstance(room_id, str) or (room_id != "*" and sup.rooms.get(room_id) is None):
        return _error(404, "not_found", "roomId: no such room (or '*' for every room)")
    if participant is not None and (not isinstance(participant, str) or not PARTICIPANT_PATTERN.match(participant)):
        return _error(422, "invalid_request", "participantId: 1 to 128 letters, digits or ._:@-")
    limit = sup.settings.view_token_ttl_secs
    if ttl is None:
        ttl = limit
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= 86_400:
        return _error(422, "invalid_request", "ttlSecs: a number of seconds in (0, 86400]")
    token, expires = sup.view_tokens.issue(room_id, participant_id=participant, ttl_secs=float(ttl))
    path = "/" if room_id == "*" else f"/rooms/{room_id}/view"
    return web.json_response({"token": token, "expiresAt": expires, "viewPath": f"{path}#token={token}"}, status=201)


def _after(request: web.Request) -> int | None:
    raw = request.headers.get("Last-Event-ID") or request.query.get("lastEventId")
    if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 18:
        return None
    return int(raw.strip())


async def _next(sub: Subscriber) -> FeedItem | None:
    """The next item (``None`` = the room ended); raises :class:`Overflowed` when the client fell behind."""
    if sub.overflowed.is_set():
        raise Overflowed
    if not sub.queue.empty():
        return sub.queue.get_nowait()
    get = asyncio.ensure_future(sub.queue.get())
    over = asyncio.ensure_future(sub.overflowed.wait())
    try:
        done, _ = await asyncio.wait({get, over}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        over.cancel()
        if not get.done():
            get.cancel()
    if get in done and not get.cancelled():
        return get.result()
    raise Overflowed


async def room_events(request: web.Request) -> web.StreamResponse:
    """``GET /rooms/{id}/events``: the room's envelopes as Server-Sent Events (see the module doc)."""
    sup = _sup(request)
    room_id = request.match_info["room_id"]
    room = sup.rooms.get(room_id)
    if room is None or not room_allowed(request, room_id):
        return _error(404, "not_found", "no such room")
    feed = sup.feeds.feed(room_id)
    after = _after(request)
    try:
        sub, items, missed = feed.subscribe(after)
    except TooManySubscribers as exc:
        return _error(429, "too_many_streams", str(exc))
    last = after
    try:
        async with sse_response(
            request,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
            send_timeout=SEND_TIMEOUT_SECS,
        ) as resp:
            title = f"{room.scenario_path.stem} (simulated room)" if room.scenario_path else "Daily room"
            hello = {
                "roomId": room_id,
                "title": title,
                "status": room.status,
                "sessionId": feed.session_id,
                "missed": missed,
            }
            await resp.send(orjson.dumps(hello).decode(), event="hello", retry=RETRY_MS)
            for old in items:
                await resp.send(old.data, id=str(old.seq))
                last = old.seq
            if feed.ended and sub.queue.empty():
                await resp.send("{}", event="end")
                return resp
            while True:
                try:
                    item = await _next(sub)
                except Overflowed:
                    await resp.send(orjson.dumps({"reason": "slow", "lastEventId": last}).decode(), event="dropped")
                    return resp
                if item is None:
                    await resp.send("{}", event="end")
                    return resp
                await resp.send(item.data, id=str(item.seq))
                last = item.seq
    except (TimeoutError, ConnectionResetError):  # the page went away, or could not keep up
        return web.StreamResponse()
    finally:
        feed.unsubscribe(sub)


async def post_message(request: web.Request) -> web.Response:
    """``POST /rooms/{id}/messages``: a browser envelope to a simulated room's bot (as Daily would carry it)."""
    sup = _sup(request)
    room_id = request.match_info["room_id"]
    if sup.rooms.get(room_id) is None or not room_allowed(request, room_id):
        return _error(404, "not_found", "no such room")
    grant = grant_of(request)
    sender = grant.participant_id if grant is not None else request.query.get("participantId")
    if not sender or not PARTICIPANT_PATTERN.match(sender):
        return _error(
            403,
            "forbidden",
            "this view token can only watch (issue one with a participantId to vote)"
            if grant is not None
            else "participantId is required (?participantId=...)",
        )
    raw = await request.content.read(MAX_MESSAGE_BYTES + 1)
    if len(raw) > MAX_MESSAGE_BYTES:
        return _error(413, "too_large", f"an app message is at most {MAX_MESSAGE_BYTES} bytes")
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "bad_request", "the body is not valid JSON")
    if not isinstance(message, dict):
        return _error(400, "bad_request", "the body is an envelope (a JSON object)")
    problem = await sup.rooms.send_message(room_id, sender, message)
    if problem is not None:
        return _error(409, "conflict", problem)
    return web.json_response({"accepted": True, "senderId": sender}, status=202)


async def view_rooms(request: web.Request) -> web.Response:
    """``GET /view/rooms``: what the room list shows (no URLs, no errors, no exits)."""
    rooms = [
        {
            "id": room.id,
            "status": room.status,
            "scenario": room.scenario_path.stem if room.scenario_path else None,
            "daily": room.request.room_url is not None,
            "sessionId": room.session_id,
            "createdAt": room.as_dict()["createdAt"],
        }
        for room in _sup(request).rooms.rooms.values()
        if room_allowed(request, room.id)
    ]
    return web.json_response({"rooms": rooms})


PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Prism room dashboard</title>
<link rel="stylesheet" href="/static/dashboard.css">
</head>
<body>
<div id="app" data-room="{room}"><p class="boot">Loading the dashboard…</p></div>
<noscript>The dashboard needs JavaScript.</noscript>
<script type="module" src="/static/dashboard.js"></script>
</body>
</html>
"""
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # No 'unsafe-eval': the page's payload validators are compiled ahead of time (web/scripts/validators.mjs)
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def _page(room_id: str) -> web.Response:
    if not (WEB_DIR / "dashboard.js").is_file():
        return web.Response(
            status=503,
            text="The dashboard is not built: run scripts/setup.sh (or cd web && npm run bundle).\n",
        )
    return web.Response(text=PAGE.replace("{room}", room_id), content_type="text/html", headers=SECURITY_HEADERS)


async def page_index(request: web.Request) -> web.Response:
    return _page("")


async def page_room(request: web.Request) -> web.Response:
    room_id = request.match_info["room_id"]
    if not all(c.isalnum() or c == "-" for c in room_id):
        return _error(404, "not_found", "no such room")
    return _page(room_id)


STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".map": "application/json"}


async def static_file(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    path = WEB_DIR / name
    if "/" in name or name.startswith(".") or path.suffix not in STATIC_TYPES or not path.is_file():
        return _error(404, "not_found", "no such file")
    return web.FileResponse(path, headers={"Content-Type": STATIC_TYPES[path.suffix], "Cache-Control": "no-cache"})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/view-tokens", issue_view_token)
    app.router.add_get("/rooms/{room_id}/events", room_events, name="events")
    app.router.add_post("/rooms/{room_id}/messages", post_message, name="messages")
    app.router.add_get("/view/rooms", view_rooms, name="view-rooms")
    app.router.add_get("/", page_index, name="page-index")
    app.router.add_get("/rooms/{room_id}/view", page_room, name="page-room")
    app.router.add_get("/static/{name}", static_file, name="static")


def route_name(request: web.Request) -> str | None:
    with contextlib.suppress(AttributeError):
        return request.match_info.route.name
    return None


def view_token_of(request: web.Request) -> str | None:
    token = request.query.get("token")
    if token:
        return token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return given.strip() if scheme.lower() == "bearer" and given.strip().startswith("v1.") else None
