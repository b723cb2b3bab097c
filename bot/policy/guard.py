"""The content guard: phrase and pattern rules on transcripts, chat and the bot's own output.

Matching runs on a normalized copy of the text (NFKD, combining marks dropped, casefolded), so
``Prôject NIGHTINGALE`` matches the phrase ``project nightingale``. Redaction maps each match back
to the original characters and replaces them, so the rest of the text keeps its case and accents.
No asyncio, no Pipecat.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from bot.policy.model import ACTIONS, ContentRule, ContentRules, strip_accents

__all__ = ["ContentGuard", "GuardResult", "Match", "normalize"]


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


def _phrase_regex(phrase: str) -> str:
    words = normalize(strip_accents(phrase))[0].split()
    return r"(?<!\w)" + r"\s+".join(re.escape(w) for w in words) + r"(?!\w)"


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

    @property
    def interrupt(self) -> bool:
        return self.action == "interrupt"


@dataclass
class _Compiled:
    rule: ContentRule
    regexes: list[re.Pattern[str]] = field(default_factory=list)


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
            compiled = _Compiled(rule)
            compiled.regexes.extend(re.compile(_phrase_regex(p)) for p in rule.phrases)
            compiled.regexes.extend(re.compile(strip_accents(p), re.IGNORECASE) for p in rule.patterns)
            self._rules.append(compiled)

    def __bool__(self) -> bool:
        return bool(self._rules)

    def check(self, text: str, channel: str) -> GuardResult:
        """Apply every rule for ``channel`` (``transcript``, ``chat`` or ``bot``) to ``text``."""
        if not self._rules or not text:
            return GuardResult(text=text)
        norm, index = normalize(text)
        matches: list[Match] = []
        spans: list[tuple[int, int]] = []
        strongest = -1
        for compiled in self._rules:
            rule = compiled.rule
            if channel not in rule.applies_to:
                continue
            found = [(m.start(), m.end()) for rx in compiled.regexes for m in rx.finditer(norm) if m.end() > m.start()]
            if not found:
                continue
            matches.append(Match(rule))
            strongest = max(strongest, ACTIONS.index(rule.action))
            if rule.action != "warn":
                spans.extend(found)
        if not matches:
            return GuardResult(text=text)
        action = ACTIONS[strongest]
        if action in ("block", "interrupt"):
            return GuardResult(text=None, matches=tuple(matches), action=action)
        return GuardResult(text=self._redact(text, index, spans), matches=tuple(matches), action=action)

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
