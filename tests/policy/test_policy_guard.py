"""The content guard (normalization, matching, redaction, actions) and the rate limiting primitives."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.policy.buckets import SlidingWindow, TokenBucket
from bot.policy.guard import ContentGuard, normalize
from bot.policy.model import ContentRules, TokenBucketSpec


def guard(*rules: dict[str, Any], replacement: str = "[redacted]") -> ContentGuard:
    return ContentGuard(ContentRules.model_validate({"rules": list(rules), "replacement": replacement}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Café", "cafe"),
        ("STRASSE Straße", "strasse strasse"),
        ("ﬁle", "file"),
        ("e\u0301clair", "eclair"),
        ("Ǆ", "dz"),
        ("１２３", "123"),
    ],
    ids=["accent", "sharp-s", "ligature", "combining-mark", "digraph", "fullwidth"],
)
def test_normalization_is_nfkd_without_marks_casefolded(text: str, expected: str) -> None:
    assert normalize(text)[0] == expected


@given(st.text(max_size=40))
def test_every_normalized_character_points_back_into_the_original(text: str) -> None:
    norm, index = normalize(text)
    assert len(norm) == len(index)
    assert index == sorted(index)
    assert all(0 <= i < len(text) for i in index)


MATCH_CASES = [
    ("case-and-accents", {"phrases": ["project nightingale"]}, "The Prôject NIGHTINGALE starts", True),
    ("rule-written-with-accents", {"phrases": ["Prôjéct"]}, "project", True),
    ("whole-words-only", {"phrases": ["ass"]}, "a class assignment", False),
    ("any-whitespace-between-words", {"phrases": ["payment provider"]}, "payment\n  provider", True),
    ("punctuation-around", {"phrases": ["acme"]}, "(ACME), again", True),
    ("regex-on-normalized-text", {"patterns": [r"\b\d{3}-\d{4}\b"]}, "call 555-0142 now", True),
    ("regex-ignores-case", {"patterns": ["acme corp"]}, "ACME Corp", True),
    ("no-match", {"phrases": ["acme"]}, "globex", False),
]


@pytest.mark.parametrize(("rule", "text", "hit"), [c[1:] for c in MATCH_CASES], ids=[c[0] for c in MATCH_CASES])
def test_phrases_and_patterns_match_case_and_accent_insensitively(rule: dict[str, Any], text: str, hit: bool) -> None:
    result = guard({"id": "r", "action": "warn", **rule}).check(text, "chat")
    assert bool(result.matches) is hit


def test_redaction_replaces_only_the_match_and_keeps_the_rest_as_written() -> None:
    g = guard({"id": "v", "phrases": ["payment provider"], "action": "redact"})
    assert (
        g.check("The PAYMENT Prövider, again: payment provider!", "transcript").text
        == "The [redacted], again: [redacted]!"
    )


def test_redaction_covers_separate_accent_marks_and_expanded_characters() -> None:
    g = guard({"id": "v", "phrases": ["cafe", "strasse"], "action": "redact"}, replacement="█")
    assert g.check("cafe\u0301 in der Straße.", "chat").text == "█ in der █."


def test_overlapping_matches_are_redacted_once() -> None:
    g = guard(
        {"id": "a", "phrases": ["big red"], "action": "redact"}, {"id": "b", "phrases": ["red dog"], "action": "redact"}
    )
    result = g.check("a big red dog barks", "chat")
    assert result.text == "a [redacted] barks"
    assert [m.rule_id for m in result.matches] == ["content.a", "content.b"]


ACTION_CASES = [
    ("warn-passes-unchanged", ["warn"], "secret plan", "warn"),
    ("redact-replaces", ["redact"], "[redacted] plan", "redact"),
    ("block-drops", ["block"], None, "block"),
    ("interrupt-drops-and-interrupts", ["interrupt"], None, "interrupt"),
    ("strictest-action-wins", ["warn", "redact", "block"], None, "block"),
    ("redact-with-a-warn", ["warn", "redact"], "[redacted] plan", "redact"),
]


@pytest.mark.parametrize(("actions", "text", "action"), [c[1:] for c in ACTION_CASES], ids=[c[0] for c in ACTION_CASES])
def test_each_action_decides_what_passes(actions: list[str], text: str | None, action: str) -> None:
    g = guard(*[{"id": f"r{i}", "phrases": ["secret"], "action": a} for i, a in enumerate(actions)])
    result = g.check("secret plan", "transcript")
    assert result.text == text
    assert result.action == action
    assert len(result.matches) == len(actions)


def test_rules_apply_only_to_their_channels() -> None:
    g = guard({"id": "r", "phrases": ["secret"], "action": "block", "appliesTo": ["chat"]})
    assert g.check("secret", "chat").text is None
    assert g.check("secret", "transcript").text == "secret"
    assert g.check("secret", "bot").text == "secret"


def test_no_rules_no_cost() -> None:
    g = guard()
    assert not g
    assert g.check("anything", "chat").text == "anything"


# --------------------------------------------------------------------------------------------
# Rate limiting on media time
# --------------------------------------------------------------------------------------------

BUCKET_CASES = [
    ("burst-then-empty", (3, 1, 1000), [0, 0, 0, 0], [True, True, True, False]),
    ("one-refill-per-interval", (1, 1, 1000), [0, 999, 1000, 1500, 2000], [True, False, True, False, True]),
    ("refills-cap-at-capacity", (2, 1, 1000), [0, 0, 10_000, 10_000, 10_000], [True, True, True, True, False]),
    ("several-tokens-per-refill", (5, 5, 1000), [0] * 6 + [1000] * 6, [True] * 5 + [False] + [True] * 5 + [False]),
    ("time-going-back-refills-nothing", (1, 1, 1000), [5000, 4000, 5999, 6000], [True, False, False, True]),
]


@pytest.mark.parametrize(("spec", "times", "expected"), [c[1:] for c in BUCKET_CASES], ids=[c[0] for c in BUCKET_CASES])
def test_token_bucket_starts_full_and_refills_in_whole_intervals(
    spec: tuple[int, int, int], times: list[int], expected: list[bool]
) -> None:
    capacity, tokens, every = spec
    bucket = TokenBucket(TokenBucketSpec(capacity=capacity, refill_tokens=tokens, refill_every_ms=every))
    assert [bucket.take(t) for t in times] == expected


def test_sliding_window_counts_the_last_minute_only() -> None:
    window = SlidingWindow(2, 60_000)
    assert [window.allow(t) for t in (0, 10_000, 59_999, 60_000, 70_000, 70_001)] == [
        True,
        True,
        False,
        True,
        True,
        False,
    ]
