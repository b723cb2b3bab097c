"""Rooms: one bot process each, watched and restarted by the supervisor.

A room's life::

    starting ──session.started──▶ running ──exit 0──────────────▶ ended
       │ spawn timeout               │ crash (exit ≠ 0, killed)
       ▼                             ▼
    restarting (backoff: base·2^(n-1), full jitter, ≤ max) ──▶ starting … after N restarts ▶ failed
    any ──DELETE / idle / max duration / shutdown──▶ stopping (SIGTERM, SIGKILL after grace) ──▶ ended

A bot that reports ``assistant.session.failed`` with ``retryable: false`` (a bad scenario, an
unknown assistant) is not restarted: the room fails at once. One room's bot never affects another:
each has its own process, group, folder, reader tasks and counters.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import orjson
from loguru import logger
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
)

from bot.forwarding.entries import rfc3339_ms
from bot.generated.topics import Topic
from bot.rooms.urls import http_url_problem, sanitize_room_url
from supervisor.adopted import ForkedBotProcess, note_room_session, reap_room_orphans
from supervisor.feed import FeedHub
from supervisor.forking import BotTemplate
from supervisor.ingest import Ingestor, StreamStats
from supervisor.logbudget import LOG_SECRETS, LogBudget, RateBudget
from supervisor.metrics import Metrics
from supervisor.process import BOT_MODULE, BotProcess, bot_args, bot_command, bot_environment
from supervisor.provenance import Provenance
from supervisor.request_errors import api_message
from supervisor.scenarios import ScenarioRefused, resolve_scenario
from supervisor.settings import SupervisorSettings

Status = Literal["starting", "running", "restarting", "stopping", "ended", "failed"]
ACTIVE: frozenset[str] = frozenset({"starting", "running", "restarting", "stopping"})
MAX_FINISHED_KEPT = 200
MAX_BODY_DEPTH = 32
"""Deepest nesting of a ``POST /rooms`` body (a policy layer needs 4); deeper is a 422 naming the
field, before any recursive code (pydantic, ``json.dumps``, the policy composer) sees it."""
MAX_TOKEN_CHARS = 4096
AnyBotProcess = BotProcess | ForkedBotProcess
STDERR_LINE_CHARS = 2000


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class RoomRequest(BaseModel):
    """The body of ``POST /rooms``. Exactly one of ``roomUrl`` and ``scenario``."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True, str_strip_whitespace=True)

    room_url: str | None = Field(
        default=None, min_length=1, max_length=2048, validation_alias=_alias("roomUrl", "room_url")
    )
    room_token: SecretStr | None = Field(default=None, validation_alias=_alias("roomToken", "room_token"))
    scenario: str | None = Field(default=None, min_length=1, max_length=1024)
    speed: float | None = Field(default=None, ge=0, le=1000)
    assistant_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[\w.:@-]+$", validation_alias=_alias("assistantId", "assistant_id")
    )
    tenant_id: str = Field(
        min_length=1, max_length=128, pattern=r"^[\w.:@-]+$", validation_alias=_alias("tenantId", "tenant_id")
    )
    policy_layers: list[dict[str, Any]] = Field(
        default_factory=list, max_length=16, validation_alias=_alias("policyLayers", "policy_layers")
    )
    idle_timeout_secs: float | None = Field(
        default=None, gt=0, le=86_400, validation_alias=_alias("idleTimeoutSecs", "idle_timeout_secs")
    )
    max_duration_secs: float | None = Field(
        default=None, gt=0, le=86_400, validation_alias=_alias("maxDurationSecs", "max_duration_secs")
    )
    command: list[str] | None = Field(default=None, min_length=1, max_length=64)
    _scenario_path: Path | None = PrivateAttr(default=None)
    """The resolved, confined scenario file, set by :func:`parse_request`."""
    _policy_snapshot: bytes | None = PrivateAttr(default=None)
    """The composed policy (RFC 8785 bytes), set by :func:`parse_request`."""

    @field_validator("room_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        """The bot's own rule (``bot.rooms.urls``): what passes here never fails the bot's start."""
        if value is not None:
            problem = http_url_problem(value)
            if problem is not None:
                raise ValueError(f"{problem}, such as https://your-domain.daily.co/room")
        return value

    @field_validator("room_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        """A meeting token travels as ``DAILY_TOKEN``: no NUL (no process could get it), no
        control characters or spaces (no Daily token has them), bounded."""
        if value is not None:
            token = value.get_secret_value()
            if not token or len(token) > MAX_TOKEN_CHARS:
                raise ValueError(f"must be 1..{MAX_TOKEN_CHARS} characters")
            if any(c.isspace() or not c.isprintable() for c in token):
                raise ValueError("must not contain spaces or control characters")
        return value

    @field_validator("scenario")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        """A scenario names a file: no NUL or other control character."""
        if value is not None and any(not c.isprintable() for c in value):
            raise ValueError("must not contain control characters")
        return value

    @field_validator("command")
    @classmethod
    def _no_nul(cls, value: list[str] | None) -> list[str] | None:
        """No process argument can hold a NUL (``exec`` would fail after the room exists)."""
        if value is not None and any("\x00" in arg for arg in value):
            raise ValueError("must not contain NUL characters")
        return value


class RequestError(ValueError):
    """A bad request body: ``field`` names what is wrong (camelCase, as in the body)."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


def _wire_name(name: str, alias: object) -> str:
    """The name a field has on the wire: its first string alias choice, else its own name."""
    if isinstance(alias, AliasChoices):
        return next((c for c in alias.choices if isinstance(c, str)), name)
    return name


_WIRE_NAMES = {name: _wire_name(name, f.validation_alias) for name, f in RoomRequest.model_fields.items()}


_KNOWN_WIRE = frozenset(
    name
    for f in RoomRequest.model_fields.values()
    if isinstance(f.validation_alias, AliasChoices)
    for name in f.validation_alias.choices
    if isinstance(name, str)
) | frozenset(RoomRequest.model_fields)


_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_]{1,64}")


def _segment(part: object) -> str:
    """A field-path segment fit to echo: a name of ours or an index. A key the client made up may be
    anything (a token pasted as a key, control or bidi characters): it is shown as ``?``."""
    text = str(part)
    return text if _SAFE_SEGMENT.fullmatch(text) else "?"


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists/objects more than ``limit`` levels (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def parse_request(body: Any, settings: SupervisorSettings) -> RoomRequest:
    """Validate a ``POST /rooms`` body; raises :class:`RequestError` naming the field (never echoing values)."""
    if not isinstance(body, dict):
        raise RequestError("body", "must be a JSON object", 400)
    for key, value in body.items():
        if _deeper_than(value, MAX_BODY_DEPTH - 1):
            raise RequestError(
                str(key) if str(key) in _KNOWN_WIRE else "body", f"is nested deeper than {MAX_BODY_DEPTH} levels"
            )
    try:
        request = RoomRequest.model_validate(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False, include_context=False)[0]
        loc = [_segment(p) for p in err.get("loc", ())]
        head = _WIRE_NAMES.get(loc[0], loc[0]) if loc else "body"
        field_path = ".".join([head, *loc[1:]])
        raise RequestError(field_path, api_message(err, list(_WIRE_NAMES.values()))) from None
    if (request.room_url is None) == (request.scenario is None):
        raise RequestError("roomUrl", "give exactly one of roomUrl (a Daily room) and scenario (a simulated room)")
    if request.room_token is not None and request.room_url is None:
        raise RequestError("roomToken", "only with roomUrl")
    if request.speed is not None and request.scenario is None:
        raise RequestError("speed", "only with scenario")
    if request.command is not None and not settings.allow_command:
        raise RequestError(
            "command", "not allowed (the supervisor runs the bot; SUPERVISOR_ALLOW_COMMAND is for tests)", 403
        )
    try:
        json.dumps(request.policy_layers)
    except (TypeError, ValueError):
        raise RequestError("policyLayers", "must be JSON objects") from None
    if request.scenario is not None:  # confined to the scenarios folder; checked before a room exists
        try:
            request._scenario_path = resolve_scenario(request.scenario, settings.scenarios_dir)
        except ScenarioRefused as exc:
            raise RequestError(exc.field, exc.message) from None
    if request.policy_layers:  # a bad layer is the caller's 422, not a bot that fails to start
        request._policy_snapshot = compose_policy(request.policy_layers)
    return request


def compose_policy(layers: list[dict[str, Any]]) -> bytes:
    """The layers composed into a verified ConversationPolicy snapshot (RFC 8785 bytes).

    The supervisor composes (seed design section 28): the bot receives one snapshot whose
    ``policyVersion`` it re-checks, never raw layers."""
    from bot.core.errors import PolicyError
    from bot.policy.compose import parse_layers
    from bot.policy.snapshot import compose_snapshot

    try:
        return compose_snapshot(parse_layers(layers, "policyLayers")).canonical_bytes()
    except PolicyError as exc:
        field = re.sub(r"\[(\d+)\]", r".\1", exc.field or "").strip(".")
        field = ".".join(_segment(part) for part in field.split(".")) if field else field
        where = f"policyLayers.{field}" if field else "policyLayers"
        # the API never echoes request values (a token pasted in the wrong field must not come back)
        raise RequestError(where, exc.without_value or "is invalid") from None


def public_url(url: str) -> str:
    """The room URL without userinfo, query or fragment (a token can hide in ``?t=``)."""
    return sanitize_room_url(url)


def _iso(ts: float | None) -> str | None:
    return None if ts is None else rfc3339_ms(int(ts * 1000))


@dataclass
class Room:
    """One room and its bot; see the module docstring for the states."""

    id: str
    request: RoomRequest
    workdir: Path
    scenario_path: Path | None
    scenario_name: str | None = None
    """The scenario as the API shows it: relative to the scenarios folder (no host path leaks)."""
    status: Status = "starting"
    attempt: int = 0
    restarts: int = 0
    pid: int | None = None
    session_id: str | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    ended_at: float | None = None
    exit_code: int | None = None
    end_reason: str | None = None  # the bot's assistant.session.ended reason
    stop_reason: str | None = None  # why the supervisor stopped it: deleted | idle_timeout | max_duration | shutdown
    error: str | None = None
    failure: dict[str, Any] | None = None  # the last assistant.session.failed payload
    stats: StreamStats = field(default_factory=StreamStats)
    last_line_at: float = field(default_factory=time.monotonic)
    first_start_mono: float | None = None
    spawn_timed_out: bool = False
    exits: list[dict[str, Any]] = field(default_factory=list)
    process: AnyBotProcess | None = None
    spawned_by: Literal["template", "exec"] | None = None
    """How the current (or last) bot process started: forked from the bot template, or exec'd."""
    task: asyncio.Task[None] | None = None
    started_event: asyncio.Event = field(default_factory=asyncio.Event)
    stop_event: asyncio.Event = field(default_factory=asyncio.Event)
    done_event: asyncio.Event = field(default_factory=asyncio.Event)
    spawned_event: asyncio.Event = field(default_factory=asyncio.Event)
    provenance: Provenance = field(init=False)
    stderr_budget: RateBudget = field(default_factory=RateBudget)
    """A bot's stderr in the supervisor's log: 50 lines a second, bursts of 500."""
    forwarding: Callable[[], dict[str, Any]] | None = None
    """This room's forwarding counters (accepted, delivered, dropped by reason), when forwarded."""

    def __post_init__(self) -> None:
        self.provenance = Provenance(tenant_id=self.request.tenant_id, assistant_id=self.request.assistant_id)

    def as_dict(self) -> dict[str, Any]:
        r = self.request
        return {
            "id": self.id,
            "status": self.status,
            "assistantId": r.assistant_id,
            "tenantId": r.tenant_id,
            "roomUrl": public_url(r.room_url) if r.room_url else None,
            "scenario": self.scenario_name,
            "pid": self.pid if self.status in ACTIVE else None,
            "sessionId": self.session_id,
            "attempt": self.attempt,
            "restarts": self.restarts,
            "createdAt": _iso(self.created_at),
            "startedAt": _iso(self.started_at),
            "endedAt": _iso(self.ended_at),
            "exitCode": self.exit_code,
            "spawnedBy": self.spawned_by,
            "endReason": self.end_reason,
            "stopReason": self.stop_reason,
            "error": self.error,
            "exits": self.exits,
            "events": self.stats.as_dict(),
            "forwarding": self.forwarding() if self.forwarding is not None else None,
        }


class TooManyRooms(Exception):
    pass


class Forwarding(Protocol):
    """What the room manager needs of the forwarder beyond ``submit``: per-room counters."""

    def flow_stats(self, flow: str) -> dict[str, Any]: ...

    def forget_flow(self, flow: str) -> None: ...


class RoomManager:
    """Starts, watches, restarts and stops the rooms' bots."""

    def __init__(
        self,
        settings: SupervisorSettings,
        ingestor: Ingestor,
        metrics: Metrics,
        *,
        submit: Callable[[dict[str, Any], str], Any] | None = None,
        forwarding: Forwarding | None = None,
        environ: dict[str, str] | None = None,
        rng: random.Random | None = None,
        feeds: FeedHub | None = None,
    ) -> None:
        self.settings = settings
        self.ingestor = ingestor
        self.metrics = metrics
        self.submit = submit
        self.forwarding = forwarding
        self.feeds = feeds
        self.environ = os.environ if environ is None else environ
        self.rooms: dict[str, Room] = {}
        self._rng = rng or random.Random()
        self._dotenv = _dotenv_values()
        self._closing = False
        metrics.room_states = self.status_counts
        self.template: BotTemplate | None = None
        if settings.bot_template:
            self.template = BotTemplate(self.environ, extra_names=settings.bot_env_names, fallback=self._dotenv)

    def start_template(self) -> None:
        """Start the bot template in the background (``SUPERVISOR_BOT_TEMPLATE``); rooms use exec until it is ready."""
        if self.template is not None:
            self.template.start()

    # ---- queries
    def status_counts(self) -> Counter[str]:
        return Counter(room.status for room in self.rooms.values())

    def active(self) -> list[Room]:
        return [room for room in self.rooms.values() if room.status in ACTIVE]

    def get(self, room_id: str) -> Room | None:
        return self.rooms.get(room_id)

    # ---- create
    async def create(self, request: RoomRequest) -> Room:
        if self._closing:
            raise TooManyRooms("the supervisor is shutting down")
        if len(self.active()) >= self.settings.max_rooms:
            raise TooManyRooms(f"{self.settings.max_rooms} rooms are running (SUPERVISOR_MAX_ROOMS)")
        per_tenant = self.settings.max_rooms_per_tenant
        if (
            per_tenant is not None
            and sum(r.request.tenant_id == request.tenant_id for r in self.active()) >= per_tenant
        ):
            raise TooManyRooms(f"this tenant runs {per_tenant} rooms already (SUPERVISOR_MAX_ROOMS_PER_TENANT)")
        scenario = request._scenario_path
        if request.scenario is not None and scenario is None:  # built without parse_request (benchmarks)
            try:
                scenario = resolve_scenario(request.scenario, self.settings.scenarios_dir)
            except ScenarioRefused as exc:
                raise RequestError(exc.field, exc.message) from None
        room_id = "r-" + uuid.uuid4().hex[:12]
        if request.room_token is not None:  # masked in every log line while the room lives
            LOG_SECRETS.add(request.room_token)
        workdir = Path(tempfile.mkdtemp(prefix=f"prism-{room_id}-"))
        room = Room(
            id=room_id,
            request=request,
            workdir=workdir,
            scenario_path=scenario,
            scenario_name=scenario.relative_to(self.settings.scenarios_dir).as_posix() if scenario else None,
        )
        if self.forwarding is not None:
            fwd = self.forwarding
            room.forwarding = lambda: fwd.flow_stats(room_id)
        if request._policy_snapshot is not None:  # without layers the bot applies its documented safe default
            policy = workdir / "policy.json"
            fd = os.open(policy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(request._policy_snapshot)
        self.rooms[room_id] = room
        self._forget_old()
        logger.bind(room=room_id).info(
            f"room created ({'scenario ' + scenario.name if scenario else public_url(request.room_url or '')})"
        )
        room.task = asyncio.create_task(self._supervise(room), name=f"room-{room_id}")
        with contextlib.suppress(asyncio.TimeoutError):  # answer with the pid when the spawn is quick
            await asyncio.wait_for(asyncio.shield(room.spawned_event.wait()), 5.0)
        return room

    def _forget_old(self) -> None:
        finished = [r for r in self.rooms.values() if r.status not in ACTIVE]
        for room in finished[: max(0, len(finished) - MAX_FINISHED_KEPT)]:
            del self.rooms[room.id]
            if self.forwarding is not None:
                self.forwarding.forget_flow(room.id)
            if self.feeds is not None:
                self.feeds.forget(room.id)

    # ---- stop
    async def stop(self, room_id: str, reason: str = "deleted", *, wait: bool = True) -> Room | None:
        room = self.rooms.get(room_id)
        if room is None:
            return None
        self._request_stop(room, reason)
        if wait:
            await room.done_event.wait()
        return room

    def _request_stop(self, room: Room, reason: str) -> None:
        if room.status not in ACTIVE or room.stop_event.is_set():
            return
        room.stop_reason = reason
        room.stop_event.set()

    async def shutdown(self) -> None:
        """Stop every room gracefully (SIGTERM, then SIGKILL after the grace period)."""
        self._closing = True
        rooms = self.active()
        for room in rooms:
            self._request_stop(room, "shutdown")
        if rooms:
            await asyncio.gather(*(room.done_event.wait() for room in rooms))
        if self.template is not None:
            await self.template.close()

    # ---- the watcher of one room
    def _room_env(self, room: Room) -> dict[str, str]:
        r = room.request
        s = self.settings
        env: dict[str, str] = {
            "ASSISTANT_ID": r.assistant_id,
            "TENANT_ID": r.tenant_id,
            **(
                {"BOT_POLICY_PATH": str(room.workdir / "policy.json")}
                if room.request._policy_snapshot is not None
                else {}
            ),
            "BOT_VIEW": "off",
            "BOT_FORWARD": "stdout",  # the supervisor forwards; a bot forwarding too would send everything twice
        }
        if room.scenario_path is not None:
            env["BOT_STDIN_MESSAGES"] = "1"  # votes from dashboards (POST /rooms/{id}/messages)
        if s.pii_salt.get_secret_value():
            env["PRISM_PII_SALT"] = s.pii_salt.get_secret_value()
        if r.room_url:
            env["ROOM_URL"] = r.room_url
        if r.room_token is not None:
            env["DAILY_TOKEN"] = r.room_token.get_secret_value()
        limit = self._max_duration(room)
        if limit is not None:
            elapsed = time.monotonic() - room.first_start_mono if room.first_start_mono else 0.0
            env["BOT_MAX_DURATION_SECS"] = f"{max(1.0, limit - elapsed):.3f}"
        return env

    def _max_duration(self, room: Room) -> float | None:
        return room.request.max_duration_secs or self.settings.max_duration_secs

    def _idle_timeout(self, room: Room) -> float | None:
        return room.request.idle_timeout_secs or self.settings.idle_timeout_secs

    async def send_message(self, room_id: str, sender_id: str, message: dict[str, Any]) -> str | None:
        """Pass a browser app message to a simulated room's bot (on its stdin); why not, or ``None``."""
        room = self.rooms.get(room_id)
        if room is None:
            return "no such room"
        if room.scenario_path is None:
            return "a Daily room's browsers send app messages through Daily, not the supervisor"
        proc = room.process
        if room.status != "running" or proc is None:
            return f"the room is {room.status}"
        line = orjson.dumps({"senderId": sender_id, "message": message}) + b"\n"
        if not await proc.send_line(line):
            return "the bot is not reading messages"
        return None

    async def _supervise(self, room: Room) -> None:
        log = logger.bind(room=room.id)
        s = self.settings
        try:
            while True:
                outcome = await self._run_once(room)
                if outcome == "ended":
                    break
                # a crash (or a spawn timeout)
                if room.failure is not None and room.failure.get("retryable") is False:
                    self._finish(
                        room,
                        "failed",
                        f"the bot failed at {room.failure.get('stage')} and says retrying will not help: {room.failure.get('error')}",
                    )
                    break
                if room.restarts >= s.restart_attempts:
                    self._finish(room, "failed", f"{room.error}; gave up after {room.restarts} restart(s)")
                    break
                room.restarts += 1
                self.metrics.restarts += 1
                ceiling = min(s.backoff_max_secs, s.backoff_base_secs * 2 ** (room.restarts - 1))
                delay = self._rng.uniform(ceiling / 2, ceiling)  # "equal jitter": never a hot loop
                room.status = "restarting"
                room.exits[-1]["restartInSecs"] = round(delay, 3) if room.exits else None
                log.warning(f"{room.error}; restart {room.restarts}/{s.restart_attempts} in {delay:.2f}s")
                try:
                    await asyncio.wait_for(room.stop_event.wait(), delay)
                    self._finish(room, "ended", None)  # stopped while waiting to restart
                    break
                except TimeoutError:
                    pass
        except asyncio.CancelledError:
            if room.process is not None and room.process.returncode is None:
                room.process.kill_group()
            self._finish(room, "ended", "cancelled")
            raise
        except Exception as exc:  # a supervisor bug must not take other rooms down
            log.opt(exception=exc).error(f"watching the room failed: {exc!r}")
            if room.process is not None and room.process.returncode is None:
                room.process.kill_group()
            self._finish(room, "failed", f"supervisor error: {type(exc).__name__}")

    async def _run_once(self, room: Room) -> Literal["ended", "crashed"]:
        """Spawn the bot once and watch it to its end."""
        log = logger.bind(room=room.id)
        s = self.settings
        r = room.request
        room.attempt += 1
        room.status = "starting"
        room.started_event = asyncio.Event()
        room.failure = None
        room.end_reason = None
        room.spawn_timed_out = False
        room.provenance.new_process()
        if room.first_start_mono is None:
            room.first_start_mono = time.monotonic()
        scenario = str(room.scenario_path) if room.scenario_path else None
        cmd = list(r.command) if r.command else bot_command(scenario=scenario, speed=r.speed)
        env = bot_environment(
            source=self.environ, room_env=self._room_env(room), extra_names=s.bot_env_names, fallback=self._dotenv
        )
        proc: AnyBotProcess | None = None
        if self.template is not None and not r.command:  # a custom command is exec'd as given
            proc = await self.template.spawn(
                bot_args(scenario=scenario, speed=r.speed), env=env, cwd=room.workdir, module=BOT_MODULE
            )
        room.spawned_by = "template" if proc is not None else "exec"
        if proc is None:
            try:
                proc = await BotProcess.spawn(cmd, env=env, cwd=room.workdir)
            except OSError as exc:
                room.error = f"could not start the bot: {exc.strerror or exc}"
                room.spawned_event.set()
                return "crashed"
        room.spawned_event.set()
        spawned_at = time.time()
        room.process = proc
        room.pid = proc.pid
        room.last_line_at = time.monotonic()
        self.metrics.spawns += 1
        self.metrics.spawn_paths[room.spawned_by] += 1
        how = "forked from the bot template" if room.spawned_by == "template" else "exec"
        log.info(f"bot started (pid {proc.pid}, attempt {room.attempt}, {how})")
        reader = asyncio.create_task(self._read_stdout(room, proc))
        err_reader = asyncio.create_task(self._read_stderr(room, proc))
        watchdog = asyncio.create_task(self._watch(room, proc))
        if self.template is not None:  # a child subreaper: this bot's orphans come to us
            note_room_session(proc.pid)
        code = await proc.wait()
        if self.template is not None:
            reap_room_orphans()
        with contextlib.suppress(asyncio.TimeoutError):  # a grandchild holding the pipes must not hang us
            await asyncio.wait_for(asyncio.gather(reader, err_reader, return_exceptions=True), 5.0)
        for task in (reader, err_reader):
            task.cancel()
        watchdog.cancel()
        await asyncio.gather(watchdog, return_exceptions=True)
        timed_out = room.spawn_timed_out
        room.exit_code = code
        room.exits.append(
            {
                "attempt": room.attempt,
                "exitCode": code,
                "sessionId": room.session_id,
                "endReason": room.end_reason,
                "spawnedAt": _iso(spawned_at),
                "exitedAt": _iso(time.time()),
            }
        )
        if room.stop_event.is_set():
            self.metrics.exits["stopped"] += 1
            log.info(f"bot stopped ({room.stop_reason}); exit code {code}")
            self._finish(room, "ended", None)
            return "ended"
        if code == 0 and not timed_out:
            self.metrics.exits["completed"] += 1
            log.info(f"bot ended ({room.end_reason or 'no ended envelope'}); exit code 0")
            self._finish(room, "ended", None)
            return "ended"
        self.metrics.exits["crashed"] += 1
        if timed_out:
            room.error = f"no assistant.session.started within {s.spawn_timeout_secs:g}s"
        elif code < 0:
            room.error = f"the bot was killed by signal {-code}"
        else:
            room.error = f"the bot exited with code {code}"
        return "crashed"

    async def _watch(self, room: Room, proc: AnyBotProcess) -> None:
        """Spawn timeout (sets ``room.spawn_timed_out``), idle timeout, max duration and stop requests."""
        s = self.settings
        log = logger.bind(room=room.id)
        started = asyncio.create_task(room.started_event.wait())
        stop = asyncio.create_task(room.stop_event.wait())
        try:
            done, _ = await asyncio.wait(
                {started, stop}, timeout=s.spawn_timeout_secs, return_when=asyncio.FIRST_COMPLETED
            )
            if not done:
                log.warning(f"no assistant.session.started within {s.spawn_timeout_secs:g}s; killing the bot")
                room.spawn_timed_out = True
                await proc.stop(min(2.0, s.grace_period_secs))
                return
            idle = self._idle_timeout(room)
            limit = self._max_duration(room)
            while not stop.done():
                now = time.monotonic()
                waits = [1.0]
                if idle is not None:
                    left = room.last_line_at + idle - now
                    if left <= 0:
                        log.warning(f"no envelope for {idle:g}s; stopping the bot")
                        self._request_stop(room, "idle_timeout")
                        break
                    waits.append(left)
                if limit is not None and room.first_start_mono is not None:
                    left = room.first_start_mono + limit + s.grace_period_secs - now  # the bot ends itself at `limit`
                    if left <= 0:
                        log.warning(f"past the {limit:g}s maximum duration; stopping the bot")
                        self._request_stop(room, "max_duration")
                        break
                    waits.append(left)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(stop), max(0.01, min(waits)))
            room.status = "stopping"
            await proc.stop(s.grace_period_secs)
        finally:
            started.cancel()
            stop.cancel()

    async def _read_stdout(self, room: Room, proc: AnyBotProcess) -> None:
        ingest = self.ingestor.ingest
        submit = self.submit
        feeds = self.feeds
        stats = room.stats
        log = logger.bind(room=room.id)
        async for line in proc.stdout_lines():
            envelope = ingest(line, stats, room=room.id, expect=room.provenance)
            if envelope is None:
                continue
            room.last_line_at = time.monotonic()
            topic = envelope["topic"]
            if topic == Topic.ASSISTANT_SESSION_STARTED:
                room.session_id = envelope["sessionId"]
                room.started_at = room.started_at or time.time()
                if room.status == "starting":
                    room.status = "running"
                room.started_event.set()
            elif topic == Topic.ASSISTANT_SESSION_ENDED:
                room.end_reason = envelope["payload"].get("reason")
            elif topic == Topic.ASSISTANT_SESSION_FAILED:
                room.failure = envelope["payload"]
                log.warning(
                    f"the bot failed at {room.failure.get('stage')}: {room.failure.get('error')} (retryable: {room.failure.get('retryable')})"
                )
            if submit is not None:
                submit(envelope, room.id)
            if feeds is not None:
                feeds.publish(room.id, envelope)

    async def _read_stderr(self, room: Room, proc: AnyBotProcess) -> None:
        log = logger.bind(room=room.id)
        budget = room.stderr_budget
        async for line in proc.stderr_lines():
            text = line.decode("utf-8", errors="replace").rstrip()
            if text:
                ok, skipped = budget.take()
                if ok:
                    log.info(f"bot: {text[:STDERR_LINE_CHARS]}{LogBudget.suffix(skipped)}")

    def _finish(self, room: Room, status: Status, error: str | None) -> None:
        if room.done_event.is_set():
            return
        if room.request.room_token is not None:
            LOG_SECRETS.discard(room.request.room_token)
        room.status = status
        if error is not None:
            room.error = error
        room.ended_at = time.time()
        if status == "failed":
            self.metrics.exits["failed"] += 1
            logger.bind(room=room.id).error(f"room failed: {room.error}")
        shutil.rmtree(room.workdir, ignore_errors=True)
        if self.feeds is not None:
            self.feeds.end(room.id)
        room.spawned_event.set()
        room.done_event.set()


def _dotenv_values() -> dict[str, str | None]:
    """The supervisor's ``.env`` (if any): a fallback for the secrets bots need."""
    path = Path(".env")
    if not path.is_file():
        return {}
    try:
        from bot.config.dotenv_check import quiet_dotenv_values as dotenv_values

        return dict(dotenv_values(path))
    except Exception:  # pragma: no cover (a broken .env is pydantic-settings' to report)
        return {}
