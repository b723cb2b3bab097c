"""A real, scripted OpenAI-compatible chat-completions server on 127.0.0.1 for tests.

aiohttp on port 0 in a background thread, streaming ``chat.completion.chunk`` events over SSE
exactly as the OpenAI API does (text deltas, tool-call deltas with argument fragments, a usage
chunk, ``data: [DONE]``), or answering with an HTTP error or after a delay. Each request takes the
next scripted :class:`Reply` (then ``default``); every request body is recorded. The server stops
when the ``with`` block ends, and by itself after ``lifetime_secs`` whatever happens.

Usage::

    with ScriptedLLMServer([Reply.tool("start_vote", {...}), Reply.say("Hi all")]) as server:
        ... OpenAILLMService(base_url=server.base_url, api_key="sk-test") ...
        server.requests   # [{"model": ..., "messages": [...], "tools": [...], ...}, ...]
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.loopback_server import LoopbackServer

__all__ = ["Reply", "ScriptedLLMServer"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    kind: str  # text | tool | status | hang
    text: str = ""
    tool_name: str = ""
    arguments: str = ""
    status: int = 200
    delay_secs: float = 0.0
    chunks: int = 3
    calls: tuple[tuple[str, str], ...] = field(default=())

    @staticmethod
    def say(text: str, chunks: int = 3) -> Reply:
        return Reply(kind="text", text=text, chunks=chunks)

    @staticmethod
    def tool(name: str, arguments: dict[str, Any] | str) -> Reply:
        """A tool call; a ``str`` is sent as is (a malformed argument, for instance)."""
        args = arguments if isinstance(arguments, str) else json.dumps(arguments)
        return Reply(kind="tool", tool_name=name, arguments=args)

    @staticmethod
    def tools(*calls: tuple[str, dict[str, Any] | str]) -> Reply:
        """Several tool calls in one answer."""
        return Reply(kind="tool", calls=tuple((n, a if isinstance(a, str) else json.dumps(a)) for n, a in calls))

    @staticmethod
    def error(status: int = 500) -> Reply:
        return Reply(kind="status", status=status)

    @staticmethod
    def hang(secs: float) -> Reply:
        """Answer (with PASS) only after ``secs``: longer than the client's timeout = a timeout."""
        return Reply(kind="text", text="PASS", delay_secs=secs)


def _chunk(delta: dict[str, Any] | None, finish: str | None = None, usage: dict[str, int] | None = None) -> bytes:
    body: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion.chunk",
        "created": 1_767_225_600,
        "model": "scripted-model",
    }
    body["choices"] = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish}]
    if usage is not None:
        body["usage"] = usage
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _split(text: str, n: int) -> list[str]:
    n = max(1, min(n, len(text) or 1))
    size = -(-len(text) // n) or 1
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


class ScriptedLLMServer(LoopbackServer):
    thread_name = "scripted-llm"

    def __init__(
        self,
        script: list[Reply] | Callable[[dict[str, Any]], Reply] = (),  # type: ignore[assignment]
        *,
        default: Reply | None = None,
        lifetime_secs: float = 180.0,
    ) -> None:
        super().__init__(lifetime_secs=lifetime_secs)
        self._script = script if callable(script) else list(script)
        self.default = default or Reply.say("PASS")
        self.requests: list[dict[str, Any]] = []

    def _next(self, body: dict[str, Any]) -> Reply:
        if callable(self._script):
            return self._script(body)
        return self._script.pop(0) if self._script else self.default

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        reply = self._next(body)
        if reply.delay_secs:
            assert self._stop is not None
            try:  # a hung answer ends early when the server stops
                await asyncio.wait_for(self._stop.wait(), timeout=reply.delay_secs)
            except TimeoutError:
                pass
        if reply.kind == "status":
            return web.json_response(
                {"error": {"message": "scripted failure", "type": "server_error", "code": None}}, status=reply.status
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        await response.write(_chunk({"role": "assistant", "content": ""}))
        if reply.kind == "text":
            for part in _split(reply.text, reply.chunks):
                await response.write(_chunk({"content": part}))
            finish = "stop"
        else:
            calls = reply.calls or ((reply.tool_name, reply.arguments),)
            for index, (name, arguments) in enumerate(calls):
                start = {
                    "index": index,
                    "id": f"call_{len(self.requests)}_{index}",
                    "type": "function",
                    "function": {"name": name, "arguments": ""},
                }
                await response.write(_chunk({"tool_calls": [start]}))
                for part in _split(arguments, 3):
                    await response.write(_chunk({"tool_calls": [{"index": index, "function": {"arguments": part}}]}))
            finish = "tool_calls"
        await response.write(_chunk({}, finish))
        await response.write(_chunk(None, usage={"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)
