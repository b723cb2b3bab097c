"""Links in the bot's own output: only to hosts the policy allows (``content.allowedLinkHosts``).

Participants' text reaches the LLM; a participant can ask it, openly or hidden in a display name,
to send someone a link (issue 11: a scripted model sent a phishing link in a private message).
The bot must not send links it was not configured to send, so every link in a facilitator message
(and in the texts of a vote the LLM starts) is checked: a link to a host not on the list is
replaced by the policy's ``replacement`` and reported (``content.links``, action ``redact``).

A link is a URL with a scheme (``https://…``, ``mailto:…``), a ``www.`` address, or a bare
``host.tld`` (the way chat clients auto-link them). No asyncio, no Pipecat; RE2 for the same
reason as the content guard (linear time on LLM output of any length).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import re2

__all__ = ["LINKS_RULE", "LinkCheck", "LinkFilter", "host_allowed"]

LINKS_RULE = "content.links"
"""The rule id of a refused link in violations."""

_HOST = r"(?:[\pL\pN](?:[\pL\pN-]{0,61}[\pL\pN])?\.)+[\pL]{2,63}"
_LINK = (
    r"(?:\b[a-z][a-z0-9+.-]{1,15}://[^\s<>\"']+"  # scheme://...
    r"|\bmailto:[^\s<>\"']+"
    r"|\bwww\.[^\s<>\"']+"
    rf"|(?:^|[^\pL\pN@.:/-])({_HOST})(?:[:/][^\s<>\"']*)?)"  # a bare host (group 1)
)
_HOST_OF = r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/\s]*@)?([^/:?#\s]+)"


@functools.cache
def compiled() -> tuple[re2._Regexp, re2._Regexp]:
    """The link and host programs, compiled once per process, when the first filter that checks
    links is built (the pipeline's set-up: ``BotOutputGate``), not in the middle of a room.

    Not at import: the Unicode classes repeated up to 63 times make ``_LINK`` one of the costliest
    RE2 programs to build (about 60 ms), and ``bot.policy`` is imported on the way to a session's
    join (``bot.session.policy``), where nothing checks a link yet. A process that forks rooms
    from a pre-imported template can call this before the fork, so every room shares the programs."""
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = False
    return re2.compile(_LINK, options), re2.compile(_HOST_OF, options)


def _host(link: str) -> str:
    if link.lower().startswith("mailto:"):
        return link.split("@", 1)[-1].split("?", 1)[0].lower()
    match = compiled()[1].search(link)
    return (match.group(1) if match else "").rstrip(".").lower()


def host_allowed(host: str, allowed: Sequence[str] | None) -> bool:
    """``host`` is on ``allowed`` (``None`` = any host); ``*.example.com`` allows its subdomains."""
    if allowed is None:
        return True
    host = host.lower().rstrip(".")
    for entry in allowed:
        entry = entry.lower()
        if entry.startswith("*."):
            if host.endswith(entry[1:]):
                return True
        elif host == entry:
            return True
    return False


@dataclass(frozen=True)
class LinkCheck:
    """``text`` with refused links replaced, and how many were refused."""

    text: str
    refused: int = 0


class LinkFilter:
    """Replaces links to hosts outside ``allowed`` (``None`` = any host, ``[]`` = no links).

    Example::

        LinkFilter(["docs.acme.com"], "[link removed]").check("see https://evil.example/x")
        # LinkCheck(text="see [link removed]", refused=1)
    """

    def __init__(self, allowed: Sequence[str] | None, replacement: str) -> None:
        self.allowed = None if allowed is None else tuple(allowed)
        self.replacement = replacement
        if self.allowed is not None:
            compiled()  # now, at set-up, rather than at the first message

    def check(self, text: str) -> LinkCheck:
        if self.allowed is None or not text:
            return LinkCheck(text)
        data = text.encode("utf-8", "replace")
        out: list[bytes] = []
        pos = refused = 0
        for match in compiled()[0].finditer(data):
            start, end = match.span()
            if match.group(1) is not None:  # a bare host: the match starts with the character before it
                start = match.start(1)
            link = data[start:end].decode("utf-8", "replace").rstrip(".,;:!?)]}")
            end = start + len(link.encode("utf-8"))
            if host_allowed(_host(link), self.allowed):
                continue
            out.append(data[pos:start])
            out.append(self.replacement.encode("utf-8"))
            pos = end
            refused += 1
        if not refused:
            return LinkCheck(text)
        out.append(data[pos:])
        return LinkCheck(b"".join(out).decode("utf-8", "replace"), refused)
