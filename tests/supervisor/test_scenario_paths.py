"""`scenario` in POST /rooms: only files in the scenarios folder, confined, no oracle, no content."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import orjson
import pytest
from sup_helpers import REPO, make_settings, run, running

from supervisor.scenarios import NOT_IN_FOLDER, ScenarioRefused, resolve_scenario

ROOM = {"assistantId": "asst-1", "tenantId": "tenant-1", "speed": 0}
SECRET = "SECRETVALUE-d41d8cd9"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A scenarios folder: a copy of the bundled rooms and clips, plus hostile entries."""
    root = tmp_path / "scenarios"
    shutil.copytree(REPO / "bot" / "scenarios" / "rooms", root / "rooms")
    shutil.copytree(REPO / "bot" / "scenarios" / "clips", root / "clips")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.json").write_text(orjson.dumps({"name": SECRET, "participants": SECRET}).decode())
    (root / "link.json").symlink_to(outside / "secret.json")
    (root / "linkdir").symlink_to(outside)
    clip = {"type": "speech", "participant": "a", "atMs": 0, "audio": "../outside/secret.json", "text": "hi"}
    (root / "clip-outside.json").write_text(
        orjson.dumps({"participants": [{"id": "a", "name": "A"}], "events": [clip]}).decode()
    )
    abs_clip = {**clip, "audio": "/etc/passwd"}
    (root / "clip-absolute.json").write_text(
        orjson.dumps({"participants": [{"id": "a", "name": "A"}], "events": [abs_clip]}).decode()
    )
    (root / "broken.json").write_text(SECRET + " {")
    return root


OUTSIDE = [
    ("etc-shadow", "/etc/shadow"),
    ("etc-passwd", "/etc/passwd"),
    ("proc-environ", "/proc/self/environ"),
    ("home-bashrc", "~/.bashrc"),
    ("dotdot", "rooms/../../outside/secret.json"),
    ("dotdot-missing", "../outside/nothing-here.json"),
    ("symlink-file", "link.json"),
    ("symlink-dir", "linkdir/secret.json"),
    ("missing-inside", "rooms/nothing-here.json"),
    ("backslash", "..\\outside\\secret.json"),
]


@pytest.mark.parametrize("value", [v for _, v in OUTSIDE], ids=[i for i, _ in OUTSIDE])
def test_a_path_outside_the_folder_is_refused(folder: Path, value: str) -> None:
    with pytest.raises(ScenarioRefused) as info:
        resolve_scenario(value, folder)
    assert info.value.field == "scenario" and SECRET not in info.value.message


def test_outside_and_missing_get_the_same_answer(folder: Path, tmp_path: Path) -> None:
    """No oracle: an existing file reached through a symlink and a missing one read the same."""
    answers = set()
    for value in ("link.json", "linkdir/secret.json", "linkdir/missing.json", "rooms/missing.json", "nothing"):
        with pytest.raises(ScenarioRefused) as info:
            resolve_scenario(value, folder)
        answers.add((info.value.field, info.value.message))
    assert answers == {("scenario", NOT_IN_FOLDER)}


@pytest.mark.parametrize(
    ("value", "field"),
    [("clip-outside.json", "scenario.events.0.audio"), ("clip-absolute.json", "scenario.events.0.audio")],
    ids=["relative-clip-escapes", "absolute-clip"],
)
def test_a_clip_outside_the_folder_is_refused(folder: Path, value: str, field: str) -> None:
    with pytest.raises(ScenarioRefused) as info:
        resolve_scenario(value, folder)
    assert info.value.field == field


def test_a_broken_file_is_named_by_rule_not_content(folder: Path) -> None:
    with pytest.raises(ScenarioRefused) as info:
        resolve_scenario("broken.json", folder)
    assert SECRET not in str(info.value) and "JSON" in info.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [("dominant", "rooms/dominant.json"), ("rooms/balanced.json", "rooms/balanced.json")],
    ids=["name", "relative-path"],
)
def test_bundled_names_and_relative_paths_resolve_inside(folder: Path, value: str, expected: str) -> None:
    assert resolve_scenario(value, folder) == (folder / expected).resolve()


def test_the_default_folder_is_the_bundled_rooms(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    assert resolve_scenario("demo", settings.scenarios_dir) == (REPO / "bot" / "scenarios" / "demo.json").resolve()
    assert resolve_scenario("noisy", settings.scenarios_dir).parent.name == "rooms"


def test_the_api_refuses_hostile_scenarios_before_a_room_exists(folder: Path, tmp_path: Path) -> None:
    async def scenario() -> None:
        async with running(make_settings(tmp_path, scenarios_dir=folder)) as client:
            answers = set()
            for value in (
                "/etc/shadow",
                "/proc/self/environ",
                "link.json",
                "rooms/missing.json",
                str(folder / "rooms" / "dominant.json"),
            ):
                status, body = await client.request("POST", "/rooms", json={**ROOM, "scenario": value})
                assert status == 422 and body["field"] == "scenario", body
                assert SECRET not in orjson.dumps(body).decode()
                answers.add(body["message"])
            assert (await client.request("GET", "/rooms"))[1] == {"rooms": []}
            status, body = await client.request("POST", "/rooms", json={**ROOM, "scenario": "broken.json"})
            assert status == 422 and SECRET not in orjson.dumps(body).decode()
        log = (tmp_path / "forward.jsonl").read_text() if (tmp_path / "forward.jsonl").exists() else ""
        assert SECRET not in log

    run(scenario())


def test_a_bad_scenarios_folder_is_a_setting_error(tmp_path: Path) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="must be an existing folder"):
        make_settings(tmp_path, scenarios_dir=tmp_path / "nope")


def test_an_absolute_path_inside_the_folder_is_still_refused(folder: Path) -> None:
    """Paths are relative to the folder: an absolute one is never looked up, wherever it points."""
    with pytest.raises(ScenarioRefused):
        resolve_scenario(os.fspath(folder / "rooms" / "dominant.json"), folder)
