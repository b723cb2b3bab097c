"""The envelope's frame: who publishes, and the fields around a payload (stdlib and uuid_utils only).

Why a module of its own: the bus frames every envelope with it, and ``bot.session.boot`` frames the very
first one (``assistant.session.started``) with it before pydantic is even imported, so both write
the same shape by construction, not by keeping two copies in step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import uuid_utils


@dataclass(frozen=True)
class SessionContext:
    """Who publishes: copied into every envelope. Never holds secrets."""

    session_id: str
    runtime: Literal["bot", "browser", "supervisor"] = "bot"
    assistant_id: str | None = None
    tenant_id: str | None = None
    room_id: str | None = None

    def envelope_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"runtime": self.runtime, "sessionId": self.session_id}
        if self.assistant_id:
            fields["assistantId"] = self.assistant_id
        if self.tenant_id:
            fields["tenantId"] = self.tenant_id
        if self.room_id:
            fields["roomId"] = self.room_id
        return fields


def frame(
    topic: str,
    payload: dict[str, Any],
    *,
    spec_version: str,
    context_fields: dict[str, Any],
    seq: int,
    media_time_ms: int | None = None,
) -> dict[str, Any]:
    """One envelope (docs/events.md): a fresh UUIDv7 whose time is ``ts``, then the context fields."""
    uid = uuid_utils.uuid7()
    meta: dict[str, Any] = {"seq": seq}
    if media_time_ms is not None:
        meta["mediaTimeMs"] = int(media_time_ms)
    return {
        "id": str(uid),
        "ts": uid.timestamp,
        "topic": topic,
        "specVersion": spec_version,
        **context_fields,
        "payload": payload,
        "meta": meta,
    }
