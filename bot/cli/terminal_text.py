"""Text from participants made safe to write to an operator's terminal.

Display names, chat and vote text, anything a browser or a scenario sends, can carry terminal
control sequences: OSC 52 writes the operator's clipboard, OSC 0 retitles the window, ``ESC[2J``
clears the screen, and bidi overrides (U+202E) make text read differently from what it is. Every
such character is shown as a visible escape (``\\x1b``, ``\\u202e``) instead of being written raw,
so the operator still sees that something odd was sent.
"""

from __future__ import annotations

import re

__all__ = ["BIDI_CONTROLS", "printable"]

BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Bidirectional formatting characters (Unicode TR9): they reorder what a terminal shows."""

_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, limit: int | None = None) -> str:
    """``text`` as one safe line: controls, bidi controls and lone surrogates shown escaped.

    Line breaks (U+2028/2029 included) and tabs are escaped too: a row of the live view is one
    line. Other format characters (e.g. zero-width joiners in emoji) stay. ``limit``
    cuts the result to that many characters with an ellipsis.
    """
    out = _SUSPECT.sub(_escape, str(text))
    if limit is not None and len(out) > limit:
        out = out[: max(0, limit - 1)] + "…"
    return out
