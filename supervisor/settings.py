"""All settings of the supervisor: flags, environment and ``.env`` read the same fields.

``python -m supervisor --help`` is rendered from this class. The bearer token is environment-only
(a flag would show in ``ps``).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from bot.config import flags as cli_settings
from bot.config.flags import VariableNamedSettings
from bot.config.flags import env_alias as _env
from bot.forwarding.entries import DEFAULT_MAX_BYTES, DEFAULT_SOURCE, check_bus_name, check_source, normalize_bus_name
from bot.rooms.urls import http_url_problem
from supervisor.scenarios import BUNDLED_SCENARIOS

ENV_ONLY = frozenset({"token", "pii_salt"})
"""Secrets: settable through the environment or ``.env`` only, never a flag."""


class SupervisorSettings(VariableNamedSettings):
    """Configuration of one supervisor process."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- HTTP API
    host: str = Field(
        default="127.0.0.1",
        validation_alias=_env("SUPERVISOR_HOST"),
        description="Address the HTTP API binds to (loopback by default).",
    )
    port: int = Field(
        default=8780,
        ge=0,
        le=65535,
        validation_alias=_env("SUPERVISOR_PORT"),
        description="Port of the HTTP API (0 = any free port; the log names it).",
    )
    token: SecretStr | None = Field(
        default=None,
        validation_alias=_env("SUPERVISOR_TOKEN"),
        description="Bearer token every API request must carry (secret; environment only).",
    )
    insecure_no_auth: bool = Field(
        default=False,
        validation_alias=_env("SUPERVISOR_INSECURE_NO_AUTH"),
        description="Serve the API without a token (local development only; refused unless the host is loopback).",
    )
    header_timeout_secs: float = Field(
        default=10.0,
        gt=0,
        le=600,
        validation_alias=_env("SUPERVISOR_HEADER_TIMEOUT_SECS"),
        description="A connection must send a complete request head within this (from its start or its last response; also the keep-alive idle time).",
    )
    body_timeout_secs: float = Field(
        default=10.0,
        gt=0,
        le=600,
        validation_alias=_env("SUPERVISOR_BODY_TIMEOUT_SECS"),
        description="A request body must arrive within this (408 otherwise).",
    )
    max_connections: int = Field(
        default=512,
        ge=16,
        le=100_000,
        validation_alias=_env("SUPERVISOR_MAX_CONNECTIONS"),
        description="Open API connections at most (lowered to fit the file-descriptor limit); beyond it the oldest idle one is closed.",
    )
    # --- forwarding
    forward: Literal["dry-run", "eventbridge"] = Field(
        default="dry-run",
        validation_alias=_env("SUPERVISOR_FORWARD"),
        description="Where eventbridge-destined envelopes go: dry-run = a JSON-lines log of the PutEvents requests, eventbridge = AWS.",
    )
    dry_run_path: Path = Field(
        default=Path("forward-dryrun.jsonl"),
        validation_alias=_env("SUPERVISOR_DRY_RUN_PATH"),
        description="The dry-run log (appended; '-' = stderr).",
    )
    bus_name: str | None = Field(
        default=None,
        validation_alias=_env("EVENTBRIDGE_BUS"),
        description="EventBridge bus name or ARN (default: the account's default bus).",
    )
    source: str = Field(
        default=DEFAULT_SOURCE,
        validation_alias=_env("EVENTBRIDGE_SOURCE"),
        description="Source of every PutEvents entry.",
    )
    region: str | None = Field(
        default=None,
        validation_alias=_env("EVENTBRIDGE_REGION"),
        description="AWS region (default: the AWS chain, AWS_REGION / AWS_DEFAULT_REGION / config).",
    )
    endpoint_url: str | None = Field(
        default=None,
        validation_alias=_env("EVENTBRIDGE_ENDPOINT_URL"),
        description="EventBridge endpoint override (a local moto server); default: AWS's.",
    )
    max_batch_bytes: int = Field(
        default=DEFAULT_MAX_BYTES,
        ge=256,
        le=1_048_576,
        validation_alias=_env("EVENTBRIDGE_MAX_BYTES"),
        description="A PutEvents request's entries total less than this (AWS's entry-size formula).",
    )
    batch_delay_secs: float = Field(
        default=1.0,
        ge=0,
        le=60,
        validation_alias=_env("SUPERVISOR_BATCH_DELAY_SECS"),
        description="Longest wait before a partial batch is sent.",
    )
    buffer_entries: int = Field(
        default=2048,
        ge=10,
        le=1_000_000,
        validation_alias=_env("SUPERVISOR_BUFFER_ENTRIES"),
        description="Entries buffered for EventBridge before the lowest-priority oldest are evicted.",
    )
    pii_salt: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=_env("PRISM_PII_SALT"),
        description="Salt of the `hash` redactions for EventBridge; also given to the bots (secret).",
    )
    # --- rooms
    scenarios_dir: Path = Field(
        default=BUNDLED_SCENARIOS,
        validation_alias=_env("SUPERVISOR_SCENARIOS_DIR"),
        description="The folder POST /rooms may play scenarios from (names and relative paths only; nothing outside it, symlinks included). Default: the bundled rooms.",
    )
    max_rooms: int = Field(
        default=16,
        ge=1,
        le=1000,
        validation_alias=_env("SUPERVISOR_MAX_ROOMS"),
        description="Rooms (bot processes) running at once.",
    )
    max_rooms_per_tenant: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        validation_alias=_env("SUPERVISOR_MAX_ROOMS_PER_TENANT"),
        description="Rooms one tenantId may run at once, so one tenant cannot take every room (default: no cap below --max-rooms).",
    )
    restart_attempts: int = Field(
        default=3,
        ge=0,
        le=100,
        validation_alias=_env("SUPERVISOR_RESTART_ATTEMPTS"),
        description="Restarts of a crashed bot before its room is marked failed.",
    )
    backoff_base_secs: float = Field(
        default=1.0,
        ge=0,
        le=600,
        validation_alias=_env("SUPERVISOR_BACKOFF_BASE_SECS"),
        description="First restart delay; doubles per restart (with jitter).",
    )
    backoff_max_secs: float = Field(
        default=30.0,
        ge=0,
        le=3600,
        validation_alias=_env("SUPERVISOR_BACKOFF_MAX_SECS"),
        description="Longest restart delay.",
    )
    spawn_timeout_secs: float = Field(
        default=20.0,
        gt=0,
        le=600,
        validation_alias=_env("SUPERVISOR_SPAWN_TIMEOUT_SECS"),
        description="A bot that publishes no assistant.session.started within this is killed (and restarted).",
    )
    idle_timeout_secs: float | None = Field(
        default=120.0,
        gt=0,
        validation_alias=_env("SUPERVISOR_IDLE_TIMEOUT_SECS"),
        description="Stop a bot that wrote no envelope for this long (heartbeats count; a hung bot).",
    )
    max_duration_secs: float | None = Field(
        default=None,
        gt=0,
        validation_alias=_env("SUPERVISOR_MAX_DURATION_SECS"),
        description="Longest a room may run; the bot is told and ends itself, the supervisor stops it after the grace period.",
    )
    grace_period_secs: float = Field(
        default=10.0,
        gt=0,
        le=600,
        validation_alias=_env("SUPERVISOR_GRACE_PERIOD_SECS"),
        description="After SIGTERM, how long a bot may take before it is killed.",
    )
    bot_env: str = Field(
        default="",
        validation_alias=_env("SUPERVISOR_BOT_ENV"),
        description="Extra environment variables to pass to bots, comma-separated names (the rest of the environment is withheld).",
    )
    bot_template: bool = Field(
        default=True,
        validation_alias=_env("SUPERVISOR_BOT_TEMPLATE"),
        description="Fork bots from one pre-imported template process (fast start, shared memory; Linux only, else exec). Off: every bot is a fresh `python -m bot`.",
    )
    allow_command: bool = Field(
        default=False,
        validation_alias=_env("SUPERVISOR_ALLOW_COMMAND"),
        description="TESTS ONLY: accept a `command` in POST /rooms replacing the bot command. Lets any API client run any program.",
    )
    # --- browsers (the live feed and the dashboard)
    feed_backlog: int = Field(
        default=2048,
        ge=16,
        le=100_000,
        validation_alias=_env("SUPERVISOR_FEED_BACKLOG"),
        description="Envelopes kept per room for pages that connect late or resume (GET /rooms/{id}/events).",
    )
    feed_queue: int = Field(
        default=256,
        ge=8,
        le=100_000,
        validation_alias=_env("SUPERVISOR_FEED_QUEUE"),
        description="Envelopes waiting per live-feed connection; a connection further behind is dropped and resumes from the backlog.",
    )
    feed_max_clients: int = Field(
        default=64,
        ge=1,
        le=10_000,
        validation_alias=_env("SUPERVISOR_FEED_MAX_CLIENTS"),
        description="Live-feed connections per room (429 beyond).",
    )
    view_token_ttl_secs: float = Field(
        default=3600.0,
        gt=0,
        le=86_400,
        validation_alias=_env("SUPERVISOR_VIEW_TOKEN_TTL_SECS"),
        description="Default lifetime of a view token (POST /view-tokens); a page needs one to connect or reconnect.",
    )
    # --- output
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", validation_alias=_env("SUPERVISOR_LOG_LEVEL"), description="Log level (stderr)."
    )
    debug: bool = Field(
        default=False, validation_alias=_env("SUPERVISOR_DEBUG"), description="Show tracebacks on errors."
    )

    @field_validator("bus_name")
    @classmethod
    def _bus_name(cls, value: str | None) -> str | None:
        if value is None or normalize_bus_name(value) is None:
            return None
        why = check_bus_name(value)
        if why:
            raise ValueError(why)
        return value

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        why = check_source(value)
        if why:
            raise ValueError(why)
        return value

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        """The bot's rule for URLs (``bot.rooms.urls.http_url_problem``): http(s) with a host."""
        if value in (None, ""):
            return None
        problem = http_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("scenarios_dir")
    @classmethod
    def _folder(cls, value: Path) -> Path:
        if not value.expanduser().is_dir():
            raise ValueError("must be an existing folder")
        return value.expanduser().resolve()

    @field_validator("bot_env")
    @classmethod
    def _names(cls, value: str) -> str:
        for name in (n.strip() for n in value.split(",")):
            if name and not name.replace("_", "a").isalnum():
                raise ValueError(f"{name!r} is not an environment variable name")
        return value

    @model_validator(mode="after")
    def _backoff(self) -> SupervisorSettings:
        if self.backoff_max_secs < self.backoff_base_secs:
            raise ValueError("SUPERVISOR_BACKOFF_MAX_SECS must be at least SUPERVISOR_BACKOFF_BASE_SECS")
        return self

    @property
    def bot_env_names(self) -> tuple[str, ...]:
        return tuple(n.strip() for n in self.bot_env.split(",") if n.strip())

    def auth_problem(self) -> str | None:
        """Why the API cannot be served as configured (token missing, open API off loopback)."""
        if self.insecure_no_auth:
            if not is_loopback(self.host):
                return f"--insecure-no-auth is only allowed on a loopback host, not {self.host}"
            return None
        if self.token is None or not self.token.get_secret_value():
            return "SUPERVISOR_TOKEN is not set (set it in the environment, or pass --insecure-no-auth for local development)"
        if len(self.token.get_secret_value()) < 16:
            return "SUPERVISOR_TOKEN is too short (use at least 16 characters)"
        return None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_name(field_name: str) -> str:
    """The environment variable of a setting: ``max_rooms`` → ``SUPERVISOR_MAX_ROOMS``."""
    return cli_settings.env_name(SupervisorSettings, field_name)
