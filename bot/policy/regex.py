"""The content guard's regular expression engine: RE2, linear time in the text, whatever the pattern.

Patterns come from policy layers, that is from tenants: Python's backtracking ``re`` would let
one pattern such as ``(a+)+$`` freeze the event loop on a 41-character chat (issue 11). RE2
(``google-re2``) guarantees time linear in the text and bounded memory per pattern, and refuses
what it cannot do in linear time (look-around, backreferences): such a pattern is rejected when
the policy is validated (``python -m bot.policy check``, the supervisor's 422), never at match
time. Everything here works on UTF-8 bytes so a text is encoded once per check, not once per
pattern.
"""

from __future__ import annotations

from typing import Any

import re2

__all__ = [
    "MAX_PATTERN_MEMORY",
    "NON_WORD",
    "CharIndex",
    "PatternError",
    "compile_pattern",
    "compile_phrases",
    "encode_for_matching",
]

MAX_PATTERN_MEMORY = 1 << 20
"""Memory budget of one compiled pattern (RE2 ``max_mem``, bytes): a pattern whose program does
not fit is rejected at validation (``pattern too large``), and matching never grows past it."""

NON_WORD = r"[^\pL\pN_]"
"""A character that is not part of a word (Unicode letters, digits, underscore): phrase edges."""

_SPACE = r"[\s\pZ]+"


class PatternError(ValueError):
    """RE2 cannot compile a pattern; the message says why without quoting the pattern."""


def _options(*, case_sensitive: bool) -> Any:
    options = re2.Options()
    options.log_errors = False  # RE2 would print every rejected pattern to stderr
    options.max_mem = MAX_PATTERN_MEMORY
    options.case_sensitive = case_sensitive
    return options


def _reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    # RE2 says "<what>: <the offending part of the pattern>"; keep only the what
    return str(text).split(":", 1)[0].strip() or "invalid"


def compile_pattern(pattern: str) -> Any:
    """A policy pattern (already accent-stripped) compiled for the normalized text, case-insensitive.

    Raises :class:`PatternError` for what RE2 cannot compile: syntax errors, look-around,
    backreferences, a program over :data:`MAX_PATTERN_MEMORY`.
    """
    try:
        return re2.compile(_encode(pattern), _options(case_sensitive=False))
    except re2.error as exc:
        reason = _reason(exc)
        hint = (
            r"; RE2 has no look-around, backreferences or \Z (use \z)"
            if reason in ("invalid perl operator", "invalid escape sequence")
            else ""
        )
        raise PatternError(f"is not a valid RE2 regular expression ({reason}{hint})") from None


PHRASE_CHUNK_CHARS = 1_000
"""Escaped phrase text per compiled alternation; a rule with more phrases gets several, each
well inside :data:`MAX_PATTERN_MEMORY` (measured: bigger alternations exhaust RE2's DFA cache and
fall back to its slower NFA)."""


def compile_phrases(words: list[list[str]]) -> list[Any]:
    """RE2s for a rule's phrases (each a list of normalized words): whole words, any whitespace
    between words. The phrase itself is group 1; the edges are consumed around it, so callers
    search again from the end of group 1. Longest phrases come first in each alternation so that
    of ``memory`` and ``memory leak`` the longer is matched."""
    alternatives = sorted(
        {_SPACE.join(re2.escape(w) for w in phrase) for phrase in words if phrase}, key=lambda a: (-len(a), a)
    )
    chunks: list[list[str]] = []
    size = PHRASE_CHUNK_CHARS
    for alternative in alternatives:
        if size + len(alternative) > PHRASE_CHUNK_CHARS:
            chunks.append([])
            size = 0
        chunks[-1].append(alternative)
        size += len(alternative) + 1
    compiled = []
    for chunk in chunks:
        pattern = f"(?:^|{NON_WORD})({'|'.join(chunk)})(?:{NON_WORD}|$)"
        try:
            compiled.append(re2.compile(_encode(pattern), _options(case_sensitive=True)))
        except re2.error as exc:
            raise PatternError(f"phrases do not compile ({_reason(exc)})") from None
    return compiled


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


class CharIndex:
    """The index of the character a UTF-8 byte offset falls in (offsets up to the end included).

    Built on first use: most guarded texts match no rule, and a table of one entry per byte is
    a Python loop over the whole text. ASCII text needs no table (byte offset = character index).
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._table: list[int] | None = None if not text.isascii() else []

    def __getitem__(self, offset: int) -> int:
        if self._table == []:  # ASCII
            return offset
        if self._table is None:
            self._table = _utf8_table(self._text)[1]
        return self._table[offset]


def _utf8_table(text: str) -> tuple[bytes, list[int]]:
    """UTF-8 bytes of ``text`` (a lone surrogate becomes U+FFFD) and each byte's character index."""
    data = bytearray()
    offsets: list[int] = []
    for i, ch in enumerate(text):
        try:
            chunk = ch.encode("utf-8")
        except UnicodeEncodeError:
            chunk = "\ufffd".encode()
        data += chunk
        offsets.extend([i] * len(chunk))
    offsets.append(len(text))
    return bytes(data), offsets


def encode_for_matching(text: str) -> tuple[bytes, CharIndex]:
    """``text`` as UTF-8 and the map from a byte offset (plus the end) to its character's index.

    Lone surrogates (not encodable) become U+FFFD, one character each, so offsets still line up.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates: the slow path builds the bytes char by char
        data = _utf8_table(text)[0]
    return data, CharIndex(text)
