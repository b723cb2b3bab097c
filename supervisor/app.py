"""The supervisor assembled: spec registry, ingestion, forwarder, rooms, HTTP API.

``Supervisor(settings)`` builds everything; ``await sup.start()`` binds the API and starts the
forwarder; ``await sup.stop()`` stops every room gracefully, flushes the forwarder (bounded) and
closes the API. ``python -m supervisor`` runs one until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from typing import Any

from aiohttp import web
from loguru import logger

from bot.config.secrets import SECRET_ENV_VARS, log_patcher
from bot.events import EventBus, SessionContext, SpecRegistry
from bot.forwarding import Forwarder, ForwarderConfig, Sink
from bot.forwarding.attach import make_sink as attach_make_sink
from bot.generated.topics import Topic
from supervisor.api import build_app
from supervisor.feed import FeedHub
from supervisor.ingest import Ingestor
from supervisor.logbudget import LOG_SECRETS
from supervisor.metrics import Metrics
from supervisor.rooms import RoomManager
from supervisor.server import (
    AcceptErrorLog,
    GuardedServer,
    HttpLog,
    busy_middleware,
    connection_cap,
    guard,
    http_logger,
)
from supervisor.settings import SupervisorSettings
from supervisor.view_tokens import ViewTokens

LOG_FORMAT = "{time:HH:mm:ss.SSS} {level: <7} [{extra[room]}] {message}"


def configure_logging(level: str, *secrets: Any) -> None:
    """Loguru to stderr only; every line names its room (``-`` for the supervisor itself).

    Every record passes the bot's log patcher: secrets (the environment's, ``secrets``, and each
    room's meeting token, added to :data:`LOG_SECRETS` as rooms are created) are masked, and
    control, bidi and surrogate characters escaped, so a bot's output, a request's values or a file
    name never leak a token nor drive the terminal."""
    LOG_SECRETS.add(*(value for name, value in os.environ.items() if name.upper() in SECRET_ENV_VARS), *secrets)
    logger.remove()
    logger.configure(extra={"room": "-"}, patcher=log_patcher(LOG_SECRETS))
    logger.add(sys.stderr, level=level, format=LOG_FORMAT, backtrace=False, diagnose=False)


def make_sink(settings: SupervisorSettings) -> Sink:
    dry_run = None if settings.forward == "eventbridge" else settings.dry_run_path
    return attach_make_sink(
        dry_run_path=dry_run,
        region=settings.region,
        endpoint_url=settings.endpoint_url,
        size_limit=settings.max_batch_bytes,
    )


class Supervisor:
    """One supervisor: many rooms, one forwarder, one API."""

    def __init__(
        self, settings: SupervisorSettings, *, sink: Sink | None = None, environ: dict[str, str] | None = None
    ) -> None:
        self.settings = settings
        self.registry = SpecRegistry.load()
        self.metrics = Metrics()
        self.ingestor = Ingestor(self.registry, self.metrics)
        config = ForwarderConfig(
            source=settings.source,
            bus_name=settings.bus_name,
            max_batch_bytes=settings.max_batch_bytes,
            max_delay_s=settings.batch_delay_secs,
            buffer_entries=settings.buffer_entries,
        )
        self.forwarder = Forwarder(
            self.registry,
            sink or make_sink(settings),
            config=config,
            salt=settings.pii_salt.get_secret_value(),
            on_flow_deferred=self._deferred,
        )
        self.metrics.forwarder = self.forwarder
        self.feeds = FeedHub(
            self.registry,
            salt=settings.pii_salt.get_secret_value(),
            backlog=settings.feed_backlog,
            queue=settings.feed_queue,
            max_subscribers=settings.feed_max_clients,
        )
        self.metrics.feeds = self.feeds
        self.view_tokens = ViewTokens()
        self.rooms = RoomManager(
            settings,
            self.ingestor,
            self.metrics,
            submit=self.forwarder.submit,
            forwarding=self.forwarder,
            environ=environ,
            feeds=self.feeds,
        )
        self.own_bus = self._own_bus()
        self.app = build_app(self)
        self.app.middlewares.append(busy_middleware(lambda: self.http_server))
        self.http_server: GuardedServer | None = None
        self.accept_log: AcceptErrorLog | None = None
        self.http_log: HttpLog | None = None
        self._runner: web.AppRunner | None = None
        self.url: str | None = None
        self.port: int | None = None

    def _own_bus(self) -> EventBus | None:
        """The supervisor's own events (losses of forwarding), if the spec lets it publish them."""
        rule = self.registry.rule(Topic.FORWARDING_DELIVERY_DEFERRED)
        if rule is None or "supervisor" not in rule.origin:
            return None
        bus = EventBus(
            registry=self.registry,
            context=SessionContext(session_id=f"supervisor-{uuid.uuid4()}", runtime="supervisor"),
        )
        bus.subscribe("*", self.forwarder.submit)
        return bus

    def _deferred(self, model: Any, flow: str) -> None:
        """A forwarding loss: always logged (tagged with its room) and counted; published when the spec allows it."""
        room = flow if flow in self.rooms.rooms else "-"
        logger.bind(room=room).warning(
            f"eventbridge: {model.count} {model.topic or ''} envelope(s) not delivered ({model.reason})"
        )
        if self.own_bus is not None:
            self.own_bus.publish(model)

    async def start(self) -> Supervisor:
        await self.forwarder.start()
        self.rooms.start_template()
        s = self.settings
        # keepalive_timeout is aiohttp's idle timer: it also closes a connection still sending its head
        http_log, self.http_log = http_logger()
        self._runner = web.AppRunner(
            self.app,
            access_log=None,
            handle_signals=False,
            keepalive_timeout=s.header_timeout_secs,
            logger=http_log,
        )
        await self._runner.setup()
        assert self._runner.server is not None
        cap = connection_cap(s.max_connections, s.max_rooms)
        if cap < s.max_connections:
            logger.warning(f"at most {cap} API connections (the file-descriptor limit allows no more)")
        self.http_server = guard(self._runner.server, cap)
        loop = asyncio.get_running_loop()
        self.accept_log = AcceptErrorLog(loop.get_exception_handler())
        loop.set_exception_handler(self.accept_log)
        http, accept_log, errors = self.http_server, self.accept_log, self.http_log
        self.metrics.http = lambda: (len(http.connections), http.shed, accept_log.count, errors.bad_requests)
        site = web.TCPSite(self._runner, self.settings.host, self.settings.port)
        await site.start()
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else self.settings.port
        host = self.settings.host
        self.url = f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"
        mode = (
            f"dry-run to {self.settings.dry_run_path}"
            if self.settings.forward == "dry-run"
            else f"EventBridge bus {self.settings.bus_name or 'default'}"
        )
        logger.info(f"supervisor listening on {self.url} (forwarding: {mode})")
        return self

    async def stop(self) -> None:
        logger.info("stopping: rooms first, then the forwarder")
        await self.rooms.shutdown()
        await self.forwarder.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.accept_log is not None:
            asyncio.get_running_loop().set_exception_handler(self.accept_log.previous)
            self.accept_log = None
        stats = self.forwarder.stats
        logger.info(
            f"stopped: {stats.delivered} entries delivered in {stats.batches} requests; dropped {dict(stats.dropped) or 0}"
        )

    async def __aenter__(self) -> Supervisor:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


async def serve(settings: SupervisorSettings) -> int:
    """Run until SIGTERM or SIGINT, then stop gracefully."""
    sup = Supervisor(settings)
    await sup.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await sup.stop()
    return 0
