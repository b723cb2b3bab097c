"""The LLM facilitator's plain logic: the room summary, the tools, and the brain that decides when
to ask the LLM and what its answers do (through the policy). No asyncio, no Pipecat, no HTTP:
``bot/processors/facilitator.py`` carries requests to Pipecat's OpenAI LLM service."""

from bot.facilitator.brain import BOT_ID, FacilitatorBrain, LLMRequest, ToolOutcome, system_prompt
from bot.facilitator.summary import RoomSummary
from bot.facilitator.tools import TOOL_NAMES, TOOLS, ToolSpec

__all__ = [
    "BOT_ID",
    "TOOLS",
    "TOOL_NAMES",
    "FacilitatorBrain",
    "LLMRequest",
    "RoomSummary",
    "ToolOutcome",
    "ToolSpec",
    "system_prompt",
]
