"""The boot spec check and pinned versions: a runtime proves it speaks the spec it was generated from."""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest

from bot.events import SessionContext, SpecRegistry, check_spec, create_runtime
from bot.events.spec_check import hash_normalized, normalized_from_files
from bot.generated import SPEC_VERSION, RoomSpeakingStarted

REPO = Path(__file__).resolve().parents[2]
OTHER_VERSION = "sha256:" + "ef" * 32


@pytest.fixture
def spec_copy(tmp_path: Path) -> Path:
    root = tmp_path / "spec"
    shutil.copytree(REPO / "spec", root)
    return root


def edit_descriptor(root: Path) -> None:
    path = root / "topics" / "room.vote.cast.json"
    topic = json.loads(path.read_text(encoding="utf-8"))
    topic["description"] = "Edited after codegen ran, so the generated code is stale."
    path.write_text(json.dumps(topic, indent=2), encoding="utf-8")


def test_a_fresh_checkout_passes(registry: SpecRegistry) -> None:
    result = check_spec(registry)
    assert result.ok
    assert result.generated == result.loaded == SPEC_VERSION
    assert result.remote is None


def test_the_spec_files_hash_to_the_generated_version(spec_copy: Path) -> None:
    assert hash_normalized(normalized_from_files(spec_copy)) == SPEC_VERSION
    assert check_spec(SpecRegistry.load(), spec_copy).ok


def test_an_altered_registry_spec_section_is_a_mismatch(raw_registry: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_registry)
    raw["spec"]["topics"][0]["description"] = "Changed by hand in registry.json."
    result = check_spec(SpecRegistry(raw))
    assert not result.ok
    assert result.remote == hash_normalized(raw["spec"]) != SPEC_VERSION
    assert "registry.json" in result.detail


def test_a_registry_claiming_another_version_is_a_mismatch(raw_registry: dict[str, Any]) -> None:
    raw = copy.deepcopy(raw_registry)
    raw["specVersion"] = OTHER_VERSION
    assert not check_spec(SpecRegistry(raw)).ok


def test_an_edited_descriptor_is_published_as_a_boot_mismatch(spec_copy: Path) -> None:
    edit_descriptor(spec_copy)
    runtime = create_runtime(SessionContext(session_id="s"))
    seen: list[dict] = []
    runtime.bus.subscribe("events.runtime.version.mismatch", seen.append)

    result = runtime.verify_spec(spec_dir=spec_copy)

    assert not result.ok
    assert runtime.spec_check is result
    on_disk = hash_normalized(normalized_from_files(spec_copy))
    assert result.remote == on_disk != SPEC_VERSION
    assert [e["payload"] for e in seen] == [
        {"runtime": "bot", "localSpecVersion": SPEC_VERSION, "remoteSpecVersion": on_disk, "source": "boot"}
    ]
    assert runtime.app_messages.enabled  # the default only reports


def test_refusing_on_mismatch_stops_app_messages_but_stdout_keeps_flowing(spec_copy: Path) -> None:
    edit_descriptor(spec_copy)
    out = io.BytesIO()
    runtime = create_runtime(SessionContext(session_id="s"), stdout=out)

    runtime.verify_spec(spec_dir=spec_copy, refuse_on_mismatch=True)
    env = runtime.bus.publish(RoomSpeakingStarted(participant_id="p1", media_time_ms=0))

    assert not runtime.app_messages.enabled
    assert runtime.app_messages.prepare(env) is None
    assert runtime.bus.drops_by_reason["forwarding_disabled"] == 1
    topics = [orjson.loads(line)["topic"] for line in out.getvalue().splitlines()]
    assert topics == ["events.runtime.version.mismatch", "room.speaking.started"]


def test_refusing_on_mismatch_changes_nothing_when_the_spec_matches(spec_copy: Path) -> None:
    runtime = create_runtime(SessionContext(session_id="s"))
    seen: list[dict] = []
    runtime.bus.subscribe("*", seen.append)
    assert runtime.verify_spec(spec_dir=spec_copy, refuse_on_mismatch=True).ok
    assert runtime.app_messages.enabled
    assert seen == []


def test_unreadable_spec_files_do_not_block_the_boot(spec_copy: Path) -> None:
    (spec_copy / "topics" / "room.vote.cast.json").write_text("{ broken", encoding="utf-8")
    result = check_spec(SpecRegistry.load(), spec_copy)
    assert result.ok
    assert "not readable" in result.detail


def test_a_pinned_version_that_differs_is_published(context: SessionContext) -> None:
    runtime = create_runtime(context)
    seen: list[dict] = []
    runtime.bus.subscribe("events.runtime.version.mismatch", seen.append)
    assert runtime.expect_version(SPEC_VERSION) is True
    assert seen == []
    assert runtime.expect_version(OTHER_VERSION) is False
    assert [e["payload"] for e in seen] == [
        {"runtime": "bot", "localSpecVersion": SPEC_VERSION, "remoteSpecVersion": OTHER_VERSION, "source": "pinned"}
    ]
