"""The policy model, layer composition (merge rules), snapshots and their version, loading."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.errors import PolicyError
from bot.policy import (
    ConversationPolicy,
    compose,
    compose_snapshot,
    default_policy,
    load_policy,
    parse_layer,
    parse_snapshot,
    rule_ids,
)
from bot.policy.compose import MERGE
from bot.policy.model import SECTIONS


def layer(level: str = "tenant", name: str = "l", **sections: Any) -> dict[str, Any]:
    return {"kind": "prism.policy.layer", "schemaVersion": 1, "name": name, "level": level, **sections}


def composed(*layers: dict[str, Any]) -> ConversationPolicy:
    return compose([parse_layer(data, f"layer{i}.json") for i, data in enumerate(layers)])


def dump(policy: ConversationPolicy, section: str) -> dict[str, Any]:
    return policy.model_dump(mode="json", by_alias=True)[section]


# --------------------------------------------------------------------------------------------
# The safe default
# --------------------------------------------------------------------------------------------


def test_the_safe_default_is_a_valid_policy_with_limits_and_no_content_rules() -> None:
    loaded = default_policy()
    assert loaded.is_default and loaded.layers == ("prism-default",)
    assert loaded.version.startswith("sha256:") and len(loaded.version) == 71
    p = loaded.policy
    assert p.turns.max_turn_ms == 90_000 and p.turns.max_share == 0.6
    assert p.rates.bot_messages is not None and p.rates.inbound_messages is not None
    assert p.content.rules == [] and p.tools.allow is None and p.tools.deny == []
    event = loaded.loaded_event()
    assert event.to_wire() == {
        "policyVersion": loaded.version,
        "layers": ["prism-default"],
        "ruleCount": len(loaded.rules),
    }


def test_rule_ids_list_every_rule_in_force_and_nothing_switched_off() -> None:
    policy = composed(
        layer("platform", turns={"maxShare": None}, rates={"chatMessages": None}),
        layer(
            content={"rules": [{"id": "a", "phrases": ["x"], "action": "warn"}]},
            tools={"allow": ["close_vote"], "deny": ["start_vote"]},
        ),
    )
    assert rule_ids(policy) == [
        "turns.maxTurnMs",
        "turns.maxBotTurnsPerMinute",
        "rates.botMessages",
        "rates.inboundMessages",
        "content.a",
        "content.links",
        "tools.allow",
        "tools.deny.start_vote",
        "tools.rates.nudge_participant",
        "tools.rates.start_vote",
        "tools.unknown",
    ]


def test_every_field_has_a_merge_rule() -> None:
    """Adding a policy field forces a decision on how layers merge it."""
    for section, model in SECTIONS.items():
        assert set(MERGE[section]) == set(model.model_fields), section


# --------------------------------------------------------------------------------------------
# Merge rules
# --------------------------------------------------------------------------------------------


MERGE_CASES = [
    (
        "a-room-cannot-give-the-voice-more-than-its-tenant",
        [layer(facilitation={"voice": "prompts"}), layer("room", facilitation={"voice": "prompts_and_interrupts"})],
        "facilitation",
        {"voice": "prompts"},
    ),
    (
        "voice-bounds-take-the-strictest",
        [
            layer(facilitation={"voice": "off", "voiceMaxShare": 0.1, "voiceMinGapMs": 30_000}),
            layer("room", facilitation={"voiceMaxShare": 0.3, "voiceMinGapMs": 20_000}),
        ],
        "facilitation",
        {"voice": "off", "voiceMaxShare": 0.1, "voiceMinGapMs": 30_000},
    ),
    (
        "limits-take-the-strictest",
        [layer(turns={"maxTurnMs": 30_000}), layer("room", turns={"maxTurnMs": 60_000})],
        "turns",
        {"maxTurnMs": 30_000},
    ),
    (
        "a-later-null-lifts-nothing",
        [layer(turns={"maxShare": 0.5}), layer("room", turns={"maxShare": None})],
        "turns",
        {"maxShare": 0.5},
    ),
    ("platform-sets-even-looser", [layer("platform", turns={"maxTurnMs": 300_000})], "turns", {"maxTurnMs": 300_000}),
    ("platform-null-disables", [layer("platform", turns={"maxShare": None})], "turns", {"maxShare": None}),
    ("tenant-cannot-loosen-the-base", [layer(turns={"maxTurnMs": 300_000})], "turns", {"maxTurnMs": 90_000}),
    (
        "settings-later-wins",
        [layer(turns={"turnRepeatMs": 5_000}), layer("room", turns={"turnRepeatMs": 60_000})],
        "turns",
        {"turnRepeatMs": 60_000},
    ),
    (
        "absent-keys-inherit",
        [layer(turns={"turnRepeatMs": 5_000}), layer("room", turns={"maxTurnMs": 20_000})],
        "turns",
        {"turnRepeatMs": 5_000, "maxTurnMs": 20_000},
    ),
    (
        "bucket-smaller-burst-slower-rate",
        [
            layer(rates={"inboundMessages": {"capacity": 3, "refillTokens": 10, "refillEveryMs": 1000}}),
            layer("room", rates={"inboundMessages": {"capacity": 50, "refillTokens": 1, "refillEveryMs": 1000}}),
        ],
        "rates",
        {"inboundMessages": {"capacity": 3, "refillTokens": 1, "refillEveryMs": 1000}},
    ),
    (
        "deny-lists-union",
        [layer(tools={"deny": ["start_vote"]}), layer("room", tools={"deny": ["close_vote", "start_vote"]})],
        "tools",
        {"deny": ["start_vote", "close_vote"]},
    ),
    (
        "allow-lists-intersect",
        [
            layer(tools={"allow": ["start_vote", "close_vote"]}),
            layer("room", tools={"allow": ["close_vote", "nudge_participant"]}),
        ],
        "tools",
        {"allow": ["close_vote"]},
    ),
    (
        "null-allow-means-all",
        [layer(tools={"allow": ["close_vote"]}), layer("room", tools={"allow": None})],
        "tools",
        {"allow": ["close_vote"]},
    ),
    (
        "per-tool-buckets-strictest-and-joined",
        [
            layer(tools={"rates": {"close_vote": {"capacity": 2, "refillEveryMs": 1000}}}),
            layer("room", tools={"rates": {"close_vote": {"capacity": 5, "refillEveryMs": 9000}}}),
        ],
        "tools",
        {
            "rates": {
                "start_vote": {"capacity": 1, "refillTokens": 1, "refillEveryMs": 120_000},
                "nudge_participant": {"capacity": 2, "refillTokens": 1, "refillEveryMs": 60_000},
                "close_vote": {"capacity": 2, "refillTokens": 1, "refillEveryMs": 9000},
            }
        },
    ),
    (
        "content-rules-union-by-id",
        [
            layer(
                content={
                    "rules": [
                        {"id": "v", "phrases": ["acme"], "action": "redact", "appliesTo": ["chat"]},
                        {"id": "w", "phrases": ["x"], "action": "warn"},
                    ]
                }
            ),
            layer(
                "room",
                content={
                    "rules": [
                        {
                            "id": "v",
                            "phrases": ["globex"],
                            "patterns": ["\\d+"],
                            "action": "warn",
                            "severity": "high",
                            "appliesTo": ["transcript"],
                        }
                    ]
                },
            ),
        ],
        "content",
        {
            "rules": [
                {
                    "id": "v",
                    "phrases": ["acme", "globex"],
                    "patterns": ["\\d+"],
                    "action": "redact",
                    "severity": "high",
                    "appliesTo": ["transcript", "chat"],
                },
                {
                    "id": "w",
                    "phrases": ["x"],
                    "patterns": [],
                    "action": "warn",
                    "severity": "medium",
                    "appliesTo": ["transcript", "chat", "bot"],
                },
            ]
        },
    ),
    (
        "facilitation-later-wins",
        [
            layer(facilitation={"nudgeStyle": "direct"}),
            layer("room", facilitation={"nudgeStyle": "silent", "summaryEveryMs": 60_000}),
        ],
        "facilitation",
        {"nudgeStyle": "silent", "summaryEveryMs": 60_000},
    ),
]


@pytest.mark.parametrize(
    ("layers", "section", "expected"), [c[1:] for c in MERGE_CASES], ids=[c[0] for c in MERGE_CASES]
)
def test_layers_merge_by_the_documented_rules(
    layers: list[dict[str, Any]], section: str, expected: dict[str, Any]
) -> None:
    got = dump(composed(*layers), section)
    assert {k: got[k] for k in expected} == expected


def test_default_voice_settings_leave_the_policy_version_as_it_was() -> None:
    """Policies written before the voice existed keep their hash: the defaults are not serialized."""
    assert "voice" not in dump(ConversationPolicy(), "facilitation")
    assert "voiceMaxShare" not in dump(ConversationPolicy(), "facilitation")
    quiet = ConversationPolicy.model_validate({"facilitation": {"voice": "off"}})
    assert dump(quiet, "facilitation")["voice"] == "off"


def test_deny_wins_over_allow() -> None:
    policy = composed(layer(tools={"allow": ["start_vote"]}), layer("room", tools={"deny": ["start_vote"]}))
    assert not policy.tools.permits("start_vote")


def test_content_actions_only_get_stricter() -> None:
    rules = [{"id": "r", "phrases": ["x"], "action": a} for a in ("block", "redact", "interrupt", "warn")]
    policy = composed(*[layer("room", content={"rules": [r]}) for r in rules])
    assert policy.content.rules[0].action == "interrupt"


def test_layers_out_of_order_are_an_error_naming_the_layer() -> None:
    with pytest.raises(PolicyError) as err:
        composed(layer("room"), layer("tenant"))
    assert str(err.value).startswith('layer1.json: "level" tenant layer after a room layer')


def test_a_merge_past_a_limit_is_a_policy_error_not_a_crash() -> None:
    def rule(prefix: str) -> dict[str, Any]:
        return {"id": "r", "patterns": [f"{prefix}{i}" for i in range(60)], "action": "warn"}

    with pytest.raises(PolicyError) as err:
        composed(
            layer("tenant", "a", content={"rules": [rule("a")]}), layer("room", "b", content={"rules": [rule("b")]})
        )
    assert "patterns" in str(err.value)


# --------------------------------------------------------------------------------------------
# Layer and snapshot errors: one line, file and field
# --------------------------------------------------------------------------------------------


BAD_LAYERS = [
    (
        "limit-out-of-range",
        layer(turns={"maxTurnMs": 10}),
        '"turns.maxTurnMs" input should be greater than or equal to 1000 (got 10)',
    ),
    (
        "unknown-section-field",
        layer(turns={"maxTurns": 1}),
        '"turns.maxTurns" is not a known field here (known: maxTurnMs,',
    ),
    ("unknown-top-level", {**layer(), "turn": {}}, '"turn" is not a known field here'),
    (
        "bad-regex",
        layer(content={"rules": [{"id": "r", "patterns": ["(x"], "action": "warn"}]}),
        '"content.rules[0].patterns[0]" is not a valid RE2 regular expression (missing ))',
    ),
    (
        "empty-rule",
        layer(content={"rules": [{"id": "r", "action": "warn"}]}),
        '"content.rules[0]" a content rule needs at least one phrase or pattern',
    ),
    (
        "bad-action",
        layer(content={"rules": [{"id": "r", "phrases": ["x"], "action": "shout"}]}),
        '"content.rules[0].action" input should be',
    ),
    (
        "duplicate-rule-ids",
        layer(content={"rules": [{"id": "r", "phrases": ["x"], "action": "warn"}] * 2}),
        '"content.rules" entries must be unique',
    ),
    (
        "accent-only-phrase",
        layer(content={"rules": [{"id": "r", "phrases": ["\u0301"], "action": "warn"}]}),
        '"content.rules[0].phrases[0]" is empty once accents',
    ),
    ("bad-tool-name", layer(tools={"deny": ["Start Vote"]}), '"tools.deny[0]" string should match pattern'),
    ("bad-level", layer("org"), '"level" input should be'),
    ("missing-name", {k: v for k, v in layer().items() if k != "name"}, '"name" is required'),
    ("a-snapshot-given", {"kind": "prism.policy.snapshot"}, '"kind" is a composed snapshot, not a layer'),
    ("not-an-object", [], "a policy layer is a JSON object, got list"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in BAD_LAYERS], ids=[c[0] for c in BAD_LAYERS])
def test_a_bad_layer_is_one_line_naming_file_and_field(data: Any, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_layer(data, "tenant.json")
    line = str(err.value)
    assert "\n" not in line
    assert line.startswith("tenant.json: ")
    assert message in line, line


# --------------------------------------------------------------------------------------------
# Snapshots and their version
# --------------------------------------------------------------------------------------------


def snapshot_dict(*layers: dict[str, Any]) -> dict[str, Any]:
    snap = compose_snapshot([parse_layer(data, f"l{i}.json") for i, data in enumerate(layers)])
    return snap.model_dump(mode="json", by_alias=True)


def test_policy_version_is_sha256_of_the_rfc8785_form_without_itself() -> None:
    data = snapshot_dict(layer("tenant", "acme", turns={"maxShare": 0.55}))
    body = {k: v for k, v in data.items() if k != "policyVersion"}
    assert data["policyVersion"] == "sha256:" + hashlib.sha256(rfc8785.dumps(body)).hexdigest()
    assert data["layers"] == ["acme"]


def test_version_ignores_formatting_and_changes_with_any_rule_or_layer_name(tmp_path: Path) -> None:
    base = snapshot_dict(layer(turns={"maxTurnMs": 30_000}))
    pretty = tmp_path / "pretty.json"
    pretty.write_text(json.dumps(dict(reversed(list(base.items()))), indent=4))
    assert load_policy(pretty).version == base["policyVersion"]
    assert snapshot_dict(layer(turns={"maxTurnMs": 30_001}))["policyVersion"] != base["policyVersion"]
    assert snapshot_dict(layer(name="other", turns={"maxTurnMs": 30_000}))["policyVersion"] != base["policyVersion"]
    assert snapshot_dict(layer(turns={"maxTurnMs": 30_000}))["policyVersion"] == base["policyVersion"]


def test_the_snapshot_file_is_written_in_canonical_form() -> None:
    snap = compose_snapshot([parse_layer(layer(turns={"maxShare": 0.5}))])
    raw = snap.canonical_bytes()
    assert raw == rfc8785.dumps(json.loads(raw))
    assert parse_snapshot(json.loads(raw)).policy_version == snap.policy_version


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_no_policy_configured_means_the_safe_default() -> None:
    assert load_policy(None) == default_policy()
    assert load_policy("").is_default


def test_a_valid_snapshot_loads_with_its_layers_and_rules(tmp_path: Path) -> None:
    data = snapshot_dict(
        layer("tenant", "acme", content={"rules": [{"id": "v", "phrases": ["acme"], "action": "block"}]})
    )
    loaded = load_policy(write(tmp_path, "p.json", json.dumps(data)))
    assert loaded.version == data["policyVersion"] and loaded.layers == ("acme",)
    assert "content.v" in loaded.rules and loaded.source and loaded.source.endswith("p.json")
    assert loaded.loaded_event().rule_count == len(loaded.rules)


def tampered(tmp_path: Path) -> Path:
    data = snapshot_dict(layer(turns={"maxTurnMs": 30_000}))
    data["policy"]["turns"]["maxTurnMs"] = 31_000
    return write(tmp_path, "p.json", json.dumps(data))


def unknown_field(tmp_path: Path) -> Path:
    data = snapshot_dict(layer())
    data["policy"]["turns"]["maxTurns"] = 1
    return write(tmp_path, "p.json", json.dumps(data))


def invalid_value(tmp_path: Path) -> Path:
    data = snapshot_dict(layer())
    data["policy"]["rates"]["botMessages"]["capacity"] = 0
    return write(tmp_path, "p.json", json.dumps(data))


BAD_SNAPSHOTS = [
    ("missing", lambda d: d / "nope.json", "nope.json: file not found"),
    ("directory", lambda d: d, "is a directory, not a policy file"),
    ("not-json", lambda d: write(d, "p.json", "{nope"), "p.json: invalid JSON at line 1, column 2"),
    ("not-utf8", lambda d: write(d, "p.json", b"\xff\xfe"), "p.json: is not UTF-8 text"),
    (
        "a-layer",
        lambda d: write(d, "p.json", json.dumps(layer())),
        'p.json: "kind" is a policy layer; compose it into a snapshot first',
    ),
    ("wrong-kind", lambda d: write(d, "p.json", '{"kind": "x"}'), 'p.json: "kind" must be "prism.policy.snapshot"'),
    ("tampered", tampered, 'p.json: "policyVersion" does not match the snapshot\'s content'),
    ("unknown-field", unknown_field, 'p.json: "policy.turns.maxTurns" is not a known field here'),
    (
        "invalid-value",
        invalid_value,
        'p.json: "policy.rates.botMessages.capacity" input should be greater than or equal to 1 (got 0)',
    ),
    (
        "no-version",
        lambda d: write(
            d, "p.json", json.dumps({k: v for k, v in snapshot_dict(layer()).items() if k != "policyVersion"})
        ),
        'p.json: "policyVersion" is required',
    ),
]


@pytest.mark.parametrize(("make", "message"), [c[1:] for c in BAD_SNAPSHOTS], ids=[c[0] for c in BAD_SNAPSHOTS])
def test_a_bad_snapshot_is_a_policy_error_naming_file_and_field(tmp_path: Path, make: Any, message: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(make(tmp_path))
    assert "\n" not in str(err.value)
    assert message in str(err.value), str(err.value)
    assert err.value.exit_code == 2


# --------------------------------------------------------------------------------------------
# A list of layers at BOT_POLICY_PATH (what the supervisor writes from a request's policyLayers)
# --------------------------------------------------------------------------------------------


def test_a_list_of_layers_is_composed_like_compose_does(tmp_path: Path) -> None:
    layers = [
        layer("tenant", "acme", turns={"maxTurnMs": 30_000}),
        {k: v for k, v in layer("room", "r1", tools={"deny": ["start_vote"]}).items() if k != "kind"},
    ]
    loaded = load_policy(write(tmp_path, "p.json", json.dumps(layers)))
    assert loaded.layers == ("acme", "r1")
    assert loaded.version == snapshot_dict(layers[0], {**layers[1], "kind": "prism.policy.layer"})["policyVersion"]
    assert loaded.policy.turns.max_turn_ms == 30_000 and loaded.policy.tools.deny == ["start_vote"]


def test_an_empty_list_of_layers_is_the_safe_default(tmp_path: Path) -> None:
    loaded = load_policy(write(tmp_path, "p.json", "[]"))
    assert (loaded.version, loaded.layers) == (default_policy().version, ("prism-default",))


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        (
            [layer(), layer(turns={"maxTurnMs": 5})],
            'p.json: "[1].turns.maxTurnMs" input should be greater than or equal to 1000 (got 5)',
        ),
        ([layer("room"), layer("tenant")], 'p.json: "[1].level" tenant layer after a room layer'),
        ([layer(), 3], 'p.json: "[1]" a policy layer is a JSON object, got int'),
        ([{"name": "tenant", "rules": {"maxTurnSecs": 90}}], 'p.json: "[0].schemaVersion" is required'),
        ([layer()] * 17, "p.json: at most 16 layers, got 17"),
    ],
    ids=["bad-field", "out-of-order", "not-an-object", "not-a-layer", "too-many"],
)
def test_a_bad_list_of_layers_names_the_layer_and_field(tmp_path: Path, layers: list[Any], message: str) -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(write(tmp_path, "p.json", json.dumps(layers)))
    assert message in str(err.value), str(err.value)


# --------------------------------------------------------------------------------------------
# Property: a layer above the platform never loosens a limit
# --------------------------------------------------------------------------------------------

buckets = st.one_of(
    st.none(),
    st.builds(
        lambda c, t, e: {"capacity": c, "refillTokens": t, "refillEveryMs": e},
        st.integers(1, 50),
        st.integers(1, 20),
        st.integers(1, 60_000),
    ),
)


@settings(max_examples=200, deadline=None)
@given(
    level=st.sampled_from(["tenant", "assistant", "room"]),
    max_turn=st.one_of(st.none(), st.integers(1_000, 3_600_000)),
    max_share=st.one_of(st.none(), st.floats(0.01, 1.0)),
    bot_turns=st.one_of(st.none(), st.integers(0, 60)),
    bucket=buckets,
    deny=st.lists(st.sampled_from(["start_vote", "close_vote", "nudge_participant"]), unique=True),
)
def test_a_layer_above_the_platform_never_loosens_a_limit(
    level: str, max_turn: Any, max_share: Any, bot_turns: Any, bucket: Any, deny: list[str]
) -> None:
    base = ConversationPolicy()
    got = composed(
        layer(
            level,
            turns={"maxTurnMs": max_turn, "maxShare": max_share, "maxBotTurnsPerMinute": bot_turns},
            rates={"inboundMessages": bucket},
            tools={"deny": deny},
        )
    )
    assert got.turns.max_turn_ms is not None and got.turns.max_turn_ms <= (base.turns.max_turn_ms or 0)
    assert got.turns.max_share is not None and got.turns.max_share <= (base.turns.max_share or 0)
    assert got.turns.max_bot_turns_per_minute is not None and got.turns.max_bot_turns_per_minute <= (
        base.turns.max_bot_turns_per_minute or 0
    )
    b, g = base.rates.inbound_messages, got.rates.inbound_messages
    assert b is not None and g is not None
    assert g.capacity <= b.capacity and not b.slower_than(g)
    assert set(deny) <= set(got.tools.deny)
