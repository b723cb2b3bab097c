"""The spec loader: every way a spec can be wrong is a SpecError naming the file and a JSON pointer,
and ``specVersion`` is a hash of the spec's content, not of its formatting."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the repo is not installed; make `codegen` importable
    sys.path.insert(0, str(REPO))

from codegen.hashing import spec_version  # noqa: E402
from codegen.spec import SpecError, load_spec  # noqa: E402

SPEC = REPO / "spec"
VOTE = "topics/room.vote.cast.json"
JOINED = "topics/room.participant.joined.json"
FORWARDING = "config/forwarding.json"


def copy_spec(tmp_path: Path) -> Path:
    root = tmp_path / "spec"
    shutil.copytree(SPEC, root)
    return root


def read(root: Path, rel: str) -> Any:
    return json.loads((root / rel).read_text(encoding="utf-8"))


def write(root: Path, rel: str, data: Any) -> None:
    (root / rel).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def edit(rel: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    """A spec mutation: load ``rel``, let ``change`` modify it in place, write it back."""

    def mutate(root: Path) -> None:
        data = read(root, rel)
        change(data)
        write(root, rel, data)

    return mutate


def version_of(root: Path) -> str:
    return spec_version(load_spec(root).normalized())


# ---- the real spec


def test_the_real_spec_loads() -> None:
    spec = load_spec(SPEC)
    ids = [t["id"] for t in spec.topics]
    assert ids == sorted(ids)
    assert len(ids) == len(list((SPEC / "topics").glob("*.json")))
    assert set(spec.normalized()) == {"topics", "forwarding", "pii"}


def test_the_real_spec_version_matches_the_committed_generated_code() -> None:
    committed = (REPO / "bot" / "generated" / "spec_version.txt").read_text(encoding="utf-8").strip()
    assert version_of(SPEC) == committed


# ---- bad specs: one case per way to break it


def _rename_vote(root: Path) -> None:
    (root / VOTE).rename(root / "topics" / "room.vote.casted.json")


def _duplicate_vote(root: Path) -> None:
    (root / "topics" / "room.vote.cast2.json").write_text((root / VOTE).read_text(encoding="utf-8"), encoding="utf-8")


def _unparsable(root: Path) -> None:
    (root / VOTE).write_text('{"id": "room.vote.cast",\n  "version": 1,,\n}\n', encoding="utf-8")


def _duplicate_key_top(root: Path) -> None:
    text = (root / VOTE).read_text(encoding="utf-8")
    (root / VOTE).write_text(text.replace('"version": 1,', '"version": 1, "version": 2,', 1), encoding="utf-8")


def _duplicate_key_nested(root: Path) -> None:
    text = (root / VOTE).read_text(encoding="utf-8")
    assert '"minLength": 1,' in text
    (root / VOTE).write_text(text.replace('"minLength": 1,', '"minLength": 1, "minLength": 2,', 1), encoding="utf-8")


def _drop_participant_id_rule(topic: dict) -> None:
    topic["forwarding"]["redact"] = [r for r in topic["forwarding"]["redact"] if r["path"] != "/payload/participantId"]


def _set(*keys_and_value: Any) -> Callable[[Any], None]:
    *keys, last, value = keys_and_value

    def change(data: Any) -> None:
        for key in keys:
            data = data[key]
        data[last] = value

    return change


BAD_SPECS: list[tuple[str, Callable[[Path], None], str, str, str]] = [
    # id, mutation, file (relative to spec/), pointer, text the message must contain
    ("unparsable_json", _unparsable, VOTE, "", "line 2 column"),
    ("duplicate_key_top_level", _duplicate_key_top, VOTE, "/version", "duplicate key 'version'"),
    (
        "duplicate_key_nested",
        _duplicate_key_nested,
        VOTE,
        "/schema/properties/option/minLength",
        "duplicate key 'minLength'",
    ),
    (
        "schema_type_typo",
        edit(VOTE, _set("schema", "properties", "option", "type", "strnig")),
        VOTE,
        "/schema/properties/option/type",
        "strnig",
    ),
    (
        "schema_negative_min_length",
        edit(VOTE, _set("schema", "properties", "option", "minLength", -1)),
        VOTE,
        "/schema/properties/option/minLength",
        "-1",
    ),
    (
        "unsupported_one_of_in_property",
        edit(VOTE, _set("schema", "properties", "option", "oneOf", [{"type": "string"}])),
        VOTE,
        "/schema/properties/option",
        "oneOf",
    ),
    (
        "unsupported_one_of_at_root",
        edit(VOTE, _set("schema", "oneOf", [{"type": "object"}])),
        VOTE,
        "/schema",
        "oneOf",
    ),
    (
        "duplicate_topic_id",
        _duplicate_vote,
        "topics/room.vote.cast2.json",
        "/id",
        "duplicate topic id 'room.vote.cast'",
    ),
    ("file_name_not_the_id", _rename_vote, "topics/room.vote.casted.json", "/id", "expected room.vote.cast.json"),
    (
        "unknown_destination_in_descriptor",
        edit(VOTE, _set("forwarding", "destinations", ["stdout", "kafka"])),
        VOTE,
        "/forwarding/destinations/1",
        "kafka",
    ),
    (
        "unknown_destination_in_override",
        edit(FORWARDING, _set("overrides", "room.vote.cast", {"destinations": ["kafka"]})),
        FORWARDING,
        "/overrides/room.vote.cast/destinations/0",
        "kafka",
    ),
    (
        "unknown_destination_in_defaults",
        edit(FORWARDING, _set("defaults", "destinations", ["stdout", "sqs"])),
        FORWARDING,
        "/defaults/destinations/1",
        "sqs",
    ),
    (
        "redact_path_outside_payload_meta",
        edit(JOINED, lambda t: t["forwarding"]["redact"][0].__setitem__("path", "/meta/x")),
        JOINED,
        "/forwarding/redact/0/path",
        "/meta/x",
    ),
    (
        "redact_path_to_missing_payload_field",
        edit(JOINED, lambda t: t["forwarding"]["redact"][0].__setitem__("path", "/payload/nope")),
        JOINED,
        "/forwarding/redact/0/path",
        "outside the payload",
    ),
    ("sample_rate_zero", edit(VOTE, _set("forwarding", "sampleRate", 0)), VOTE, "/forwarding/sampleRate", "0"),
    ("sample_rate_above_one", edit(VOTE, _set("forwarding", "sampleRate", 1.5)), VOTE, "/forwarding/sampleRate", "1.5"),
    ("sample_rate_negative", edit(VOTE, _set("forwarding", "sampleRate", -1)), VOTE, "/forwarding/sampleRate", "-1"),
    (
        "sample_rate_out_of_range_in_override",
        edit(FORWARDING, _set("overrides", "room.pacing.updated", "sampleRate", 2)),
        FORWARDING,
        "/overrides/room.pacing.updated/sampleRate",
        "2",
    ),
    (
        "required_field_not_in_properties",
        edit(VOTE, lambda t: t["schema"]["required"].append("voter")),
        VOTE,
        "/schema/required/2",
        "'voter' is not in properties",
    ),
    (
        "drop_of_a_required_field",
        edit(JOINED, lambda t: t["forwarding"]["redact"][1].__setitem__("action", "drop")),
        JOINED,
        "/forwarding/redact/1",
        "is required",
    ),
    (
        "hash_of_a_non_string",
        edit(
            JOINED,
            lambda t: t["forwarding"]["redact"].append(
                {"path": "/payload/mediaTimeMs", "action": "hash", "destinations": ["eventbridge"]}
            ),
        ),
        JOINED,
        "/forwarding/redact/2",
        "only string fields",
    ),
    (
        "redact_for_a_destination_not_forwarded_to",
        edit(JOINED, lambda t: t["forwarding"]["redact"][0].__setitem__("destinations", ["app_message"])),
        JOINED,
        "/forwarding/redact/0/destinations",
        "not forwarded there",
    ),
    (
        "pii_default_drop_of_a_required_field",
        edit(JOINED, _drop_participant_id_rule),
        JOINED,
        "/pii/fields/1",
        "default 'drop' applies",
    ),
    (
        "override_for_unknown_topic",
        edit(FORWARDING, _set("overrides", "room.nope", {"priority": "low"})),
        FORWARDING,
        "/overrides/room.nope",
        "unknown topic 'room.nope'",
    ),
    ("missing_topics_dir", lambda root: shutil.rmtree(root / "topics"), "topics", "", "no topics/ directory"),
]


@pytest.mark.parametrize(("mutate", "file", "where", "says"), [c[1:] for c in BAD_SPECS], ids=[c[0] for c in BAD_SPECS])
def test_a_bad_spec_is_reported_with_file_and_pointer(
    tmp_path: Path, mutate: Callable[[Path], None], file: str, where: str, says: str
) -> None:
    root = copy_spec(tmp_path)
    mutate(root)
    with pytest.raises(SpecError) as caught:
        load_spec(root)
    error = caught.value
    assert Path(error.file) == root / file
    assert error.pointer == where
    assert says in error.message
    assert str(error) == f"{root / file}{' at ' + where if where else ''}: {error.message}"


def test_unparsable_json_names_line_and_column(tmp_path: Path) -> None:
    root = copy_spec(tmp_path)
    _unparsable(root)
    with pytest.raises(SpecError, match=r"invalid JSON at line 2 column 16"):
        load_spec(root)


# ---- specVersion


def test_spec_version_is_stable_across_runs(tmp_path: Path) -> None:
    root = copy_spec(tmp_path)
    assert version_of(root) == version_of(root) == version_of(SPEC)


def _reformat(rel: str, **dump: Any) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        (root / rel).write_text(json.dumps(read(root, rel), **dump), encoding="utf-8")

    return mutate


def _reverse_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reverse_keys(v) for v in value]
    return value


def _reverse_key_order(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        write(root, rel, _reverse_keys(read(root, rel)))

    return mutate


def _trailing_whitespace(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        text = (root / rel).read_text(encoding="utf-8")
        (root / rel).write_text("\n\n  " + text.replace(",\n", " ,\n\t") + "\n\n", encoding="utf-8")

    return mutate


def _one_point_zero_as_one(root: Path) -> None:
    text = (root / VOTE).read_text(encoding="utf-8")
    assert '"sampleRate": 1.0' in text
    (root / VOTE).write_text(text.replace('"sampleRate": 1.0', '"sampleRate": 1'), encoding="utf-8")


SAME_VERSION = [
    ("descriptor_minified", _reformat(VOTE, separators=(",", ":"))),
    ("descriptor_indented_differently", _reformat(JOINED, indent=7)),
    ("extra_whitespace_and_tabs", _trailing_whitespace(VOTE)),
    ("config_minified", _reformat(FORWARDING, separators=(",", ":"))),
    ("pii_config_reindented", _reformat("config/pii.json", indent=1)),
    ("descriptor_key_order_reversed", _reverse_key_order(JOINED)),
    ("config_key_order_reversed", _reverse_key_order(FORWARDING)),
    ("number_1_0_written_as_1", _one_point_zero_as_one),
]


@pytest.mark.parametrize("mutate", [m for _, m in SAME_VERSION], ids=[i for i, _ in SAME_VERSION])
def test_formatting_only_edits_keep_the_spec_version(tmp_path: Path, mutate: Callable[[Path], None]) -> None:
    root = copy_spec(tmp_path)
    mutate(root)
    assert version_of(root) == version_of(SPEC)


def _add_topic(root: Path) -> None:
    topic = read(root, VOTE)
    topic["id"] = "room.vote.retracted"
    topic["description"] = "A participant retracted their vote."
    write(root, "topics/room.vote.retracted.json", topic)


CHANGED_VERSION = [
    (
        "descriptor_description",
        edit(VOTE, _set("description", "A vote, sent by a browser; the voter is the Daily sender.")),
    ),
    ("descriptor_version", edit(VOTE, _set("version", 2))),
    ("descriptor_schema_constraint", edit(VOTE, _set("schema", "properties", "option", "maxLength", 99))),
    ("descriptor_required_order", edit(VOTE, lambda t: t["schema"]["required"].reverse())),
    ("descriptor_sample_rate", edit(VOTE, _set("forwarding", "sampleRate", 0.5))),
    ("topic_added", _add_topic),
    ("topic_removed", lambda root: (root / "topics" / "room.wrapup.prompt.json").unlink()),
    ("forwarding_override", edit(FORWARDING, _set("overrides", "room.pacing.updated", "sampleRate", 0.25))),
    ("forwarding_default_priority", edit(FORWARDING, _set("defaults", "priority", "low"))),
    ("pii_mask", edit("config/pii.json", _set("mask", "###"))),
    ("pii_destination_level", edit("config/pii.json", _set("destinations", "eventbridge", "maxLevel", 0))),
]


@pytest.mark.parametrize("mutate", [m for _, m in CHANGED_VERSION], ids=[i for i, _ in CHANGED_VERSION])
def test_any_content_edit_changes_the_spec_version(tmp_path: Path, mutate: Callable[[Path], None]) -> None:
    root = copy_spec(tmp_path)
    mutate(root)
    changed = version_of(root)
    assert changed != version_of(SPEC)
    assert changed.startswith("sha256:") and len(changed) == len("sha256:") + 64
