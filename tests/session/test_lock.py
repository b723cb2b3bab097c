"""The images' lock (requirements/runtime.lock) and what the Dockerfiles do with it.

Docker is not available here, so the images are checked through what they are built from: the
lock pins every runtime dependency with hashes, both Dockerfiles install from it with hashes
required, the packages left out (numba, llvmlite, resampy) are never imported by a session, and
the images' loguru setting keeps local variables out of tracebacks.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "requirements" / "runtime.lock"
LEFT_OUT = {"numba", "llvmlite", "resampy"}


def locked() -> dict[str, list[tuple[Version, str]]]:
    """name → [(version, marker)] of every requirement line of the lock (a name may have one per marker)."""
    pins: dict[str, list[tuple[Version, str]]] = {}
    for line in LOCK.read_text().splitlines():
        if not re.match(r"[A-Za-z0-9]", line):
            continue
        spec, _, marker = line.rstrip(" \\").partition(";")
        name, _, version = spec.strip().partition("==")
        pins.setdefault(canonicalize_name(name), []).append((Version(version), marker.strip()))
    return pins


def dockerfile_env(path: Path) -> dict[str, str]:
    """The ``ENV`` values a Dockerfile sets (``ENV A=1 B=2`` and continued lines)."""
    text = path.read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if words and words[0].upper() == "ENV":
            for word in words[1:]:
                key, _, value = word.partition("=")
                env[key] = value
    return env


def test_the_lock_pins_every_runtime_dependency_exactly_with_hashes() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = locked()
    for requirement in map(Requirement, project["dependencies"]):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in the lock: run scripts/lock.sh"
        for version, _ in pins[name]:
            assert requirement.specifier.contains(version, prereleases=True), f"{name}=={version} vs {requirement}"
    blocks = re.split(r"\n(?=[A-Za-z0-9])", LOCK.read_text())
    requirements = [b for b in blocks if re.match(r"[A-Za-z0-9]", b)]
    assert requirements and all("--hash=sha256:" in b for b in requirements)
    assert not LEFT_OUT & set(pins), "numba, llvmlite and resampy stay out of the images"
    assert LOCK.stat().st_size < 1_000_000


def test_both_images_install_the_lock_with_hashes_and_the_bot_without_dependencies() -> None:
    plain = (REPO / "Dockerfile").read_text()
    assert "COPY requirements/runtime.lock" in plain
    assert "pip install --no-deps --require-hashes -r /tmp/runtime.lock" in plain
    assert "pip install --no-deps /wheels/*.whl" in plain
    pcc = (REPO / "Dockerfile.pcc").read_text()
    assert "--no-deps --require-hashes -r /tmp/prism/requirements/runtime.lock" in pcc
    assert "--no-deps /tmp/prism" in pcc
    assert "uv pip uninstall --python /app/.venv/bin/python numba llvmlite resampy" in pcc
    # uv writes no bytecode unless asked: each session start would compile the bot's modules again
    installs = [line for line in pcc.splitlines() if "uv pip install" in line]
    assert len(installs) == 2 and all("--compile-bytecode" in line for line in installs)


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.pcc"])
def test_the_images_loguru_sinks_print_no_local_variables(dockerfile: str, tmp_path: Path) -> None:
    """A sink added with loguru's defaults, as Pipecat Cloud's base image adds its own, under the image's ENV."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGURU_")}
    env.update(dockerfile_env(REPO / dockerfile))
    script = textwrap.dedent(
        """
        import sys
        from loguru import logger
        logger.remove()
        logger.add(sys.stderr, format="{time} | {level} | {message}")  # the base image's app.py

        def join(url):
            token = "zzz-secret-held-in-a-local"
            raise RuntimeError("join failed" + token[:0])  # the line names the local: diagnose would show it

        try:
            join("https://acme.daily.co/x")
        except RuntimeError:
            logger.exception("session failed")
        """
    )
    path = tmp_path / "session.py"  # a file: loguru's diagnose reads the source lines it annotates
    path.write_text(script)
    proc = subprocess.run([sys.executable, str(path)], env=env, capture_output=True, text=True, timeout=60)
    assert "RuntimeError: join failed" in proc.stderr
    assert "zzz-secret-held-in-a-local" not in proc.stderr


@pytest.mark.slow
def test_a_session_never_imports_what_the_lock_leaves_out(tmp_path: Path) -> None:
    """The bundled room played, and the Daily room's modules imported, with numba, llvmlite and resampy unimportable."""
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class Blocked(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {sorted(LEFT_OUT)!r}:
                    raise ImportError(f"{{name}} is not in the image")
                return None

        sys.meta_path.insert(0, Blocked())
        import bot.rooms.daily, pipecat.transports.daily.transport, bot.cloud  # the Daily and cloud paths
        from bot.cli.main import main
        sys.exit(main(["--view", "off", "--speed", "0"]))
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_", "MESH_"))}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,
        env={**env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert '"assistant.session.ended"' in proc.stdout.splitlines()[-1]
