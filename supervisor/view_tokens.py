"""Short-lived view tokens: what a browser page holds instead of the supervisor's bearer token.

A token names one room (or ``*``: every room, for the room list), an optional participant id
(the sender of the page's votes; without one the page watches only) and an expiry. It is
HMAC-SHA256-signed with a key made when the supervisor starts, so tokens die with the process and
cannot be forged or widened by the page. Format: ``v1.<base64url(JSON claims)>.<base64url(MAC)>``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson

PREFIX = "v1"
MAX_TOKEN_CHARS = 1024
PARTICIPANT_PATTERN = re.compile(r"^[\w.:@-]{1,128}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class ViewGrant:
    """What a valid token allows: watching ``room`` (``*`` = any) and, with a participant, voting."""

    room: str
    participant_id: str | None
    expires_at: float

    def allows(self, room_id: str) -> bool:
        return self.room in ("*", room_id)


class ViewTokens:
    """Issues and checks view tokens with a per-process random key."""

    def __init__(self, *, key: bytes | None = None, clock: Callable[[], float] = time.time) -> None:
        self._key = key or secrets.token_bytes(32)
        self._clock = clock

    def issue(self, room: str, *, participant_id: str | None = None, ttl_secs: float = 3600.0) -> tuple[str, float]:
        """A token and its expiry (Unix seconds)."""
        expires = self._clock() + ttl_secs
        claims = {"r": room, "x": round(expires, 3)}
        if participant_id is not None:
            claims["p"] = participant_id
        body = _b64(orjson.dumps(claims))
        mac = _b64(hmac.new(self._key, f"{PREFIX}.{body}".encode(), hashlib.sha256).digest())
        return f"{PREFIX}.{body}.{mac}", expires

    def check(self, token: str) -> ViewGrant | None:
        """The grant of a valid, unexpired token; ``None`` otherwise (never raises)."""
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            return None
        want = hmac.new(self._key, f"{PREFIX}.{parts[1]}".encode(), hashlib.sha256).digest()
        try:
            if not hmac.compare_digest(_unb64(parts[2]), want):
                return None
            claims = orjson.loads(_unb64(parts[1]))
        except (ValueError, orjson.JSONDecodeError):
            return None
        if not isinstance(claims, dict):
            return None
        room, expires, participant = claims.get("r"), claims.get("x"), claims.get("p")
        if not isinstance(room, str) or not isinstance(expires, (int, float)) or expires <= self._clock():
            return None
        if participant is not None and not isinstance(participant, str):
            return None
        return ViewGrant(room=room, participant_id=participant, expires_at=float(expires))
