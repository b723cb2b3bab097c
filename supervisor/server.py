"""The API's connection hygiene: header and body timeouts, a connection cap, a bounded accept log.

aiohttp closes a connection whose handler waits for a request longer than ``keepalive_timeout``
(from the connection's start, or its last response), whether or not bytes of an incomplete request
arrived: that is the header timeout (``SUPERVISOR_HEADER_TIMEOUT_SECS``). The body is read within
``SUPERVISOR_BODY_TIMEOUT_SECS`` by the route that reads it (``POST /rooms``).

The connection cap (``SUPERVISOR_MAX_CONNECTIONS``, lowered to what the process's file-descriptor
limit allows) sheds load instead of refusing service: when a new connection would go over the cap,
the oldest connection that is not in the middle of a request (a slow client still sending its
headers, or an idle keep-alive) is closed to make room. A probe or an operator's request, which
sends its request at once, therefore always gets in, however many slow connections are open; only
when every connection is busy in a handler is the new one closed. Shed connections are counted.

``asyncio`` reports every failed ``accept()`` (out of file descriptors) with a traceback; under a
connection flood that is megabytes a second. :class:`AcceptErrorLog` turns them into one line, then
at most one summary line per interval.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Awaitable, Callable
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler
from loguru import logger

from supervisor.logbudget import LogBudget

FDS_RESERVED = 64
"""File descriptors kept for everything but API connections (logs, the dry-run file, boto3)."""
FDS_PER_ROOM = 8
"""A room's bot: three pipes and their transports, with margin."""
ACCEPT_LOG_INTERVAL_S = 10.0


def connection_cap(configured: int, max_rooms: int) -> int:
    """``configured``, lowered so that API connections can never exhaust the file descriptors."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    room_for = soft - FDS_RESERVED - FDS_PER_ROOM * max_rooms
    return max(16, min(configured, room_for))


class GuardedServer(web.Server):
    """aiohttp's ``Server`` with the connection cap of the module docstring.

    Installed on the server an ``AppRunner`` made (:func:`guard`), since aiohttp offers no hook to
    make its own; it only adds behaviour to ``connection_made``."""

    max_connections: int
    busy: set[RequestHandler]
    shed: int

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if len(self._connections) <= self.max_connections:
            return
        victim = next((h for h in self._connections if h is not handler and h not in self.busy), handler)
        self.shed += 1
        victim.force_close()
        if victim is not handler:
            self._connections.pop(victim, None)


def guard(server: web.Server, max_connections: int) -> GuardedServer:
    """Give ``server`` the connection cap (in place); returns it."""
    server.__class__ = GuardedServer
    guarded = cast(GuardedServer, server)  # the same object, now of the subclass
    guarded.max_connections = max_connections
    guarded.busy = set()
    guarded.shed = 0
    return guarded


def busy_middleware(server_of: Callable[[], GuardedServer | None]) -> Any:
    """Marks a connection busy while a handler runs, so the cap never sheds it mid-request."""

    @web.middleware
    async def middleware(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        server = server_of()
        protocol = request.protocol
        if server is None or protocol is None:
            return await handler(request)
        server.busy.add(protocol)
        try:
            return await handler(request)
        finally:
            server.busy.discard(protocol)

    return middleware


class AcceptErrorLog:
    """A loop exception handler: failed ``accept()`` calls become bounded log lines; the rest
    goes to the previous handler."""

    def __init__(self, previous: Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object] | None) -> None:
        self.previous = previous
        self.count = 0
        self._unlogged = 0
        self._last = -ACCEPT_LOG_INTERVAL_S

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if "accept" not in str(context.get("message", "")):
            if self.previous is not None:
                self.previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.count += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last < ACCEPT_LOG_INTERVAL_S:
            return
        exc = context.get("exception")
        why = getattr(exc, "strerror", None) or type(exc).__name__ if exc is not None else "unknown"
        more = f" ({self._unlogged} since the last report)" if self._unlogged > 1 else ""
        logger.warning(f"API: cannot accept connections: {why}{more}; retrying (SUPERVISOR_MAX_CONNECTIONS)")
        self._unlogged = 0
        self._last = now


class HttpLog(logging.Handler):
    """Where aiohttp's server logs (``RequestHandler(logger=...)``): every malformed request used
    to be an "Error handling request" traceback quoting the client's bytes. A request the client
    got wrong (``HttpProcessingError``: a bad line, a header over 8 KB, a NUL in the path) is now one
    line naming the exception class, never its bytes; anything else (a bug of ours) keeps its
    traceback. Both are bounded by a :class:`~supervisor.logbudget.LogBudget` and counted."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.bad_requests = 0
        self.errors = 0
        self._budgets = {"bad": LogBudget(), "error": LogBudget()}

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError):
            self.bad_requests += 1
            ok, skipped = self._budgets["bad"].take()
            if ok:
                logger.warning(
                    f"API: malformed request ({type(exc).__name__}, {exc.code}); answered and closed"
                    + LogBudget.suffix(skipped)
                )
            return
        self.errors += 1
        ok, skipped = self._budgets["error"].take()
        if ok:
            message = f"API: {record.getMessage()}{LogBudget.suffix(skipped)}"
            if exc is not None:
                logger.opt(exception=exc).error(message)
            else:
                logger.error(message)


def http_logger() -> tuple[logging.Logger, HttpLog]:
    """A logger for aiohttp's server that goes through :class:`HttpLog` only (not propagated)."""
    log = logging.Logger("supervisor.http")  # not registered globally: one per supervisor
    log.propagate = False
    log.setLevel(logging.ERROR)
    handler = HttpLog()
    log.addHandler(handler)
    return log, handler
