"""The event envelope (docs/events.md): the wire shape every runtime shares."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.events.framing import SessionContext

__all__ = ["Envelope", "Meta", "Pii", "SessionContext", "uuid7_ms"]

SPEC_VERSION_PATTERN = r"^sha256:[0-9a-f]{64}$"
UUID7_PATTERN = r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", populate_by_name=True, frozen=True)


class Pii(_Strict):
    """What was removed from this copy before it left the process."""

    level: int = Field(ge=0, le=3)
    redacted: list[str]


class Meta(_Strict):
    """Delivery metadata; ``seq`` is contiguous from 1 per session and runtime."""

    seq: int = Field(ge=1)
    attempt: int | None = Field(default=None, ge=1)
    sample_rate: float | None = Field(default=None, alias="sampleRate", gt=0, le=1)
    media_time_ms: int | None = Field(default=None, alias="mediaTimeMs", ge=0)


class Envelope(_Strict):
    """One event on the wire. ``payload`` is validated separately against the topic's model."""

    id: str = Field(pattern=UUID7_PATTERN)
    ts: int = Field(ge=0)
    topic: str = Field(min_length=1, max_length=128)
    spec_version: str = Field(alias="specVersion", pattern=SPEC_VERSION_PATTERN)
    runtime: Literal["bot", "browser", "supervisor"]
    session_id: str = Field(alias="sessionId", min_length=1, max_length=128)
    assistant_id: str | None = Field(default=None, alias="assistantId", max_length=128)
    tenant_id: str | None = Field(default=None, alias="tenantId", max_length=128)
    room_id: str | None = Field(default=None, alias="roomId", max_length=128)
    payload: dict[str, Any]
    pii: Pii | None = None
    meta: Meta


def uuid7_ms(value: str) -> int:
    """The 48-bit Unix-ms timestamp inside a UUIDv7 string."""
    return int(value.replace("-", "")[:12], 16)
