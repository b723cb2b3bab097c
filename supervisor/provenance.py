"""Who may speak on a room's stdout: the identity the supervisor gave the room, checked per envelope.

The supervisor starts each bot with the room's ``TENANT_ID`` and ``ASSISTANT_ID`` and reads that bot's
stdout alone, so it knows who every line must be from. A line claiming another tenant or assistant,
a runtime other than ``bot`` (``supervisor``, ``browser``), a topic whose spec ``origin`` does not
list ``bot``, or a session other than the one this bot process opened is refused: never forwarded,
never acted on (a forged ``assistant.session.ended`` must not end a room), counted per field.

A bot process's session is the ``sessionId`` of its first valid envelope (the bot writes
``assistant.session.started`` first, or ``assistant.session.failed`` when it cannot start); each
restart is a new process with a new session, so the binding is reset on every spawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.events import SpecRegistry

EXPECTED_RUNTIME = "bot"
FIELDS = ("runtime", "origin", "tenantId", "assistantId", "sessionId")
"""What a refusal names, in the order they are checked (the metrics label ``field``)."""


@dataclass
class Provenance:
    """The identity one room's envelopes must carry. ``session_id`` is bound per bot process."""

    tenant_id: str
    assistant_id: str
    session_id: str | None = None

    def new_process(self) -> None:
        """A new bot process opens a new session: forget the last one's id."""
        self.session_id = None

    def mismatch(self, envelope: dict[str, Any], registry: SpecRegistry) -> str | None:
        """The first field (of :data:`FIELDS`) that does not match this room, or ``None``.

        A valid envelope's first acceptance binds the session; never its content in the answer."""
        if envelope.get("runtime") != EXPECTED_RUNTIME:
            return "runtime"
        rule = registry.rule(envelope.get("topic", ""))
        if rule is None or EXPECTED_RUNTIME not in rule.origin:
            return "origin"
        if envelope.get("tenantId") != self.tenant_id:
            return "tenantId"
        if envelope.get("assistantId") != self.assistant_id:
            return "assistantId"
        session = envelope.get("sessionId")
        if self.session_id is None:
            self.session_id = session
        elif session != self.session_id:
            return "sessionId"
        return None
