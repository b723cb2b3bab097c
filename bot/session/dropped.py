"""A call that ended underneath the bot is a failure the supervisor can act on, not a normal end.

Ejected, the meeting ended, the token expired, or daily-core gave up reconnecting: before, each
became ``assistant.session.ended`` with reason ``error`` and exit 0, so nothing downstream could
tell it from a meeting that simply finished. Now the session publishes
``assistant.session.failed`` (stage ``pipeline``, the error saying what happened) and exits
:data:`EXIT_CALL_DROPPED`. A network loss is first rejoined in-process (``bot.session.rejoin``);
only when that fails too does it end here, ``retryable: true``, so a supervisor restarts the bot
with its backoff. An ejection, an expired room or token, or a meeting ended for everyone is
``retryable: false``.
"""

from __future__ import annotations

from typing import Any

from bot.core.errors import PrismError

__all__ = ["EXIT_CALL_DROPPED", "CallDropped", "call_dropped"]

EXIT_CALL_DROPPED = 6
"""Exit code of a session whose call ended underneath the bot (docs/deploy.md)."""


class CallDropped(PrismError):
    """The call ended underneath the bot; ``retryable`` says whether joining again may work."""

    exit_code = EXIT_CALL_DROPPED

    def __init__(self, message: str, *, retryable: bool, kind: str) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.kind = kind


def call_dropped(room: Any) -> CallDropped | None:
    """The failure to report when ``room``'s call dropped (``DailyRoom.drop``), else None."""
    drop = getattr(room, "drop", None)
    if drop is None:
        return None
    return CallDropped(
        f"the call ended underneath the bot: {drop.describe()}", retryable=drop.retryable, kind=drop.kind
    )
