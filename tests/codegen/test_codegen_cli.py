"""``python -m codegen`` as CI and a developer run it: writes, is idempotent, detects stale output,
and refuses a bad spec without touching anything."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(REPO))

pytestmark = pytest.mark.slow


def codegen(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "codegen", *map(str, args)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def snapshot(*dirs: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for d in dirs if d.exists() for p in sorted(d.rglob("*")) if p.is_file()}


@pytest.fixture
def workspace(tmp_path: Path) -> tuple[Path, Path, Path]:
    spec = tmp_path / "spec"
    shutil.copytree(REPO / "spec", spec)
    return spec, tmp_path / "py", tmp_path / "ts"


def outs(workspace: tuple[Path, Path, Path]) -> list[str | Path]:
    spec, py, ts = workspace
    return ["--spec", spec, "--python-out", py, "--ts-out", ts]


def test_generate_writes_python_and_typescript(workspace: tuple[Path, Path, Path]) -> None:
    _, py, ts = workspace
    result = codegen(*outs(workspace))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # reports go to stderr
    assert {p.name for p in py.iterdir()} >= {
        "__init__.py",
        "models.py",
        "topics.py",
        "registry.json",
        "spec_version.txt",
    }
    assert any(ts.iterdir())
    assert "specVersion sha256:" in result.stderr


def test_output_from_a_copy_of_the_spec_equals_the_committed_output(workspace: tuple[Path, Path, Path]) -> None:
    _, py, ts = workspace
    assert codegen(*outs(workspace)).returncode == 0
    committed_py = REPO / "bot" / "generated"
    committed_ts = REPO / "web" / "src" / "generated"
    for out, committed in ((py, committed_py), (ts, committed_ts)):
        for path in sorted(out.iterdir()):
            assert path.read_bytes() == (committed / path.name).read_bytes(), path.name


def test_a_second_run_is_byte_identical(workspace: tuple[Path, Path, Path]) -> None:
    _, py, ts = workspace
    assert codegen(*outs(workspace)).returncode == 0
    first = snapshot(py, ts)
    second_run = codegen(*outs(workspace))
    assert second_run.returncode == 0
    assert "0 file(s) written" in second_run.stderr
    assert snapshot(py, ts) == first


def test_check_passes_on_fresh_output(workspace: tuple[Path, Path, Path]) -> None:
    assert codegen(*outs(workspace)).returncode == 0
    result = codegen(*outs(workspace), "--check")
    assert result.returncode == 0, result.stderr
    assert "fresh" in result.stderr


def test_check_fails_and_names_stale_files_after_a_descriptor_edit(workspace: tuple[Path, Path, Path]) -> None:
    spec, py, ts = workspace
    assert codegen(*outs(workspace)).returncode == 0
    before = snapshot(py, ts)
    path = spec / "topics" / "room.vote.cast.json"
    topic = json.loads(path.read_text(encoding="utf-8"))
    topic["schema"]["properties"]["option"]["maxLength"] = 50
    path.write_text(json.dumps(topic, indent=2), encoding="utf-8")

    result = codegen(*outs(workspace), "--check")

    assert result.returncode == 1
    assert "stale" in result.stderr
    for name in ("payload_room_vote_cast.py", "registry.json", "spec_version.txt", "topics.py"):
        assert str(py / name) in result.stderr
    assert str(ts) in result.stderr
    assert snapshot(py, ts) == before  # --check writes nothing


def test_check_fails_when_a_generated_file_is_missing_or_extra(workspace: tuple[Path, Path, Path]) -> None:
    _, py, _ts = workspace
    assert codegen(*outs(workspace)).returncode == 0
    (py / "topics.py").unlink()
    (py / "leftover.py").write_text("# from a removed topic\n", encoding="utf-8")
    result = codegen(*outs(workspace), "--check")
    assert result.returncode == 1
    assert str(py / "topics.py") in result.stderr
    assert str(py / "leftover.py") in result.stderr


@pytest.mark.parametrize("generated_before", [False, True], ids=["out_dirs_absent", "out_dirs_present"])
def test_a_bad_spec_exits_2_with_one_line_and_writes_nothing(
    workspace: tuple[Path, Path, Path], generated_before: bool
) -> None:
    spec, py, ts = workspace
    if generated_before:
        assert codegen(*outs(workspace)).returncode == 0
    before = snapshot(py, ts)
    path = spec / "topics" / "room.participant.joined.json"
    topic = json.loads(path.read_text(encoding="utf-8"))
    topic["forwarding"]["redact"][0]["path"] = "/payload/nope"
    topic["description"] = "A participant joined the room (edited, so the output would change)."
    path.write_text(json.dumps(topic, indent=2), encoding="utf-8")

    for extra in ([], ["--check"]):
        result = codegen(*outs(workspace), *extra)
        assert result.returncode == 2
        assert result.stderr.strip() == (
            f"error: {path} at /forwarding/redact/0/path: "
            "'/payload/nope' is outside the payload: no such field in the topic's schema"
        )
        assert "Traceback" not in result.stderr
        assert snapshot(py, ts) == before
        assert py.exists() == generated_before and ts.exists() == generated_before


def test_check_on_the_repo_passes_because_committed_output_is_fresh() -> None:
    result = codegen("--check")
    assert result.returncode == 0, result.stderr


def test_generated_models_import_and_cover_every_topic() -> None:
    from bot.generated import MODELS, SPEC_VERSION, Topic, TopicModel

    assert set(MODELS) == set(Topic)
    for topic in Topic:
        model = MODELS[topic]
        assert issubclass(model, TopicModel)
        assert model.TOPIC is topic
    registry = json.loads((REPO / "bot" / "generated" / "registry.json").read_text(encoding="utf-8"))
    assert set(registry["topics"]) == {t.value for t in Topic}
    assert registry["specVersion"] == SPEC_VERSION


AWKWARD_PROPERTIES = {
    "from": {"type": "string", "description": 'Ends with a "quote"'},
    "vote-id": {"type": "string", "description": r"A backslash \d here"},
    "_private": {"type": "integer"},
    "2nd": {"type": "boolean"},
    "ballot": {
        "type": "object",
        "title": "Ballot paper",
        "properties": {"class": {"type": "string"}},
        "required": ["class"],
        "additionalProperties": False,
    },
}


def test_awkward_names_and_descriptions_still_generate_importable_models(
    workspace: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    spec, _, ts = workspace
    path = spec / "topics" / "room.vote.cast.json"
    topic = json.loads(path.read_text(encoding="utf-8"))
    topic["description"] = 'A vote whose docstring ends in a "quote" and has a backslash \\ in it "'
    topic["schema"]["properties"].update(AWKWARD_PROPERTIES)
    path.write_text(json.dumps(topic, indent=2), encoding="utf-8")
    package = tmp_path / "pkg"
    py = package / "bot" / "generated"
    py.mkdir(parents=True)
    (package / "bot" / "__init__.py").write_text("", encoding="utf-8")

    result = codegen("--spec", spec, "--python-out", py, "--ts-out", ts)
    assert result.returncode == 0, result.stderr

    wire = {
        "voteId": "v1",
        "option": "yes",
        "from": "a",
        "vote-id": "b",
        "_private": 1,
        "2nd": True,
        "ballot": {"class": "c"},
    }
    probe = (
        "import json, sys; from bot.generated import RoomVoteCast as M; "
        f"wire = {wire!r}; m = M.model_validate(wire); "
        "assert m.to_wire() == wire, m.to_wire(); "
        "assert m.from_ == 'a' and m.vote_id == 'v1' and m.ballot.class_ == 'c'; "
        "assert M.__doc__.endswith('\"'), M.__doc__"
    )
    run = subprocess.run(
        [sys.executable, "-W", "error::SyntaxWarning", "-c", probe],
        cwd=package,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr


def test_the_browser_validators_are_checked_and_rewritten_with_the_repo_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``python -m codegen`` also runs web/scripts/validators.mjs (Ajv's standalone code for the
    browser): a stale file fails ``--check``, and a plain run rewrites it."""
    import codegen.__main__ as cli

    web = tmp_path / "web"
    (web / "node_modules" / "ajv").mkdir(parents=True)
    calls: list[list[str]] = []

    def fake_run(cmd: list[str], cwd: Path, check: bool) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1 if "--check" in cmd else 0)

    monkeypatch.setattr(cli, "WEB", web)
    monkeypatch.setattr(cli.subprocess, "run", fake_run)
    monkeypatch.setattr(cli.shutil, "which", lambda name: "/usr/bin/node")
    assert cli.run_validators(check=True) == 1
    assert cli.run_validators(check=False) == 0
    assert [c[-1] for c in calls] == ["--check", str(cli.VALIDATORS_SCRIPT)]

    monkeypatch.setattr(cli.shutil, "which", lambda name: None)
    assert cli.run_validators(check=True) == 0  # no node: said, not failed
    assert "not checked" in capsys.readouterr().err
