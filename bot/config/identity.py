"""Who a session is: the assistant, the tenant and the room, as every envelope names them.

One definition for both readers of the configuration: ``bot.config.settings`` (the authority, with
pydantic-settings) and ``bot.session.boot`` (the fast path that publishes the start before pydantic is
loaded). Stdlib only, so the fast path can import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import __version__
from bot.events.framing import SessionContext
from bot.rooms.urls import ROOM_ID_MAX, http_url_problem, room_id_from_url, sanitize_room_url

__all__ = [
    "DEFAULT_ASSISTANT_ID",
    "DEFAULT_TENANT_ID",
    "DEMO_SCENARIO",
    "IDENTITY_MAX",
    "Identity",
    "InvalidIdentity",
    "id_problem",
    "identity_of",
    "simulated_room_id",
]

DEFAULT_ASSISTANT_ID = "demo-assistant"
DEFAULT_TENANT_ID = "demo-tenant"
IDENTITY_MAX = 128
"""Assistant and tenant ids are 1 to 128 characters (the envelope's ``assistantId``/``tenantId``)."""

DEMO_SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "demo.json"
"""The simulated room played when neither a room URL nor a scenario is given."""


class InvalidIdentity(ValueError):
    """A value the settings reject too; they say so properly, naming the flag or variable."""


@dataclass(frozen=True)
class Identity:
    """Who the session is, as ``assistant.session.started`` and every envelope's context say."""

    assistant_id: str
    tenant_id: str
    room_id: str
    room_url: str
    """Without userinfo, query or fragment (``simulated://NAME`` for a simulated room)."""
    transport: str

    def started_payload(self) -> dict[str, Any]:
        """The payload of ``assistant.session.started`` (wire form, the generated model's order)."""
        return {
            "assistantId": self.assistant_id,
            "tenantId": self.tenant_id,
            "botVersion": __version__,
            "roomUrl": self.room_url,
            "transport": self.transport,
        }

    def context(self, session_id: str) -> SessionContext:
        """The publisher context of this session's envelopes."""
        return SessionContext(
            session_id=session_id, assistant_id=self.assistant_id, tenant_id=self.tenant_id, room_id=self.room_id
        )


def simulated_room_id(scenario: str | os.PathLike[str] | None) -> str:
    """A simulated room is named after its scenario file (the bundled demo without one)."""
    return Path(scenario or DEMO_SCENARIO).stem[:ROOM_ID_MAX] or "room"


def id_problem(value: str) -> str | None:
    """Why ``value`` cannot be an assistant or tenant id, or None. Shared by both readers.

    Blank or space-padded ids are refused: ``"  "`` would be accepted by Mesh lookups and put on
    every envelope, and downstream joins on tenant ids would silently miss."""
    if not 1 <= len(value) <= IDENTITY_MAX:
        return f"must be 1 to {IDENTITY_MAX} characters"
    if value != value.strip() or not value.isprintable():
        return "must not start or end with spaces or hold control characters"
    return None


def identity_of(
    *, room_url: str | None, simulate: str | os.PathLike[str] | None, assistant_id: str, tenant_id: str
) -> Identity:
    """The identity from setting values; ``InvalidIdentity`` for one the settings reject too.

    The demo ids (``demo-assistant``, ``demo-tenant``) are for simulated rooms only: a Daily room
    (production) that names no assistant or tenant is refused, not published under the demo's names.
    """
    for name, value in (("assistant_id", assistant_id), ("tenant_id", tenant_id)):
        problem = id_problem(value)
        if problem is not None:
            raise InvalidIdentity(f"{name} {problem}")
    if room_url == "":
        raise InvalidIdentity("room_url is empty")
    if room_url:
        problem = http_url_problem(room_url)
        if problem is not None:
            raise InvalidIdentity(f"room_url {problem}")
        missing = [
            name
            for name, value, demo in (
                ("an assistant id (--assistant-id, ASSISTANT_ID)", assistant_id, DEFAULT_ASSISTANT_ID),
                ("a tenant id (--tenant-id, TENANT_ID)", tenant_id, DEFAULT_TENANT_ID),
            )
            if value == demo
        ]
        if missing:  # a real room's events labelled demo-assistant/demo-tenant would be misfiled downstream
            raise InvalidIdentity(
                f"a Daily room needs {' and '.join(missing)}: its events would otherwise be labelled "
                f"{DEFAULT_ASSISTANT_ID}/{DEFAULT_TENANT_ID} (on Pipecat Cloud: assistantId/tenantId in the body, or the secret set)"
            )
        clean = sanitize_room_url(room_url)
        return Identity(assistant_id, tenant_id, room_id_from_url(clean), clean, "daily")
    room_id = simulated_room_id(simulate)
    return Identity(assistant_id, tenant_id, room_id, f"simulated://{room_id}", "simulated")
