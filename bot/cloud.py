"""Pipecat Cloud entry: the runner's session arguments become ``Settings``, then one session runs.

Pipecat Cloud's base image imports the ``bot`` package and awaits ``bot(args)`` once per session,
in-process; ``bot/__init__.py`` forwards here lazily. ``args`` is a Daily session (``room_url``,
``token``, ``session_id``, ``body``: pipecat's ``DailyRunnerArguments`` or pipecatcloud's
``DailySessionArguments``, read by attribute). The JSON ``body`` the caller posted carries::

    {"assistantId": "asst-1", "tenantId": "tenant-1", "policyLayers": [{...}, ...],
     "transcription": true, "maxDurationSecs": 3600,
     "roomUrl": "https://acme.daily.co/standup", "roomToken": "..."}

``roomUrl``/``roomToken`` send the bot into an existing meeting when the session was started
without a Daily room of Pipecat Cloud's (no ``createDailyRoom``); a room in the runner arguments wins.

Everything else comes from the environment (the Pipecat Cloud secret set), as for ``python -m bot``.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from loguru import logger
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError

from bot.config.secrets import SecretScrubber, log_patcher, scrubber_from_env
from bot.core.errors import ConfigError, PrismError

__all__ = ["MAX_SESSIONS", "CloudBody", "parse_body", "readyz", "run_bot", "settings_from_runner_args"]

MAX_SESSIONS = 1
BUSY_EXIT_CODE = 75  # EX_TEMPFAIL: try another instance
"""Sessions one process runs at a time (a session owns signal handlers, stdout and log sinks)."""

_active = 0


class CloudBody(BaseModel):
    """The JSON body of a Pipecat Cloud start request (unknown keys are ignored)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    assistant_id: str | None = Field(
        default=None, min_length=1, max_length=128, validation_alias=AliasChoices("assistantId", "assistant_id")
    )
    tenant_id: str | None = Field(
        default=None, min_length=1, max_length=128, validation_alias=AliasChoices("tenantId", "tenant_id")
    )
    policy_layers: list[dict[str, Any]] = Field(
        default_factory=list, max_length=16, validation_alias=AliasChoices("policyLayers", "policy_layers")
    )
    transcription: bool | None = None
    max_duration_secs: float | None = Field(
        default=None, gt=0, validation_alias=AliasChoices("maxDurationSecs", "max_duration_secs")
    )
    room_url: str | None = Field(
        default=None, min_length=1, max_length=2048, validation_alias=AliasChoices("roomUrl", "room_url")
    )
    room_token: SecretStr | None = Field(default=None, validation_alias=AliasChoices("roomToken", "room_token"))


def parse_body(body: Any) -> CloudBody:
    """Validate the request body (a dict, JSON text or ``None``); errors name the field, never echo values."""
    if body is None or body == "" or body == b"":
        body = {}
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except json.JSONDecodeError:
            raise ConfigError("request body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ConfigError("request body: must be a JSON object")
    try:
        return CloudBody.model_validate(body)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(p) for p in err.get("loc", ()))
        raise ConfigError(f'request body: "{field}" {err["msg"]}') from None


def settings_from_runner_args(runner_args: Any, **overrides: Any) -> tuple[Any, CloudBody]:
    """``(Settings, CloudBody)`` for one cloud session.

    The room URL and token come from the runner; assistant, tenant, transcription and duration
    from the body when given (else from the environment, as usual); the live view is off (stdout
    is the container log there). ``overrides`` are passed to ``Settings`` last.

    Raises:
        ConfigError: no Daily room in the arguments, a bad body, or a bad setting (one line,
            without the offending value).
    """
    from bot.config.settings import Settings

    body = parse_body(getattr(runner_args, "body", None))
    room_url = getattr(runner_args, "room_url", None)
    token = getattr(runner_args, "token", None)
    if not room_url and body.room_url:
        room_url = body.room_url
        token = body.room_token.get_secret_value() if body.room_token else None
    if not room_url:
        raise ConfigError(
            "Pipecat Cloud session without a Daily room: start it with createDailyRoom, or put roomUrl (and roomToken) in the body"
        )
    values: dict[str, Any] = {"room_url": room_url, "view": "off"}
    if token:
        values["token"] = token
    if body.assistant_id:
        values["assistant_id"] = body.assistant_id
    if body.tenant_id:
        values["tenant_id"] = body.tenant_id
    optional = {"transcription": body.transcription, "max_duration_secs": body.max_duration_secs}
    for name, value in optional.items():
        if value is not None and name in Settings.model_fields:
            values[name] = value
    written = None
    if body.policy_layers:  # composed and verified now: a bad layer fails before the session starts
        written = values["policy"] = _write_snapshot(body.policy_layers)
    values.update(overrides)
    try:
        try:
            settings = Settings(**values)
        except ValidationError as exc:
            err = exc.errors(include_url=False, include_input=False)[0]
            field = ".".join(str(p) for p in err.get("loc", ()))
            raise ConfigError(f"cloud session setting {field}: {err['msg']}") from None
        from bot.session.startup import identity_from_settings

        identity_from_settings(settings)  # a room with no assistant or tenant: no session (ConfigError)
    except BaseException:
        if written is not None:  # no session will remove it
            _remove_snapshot(written)
        raise
    if settings.stdout_pii_max_level is None:  # stdout is the container log here: no personal data by default
        settings = settings.model_copy(update={"stdout_pii_max_level": CLOUD_STDOUT_PII_MAX_LEVEL})
    return _bounded_duration(settings), body


CLOUD_STDOUT_PII_MAX_LEVEL = 0
"""On Pipecat Cloud stdout is the container log (and its structured log lane): unless
``BOT_STDOUT_PII_MAX_LEVEL`` says otherwise, envelopes there carry no personal data (ids,
names and text are dropped; EventBridge and app messages keep their own ceilings)."""


PLATFORM_MAX_SESSION_SECS = 14400
"""pcc-deploy.toml's ``max_session_duration``: the base image cancels ``bot()`` after this long."""
DURATION_MARGIN_SECS = 60
"""The bot ends this long before the platform would cancel it (its own end is the one with totals)."""


def _bounded_duration(settings: Any) -> Any:
    """``max_duration_secs`` set below the platform's limit, so the session ends as ``max_duration``.

    Not given (body, secret set): the limit less the margin. Given above that: lowered to it, with
    one log line (a longer session would end as ``cancelled``, without its totals)."""
    ceiling = float(PLATFORM_MAX_SESSION_SECS - DURATION_MARGIN_SECS)
    asked = settings.max_duration_secs
    if asked is not None and asked <= ceiling:
        return settings
    if asked is not None:
        logger.warning(
            f"maxDurationSecs {asked:g} is above the deployment's session limit ({PLATFORM_MAX_SESSION_SECS} s); using {ceiling:g}"
        )
    return settings.model_copy(update={"max_duration_secs": ceiling})


_WRITTEN: set[Path] = set()
"""Snapshots this process wrote for request bodies: the only files a session's end removes (an
operator's own BOT_POLICY_PATH is never deleted, whatever its name)."""


def _remove_snapshot(path: Path) -> None:
    path = path.resolve()
    if path in _WRITTEN:
        _WRITTEN.discard(path)
        with contextlib.suppress(OSError):
            path.unlink()


def _write_snapshot(layers: list[dict[str, Any]]) -> Path:
    """The body's policy layers as a composed snapshot in a private temp file (removed after the session)."""
    from bot.policy.compose import parse_layers
    from bot.policy.snapshot import compose_snapshot

    snapshot = compose_snapshot(parse_layers(layers, "request body policyLayers")).canonical_bytes()
    fd, name = tempfile.mkstemp(prefix="prism-policy-", suffix=".json")  # mode 0600
    with os.fdopen(fd, "wb") as fh:
        fh.write(snapshot)
    path = Path(name).resolve()
    _WRITTEN.add(path)
    return path


def _scrubber(runner_args: Any) -> SecretScrubber:
    scrub = scrubber_from_env(None, getattr(runner_args, "token", None))
    body = getattr(runner_args, "body", None)
    if isinstance(body, dict):
        scrub.add(body.get("roomToken"), body.get("room_token"))
    return scrub


async def run_bot(runner_args: Any) -> int:
    """Run one session for Pipecat Cloud; returns its exit code and never raises a user error.

    The base image logs an exception from ``bot()`` with its text, so failures are logged here,
    scrubbed, as one line, and turned into the exit code.
    """
    global _active
    if _active >= MAX_SESSIONS:  # a session owns the log patcher and the event runtime's stdout
        logger.error(f"refusing a session: {_active} already running (MAX_SESSIONS={MAX_SESSIONS})")
        return BUSY_EXIT_CODE
    _active += 1
    scrub = _scrubber(runner_args)
    logger.configure(patcher=log_patcher(scrub))  # every sink, the base image's included
    settings = None
    running = False
    try:
        settings, _body = settings_from_runner_args(runner_args)
        from bot.config.settings import SECRET_FIELDS

        scrub.add(*(getattr(settings, name, None) for name in SECRET_FIELDS))
        from bot.session.lifecycle import run_session_async

        # the base image's server owns the process signals; stdout is the container log
        running = True
        code = await run_session_async(
            settings, session_id=getattr(runner_args, "session_id", None), handle_signals=False
        )
        return int(code or 0)
    except PrismError as exc:
        logger.error(scrub(f"session failed: {exc}" if running else f"session not started: {exc}"))
        return exc.exit_code
    except Exception as exc:  # the base image would log the raw text; log it scrubbed instead
        logger.error(scrub(f"session failed: {type(exc).__name__}: {exc}"))
        return 1
    finally:
        _active -= 1
        if settings is not None and settings.policy is not None:
            _remove_snapshot(settings.policy)


def readyz() -> dict[str, Any]:
    """Readiness for the base image's ``/readyz``: ready while fewer than :data:`MAX_SESSIONS` run."""
    return {"ready": _active < MAX_SESSIONS, "sessions": _active}
