"""Text that participants, browsers and the LLM send: made well-formed at the edge, and made
harmless before it reaches a terminal or a log.

Two different jobs:

- :func:`clean` makes a string safe to *carry*: lone UTF-16 surrogates (which Python strings can
  hold, JSON ``"\\ud800"`` decodes to, and which no UTF-8 encoder, pydantic model or HTTP client
  accepts) become U+FFFD; C0/C1 control characters other than tab and newline are removed. It is
  deterministic, so the same raw participant id always gives the same clean id: events about one
  participant stay consistent. Applied where text enters (frames, the LLM's answers).
- :func:`printable` makes a string safe to *print*: it escapes every control character,
  bidirectional override and isolate, and surrogate as ``\\x1b`` / ``\\u202e``, so a display name
  cannot write an OSC 52 clipboard sequence, retitle the terminal, clear the screen or reorder
  the log line. Applied to every log record (``bot.config.secrets``) and error line.
  :func:`printable_line` is the same for one row of a terminal view (the live view): line breaks
  and tabs are escaped too, and the result can be cut to a width.
"""

from __future__ import annotations

import re

__all__ = ["BIDI_CONTROLS", "clean", "clean_optional", "printable", "printable_line"]

BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
"""Bidirectional marks, embeddings, overrides and isolates (Unicode TR9): what "Trojan Source"
uses to make a line read differently from what it contains."""

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_UNPRINTABLE = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{BIDI_CONTROLS}\u2028\u2029]")
_UNPRINTABLE_IN_A_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{BIDI_CONTROLS}\u2028\u2029]")


def clean(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD and control characters (but tab and newline) removed.

    A surrogate *pair* (a string built from UTF-16 halves) becomes the character it encodes.
    """
    if _SURROGATES.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return _CONTROLS.sub("", text)


def clean_optional(text: str | None) -> str | None:
    """:func:`clean` for optional fields (None stays None)."""
    return None if text is None else clean(text)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with every control, bidi and surrogate character escaped (``\\x1b``, ``\\u202e``);
    newlines stay (a log record may span lines; each line is then escaped on its own)."""
    return "\n".join(_UNPRINTABLE.sub(_escape, line) for line in text.split("\n"))


def printable_line(text: object, limit: int | None = None) -> str:
    """``text`` as one safe line: like :func:`printable`, and line breaks and tabs escaped too (a
    row of a terminal view is one line). Other format characters (zero-width joiners in emoji)
    stay. ``limit`` cuts the result to that many characters with an ellipsis."""
    out = _UNPRINTABLE_IN_A_LINE.sub(_escape, str(text))
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)] + "…"
    return out
