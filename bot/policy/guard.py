"""The content guard: phrase and pattern rules on transcripts, chat and the bot's own output.

Matching runs on a normalized copy of the text (NFKD, combining marks dropped, casefolded), so
``Prôject NIGHTINGALE`` matches the phrase ``project nightingale``. Redaction maps each match back
to the original characters and replaces them, so the rest of the text keeps its case and accents.
No asyncio, no Pipecat.

Bounded work per text: phrases and patterns run on RE2 (:mod:`bot.policy.regex`, time linear in
the text whatever a tenant writes), the policy model caps how many there are, and only the first
:data:`MAX_SCAN_CHARS` characters of a text are checked; the rest is cut off, never passed on
unchecked.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from bot.policy.model import ACTIONS, ContentRule, ContentRules, strip_accents
from bot.policy.regex import compile_pattern, compile_phrases, encode_for_matching

__all__ = ["MAX_SCAN_CHARS", "ContentGuard", "GuardResult", "Match", "normalize"]

MAX_SCAN_CHARS = 8_000
"""Longest text the guard checks; a longer one is cut to this many characters (``truncated``).
Daily caps an app message at 4 KB, so only simulated chat and very long transcripts reach it."""


def normalize(text: str) -> tuple[str, list[int]]:
    """The matching form of ``text`` and, for each of its characters, the index it came from.

    NFKD per character, combining marks dropped, then casefold (``ß`` → ``ss``, ``ﬁ`` → ``fi``:
    one original character can give several).
    """
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for part in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(part):
                continue
            for folded in part.casefold():
                out.append(folded)
                index.append(i)
    return "".join(out), index


def _phrase_words(phrase: str) -> list[str]:
    return normalize(strip_accents(phrase))[0].split()


@dataclass(frozen=True)
class Match:
    """A rule that matched, and the action it asks for."""

    rule: ContentRule

    @property
    def rule_id(self) -> str:
        return f"content.{self.rule.id}"


@dataclass(frozen=True)
class GuardResult:
    """What to do with one text.

    ``text`` is the text to pass on (redacted where a redact rule matched), or None when a block
    or interrupt rule matched (drop it). ``matches`` lists each matching rule once, in policy
    order. ``interrupt`` is True when an interrupt rule matched.
    """

    text: str | None
    matches: tuple[Match, ...] = ()
    action: str | None = None
    truncated: bool = False
    """The text was longer than :data:`MAX_SCAN_CHARS` and was cut to it."""

    @property
    def interrupt(self) -> bool:
        return self.action == "interrupt"


@dataclass
class _Compiled:
    rule: ContentRule
    phrases: list[Any] = field(default_factory=list)
    """RE2s for the phrases; group 1 is the phrase (its word edges are consumed around it)."""
    patterns: list[Any] = field(default_factory=list)

    def spans(self, data: bytes) -> list[tuple[int, int]]:
        """Byte spans of every match in ``data`` (the UTF-8 normalized text)."""
        found: list[tuple[int, int]] = []
        for rx in self.phrases:
            pos = 0
            while (m := rx.search(data, pos)) is not None:
                found.append(m.span(1))
                pos = m.end(1)  # the edge after a phrase may be the edge before the next
        for rx in self.patterns:
            found.extend(m.span() for m in rx.finditer(data) if m.end() > m.start())
        return found


class ContentGuard:
    """Checks texts against the policy's content rules, per channel.

    Example::

        guard = ContentGuard(policy.content)
        result = guard.check("call 555-0142", "chat")   # GuardResult(text="call [redacted]", ...)
    """

    def __init__(self, rules: ContentRules) -> None:
        self.replacement = rules.replacement
        self._rules: list[_Compiled] = []
        for rule in rules.rules:
            compiled = _Compiled(rule, phrases=compile_phrases([_phrase_words(p) for p in rule.phrases]))
            compiled.patterns.extend(compile_pattern(strip_accents(p)) for p in rule.patterns)
            self._rules.append(compiled)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def check(self, text: str, channel: str) -> GuardResult:
        """Apply every rule for ``channel`` (``transcript``, ``chat`` or ``bot``) to ``text``."""
        truncated = len(text) > MAX_SCAN_CHARS
        if truncated:
            text = text[:MAX_SCAN_CHARS]
        if not self._rules or not text:
            return GuardResult(text=text, truncated=truncated)
        norm, index = normalize(text)
        data, char_at = encode_for_matching(norm)
        matches: list[Match] = []
        spans: list[tuple[int, int]] = []
        strongest = -1
        for compiled in self._rules:
            rule = compiled.rule
            if channel not in rule.applies_to:
                continue
            found = [(char_at[a], char_at[b]) for a, b in compiled.spans(data)]
            found = [(a, b) for a, b in found if b > a]
            if not found:
                continue
            matches.append(Match(rule))
            strongest = max(strongest, ACTIONS.index(rule.action))
            if rule.action != "warn":
                spans.extend(found)
        if not matches:
            return GuardResult(text=text, truncated=truncated)
        action = ACTIONS[strongest]
        if action in ("block", "interrupt"):
            return GuardResult(text=None, matches=tuple(matches), action=action, truncated=truncated)
        redacted = self._redact(text, index, spans)
        return GuardResult(text=redacted, matches=tuple(matches), action=action, truncated=truncated)

    def _redact(self, text: str, index: list[int], spans: list[tuple[int, int]]) -> str:
        if not spans:
            return text
        original: list[tuple[int, int]] = []
        for a, b in sorted(spans):
            start, end = index[a], index[b - 1] + 1
            while end < len(text) and unicodedata.combining(text[end]):
                end += 1  # accents written as separate marks go with their letter
            if original and start <= original[-1][1]:
                original[-1] = (original[-1][0], max(original[-1][1], end))
            else:
                original.append((start, end))
        out, pos = [], 0
        for start, end in original:
            out.append(text[pos:start])
            out.append(self.replacement)
            pos = end
        out.append(text[pos:])
        return "".join(out)
