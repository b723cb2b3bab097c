"""Daily join errors sorted into what starting again may fix (transient) and what it cannot (permanent).

A join that fails because the token is bad or expired, the room does not exist or has expired,
the room is full or the bot was refused entry will fail the same way on every attempt: retrying
it only delays the failure (3 attempts, up to the 45 s budget) and, reported ``retryable``, makes
a supervisor start the bot again and again. Network trouble and Daily's "try again" answers are
worth retrying.

daily-python (0.36) reports a failed join as a plain string: the second value of the ``join()``
completion, which Pipecat 1.14 logs as ``Error joining <url>: <error>`` and passes to
``on_error``. The strings are daily-core's, not a documented API, so the rules below match both
Daily's error *types* (the ``type`` of daily-js's ``DailyFatalError``: ``exp-token``,
``no-room``, ``meeting-full``, ``not-allowed``, ``ejected``, …, which daily-core carries too:
``nbf-room`` is in the 0.36 binary) and the English messages found in daily-python 0.36's
``daily.abi3.so`` (``You are not authorized to join this meeting.``, ``This room is no longer
available``, ``This room is not available yet, please try later``, ``This room has no worker
available``, ``Failed to lookup room``, ``Unknown error while trying to fetch room info``) and
HTTP statuses of the room lookup (``401 Unauthorized``, ``403 Forbidden``). Anything unrecognised
is transient: an unknown failure is retried, as before, rather than given up on.

Example::

    classify_join_error("Error joining https://acme.daily.co/x: exp-token")
    # JoinErrorClass(kind='token', permanent=True, ...)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TRANSIENT", "CallDrop", "JoinErrorClass", "classify_drop", "classify_join_error"]


@dataclass(frozen=True)
class JoinErrorClass:
    """What a join error means.

    Attributes:
        kind: ``token`` (bad, expired or not yet valid meeting token), ``not_allowed`` (the token
            or room refuses this bot), ``no_room`` (the room or its host does not exist),
            ``room_expired``, ``room_not_yet`` (the room's ``nbf`` is in the future), ``full``,
            ``refused`` (knocking refused, ejected), ``client`` (daily-python too old, bad join
            properties), ``network`` or ``unavailable`` (Daily's "try again"), ``unknown``.
        permanent: starting again with the same URL and token cannot succeed.
        hint: what the operator should do, appended to the error line.
    """

    kind: str
    permanent: bool
    hint: str = ""


TRANSIENT = JoinErrorClass("unknown", False)

# Order matters: the first rule that matches decides (token before the generic "not allowed").
_RULES: tuple[tuple[str, JoinErrorClass], ...] = (
    (
        r"\b(exp|nbf)-token\b|token (has )?expired|expired (meeting )?token|invalid (meeting )?token|"
        r"meeting token.*(invalid|expired|not valid)|token is not valid|jwt",
        JoinErrorClass("token", True, "the meeting token is invalid or expired: issue a new one"),
    ),
    (
        r"\bnot-allowed\b|not authorized to join|\b401\b|unauthorized|\b403\b|forbidden|access denied",
        JoinErrorClass("not_allowed", True, "the token or the room does not let the bot in"),
    ),
    (
        r"\bno-room\b|room (was )?not found|does not exist|no such room|\b404\b|not-found",
        JoinErrorClass("no_room", True, "check the room URL"),
    ),
    (
        r"\bexp-room\b|no longer available|room (has )?expired|meeting has ended",
        JoinErrorClass("room_expired", True, "the room has expired or its meeting ended"),
    ),
    (
        r"\bnbf-room\b|not available yet",
        JoinErrorClass("room_not_yet", True, "the room opens later (its nbf): start the bot then"),
    ),
    (
        r"\bmeeting-full\b|meeting is full|room is full|\bis full\b|max(imum)?[ _-]?participants",
        JoinErrorClass("full", True, "the room is full"),
    ),
    (
        r"knock|access request (was )?(denied|rejected)|\bejected\b|\beject\b",
        JoinErrorClass("refused", True, "the bot was refused entry"),
    ),
    (
        r"\bend-of-life\b|invalid join properties",
        JoinErrorClass("client", True, "upgrade daily-python"),
    ),
    (
        r"no worker available|try later|failed to lookup room|fetch room info|lookup address|"
        r"roomlookup|connect|timed? ?out|network|dns|resolve|websocket|signalling|signaling",
        JoinErrorClass("network", False),
    ),
)
_COMPILED = tuple((re.compile(pattern, re.IGNORECASE), cls) for pattern, cls in _RULES)


def classify_join_error(message: str) -> JoinErrorClass:
    """Classify one join error message (any case; the room URL may be part of it).

    The room URL is removed first so a room named ``full`` or ``token`` cannot decide the class.
    """
    text = re.sub(r"https?://\S+", " ", str(message or ""))
    for pattern, cls in _COMPILED:
        if pattern.search(text):
            return cls
    return TRANSIENT


@dataclass(frozen=True)
class CallDrop:
    """Why the call ended underneath the bot (it did not leave by itself).

    Attributes:
        kind: as :class:`JoinErrorClass` (``refused`` for an ejection, ``room_expired``,
            ``token`` for a token that expired and ejected the bot, ``network`` when daily-core
            gave up reconnecting), or ``ended`` when Daily said nothing but ended the call (the
            meeting was ended for everyone).
        retryable: a new session may join again (network trouble): a supervisor restarts the bot
            with its backoff. Not for ejections, expired rooms or tokens, or an ended meeting.
        error: Daily's last error before the drop, if any (free of secrets).
    """

    kind: str
    retryable: bool
    error: str | None

    def describe(self) -> str:
        what = {
            "refused": "the bot was ejected from the room",
            "room_expired": "the room expired or its meeting was ended",
            "token": "the meeting token expired",
            "network": "the connection to Daily was lost and not recovered",
            "ended": "Daily ended the call",
        }.get(self.kind, "the call ended")
        return f"{what}: {self.error}" if self.error else what


_PIPECAT_DISCONNECTED = "Disconnected from "
"""Pipecat 1.14's own ``on_error`` line when the call state becomes ``left`` (says nothing of why)."""


def classify_drop(errors: list[str]) -> CallDrop:
    """Why the call dropped, from Daily's errors since the join (oldest first).

    The last error that is not Pipecat's own "Disconnected from …" decides; with none, the call
    was ended by Daily without a reason the SDK reports (``ended``, not retryable: a meeting
    ended for everyone does not come back by rejoining)."""
    reasons = [e for e in errors if not e.startswith(_PIPECAT_DISCONNECTED)]
    if not reasons:
        return CallDrop("ended", False, None)
    error = reasons[-1]
    found = classify_join_error(error)
    if found.kind in ("unknown", "network", "unavailable"):
        return CallDrop("network", True, error)
    return CallDrop(found.kind, not found.permanent, error)
