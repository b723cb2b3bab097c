"""Content-guard patterns come from tenants: they run on RE2 (linear time), are refused at compose
time when RE2 cannot run them, and the guard's work per text is bounded (issue 11, item 1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import PolicyError
from bot.policy.__main__ import main
from bot.policy.compose import compose, parse_layer, parse_layers
from bot.policy.guard import MAX_SCAN_CHARS, ContentGuard
from bot.policy.model import MAX_TOTAL_PATTERNS, MAX_TOTAL_PHRASE_CHARS, ContentRules
from supervisor.rooms import RequestError, compose_policy


def layer(name: str, level: str = "tenant", **sections: Any) -> dict[str, Any]:
    return {"kind": "prism.policy.layer", "schemaVersion": 1, "name": name, "level": level, **sections}


def rules(*patterns: str, action: str = "block") -> dict[str, Any]:
    return {"rules": [{"id": "r", "patterns": list(patterns), "action": action}]}


@pytest.mark.timeout(20)
def test_a_catastrophic_pattern_from_a_tenant_layer_answers_at_once() -> None:
    """(a+)+$ on 40 a's and a '!' takes 2^40 steps in a backtracking engine; RE2 is linear."""
    policy = compose([parse_layer(layer("tenant-evil", content=rules("(a+)+$")), "tenant.json")])
    guard = ContentGuard(policy.content)
    assert guard.check("a" * 40 + "!", "chat").text == "a" * 40 + "!"
    assert guard.check("a" * 40, "chat").text is None  # and it still matches what it should


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(?<!x)secret", "invalid perl operator; RE2 has no look-around"),
        (r"(a)\1", "invalid escape sequence; RE2 has no look-around, backreferences"),
        (r"end\Z", "invalid escape sequence"),
        (r"(x", "missing )"),
        ("a{1001}", "invalid repetition size"),
        (r"(\pL{100}){9}", "pattern too large"),
    ],
    ids=["look-behind", "backreference", "python-Z", "syntax", "repetition-too-large", "program-too-large"],
)
def test_what_re2_cannot_run_is_refused_naming_layer_and_pattern(tmp_path: Path, pattern: str, reason: str) -> None:
    good = layer("tenant-ok", content=rules(r"\b\d{3}-\d{4}\b"))
    bad = layer("assistant-bad", "assistant", content=rules("ok", pattern))
    with pytest.raises(PolicyError) as err:
        parse_layers([good, bad], "policyLayers")
    assert err.value.field == "[1].content.rules[0].patterns[1]"
    assert f"is not a valid RE2 regular expression ({reason}" in str(err.value)
    # the supervisor's 422: the field names the layer's index and the pattern, the value is not echoed
    with pytest.raises(RequestError) as api:
        compose_policy([good, bad])
    assert api.value.field == "policyLayers.1.content.rules.0.patterns.1"
    assert reason in api.value.message and pattern not in api.value.message
    # python -m bot.policy check: one line naming the file and the field, exit 2
    path = tmp_path / "layers.json"
    path.write_text(json.dumps([good, bad]))
    assert main(["check", str(path)]) == 2


def test_check_reports_the_pattern_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(layer("t", content=rules("(?=x)y"))))
    assert main(["check", str(path)]) == 2
    assert capsys.readouterr().err.strip() == (
        f'error: {path}: "content.rules[0].patterns[0]" is not a valid RE2 regular expression '
        '(invalid perl operator; RE2 has no look-around, backreferences or \\Z (use \\z)) (got "(?=x)y")'
    )


def test_the_composed_policy_caps_patterns_and_phrases_over_all_layers() -> None:
    half = MAX_TOTAL_PATTERNS // 2 + 1
    first = layer("t1", content={"rules": [{"id": "a", "patterns": [f"a{i}" for i in range(half)], "action": "warn"}]})
    second = layer(
        "t2",
        "assistant",
        content={"rules": [{"id": "b", "patterns": [f"b{i}" for i in range(half)], "action": "warn"}]},
    )
    parse_layer(first)  # each layer alone is fine
    with pytest.raises(PolicyError, match=f"at most {MAX_TOTAL_PATTERNS} patterns in all rules together"):
        compose([parse_layer(first), parse_layer(second)])
    phrases = ["x" * 200] * 1  # distinct phrases of 200 characters, over the total
    many = [f"{i:05d}" + phrases[0][5:] for i in range(MAX_TOTAL_PHRASE_CHARS // 200 + 1)]
    chunks = [many[i : i + 400] for i in range(0, len(many), 400)]
    with pytest.raises(PolicyError, match="characters of phrases in all rules together"):
        parse_layer(
            layer(
                "t", content={"rules": [{"id": f"p{i}", "phrases": c, "action": "warn"} for i, c in enumerate(chunks)]}
            )
        )


def test_a_text_longer_than_the_scan_limit_is_cut_never_passed_on_unchecked() -> None:
    guard = ContentGuard(ContentRules.model_validate(rules("forbidden")))
    tail = "x" * MAX_SCAN_CHARS + " forbidden"
    result = guard.check(tail, "chat")
    assert result.truncated and result.text == "x" * MAX_SCAN_CHARS
    assert guard.check("fine", "chat").truncated is False


def test_lone_surrogates_and_multibyte_text_match_and_redact_by_character() -> None:
    guard = ContentGuard(
        ContentRules.model_validate(
            {
                "rules": [
                    {"id": "phone", "patterns": [r"\d{3}-\d{4}"], "action": "redact"},
                    {"id": "name", "phrases": ["projet rossignol"], "action": "redact"},
                ]
            }
        )
    )
    result = guard.check("\ud800 Prôjet Rossignol, appelez le 555-0142 ☎", "chat")
    assert result.text == "\ud800 [redacted], appelez le [redacted] ☎"


def test_adjacent_phrases_are_each_found() -> None:
    guard = ContentGuard(
        ContentRules.model_validate(
            {"rules": [{"id": "i", "phrases": ["idiot", "memory", "memory leak"], "action": "redact"}]}
        )
    )
    assert guard.check("idiot idiot,idiot; a memory leak", "chat").text == (
        "[redacted] [redacted],[redacted]; a [redacted]"
    )
    assert guard.check("idiots and xidiot", "chat").matches == ()


@pytest.mark.parametrize("text", ["plain ascii", "Prôjet ☎ 𝄞 done", "\ud800 lone \udfff surrogates é", ""])
def test_byte_offsets_map_to_their_characters_and_the_table_waits_for_a_match(text: str) -> None:
    from bot.policy.regex import CharIndex, encode_for_matching

    data, char_at = encode_for_matching(text)
    assert isinstance(char_at, CharIndex) and char_at._table in (None, [])  # nothing built before a lookup
    expected: list[int] = []
    for i, ch in enumerate(text):
        expected += [i] * len(ch.encode("utf-8", "surrogatepass"))  # a lone surrogate is U+FFFD: 3 bytes too
    expected.append(len(text))
    assert len(data) + 1 == len(expected)
    assert [char_at[b] for b in range(len(data) + 1)] == expected
    assert data.decode("utf-8") == text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
