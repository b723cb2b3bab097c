"""Assistant context: Prism Mesh over real HTTP (a local aiohttp server), the file and the defaults.

The Mesh stand-in listens on 127.0.0.1 (port 0), answers each route from a script (good, slow,
500, garbage, wrong shape), records every request, and stops when the test ends.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(ROOT))

from bot.core.errors import PrismError  # noqa: E402
from bot.session.context import (  # noqa: E402
    ASSISTANT_QUERY,
    DEFAULT_BEHAVIOR_TEMPLATE,
    AssistantContext,
    ContextFetchError,
    ContextFileError,
    default_context,
    fetch_context,
    load_context_file,
    resolve_context,
    rest_url_for,
)
from tests.pipeline_harness import run_async  # noqa: E402

TOKEN = "mesh-secret-token-5b2f9c"

ASSISTANT = {
    "id": "asst-1",
    "tenantId": "tenant-1",
    "modelConfig": {"provider": "openai", "model": "gpt-4o-mini", "temperature": 0.2},
    "behaviorTemplate": "Facilitate kindly.",
    "agenda": [{"title": "Intro", "timeboxMs": 300000}, {"title": "Decisions", "timeboxMs": 600000}],
}


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list → JSON; str/bytes → raw
    delay_s: float = 0.0


def good_graphql() -> Reply:
    return Reply(200, {"data": {"assistant": ASSISTANT}})


class MeshStub:
    """Prism Mesh on 127.0.0.1: ``POST /graphql`` and ``GET /assistants/{id}`` answer from scripts."""

    def __init__(self) -> None:
        self.graphql: list[Reply] = [good_graphql()]
        self.rest: list[Reply] = [Reply(200, ASSISTANT)]
        self.requests: list[dict[str, Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/graphql"

    def count(self, kind: str) -> int:
        return sum(1 for r in self.requests if r["kind"] == kind)

    async def _answer(self, script: list[Reply], request: web.Request, kind: str) -> web.StreamResponse:
        body = await request.read()
        self.requests.append({"kind": kind, "path": request.path, "headers": dict(request.headers), "body": body})
        reply = script.pop(0) if len(script) > 1 else script[0]
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        if isinstance(reply.body, (dict, list)) or reply.body is None:
            return web.json_response(reply.body, status=reply.status)
        raw = reply.body.encode() if isinstance(reply.body, str) else reply.body
        return web.Response(body=raw, status=reply.status, content_type="application/json")

    def start(self) -> None:
        ready = threading.Event()

        async def serve() -> None:
            async def graphql(request: web.Request) -> web.StreamResponse:
                return await self._answer(self.graphql, request, "graphql")

            async def rest(request: web.Request) -> web.StreamResponse:
                return await self._answer(self.rest, request, "rest")

            app = web.Application()
            app.router.add_post("/graphql", graphql)
            app.router.add_get("/assistants/{id}", rest)
            self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._stop_event = asyncio.Event()
            ready.set()
            await self._stop_event.wait()  # stop() sets it from the test's thread
            await self._runner.cleanup()

        def run() -> None:
            self._loop = asyncio.new_event_loop()
            # one run_until_complete for the server's whole life: a loop.stop() sent between two
            # run_* calls would be swallowed by the first and leave the second running forever
            self._loop.run_until_complete(serve())
            self._loop.close()

        self._thread = threading.Thread(target=run, name="mesh-stub", daemon=True)
        self._thread.start()
        assert ready.wait(10), "mesh stub did not start"

    def stop(self) -> None:
        if self._loop is not None and self._stop_event is not None:
            self._loop.call_soon_threadsafe(self._stop_event.set)
        if self._thread is not None:
            self._thread.join(10)
            assert not self._thread.is_alive(), "mesh stub did not stop"


@pytest.fixture
def mesh() -> Iterator[MeshStub]:
    stub = MeshStub()
    stub.start()
    try:
        yield stub
    finally:
        stub.stop()


def fetch(mesh: MeshStub, **kwargs: Any) -> AssistantContext:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("timeout_s", 1.0)
    kwargs.setdefault("base_delay_s", 0.01)
    kwargs.setdefault("max_delay_s", 0.02)
    return run_async(fetch_context("asst-1", mesh_url=mesh.url, **kwargs))


def fetch_error(mesh: MeshStub, **kwargs: Any) -> ContextFetchError:
    with pytest.raises(ContextFetchError) as info:
        fetch(mesh, **kwargs)
    assert TOKEN not in str(info.value)
    return info.value


# --------------------------------------------------------------------------------------------
# GraphQL and REST
# --------------------------------------------------------------------------------------------


def test_good_graphql_answer_gives_the_context_and_sends_the_token_as_bearer(mesh: MeshStub) -> None:
    ctx = fetch(mesh)
    assert ctx.source == "mesh-graphql"
    assert (ctx.assistant_id, ctx.tenant_id) == ("asst-1", "tenant-1")
    assert ctx.model == ASSISTANT["modelConfig"] and ctx.behavior_template == "Facilitate kindly."
    assert [(a.title, a.timebox_ms) for a in ctx.agenda] == [("Intro", 300000), ("Decisions", 600000)]
    (request,) = mesh.requests
    assert request["headers"]["Authorization"] == f"Bearer {TOKEN}"
    sent = json.loads(request["body"])
    assert sent["query"] == ASSISTANT_QUERY and "assistant(id: $id)" in sent["query"]
    assert sent["variables"] == {"id": "asst-1"}


def test_model_config_as_a_json_string_is_parsed(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, {"data": {"assistant": {**ASSISTANT, "modelConfig": json.dumps({"model": "m"})}}})]
    assert fetch(mesh).model == {"model": "m"}


def test_a_slow_answer_times_out_and_everything_stays_bounded(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, {"data": {"assistant": ASSISTANT}}, delay_s=2.0)]
    mesh.rest = [Reply(200, ASSISTANT, delay_s=2.0)]
    t0 = time.monotonic()
    err = fetch_error(mesh, timeout_s=0.2, attempts=2)
    elapsed = time.monotonic() - t0
    assert err.retryable
    assert "no answer within 0.2s" in str(err) and "GraphQL" in str(err) and "REST" in str(err)
    assert elapsed < 6, elapsed  # ~0.8 s bounded (2 attempts × 2 endpoints × 0.2 s); 8 s unbounded
    assert mesh.count("graphql") == 2 and mesh.count("rest") == 2


def test_the_total_budget_caps_a_fetch_of_slow_answers(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, {}, delay_s=2.0)]
    mesh.rest = [Reply(200, {}, delay_s=2.0)]
    t0 = time.monotonic()
    err = fetch_error(mesh, timeout_s=1.0, attempts=5, budget_s=0.6)
    assert time.monotonic() - t0 < 6 and err.retryable  # budget 0.6 s; 20 s without it


def test_500_then_good_is_retried(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(500, {"errors": [{"message": "boom"}]}), good_graphql()]
    ctx = fetch(mesh)
    assert ctx.source == "mesh-graphql" and mesh.count("graphql") == 2 and mesh.count("rest") == 0


def test_always_500_on_graphql_falls_back_to_rest(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(500, "oops")]
    ctx = fetch(mesh, attempts=3)
    assert ctx.source == "mesh-rest" and ctx.agenda[0].title == "Intro"
    assert mesh.count("graphql") == 3 and mesh.count("rest") == 1
    rest = next(r for r in mesh.requests if r["kind"] == "rest")
    assert rest["path"] == "/assistants/asst-1" and rest["headers"]["Authorization"] == f"Bearer {TOKEN}"


def test_always_500_everywhere_is_a_retryable_failure_naming_both_endpoints(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(500, "oops")]
    mesh.rest = [Reply(503, "down")]
    err = fetch_error(mesh, attempts=3)
    assert isinstance(err, PrismError) and err.exit_code == 3 and err.retryable
    text = str(err)
    assert "HTTP 500 (after 3 attempts)" in text and "HTTP 503 (after 3 attempts)" in text
    assert f"127.0.0.1:{mesh.port}/graphql" in text and "/assistants/asst-1" in text
    assert mesh.count("graphql") == 3 and mesh.count("rest") == 3


def test_garbage_json_is_not_retried_but_falls_back(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, "{not json at all")]
    assert fetch(mesh).source == "mesh-rest"
    assert mesh.count("graphql") == 1


def test_garbage_everywhere_is_a_non_retryable_failure(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, b"\xff\xfe<html>")]
    mesh.rest = [Reply(200, "<html>proxy error</html>")]
    err = fetch_error(mesh)
    assert not err.retryable and "answer is not JSON" in str(err)
    assert mesh.count("graphql") == 1 and mesh.count("rest") == 1


@pytest.mark.parametrize(
    ("assistant", "field"),
    [
        ({**ASSISTANT, "agenda": [{"title": "Intro", "timeboxMs": -5}]}, "agenda[0].timeboxMs"),
        ({**ASSISTANT, "agenda": [{"timeboxMs": 1000}]}, "agenda[0].title"),
        ({k: v for k, v in ASSISTANT.items() if k != "tenantId"}, "tenantId"),
        ({**ASSISTANT, "modelConfig": "[1, 2"}, "modelConfig"),
    ],
    ids=["negative-timebox", "agenda-without-title", "no-tenant", "model-config-not-json"],
)
def test_a_wrong_shape_names_the_field(mesh: MeshStub, assistant: dict[str, Any], field: str) -> None:
    mesh.graphql = [Reply(200, {"data": {"assistant": assistant}})]
    mesh.rest = [Reply(200, assistant)]
    err = fetch_error(mesh)
    assert not err.retryable and "wrong shape" in str(err) and field in str(err)


def test_an_answer_without_data_assistant_is_a_wrong_shape(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, {"data": {"assistants": []}})]
    mesh.rest = [Reply(200, [1, 2, 3])]
    err = fetch_error(mesh)
    assert 'no "data.assistant"' in str(err) and "REST" in str(err)


def test_not_found_is_final_and_skips_the_fallback(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, {"data": {"assistant": None}})]
    err = fetch_error(mesh)
    assert not err.retryable and "assistant not found" in str(err)
    assert mesh.count("rest") == 0


def test_rest_404_is_not_found(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(502, "bad gateway")]
    mesh.rest = [Reply(404, {"error": "no such assistant"})]
    err = fetch_error(mesh, attempts=1)
    assert "assistant not found (HTTP 404)" in str(err)


def test_graphql_errors_are_reported_without_the_token(mesh: MeshStub) -> None:
    mesh.graphql = [
        Reply(
            200,
            {"errors": [{"message": f"bad token {TOKEN}", "extensions": {"code": "UNAUTHENTICATED"}}], "data": None},
        )
    ]
    mesh.rest = [Reply(401, {"error": f"invalid bearer {TOKEN}"})]
    err = fetch_error(mesh)
    assert not err.retryable and "check MESH_API_TOKEN" in str(err)
    assert mesh.count("graphql") == 1 and mesh.count("rest") == 1


def test_the_token_never_appears_even_when_the_server_echoes_it(mesh: MeshStub) -> None:
    echo = f"Authorization: Bearer {TOKEN}"
    mesh.graphql = [Reply(500, echo)]
    mesh.rest = [Reply(200, {"assistant": {"id": TOKEN, "tenantId": 5}})]
    err = fetch_error(mesh, attempts=2)
    assert TOKEN not in str(err) and TOKEN not in repr(err)


def test_a_connection_refused_is_retryable_and_fast() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    with pytest.raises(ContextFetchError) as info:
        run_async(
            fetch_context(
                "asst-1", mesh_url=f"http://127.0.0.1:{port}/graphql", token=TOKEN, attempts=2, base_delay_s=0.01
            )
        )
    assert info.value.retryable and "connection failed" in str(info.value)
    assert TOKEN not in str(info.value) and time.monotonic() - t0 < 10


def test_an_answer_for_another_tenant_is_refused_when_the_tenant_was_given(mesh: MeshStub) -> None:
    err = fetch_error(mesh, tenant_id="tenant-2")
    assert not err.retryable and "another tenant" in str(err)
    assert fetch(mesh, tenant_id="tenant-1").tenant_id == "tenant-1"


def test_a_mesh_answer_may_carry_fields_the_bot_does_not_read(mesh: MeshStub) -> None:
    extra = {
        **ASSISTANT,
        "owner": "ops",
        "source": "mesh-admin",
        "agenda": [{"title": "Intro", "timeboxMs": 1000, "color": "red"}],
    }
    mesh.graphql = [Reply(200, {"data": {"assistant": extra}})]
    ctx = fetch(mesh)
    assert ctx.source == "mesh-graphql" and [(a.title, a.timebox_ms) for a in ctx.agenda] == [("Intro", 1000)]


@pytest.mark.parametrize("via", ["graphql", "rest"])
def test_a_mesh_assistant_of_another_tenant_than_the_sessions_is_refused(mesh: MeshStub, via: str) -> None:
    """Given or the default: the session's tenant is on its envelopes already, so no relabelling."""
    if via == "rest":
        mesh.graphql = [Reply(500, "down")]
    with pytest.raises(ContextFetchError) as info:
        run_async(
            resolve_context(
                assistant_id="asst-1", tenant_id="tenant-2", mesh_url=mesh.url, mesh_token=TOKEN, attempts=1
            )
        )
    assert (
        not info.value.retryable
        and "belongs to another tenant than this session's 'tenant-2' (set --tenant-id" in str(info.value)
    )
    assert "\n" not in str(info.value) and TOKEN not in str(info.value)
    same = run_async(
        resolve_context(assistant_id="asst-1", tenant_id="tenant-1", mesh_url=mesh.url, mesh_token=TOKEN, attempts=1)
    )
    assert same.tenant_id == "tenant-1"


def test_an_answer_for_another_assistant_is_refused(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(200, {"data": {"assistant": {**ASSISTANT, "id": "asst-9"}}})]
    assert "expected 'asst-1'" in str(fetch_error(mesh))


@pytest.mark.parametrize(
    ("mesh_url", "rest_url", "expected"),
    [
        ("https://mesh.example.com/graphql", None, "https://mesh.example.com/assistants/a%2F1"),
        ("https://mesh.example.com/api/graphql/", None, "https://mesh.example.com/api/assistants/a%2F1"),
        (
            "https://mesh.example.com/graphql",
            "https://rest.example.com/v1",
            "https://rest.example.com/v1/assistants/a%2F1",
        ),
        (None, None, None),
    ],
    ids=["derived", "derived-nested", "explicit", "none"],
)
def test_rest_url_is_derived_from_mesh_url_or_given(
    mesh_url: str | None, rest_url: str | None, expected: str | None
) -> None:
    assert rest_url_for(mesh_url, rest_url, "a/1") == expected


def test_explicit_rest_url_is_used(mesh: MeshStub) -> None:
    mesh.graphql = [Reply(500, "x")]
    ctx = fetch(mesh, attempts=1, rest_url=f"http://127.0.0.1:{mesh.port}")
    assert ctx.source == "mesh-rest"


# --------------------------------------------------------------------------------------------
# the file and the defaults
# --------------------------------------------------------------------------------------------


def write(tmp_path: Path, doc: Any, name: str = "ctx.json") -> Path:
    path = tmp_path / name
    path.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    return path


def test_context_file_is_read(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {"assistantId": "a", "tenantId": "t", "model": {"model": "x"}, "agenda": [{"title": "One", "timeboxMs": 1000}]},
    )
    ctx = load_context_file(path)
    assert ctx.source == "file" and ctx.model == {"model": "x"} and ctx.agenda[0].timebox_ms == 1000
    assert ctx.model_dump(by_alias=True)["agenda"] == [{"title": "One", "timeboxMs": 1000}]


def test_context_file_may_hold_a_mesh_answer_and_lack_ids(tmp_path: Path) -> None:
    path = write(tmp_path, {"data": {"assistant": {"behaviorTemplate": "Be brief.", "agenda": []}}})
    ctx = load_context_file(path, assistant_id="a", tenant_id="t")
    assert (ctx.assistant_id, ctx.tenant_id, ctx.behavior_template) == ("a", "t", "Be brief.")


def test_context_file_keeps_comment_keys_and_nulls_of_a_saved_mesh_answer(tmp_path: Path) -> None:
    doc = {
        "_comment": "standup",
        "x-owner": "ops",
        "data": {"assistant": {**ASSISTANT, "modelConfig": None, "behaviorTemplate": None}},
    }
    ctx = load_context_file(write(tmp_path, doc))
    assert ctx.model == {} and ctx.behavior_template == "" and len(ctx.agenda) == 2


KNOWN = "(known: assistantId, tenantId, modelConfig, behaviorTemplate, agenda)"
IDS = {"assistantId": "a", "tenantId": "t"}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (
            {"assistantId": "a", "tenantId": "t", "agenda": [{"title": "x", "timeboxMs": 0}]},
            'ctx.json: "agenda[0].timeboxMs" input should be greater than 0',
        ),
        ({"assistantId": "a", "tenantId": "t", "agenda": "soon"}, 'ctx.json: "agenda" input should be a valid list'),
        ({"tenantId": "t", "agenda": []}, 'ctx.json: "assistantId" field required'),
        ("{oops", "ctx.json: is not valid JSON (line 1, column 2"),
        ("[1]", "ctx.json: must be a JSON object with the assistant record (got an array)"),
        # strict: what a Mesh answer may carry, a file may not
        ({"foo": 1}, f'ctx.json: "foo" is not a known field {KNOWN}'),
        ({**IDS, "agendaa": []}, 'ctx.json: "agendaa" is not a known field (did you mean "agenda"? known: '),
        ({**IDS, "agenda": [], "source": "mesh-graphql"}, 'ctx.json: "source" is not a known field'),
        (
            {**IDS, "agenda": [{"title": "x", "timeBoxMs": 1}]},
            'ctx.json: "agenda[0].timeBoxMs" is not a known field (did you mean "timeboxMs"? known: title, timeboxMs)',
        ),
        (
            {"assistant": {**IDS, "agenda": [{"title": "x", "timeboxMs": -1}]}},
            'ctx.json: "assistant.agenda[0].timeboxMs" input should be greater than 0',
        ),
        (
            {"id": "a", "assistantId": "b", "tenantId": "t", "agenda": []},
            'ctx.json: "id" names the same field as "assistantId"; give only one',
        ),
        # required: the agenda is what the session uses from the context ([] says "none")
        ({}, 'ctx.json: "agenda" is required: a list of {"title", "timeboxMs"} ([] for none)'),
        ({**IDS, "behaviorTemplate": "Be brief."}, 'ctx.json: "agenda" is required'),
        ({**IDS, "agenda": None}, 'ctx.json: "agenda" is required'),
        (
            {"data": {"assistant": None}},
            'ctx.json: "data.assistant" must be a JSON object with the assistant record (got null, a Mesh "not found" answer)',
        ),
    ],
    ids=[
        "timebox-zero",
        "agenda-not-list",
        "no-assistant-id",
        "bad-json",
        "not-object",
        "no-assistant-field-at-all",
        "misspelled-key",
        "internal-source-key",
        "misspelled-agenda-key",
        "field-path-inside-wrapper",
        "same-field-twice",
        "empty-object",
        "no-agenda",
        "agenda-null",
        "not-found-answer",
    ],
)
def test_context_file_errors_name_the_file_and_field(tmp_path: Path, doc: Any, message: str) -> None:
    path = write(tmp_path, doc)
    with pytest.raises(ContextFileError) as info:
        load_context_file(path)
    assert str(info.value).replace(str(tmp_path) + "/", "").startswith(message)
    assert info.value.exit_code == 2 and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("doc", "outcome"),
    [
        (
            {"assistantId": "a", "tenantId": "t-2", "agenda": []},
            "\"tenantId\" is 't-2', another tenant than this session's 't-1' (set --tenant-id, or leave it out of the file)",
        ),
        (
            {"data": {"assistant": {"id": "a", "tenant_id": "t-2", "agenda": []}}},
            "\"data.assistant.tenant_id\" is 't-2', another tenant than this session's 't-1'",
        ),
        (
            {"assistantId": "b", "agenda": []},
            "\"assistantId\" is 'b', another assistant than this session's 'a' (set --assistant-id, or leave it out of the file)",
        ),
        ({"assistantId": "a", "tenantId": "t-1", "agenda": []}, "t-1"),
        ({"assistantId": "a", "agenda": []}, "t-1"),
        ({"agenda": []}, "t-1"),
    ],
    ids=[
        "other-tenant",
        "other-tenant-in-mesh-answer",
        "other-assistant",
        "same-tenant",
        "no-tenant-in-file",
        "no-ids-in-file",
    ],
)
def test_a_context_file_names_this_sessions_assistant_and_tenant_or_none(
    tmp_path: Path, doc: Any, outcome: str
) -> None:
    """The start (with the ids) is out before the context is read: a file for others is refused."""
    path = write(tmp_path, doc)

    def resolve() -> AssistantContext:
        return run_async(resolve_context(assistant_id="a", tenant_id="t-1", assistant_file=path))

    if outcome.startswith('"'):
        with pytest.raises(ContextFileError) as info:
            resolve()
        assert str(info.value).startswith(f"{path}: {outcome}") and info.value.exit_code == 2
    else:
        assert resolve().tenant_id == outcome


def test_a_missing_context_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ContextFileError, match="no such file"):
        load_context_file(tmp_path / "nope.json")


def test_defaults_without_mesh_or_file() -> None:
    ctx = run_async(resolve_context(assistant_id="a", tenant_id="t"))
    assert ctx == default_context("a", "t") and ctx.source == "defaults"
    assert ctx.behavior_template == DEFAULT_BEHAVIOR_TEMPLATE and ctx.agenda == []


def test_resolve_prefers_mesh_then_file(tmp_path: Path, mesh: MeshStub) -> None:
    path = write(tmp_path, {"assistantId": "asst-1", "tenantId": "tenant-1", "agenda": []})
    from_file = run_async(resolve_context(assistant_id="asst-1", tenant_id="tenant-1", assistant_file=path))
    assert from_file.source == "file"
    from loguru import logger

    warnings: list[str] = []
    sink = logger.add(lambda message: warnings.append(str(message)), level="WARNING")
    try:
        from_mesh = run_async(
            resolve_context(
                assistant_id="asst-1", tenant_id="tenant-1", mesh_url=mesh.url, mesh_token=TOKEN, assistant_file=path
            )
        )
    finally:
        logger.remove(sink)
    assert from_mesh.source == "mesh-graphql"
    assert any("not read, MESH_URL is set" in w for w in warnings), "a file that is ignored is said to be"


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        (
            {"assistantId": "asst-1", "tenantId": "t-1", "agendaa": []},
            '"agendaa" is not a known field (did you mean "agenda"?',
        ),
        (
            {"assistantId": "asst-1", "tenantId": "t-2", "agenda": []},
            "\"tenantId\" is 't-2', another tenant than this session's 't-1'",
        ),
        (
            {"assistantId": "asst-9", "agenda": []},
            "\"assistantId\" is 'asst-9', another assistant than this session's 'asst-1'",
        ),
    ],
    ids=["misspelled-key", "other-tenant", "other-assistant"],
)
def test_the_cli_refuses_a_bad_context_file_in_one_line(tmp_path: Path, doc: Any, error: str) -> None:
    path = write(tmp_path, doc)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(("BOT_", "MESH_", "ROOM_URL", "DAILY_", "TENANT_ID", "ASSISTANT_ID", "OPENAI_"))
    }
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--speed",
            "0",
            "--view",
            "off",
            "--assistant-file",
            str(path),
            "--tenant-id",
            "t-1",
            "--assistant-id",
            "asst-1",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(f"error: {path}: {error}")
    assert "Traceback" not in proc.stderr
    topics = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [t["topic"] for t in topics] == [  # a simulated room joins (loads its scenario) before the context
        "assistant.session.started",
        "assistant.room.join.requested",
        "assistant.room.join.succeeded",
        "bot.health.heartbeat",
        "assistant.session.failed",
    ]
    assert topics[-1]["payload"]["stage"] == "context_fetch" and error in topics[-1]["payload"]["error"]


def test_the_stub_server_stops_by_itself() -> None:
    stub = MeshStub()
    stub.start()
    stub.stop()
    # (a connect() check would race with other tests reusing the ephemeral port)
    assert stub._thread is not None and not stub._thread.is_alive()
    assert stub._loop is not None and stub._loop.is_closed()


@pytest.mark.parametrize(
    "doc",
    [
        {"data": {"assistant": {**IDS, "agenda": None, "owner": "ops", "createdAt": "2026-11-01"}}, "errors": []},
        {"assistant": {**IDS, "agenda": [], "name": "Stand-up helper"}},
    ],
    ids=["saved-graphql-answer", "saved-rest-answer"],
)
def test_a_saved_mesh_answer_is_read_as_mesh_answers_are(tmp_path: Path, doc: Any) -> None:
    ctx = load_context_file(write(tmp_path, doc), assistant_id="a", tenant_id="t")
    assert ctx.agenda == [] and ctx.source == "file"
