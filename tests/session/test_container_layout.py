"""The container image's contents, without a Docker engine: the wheel the Dockerfile builds, run
from outside the repository.

The Dockerfile's build stage copies a few files and runs ``pip wheel``; the runtime stage installs
only that wheel and runs ``python -m bot`` as an unprivileged user in its home directory. This test
builds the wheel from exactly the files the build stage copies (read from the Dockerfile, so the
two cannot drift), checks what it holds, and plays the bundled demo from it with the repository
off the path: a missing data file, a read of ``spec/`` or a write into the package would fail here.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def build_stage_copies(dockerfile: Path) -> list[str]:
    """The sources of every ``COPY`` in the Dockerfile's first (build) stage."""
    sources: list[str] = []
    stages = 0
    for line in dockerfile.read_text(encoding="utf-8").splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[0].upper() == "FROM":
            stages += 1
            if stages > 1:
                break
        elif words[0].upper() == "COPY" and not any(w.startswith("--from") for w in words):
            sources += [w.rstrip("/") for w in words[1:-1]]
    return sources


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    context = tmp_path_factory.mktemp("context")
    for source in build_stage_copies(REPO / "Dockerfile"):
        origin = REPO / source
        if origin.is_dir():
            shutil.copytree(origin, context / source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(origin, context / source)
    out = tmp_path_factory.mktemp("wheels")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--wheel-dir",
            str(out),
            str(context),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("*.whl")
    return built


def test_the_build_stage_copies_the_package_and_its_metadata_only() -> None:
    assert sorted(build_stage_copies(REPO / "Dockerfile")) == ["README.md", "bot", "pyproject.toml"]


def test_the_wheel_holds_the_bot_and_its_data_and_nothing_else(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {name.split("/", 1)[0] for name in names}
    assert top == {"bot", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for needed in (
        "bot/generated/registry.json",
        "bot/generated/spec_version.txt",
        "bot/scenarios/demo.json",
        "bot/scenarios/clips/manifest.json",
    ):
        assert needed in names
    clips = {n for n in names if n.startswith("bot/scenarios/clips/") and n.endswith(".wav")}
    played = 0
    for scenario in ["bot/scenarios/demo.json", *sorted(n for n in names if n.startswith("bot/scenarios/rooms/"))]:
        for event in json.loads((REPO / scenario).read_text())["events"]:
            if "audio" in event:
                wanted = (Path(scenario).parent / event["audio"]).as_posix()
                assert os.path.normpath(wanted) in clips, (scenario, event["audio"])
                played += 1
    assert played > 20  # the check above ran over every clip the bundled rooms play
    assert wheel.stat().st_size < 5_000_000


def test_the_installed_wheel_plays_the_demo_outside_the_repository(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    before = {p: p.stat().st_mtime_ns for p in site.rglob("*")}
    home = tmp_path / "home"
    home.mkdir()
    deps = sysconfig.get_paths()["purelib"]  # the runtime dependencies; -S keeps the editable install of the repo away
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": f"{site}{os.pathsep}{deps}",
    }
    where = subprocess.run(
        [sys.executable, "-S", "-c", "import bot; print(bot.__file__)"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.strip() == str(site / "bot" / "__init__.py")
    proc = subprocess.run(
        [sys.executable, "-S", "-m", "bot", "--speed", "0"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    topics = [e["topic"] for e in envelopes]
    assert topics[:4] == [
        "assistant.session.started",
        "assistant.room.join.requested",
        "assistant.room.join.succeeded",
        "bot.health.heartbeat",
    ]
    assert topics[-1] == "assistant.session.ended" and envelopes[-1]["payload"]["reason"] == "completed"
    assert "room.dominance.score" in topics and "events.runtime.version.mismatch" not in topics
    assert [e["meta"]["seq"] for e in envelopes] == list(range(1, len(envelopes) + 1))
    assert {p: p.stat().st_mtime_ns for p in site.rglob("*")} == before, "the bot wrote into its installed package"
    # onnxruntime keeps a device id under ~/.cache (the image's user has a home for it); nothing else
    assert sorted(p.name for p in home.iterdir()) in ([], [".cache"]), "the bot left files in the working directory"
