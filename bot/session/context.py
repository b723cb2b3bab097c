"""Assistant context: what the bot knows about the assistant it plays, fetched before joining a Daily room.

``fetch_context`` asks Prism Mesh over GraphQL (``MESH_URL``) and falls back to REST when GraphQL
is unavailable; ``load_context_file`` reads a local JSON file; ``default_context`` is the built-in
fallback when neither is configured. Requests are bounded (per-request timeout, few retries with
backoff, one total budget) and no error message ever contains the API token.

GraphQL request (``POST MESH_URL``, ``Authorization: Bearer $MESH_API_TOKEN``)::

    query AssistantContext($id: ID!) {
      assistant(id: $id) { id tenantId modelConfig behaviorTemplate agenda { title timeboxMs } }
    }

expected answer ``{"data": {"assistant": {"id": "a1", "tenantId": "t1", "modelConfig": {...},
"behaviorTemplate": "...", "agenda": [{"title": "Intro", "timeboxMs": 300000}]}}}``;
``"assistant": null`` means not found; ``modelConfig`` may be a JSON object or a JSON string.

REST fallback: ``GET {MESH_REST_URL or MESH_URL without /graphql}/assistants/{id}`` answering the
assistant object itself (or ``{"assistant": {...}}``); 404 means not found.

Mesh answers are read tolerantly (a server may add fields; unknown ones are ignored), a local file
strictly (an unknown or misspelled key or a missing ``agenda`` is an error naming the file and
the key). Both refuse an assistant of another tenant when the tenant id was given explicitly.
"""

from __future__ import annotations

import asyncio
import difflib
import functools
import json
import os
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.core.errors import PrismError
from bot.rooms.urls import sanitize_room_url

if TYPE_CHECKING:
    from bot.config.settings import Settings

__all__ = [
    "ASSISTANT_QUERY",
    "DEFAULT_BEHAVIOR_TEMPLATE",
    "DEFAULT_MODEL_CONFIG",
    "AgendaEntry",
    "AssistantContext",
    "ContextFetchError",
    "ContextFileError",
    "default_context",
    "fetch_assistant_context",
    "fetch_context",
    "load_context_file",
    "resolve_context",
    "rest_url_for",
]

ASSISTANT_QUERY = (
    "query AssistantContext($id: ID!) {"
    " assistant(id: $id) { id tenantId modelConfig behaviorTemplate agenda { title timeboxMs } }"
    " }"
)

DEFAULT_MODEL_CONFIG: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.3}
DEFAULT_BEHAVIOR_TEMPLATE = (
    "You are a neutral meeting facilitator. Keep the conversation on the agenda, invite quiet "
    "participants in, and keep interventions short."
)

Source = Literal["mesh-graphql", "mesh-rest", "file", "defaults"]


class AgendaEntry(BaseModel):
    """One agenda item: a title and its time box."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    title: str = Field(min_length=1, max_length=200)
    timebox_ms: int = Field(
        gt=0,
        le=24 * 3600 * 1000,
        validation_alias=AliasChoices("timeboxMs", "timebox_ms"),
        serialization_alias="timeboxMs",
    )


class AssistantContext(BaseModel):
    """The cached assistant record (seed design section 16): ids, model config, behavior, agenda.

    ``agenda`` items have ``.title`` and ``.timebox_ms``, the shape ``build_room_pipeline`` takes.
    """

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    assistant_id: str = Field(
        min_length=1,
        max_length=128,
        validation_alias=AliasChoices("assistantId", "id", "assistant_id"),
        serialization_alias="assistantId",
    )
    tenant_id: str = Field(
        min_length=1,
        max_length=128,
        validation_alias=AliasChoices("tenantId", "tenant_id"),
        serialization_alias="tenantId",
    )
    model: dict[str, Any] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("modelConfig", "model", "model_config"),
        serialization_alias="modelConfig",
    )
    behavior_template: str = Field(
        default="",
        max_length=20_000,
        validation_alias=AliasChoices("behaviorTemplate", "behavior_template"),
        serialization_alias="behaviorTemplate",
    )
    agenda: list[AgendaEntry] = Field(default_factory=list, max_length=100)
    source: Source = Field(default="defaults", exclude=True)

    @field_validator("model", mode="before")
    @classmethod
    def _model_from_json_string(cls, value: Any) -> Any:
        if value is None:
            return {}
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except json.JSONDecodeError:
                raise ValueError("must be a JSON object (or a string holding one)") from None
        return value

    @field_validator("behavior_template", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value

    @field_validator("agenda", mode="before")
    @classmethod
    def _none_is_no_agenda(cls, value: Any) -> Any:
        return [] if value is None else value


class ContextFetchError(PrismError):
    """The assistant context could not be fetched. Never carries the token; exit code 3.

    Attributes:
        retryable: whether starting again later may succeed (timeouts, 5xx: yes; 404, 401: no).
    """

    exit_code = 3

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class ContextFileError(PrismError):
    """A local context file that cannot be used: ``ctx.json: "agenda[1].timeboxMs" must be > 0``."""

    def __init__(self, file: str | os.PathLike[str], field: str | None, message: str) -> None:
        self.file = str(file)
        self.field = field
        where = f'"{field}" ' if field else ""
        super().__init__(f"{self.file}: {where}{message}")
        self.detail = message


def default_context(assistant_id: str, tenant_id: str) -> AssistantContext:
    """The built-in context: a neutral facilitator, the default model, no agenda."""
    return AssistantContext(
        assistant_id=assistant_id,
        tenant_id=tenant_id,
        model=dict(DEFAULT_MODEL_CONFIG),
        behavior_template=DEFAULT_BEHAVIOR_TEMPLATE,
        agenda=[],
        source="defaults",
    )


# --------------------------------------------------------------------------------------------
# Local file
# --------------------------------------------------------------------------------------------


def _field_path(loc: tuple[Any, ...], within: str = "") -> str:
    """``("agenda", 0, "timeboxMs")`` → ``agenda[0].timeboxMs`` (after ``within.`` when given)."""
    out = within
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _input_keys(model: type[BaseModel], *, skip: tuple[str, ...] = ()) -> dict[str, tuple[str, ...]]:
    """Each field's accepted input keys, the documented (camelCase) one first."""
    out: dict[str, tuple[str, ...]] = {}
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        alias = info.validation_alias
        choices = [c for c in alias.choices if isinstance(c, str)] if isinstance(alias, AliasChoices) else []
        out[name] = tuple(dict.fromkeys([*choices, name]))
    return out


# ``source`` is ours (where the record came from), never read from a file or an answer.
_RECORD_KEYS = _input_keys(AssistantContext, skip=("source",))
_AGENDA_KEYS = _input_keys(AgendaEntry)
_RECORD_KEY_SET = frozenset(k for keys in _RECORD_KEYS.values() for k in keys)


def _known_only(record: dict[str, Any]) -> dict[str, Any]:
    """``record`` without the keys no field reads (a Mesh answer may carry more than we ask)."""
    return {k: v for k, v in record.items() if k in _RECORD_KEY_SET}


class _FileChecker:
    """The strict checks a local file gets on top of the model: known keys only, no key given
    twice under two names, ``agenda`` present. Keys starting with ``_`` or ``x-`` are left for
    comments, as in scenario files."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path

    def fail(self, field: str | None, message: str) -> NoReturn:
        raise ContextFileError(self.path, field, message)

    def keys(self, obj: dict[str, Any], fields: dict[str, tuple[str, ...]], prefix: str) -> None:
        known = [keys[0] for keys in fields.values()]
        accepted = {k for keys in fields.values() for k in keys}
        for key in obj:
            if key in accepted or key.startswith(("_", "x-")):
                continue
            close = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.75)
            hint = f'did you mean "{close[0]}"? ' if close else ""
            self.fail(prefix + key, f"is not a known field ({hint}known: {', '.join(known)})")
        for keys in fields.values():
            given = [k for k in keys if k in obj]
            if len(given) > 1:
                self.fail(prefix + given[1], f'names the same field as "{prefix}{given[0]}"; give only one')

    def unwrap(self, raw: Any) -> tuple[Any, str]:
        """The record inside a saved Mesh answer, and the prefix naming its fields."""
        if isinstance(raw, dict) and isinstance(raw.get("data"), dict) and "assistant" in raw["data"]:
            return raw["data"]["assistant"], "data.assistant"
        if isinstance(raw, dict) and set(raw) == {"assistant"} and isinstance(raw["assistant"], (dict, type(None))):
            return raw["assistant"], "assistant"
        return raw, ""

    def record(self, record: Any, where: str) -> None:
        prefix = f"{where}." if where else ""
        if not isinstance(record, dict):
            got = 'null, a Mesh "not found" answer' if record is None else _json_type(record)
            self.fail(where or None, f"must be a JSON object with the assistant record (got {got})")
        self.keys(record, _RECORD_KEYS, prefix)
        if record.get("agenda") is None:
            self.fail(prefix + "agenda", 'is required: a list of {"title", "timeboxMs"} ([] for none)')
        if isinstance(record["agenda"], list):
            for i, item in enumerate(record["agenda"]):
                if isinstance(item, dict):
                    self.keys(item, _AGENDA_KEYS, f"{prefix}agenda[{i}].")


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    names: dict[type, str] = {str: "a string", list: "an array"}
    return names.get(type(value), type(value).__name__)


def load_context_file(
    path: str | os.PathLike[str],
    *,
    assistant_id: str | None = None,
    tenant_id: str | None = None,
) -> AssistantContext:
    """Read an :class:`AssistantContext` from a JSON file: a record written by hand, strictly, or a
    saved Mesh answer, as Mesh answers are read.

    A hand-written record (``{"assistantId", "tenantId", "modelConfig", "behaviorTemplate",
    "agenda": [{"title", "timeboxMs"}]}``) needs ``agenda`` (the one field the session uses; ``[]``
    for none) and may not hold keys the bot does not read: a misspelled key would otherwise be
    dropped silently (``_`` and ``x-`` keys are left for comments). A saved GraphQL answer
    (``{"data": {"assistant": {...}}}``) or ``{"assistant": {...}}`` is read like a live one:
    fields the bot does not read are ignored and a null agenda is none.

    ``assistant_id`` and ``tenant_id`` are the session's (its envelopes already carry them): they
    fill ids the file leaves out, and a file naming others is refused rather than relabelled.

    Raises:
        ContextFileError: unreadable file, bad JSON, an unknown or missing key, a field that fails
            validation, or another assistant or tenant (each named, on one line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContextFileError(path, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContextFileError(path, None, f"cannot be read: {exc.__class__.__name__}") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ContextFileError(
            path, None, f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    check = _FileChecker(path)
    record, where = check.unwrap(raw)
    if where and isinstance(record, dict):  # a saved Mesh answer: read as Mesh answers are read
        record = _known_only(record)
    else:  # a record written by hand: strictly, so a misspelling cannot go unnoticed
        check.record(record, where)
    record = dict(record)
    if assistant_id and not any(k in record for k in _RECORD_KEYS["assistant_id"]):
        record["assistantId"] = assistant_id
    if tenant_id and not any(k in record for k in _RECORD_KEYS["tenant_id"]):
        record["tenantId"] = tenant_id
    try:
        ctx = AssistantContext.model_validate(record)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        raise ContextFileError(
            path, _field_path(tuple(err.get("loc", ())), where) or None, _lower_first(err["msg"])
        ) from None
    # The session's envelopes already name its assistant and tenant (the start is published before
    # the context is read), so a file for others would be silently relabelled: refused instead.
    for field, ours, theirs, flag in (
        ("assistant_id", assistant_id, ctx.assistant_id, "--assistant-id"),
        ("tenant_id", tenant_id, ctx.tenant_id, "--tenant-id"),
    ):
        if ours and theirs != ours:
            key = next(k for k in _RECORD_KEYS[field] if k in record)
            what = "assistant" if field == "assistant_id" else "tenant"
            check.fail(
                f"{where}.{key}" if where else key,
                f"is {theirs!r}, another {what} than this session's {ours!r} (set {flag}, or leave it out of the file)",
            )
    return ctx.model_copy(update={"source": "file"})


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text else text


def _unwrap(raw: Any) -> Any:
    if isinstance(raw, dict):
        data = raw.get("data")
        if isinstance(data, dict) and "assistant" in data:
            return data["assistant"]
        if "assistant" in raw and isinstance(raw["assistant"], dict):
            return raw["assistant"]
    return raw


# --------------------------------------------------------------------------------------------
# Prism Mesh
# --------------------------------------------------------------------------------------------


def _sanitize_url(url: str) -> str:
    """``url`` without userinfo, query or fragment (safe to print)."""
    try:
        return sanitize_room_url(url)
    except ValueError:
        return "<invalid url>"


def rest_url_for(mesh_url: str | None, rest_url: str | None, assistant_id: str) -> str | None:
    """The REST fallback URL for ``assistant_id``.

    ``rest_url`` (``MESH_REST_URL``) wins; otherwise ``mesh_url`` with a trailing ``/graphql``
    removed is the REST base. ``https://mesh.example.com/graphql`` →
    ``https://mesh.example.com/assistants/{id}``.
    """
    base = rest_url or mesh_url
    if not base:
        return None
    parts = urlsplit(base)
    path = parts.path.rstrip("/")
    if not rest_url and path.endswith("/graphql"):
        path = path[: -len("/graphql")]
    path = f"{path}/assistants/{quote(assistant_id, safe='')}"
    return urlunsplit((parts.scheme, parts.netloc, path, parts.query, ""))


class _Failure(Exception):
    """One request's failure: a safe message, whether to retry, whether the answer was final."""

    def __init__(self, message: str, *, retryable: bool, final: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.final = final  # an authoritative answer (not found, wrong tenant): no fallback


def _parse_assistant(record: Any, *, where: str) -> AssistantContext:
    """A Mesh answer's assistant record, read tolerantly: a server may add fields (unknown keys,
    also inside agenda items, are ignored); the ones we read must be valid."""
    if record is None:
        raise _Failure(f"{where}: assistant not found", retryable=False, final=True)
    if not isinstance(record, dict):
        raise _Failure(f"{where}: answer has the wrong shape (assistant is not an object)", retryable=False)
    try:
        return AssistantContext.model_validate(_known_only(record))
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        field = _field_path(tuple(err.get("loc", ())))
        raise _Failure(
            f'{where}: answer has the wrong shape ("{field}" {_lower_first(err["msg"])})', retryable=False
        ) from None


async def _request_json(
    session: Any, method: str, url: str, *, headers: dict[str, str], body: Any, timeout_s: float, where: str
) -> Any:
    import aiohttp

    try:
        async with session.request(
            method,
            url,
            headers=headers,
            json=body,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
        ) as resp:
            status = resp.status
            raw = await resp.read()
    except TimeoutError:
        raise _Failure(f"{where}: no answer within {timeout_s:g}s", retryable=True) from None
    except aiohttp.ClientError as exc:
        # The exception text can carry the URL; rebuild it from the class only.
        raise _Failure(f"{where}: connection failed ({type(exc).__name__})", retryable=True) from None
    if status == 404:
        raise _Failure(f"{where}: assistant not found (HTTP 404)", retryable=False, final=True)
    if status in (401, 403):
        raise _Failure(f"{where}: not authorized (HTTP {status}); check MESH_API_TOKEN", retryable=False)
    if status == 429 or status == 408 or status >= 500:
        raise _Failure(f"{where}: HTTP {status}", retryable=True)
    if status >= 300:
        raise _Failure(f"{where}: unexpected HTTP {status}", retryable=False)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _Failure(f"{where}: answer is not JSON", retryable=False) from None


async def _graphql_once(
    session: Any, url: str, assistant_id: str, headers: dict[str, str], timeout_s: float
) -> AssistantContext:
    where = f"GraphQL {_sanitize_url(url)}"
    body = {"query": ASSISTANT_QUERY, "variables": {"id": assistant_id}, "operationName": "AssistantContext"}
    answer = await _request_json(session, "POST", url, headers=headers, body=body, timeout_s=timeout_s, where=where)
    if not isinstance(answer, dict):
        raise _Failure(f"{where}: answer has the wrong shape (not an object)", retryable=False)
    errors = answer.get("errors")
    data = answer.get("data")
    if errors and not (isinstance(data, dict) and data.get("assistant")):
        first = errors[0] if isinstance(errors, list) and errors else {}
        message = first.get("message") if isinstance(first, dict) else None
        code = (first.get("extensions") or {}).get("code") if isinstance(first, dict) else None
        text = " ".join(str(message or "error").split())[:200]
        if code in ("NOT_FOUND",):
            raise _Failure(f"{where}: assistant not found", retryable=False, final=True)
        if code in ("UNAUTHENTICATED", "FORBIDDEN"):
            raise _Failure(f"{where}: not authorized ({code}); check MESH_API_TOKEN", retryable=False)
        raise _Failure(f"{where}: GraphQL error: {text}", retryable=False)
    if not isinstance(data, dict) or "assistant" not in data:
        raise _Failure(f'{where}: answer has the wrong shape (no "data.assistant")', retryable=False)
    return _parse_assistant(data["assistant"], where=where)


async def _rest_once(session: Any, url: str, headers: dict[str, str], timeout_s: float) -> AssistantContext:
    where = f"REST {_sanitize_url(url)}"
    answer = await _request_json(session, "GET", url, headers=headers, body=None, timeout_s=timeout_s, where=where)
    return _parse_assistant(_unwrap(answer), where=where)


async def _with_retries(
    once: Callable[[], Awaitable[AssistantContext]],
    *,
    attempts: int,
    base_delay_s: float,
    max_delay_s: float,
    deadline: float,
    rng: random.Random,
    sleep: Callable[[float], Awaitable[Any]],
    clock: Callable[[], float],
) -> AssistantContext:
    last: _Failure | None = None
    for attempt in range(1, attempts + 1):
        try:
            return await once()
        except _Failure as failure:
            last = failure
            if not failure.retryable or attempt == attempts:
                break
            delay = rng.uniform(0, min(max_delay_s, base_delay_s * 2 ** (attempt - 1)))
            if clock() + delay >= deadline:
                break
            await sleep(delay)
    assert last is not None
    if last.retryable and attempts > 1:
        raise _Failure(
            f"{last} (after {attempt} attempt{'s' if attempt != 1 else ''})", retryable=True, final=last.final
        )
    raise last


async def fetch_context(
    assistant_id: str,
    *,
    mesh_url: str,
    token: str | None = None,
    rest_url: str | None = None,
    tenant_id: str | None = None,
    timeout_s: float = 5.0,
    attempts: int = 3,
    base_delay_s: float = 0.25,
    max_delay_s: float = 2.0,
    budget_s: float = 20.0,
    rest_fallback: bool = True,
    session: Any = None,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> AssistantContext:
    """Fetch the assistant record from Prism Mesh: GraphQL first, REST when GraphQL is unavailable.

    Each request has ``timeout_s``; retryable failures (timeouts, connection errors, HTTP 5xx,
    429) are retried up to ``attempts`` per endpoint with full-jitter backoff; the whole fetch is
    bounded by ``budget_s``. A definitive answer (not found) is not retried and skips the REST
    fallback; any other GraphQL failure falls back to REST. ``token`` goes in an
    ``Authorization: Bearer`` header only and never into a message.

    Args:
        assistant_id: the assistant to fetch.
        mesh_url: GraphQL endpoint (``MESH_URL``).
        token: ``MESH_API_TOKEN``.
        rest_url: REST base (``MESH_REST_URL``); default: derived from ``mesh_url``.
        tenant_id: when given, the answer must belong to this tenant (else a non-retryable error).
        session: an ``aiohttp.ClientSession`` to use (one is made and closed otherwise).

    Raises:
        ContextFetchError: with ``retryable`` set; the message names the endpoints and statuses.
    """
    import aiohttp

    rng = rng if rng is not None else random.Random()
    deadline = clock() + budget_s
    headers = {"Accept": "application/json", "User-Agent": "prism-room-bot"}
    if token:
        headers["Authorization"] = f"Bearer {token}"

    own = session is None
    if own:
        session = aiohttp.ClientSession()
    failures: list[_Failure] = []
    try:

        def per_request() -> float:
            return max(0.05, min(timeout_s, deadline - clock()))

        retry = functools.partial(
            _with_retries,
            attempts=max(1, attempts),
            base_delay_s=base_delay_s,
            max_delay_s=max_delay_s,
            deadline=deadline,
            rng=rng,
            sleep=sleep,
            clock=clock,
        )
        ctx: AssistantContext | None = None
        source: Source = "mesh-graphql"
        try:
            ctx = await retry(lambda: _graphql_once(session, mesh_url, assistant_id, headers, per_request()))
        except _Failure as failure:
            failures.append(failure)
        url = rest_url_for(mesh_url, rest_url, assistant_id)
        if ctx is None and rest_fallback and url and not failures[-1].final and clock() < deadline:
            source = "mesh-rest"
            try:
                ctx = await retry(lambda: _rest_once(session, url, headers, per_request()))
            except _Failure as failure:
                failures.append(failure)
    finally:
        if own:
            await session.close()
    if ctx is None:
        message = "; ".join(str(f) for f in failures)
        if token:
            message = message.replace(token, "***")
        raise ContextFetchError(
            f"assistant {assistant_id!r} context fetch failed: {message}",
            retryable=any(f.retryable for f in failures),
        )
    if ctx.assistant_id != assistant_id:
        raise ContextFetchError(
            f"assistant context fetch returned assistant {ctx.assistant_id!r}, expected {assistant_id!r}",
            retryable=False,
        )
    if tenant_id and ctx.tenant_id != tenant_id:
        raise ContextFetchError(
            f"assistant {assistant_id!r} belongs to another tenant than this session's {tenant_id!r} (set --tenant-id or TENANT_ID)",
            retryable=False,
        )
    return ctx.model_copy(update={"source": source})


async def resolve_context(
    *,
    assistant_id: str,
    tenant_id: str,
    mesh_url: str | None = None,
    mesh_token: str | None = None,
    mesh_rest_url: str | None = None,
    assistant_file: str | os.PathLike[str] | None = None,
    **fetch_kwargs: Any,
) -> AssistantContext:
    """The session's context: Mesh when ``mesh_url`` is set, else the file, else the defaults.

    The session's assistant and tenant are on its first envelope before the context is read, so
    a Mesh answer or a file for another tenant is refused, not relabelled: with no tenant given,
    the session's is the default ``demo-tenant``, which a real assistant does not belong to.

    Raises:
        ContextFetchError: Mesh failed or answered for another assistant or tenant (exit 3).
        ContextFileError: the file is unusable or for another assistant or tenant (exit 2).
    """
    if mesh_url:
        if assistant_file:
            from loguru import logger

            logger.warning(f"{assistant_file}: not read, MESH_URL is set (the context comes from Mesh)")
        return await fetch_context(
            assistant_id,
            mesh_url=mesh_url,
            token=mesh_token,
            rest_url=mesh_rest_url,
            tenant_id=tenant_id,
            **fetch_kwargs,
        )
    if assistant_file:
        return load_context_file(assistant_file, assistant_id=assistant_id, tenant_id=tenant_id)
    return default_context(assistant_id, tenant_id)


async def fetch_assistant_context(settings: Settings) -> AssistantContext:
    """The context step of a session: :func:`resolve_context` with the session's settings."""
    return await resolve_context(
        assistant_id=settings.assistant_id,
        tenant_id=settings.tenant_id,
        mesh_url=settings.mesh_url,
        mesh_token=settings.mesh_api_token.get_secret_value() if settings.mesh_api_token else None,
        mesh_rest_url=settings.mesh_rest_url,
        assistant_file=settings.assistant_file,
    )
