"""The LLM facilitator: Pipecat's OpenAI LLM service between two thin adapters of a FacilitatorBrain.

::

    ... PolicyEnforcer → Votes → FacilitatorInput → FacilitatorLLMService → FacilitatorOutput → PolicyOutputGate → EnvelopeSink

``FacilitatorInput`` feeds the brain the (already guarded) frames and events passing by and, when
the brain asks, pushes an ``LLMContextFrame`` (summary + the tools the policy permits) to the
service. The service streams the completion from any OpenAI-compatible server and runs tool calls
through the handler registered here, which asks the brain (policy first). ``FacilitatorOutput``
collects the streamed text into ``FacilitatorMessage``s and consumes every LLM frame, so nothing
of the LLM's own protocol leaks into the room pipeline. LLM errors are consumed too: they back
the brain off, they never reach the worker.

Import this module only when the facilitator is on: it imports Pipecat's OpenAI service (~0.8 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, cast

from loguru import logger
from openai import AsyncOpenAI
from pipecat.adapters.llm.schemas.function_schema import FunctionSchema
from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.frames.frames import (
    CancelFrame,
    EagerEndOfTurnCancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallCancelFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallResultProperties,
    FunctionCallsStartedFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    MetricsFrame,
    ServiceMetadataFrame,
    TranscriptionFrame,
    UserTurnInferenceCompletedFrame,
)
from pipecat.processors.aggregators.llm_context import NOT_GIVEN, LLMContext, LLMContextMessage
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.llm import OpenAILLMService

from bot.core.frames import (
    ChatMessageFrame,
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    RoomEndedFrame,
    SpeakingStateFrame,
)
from bot.core.media import media_time_of
from bot.facilitator.brain import BOT_ID, FacilitatorBrain, LLMRequest
from bot.facilitator.tools import ToolSpec
from bot.policy.snapshot import LoadedPolicy
from bot.processors.policy import envelope
from bot.processors.safety import internal_error

__all__ = ["FacilitatorInput", "FacilitatorLLMService", "FacilitatorOutput", "build_facilitator", "tools_schema"]

LLM_FRAMES = (
    LLMFullResponseStartFrame,
    LLMTextFrame,
    LLMFullResponseEndFrame,
    FunctionCallsStartedFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    FunctionCallCancelFrame,
    UserTurnInferenceCompletedFrame,
    EagerEndOfTurnCancelFrame,
    ServiceMetadataFrame,
    MetricsFrame,
)
"""What the LLM service emits; consumed by the facilitator's adapters, never forwarded."""


class FacilitatorLLMService(OpenAILLMService):
    """Pipecat's ``OpenAILLMService`` with a bounded client and a count of the work it holds.

    - The OpenAI client gets ``timeout_secs`` per request and no retries (the brain backs off on
      media time instead), so a hung server cannot hold the room's end for the client's default
      10 minutes.
    - ``busy``: a completion is being streamed or a tool call is still running; the facilitator
      waits for it (bounded) before letting ``EndFrame`` pass, so the last answer of a room is
      not lost.
    """

    def __init__(self, *, timeout_secs: float = 10.0, **kwargs: Any) -> None:
        self._timeout_secs = timeout_secs  # read by create_client, which the base __init__ calls
        self._completions = 0
        self.pending_calls = 0
        super().__init__(**kwargs)

    def create_client(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        organization: str | None = None,
        project: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> AsyncOpenAI:
        return AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            organization=organization,
            project=project,
            default_headers=default_headers,
            timeout=self._timeout_secs,
            max_retries=0,
        )

    @property
    def busy(self) -> bool:
        return self._completions > 0 or self.pending_calls > 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        if isinstance(frame, LLMContextFrame):
            self._completions += 1
            try:
                await super().process_frame(frame, direction)
            finally:
                self._completions -= 1
            return
        await super().process_frame(frame, direction)

    async def run_function_calls(self, function_calls: Sequence[Any]) -> None:
        self.pending_calls += len(function_calls)  # before the call tasks exist: no gap in `busy`
        await super().run_function_calls(function_calls)


def tools_schema(tools: Iterable[ToolSpec]) -> ToolsSchema:
    """Pipecat's ``ToolsSchema`` for the facilitator's tools."""
    return ToolsSchema(
        standard_tools=[
            FunctionSchema(name=t.name, description=t.description, properties=t.properties, required=list(t.required))
            for t in tools
        ]
    )


class FacilitatorInput(FrameProcessor):
    """Feeds the brain and sends its requests to the LLM service downstream; runs tool calls.

    Reads (downstream) ``ParticipantJoined/LeftFrame``, ``SpeakingStateFrame``,
    ``TranscriptionFrame`` and ``ChatMessageFrame`` (already through the PolicyEnforcer),
    ``EnvelopeFrame`` (analytics and policy events: triggers and summary), ``MediaTickFrame``
    (when to ask), ``RoomEndedFrame`` (stop asking). Every downstream frame is forwarded. Upstream,
    it consumes what the LLM service sends back (``ErrorFrame`` from the service → the brain backs
    off; function-call frames), so neither reaches the worker. On ``EndFrame`` it waits up to
    ``drain_secs`` for the request in flight and its tool calls to finish.

    Frames pushed: ``LLMContextFrame`` (to the service); ``EnvelopeFrame`` (tool outcomes:
    ``FacilitatorMessage``, ``ConversationPolicyViolation``). A tool that acts as a host (votes)
    queues a ``ChatMessageFrame`` command from the bot at the head of the pipeline, so the
    ``Votes`` processor, the one owner of votes, runs it under its usual rules.

    Example::

        FacilitatorInput(brain=brain, llm=llm)
    """

    def __init__(
        self,
        *,
        brain: FacilitatorBrain,
        llm: FacilitatorLLMService,
        bot_name: str = "Prism Facilitator",
        inject: Callable[[Frame], Awaitable[None]] | None = None,
        drain_secs: float = 5.0,
        **kwargs: Any,
    ) -> None:
        """Args:
        brain: the facilitator's logic.
        llm: the service placed right after this processor; its tool calls are routed here.
        bot_name: display name on the bot's chat commands.
        inject: how to queue a frame at the head of the pipeline; default: the pipeline worker.
        drain_secs: longest wait at ``EndFrame`` for a request in flight.
        """
        super().__init__(**kwargs)
        self.brain = brain
        self.llm = llm
        self.bot_name = bot_name
        self._inject = inject
        self.drain_secs = drain_secs
        self._requests: dict[int, LLMRequest] = {}
        self._last_ms = 0
        llm.register_function(None, self._on_tool_call, timeout_secs=drain_secs)

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.UPSTREAM:
            if isinstance(frame, ErrorFrame) and frame.processor is self.llm:
                logger.warning(f"facilitator: LLM request failed: {frame.error}")
                self.brain.failed(str(frame.error))
                return
            if isinstance(frame, LLM_FRAMES):
                return
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, EndFrame):
            self.brain.finish()
            await self._drain()
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, CancelFrame):
            await self.push_frame(frame, direction)
            return
        request = None
        try:
            request = self._observe(frame)
        except Exception as exc:  # the facilitator is optional: a bug here must not end the room
            internal_error("facilitator", exc)
        await self.push_frame(frame, direction)
        if request is not None:
            context = LLMContext(
                # the brain (no OpenAI import) writes OpenAI chat messages as plain dicts
                messages=cast("list[LLMContextMessage]", list(request.messages)),
                tools=tools_schema(request.tools) if request.tools else NOT_GIVEN,
            )
            self._requests[id(context)] = request
            while len(self._requests) > 8:  # tool calls only ever refer to the latest requests
                del self._requests[next(iter(self._requests))]
            await self.push_frame(LLMContextFrame(context=context))

    def _observe(self, frame: Frame) -> LLMRequest | None:
        brain = self.brain
        if isinstance(frame, MediaTickFrame):
            self._last_ms = max(self._last_ms, frame.media_time_ms)
            return brain.tick(frame.media_time_ms)
        if isinstance(frame, EnvelopeFrame):
            brain.event(frame.media_time_ms, frame.payload)
        elif isinstance(frame, SpeakingStateFrame):
            brain.speaking(frame.media_time_ms, frame.participant_id)
        elif isinstance(frame, TranscriptionFrame):
            brain.transcript(media_time_of(frame, default=self._last_ms) or 0, frame.user_id, frame.text or "")
        elif isinstance(frame, ChatMessageFrame):
            brain.chat(frame.media_time_ms, frame.participant_id, frame.text)
        elif isinstance(frame, ParticipantJoinedFrame):
            brain.joined(frame.media_time_ms, frame.participant_id, frame.display_name)
        elif isinstance(frame, ParticipantLeftFrame):
            brain.left(frame.media_time_ms, frame.participant_id)
        elif isinstance(frame, RoomEndedFrame):
            brain.finish()
        return None

    async def _drain(self) -> None:
        deadline = time.monotonic() + self.drain_secs
        # The brain is a plain class without asyncio (analytics design), so it has no event to await;
        # a bounded 10 ms poll is the adapter's way to wait for it.
        while (self.brain.busy or self.llm.busy) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    async def _on_tool_call(self, params: FunctionCallParams) -> None:
        """Pipecat's handler for every tool call (registered as the catch-all): policy first."""
        request = self._requests.get(id(params.context))
        result: dict[str, Any] = {"ok": False, "error": "internal error"}
        try:
            outcome = self.brain.call_tool(
                params.function_name, params.arguments, request
            )  # the brain rejects non-objects
            result = outcome.result
            at = request.media_time_ms if request else self._last_ms
            for payload in outcome.events:
                await self.push_frame(envelope(payload, at))
            for command in outcome.chat:
                await self._queue_head(
                    ChatMessageFrame(
                        participant_id=self.brain.bot_id, text=command, display_name=self.bot_name, media_time_ms=at
                    )
                )
        except Exception as exc:  # never let a tool end the room (the name came from the LLM: not logged)
            internal_error("facilitator tool", exc)
        finally:
            self.llm.pending_calls = max(0, self.llm.pending_calls - 1)
        await params.result_callback(result, properties=FunctionCallResultProperties(run_llm=False))

    async def _queue_head(self, frame: Frame) -> None:
        if self._inject is not None:
            await self._inject(frame)
        else:
            await self.pipeline_worker.queue_frame(frame)


class FacilitatorOutput(FrameProcessor):
    """Turns the LLM's streamed answer into ``FacilitatorMessage``s; consumes every LLM frame.

    Reads ``LLMFullResponseStartFrame`` / ``LLMTextFrame`` / ``LLMFullResponseEndFrame`` (one
    answer), and consumes the function-call, metadata and metrics frames the service pushes.
    Every other frame is forwarded.

    Frames pushed: ``EnvelopeFrame(FacilitatorMessage)`` (reason ``facilitation`` or the trigger).

    Example::

        FacilitatorOutput(brain=brain)
    """

    def __init__(self, *, brain: FacilitatorBrain, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.brain = brain
        self._parts: list[str] = []

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and isinstance(frame, LLM_FRAMES):
            if isinstance(frame, LLMFullResponseStartFrame):
                self._parts = []
            elif isinstance(frame, LLMTextFrame):
                self._parts.append(frame.text)
            elif isinstance(frame, LLMFullResponseEndFrame):
                await self._answer("".join(self._parts))
                self._parts = []
            return
        await self.push_frame(frame, direction)

    async def _answer(self, text: str) -> None:
        request = self.brain.in_flight or self.brain.last
        try:
            messages = self.brain.completed(text, request)
        except Exception as exc:  # one bad answer costs that answer
            internal_error("facilitator answer", exc)
            return
        at = request.media_time_ms if request else 0
        for message in messages:
            await self.push_frame(envelope(message, at))


def build_facilitator(
    policy: LoadedPolicy,
    *,
    api_key: str,
    base_url: str | None = None,
    model: str = "gpt-4.1-mini",
    timeout_secs: float = 10.0,
    bot_id: str = BOT_ID,
    bot_name: str = "Prism Facilitator",
    agenda: Iterable[Any] = (),
    inject: Callable[[Frame], Awaitable[None]] | None = None,
) -> list[FrameProcessor]:
    """The three processors to place between ``Votes`` and ``PolicyOutputGate``, in order."""
    brain = FacilitatorBrain(policy, bot_id=bot_id, agenda=agenda)
    llm = FacilitatorLLMService(
        api_key=api_key,
        base_url=base_url,
        timeout_secs=timeout_secs,
        settings=FacilitatorLLMService.Settings(
            model=model, system_instruction=brain.instructions, temperature=0.3, max_tokens=200
        ),
    )
    return [
        FacilitatorInput(brain=brain, llm=llm, bot_name=bot_name, inject=inject, drain_secs=timeout_secs + 1.0),
        llm,
        FacilitatorOutput(brain=brain),
    ]
