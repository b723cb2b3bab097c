"""Room URLs: what may appear in events and logs, and the room id (stdlib only: start-up path)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

ROOM_ID_MAX = 128
"""``roomId`` in the join events is at most 128 characters."""

URL_MAX = 512
"""``roomUrl`` in the spec is at most 512 characters; no room or service URL is longer."""


def http_url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable http(s) URL with a host, or None when it is.

    The one rule for every URL setting (the room, Mesh, the LLM server), shared by ``Settings``
    and ``bot.session.boot``. The reason never repeats the value: it may hold a token.
    """
    if len(value) > URL_MAX:
        return f"must be at most {URL_MAX} characters"
    if any(c.isspace() or not c.isprintable() for c in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    return None if ok else "must be an http(s) URL with a host"


def _host_port(parts: Any) -> str:
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def sanitize_room_url(url: str) -> str:
    """``url`` without userinfo, query string or fragment: safe for events and logs.

    ``https://user:pw@acme.daily.co/standup?t=SECRET#x`` → ``https://acme.daily.co/standup``.
    """
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), _host_port(parts), parts.path, "", ""))


def split_room_url(url: str) -> tuple[str, str | None]:
    """``(clean URL, meeting token from a ?t= query parameter or None)``."""
    parts = urlsplit(url.strip())
    tokens = parse_qs(parts.query).get("t")
    token = tokens[0] if tokens else None
    return sanitize_room_url(url), token or None


def room_id_from_url(url: str) -> str:
    """The room name: the last path segment of the URL (the host when there is no path)."""
    parts = urlsplit(url.strip())
    segments = [s for s in parts.path.split("/") if s]
    name = segments[-1] if segments else (parts.hostname or "room")
    return name[:ROOM_ID_MAX]
