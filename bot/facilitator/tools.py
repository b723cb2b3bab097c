"""The facilitator's tools: their JSON schemas for the LLM and the argument models that check a call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["TOOLS", "TOOL_NAMES", "ToolSpec"]


class _Args(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True, frozen=True)


class StartVoteArgs(_Args):
    question: str = Field(min_length=1, max_length=300)
    options: list[str] = Field(min_length=2, max_length=10)


class CloseVoteArgs(_Args):
    pass


class SuggestTopicShiftArgs(_Args):
    next_topic: str = Field(min_length=1, max_length=200)
    message: str | None = Field(default=None, max_length=300)


class NudgeParticipantArgs(_Args):
    participant_id: str = Field(min_length=1, max_length=128)
    message: str = Field(min_length=1, max_length=300)


@dataclass(frozen=True)
class ToolSpec:
    """One tool: what the LLM is told (name, description, JSON-schema properties) and how its
    arguments are checked (``args``)."""

    name: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    args: type[_Args]


TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        name="start_vote",
        description="Open a quick crowd vote in the room (one at a time; it closes by itself after 30 s).",
        properties={
            "question": {"type": "string", "description": "The question, at most 300 characters."},
            "options": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 2,
                "maxItems": 10,
                "description": "2-10 short, distinct choices.",
            },
        },
        required=("question", "options"),
        args=StartVoteArgs,
    ),
    ToolSpec(
        name="close_vote",
        description="Close the vote that is open now and publish its result.",
        properties={},
        required=(),
        args=CloseVoteArgs,
    ),
    ToolSpec(
        name="suggest_topic_shift",
        description="Suggest that the room moves on to another topic or agenda item.",
        properties={
            "next_topic": {"type": "string", "description": "The topic or agenda item to move to."},
            "message": {"type": "string", "description": "One short sentence to the room (optional)."},
        },
        required=("next_topic",),
        args=SuggestTopicShiftArgs,
    ),
    ToolSpec(
        name="nudge_participant",
        description="Send one participant a short private nudge (e.g. to let others speak, or to invite a quiet person in).",
        properties={
            "participant_id": {"type": "string", "description": "The participant's id from the summary."},
            "message": {"type": "string", "description": "One short, kind sentence."},
        },
        required=("participant_id", "message"),
        args=NudgeParticipantArgs,
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in TOOLS)
