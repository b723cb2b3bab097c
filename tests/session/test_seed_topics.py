"""What a session has loaded when each seed topic is written (started, join requested/succeeded,
the first heartbeat): ``python -m bot`` in a subprocess whose every write is watched.

Start-up speed is measured in ``benchmarks/startup_bench.py``; these tests pin what makes it:
the seed topics go out before the room's pipeline, its analytics and the link filter's RE2
programs are loaded, a simulated room joins before the context and the policy, and numpy is
imported with one OpenBLAS thread.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import BLAS_THREADS, one_blas_thread

REPO = Path(__file__).resolve().parents[2]
SEED = [
    "assistant.session.started",
    "assistant.room.join.requested",
    "assistant.room.join.succeeded",
    "bot.health.heartbeat",
]

WATCH = """
import json, os, sys
out, seed = sys.argv[1], json.loads(sys.argv[2])
seen = {}
blas_at_numpy = []

def audit(event, args):
    if event == "import" and args[0] == "numpy" and "numpy" not in sys.modules and not blas_at_numpy:
        blas_at_numpy.append(os.environ.get("OPENBLAS_NUM_THREADS"))

sys.addaudithook(audit)
write = os.write

def watched(fd, data):
    text = bytes(data)
    for topic in seed:
        if topic not in seen and b'"topic":"' + topic.encode() + b'"' in text:
            links = sys.modules.get("bot.policy.links")
            compiled = getattr(links, "compiled", None)  # absent: a links module that compiles at import
            seen[topic] = {
                "modules": sorted(sys.modules),
                "links_compiled": compiled.cache_info().currsize if compiled else int(links is not None),
            }
    return write(fd, data)

os.write = watched
sys.argv = ["python -m bot", *sys.argv[3:]]
from bot.cli.main import main

code = main()
with open(out, "w") as f:
    json.dump({"code": code, "seen": seen, "blas_at_numpy": blas_at_numpy}, f)
"""

PIPELINE = ("pipecat", "onnxruntime", "daily", "bot.pipelines", "bot.processors.participant_vad", "bot.rooms.simulated")
"""The room's pipeline: imported after the first heartbeat."""


def watch(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    out = tmp_path / "seen.json"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "MESH_", "OPENBLAS_"))}
    proc = subprocess.run(
        [sys.executable, "-c", WATCH, str(out), json.dumps(SEED), *args],
        cwd=tmp_path,
        env={**base, **(env or {})},
        capture_output=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    assert result["code"] == 0
    return result


def loaded(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    """The modules of ``modules`` that are one of ``prefixes`` or inside one."""
    return [m for m in modules if any(m == p or m.startswith(p + ".") for p in prefixes)]


@pytest.mark.slow
def test_the_seed_topics_go_out_before_the_pipeline_the_analytics_and_the_link_programs(tmp_path: Path) -> None:
    result = watch(tmp_path, "--speed", "0", "--view", "off")
    seen = result["seen"]
    assert list(seen) == SEED  # each written once, in this order
    for topic in SEED:
        modules = seen[topic]["modules"]
        assert loaded(modules, PIPELINE) == [], topic
        assert loaded(modules, ("bot.analytics",)) == [], topic  # the room's analysis is built with the pipeline
        assert seen[topic]["links_compiled"] == 0, topic  # RE2 link programs: built by the output gate
        # a simulated room's join is its scenario's load: it waits for neither the context nor the policy
        assert loaded(modules, ("bot.policy", "bot.session.context", "bot.session.policy")) == [], topic
    # the join is the scenario's load: numpy and the clips come between the request and the success
    assert "numpy" not in seen["assistant.room.join.requested"]["modules"]
    assert "numpy" in seen["assistant.room.join.succeeded"]["modules"]
    assert result["blas_at_numpy"] == ["1"]


def test_one_blas_thread_sets_the_default_only() -> None:
    environ: dict[str, str] = {}
    one_blas_thread(environ)
    assert environ == {BLAS_THREADS: "1"}
    environ = {BLAS_THREADS: "8"}
    one_blas_thread(environ)
    assert environ == {BLAS_THREADS: "8"}


def run_cli(tmp_path: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "MESH_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--speed", "0", "--view", "off", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


@pytest.mark.slow
def test_a_bad_policy_in_a_simulated_room_fails_after_the_join(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy.json"
    bad.write_text('{"kind": "prism.policy.layer"}')
    code, envelopes, stderr = run_cli(tmp_path, "--policy", str(bad))
    assert code == 2, stderr
    assert [e["topic"] for e in envelopes] == [*SEED, "assistant.session.failed"]
    assert envelopes[-1]["payload"]["stage"] == "policy" and not envelopes[-1]["payload"]["retryable"]
    assert stderr.strip().splitlines()[-1].startswith(f"error: BOT_POLICY_PATH (--policy): {bad}: ")
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_a_bad_scenario_is_the_failure_even_with_a_bad_policy(tmp_path: Path) -> None:
    bad = tmp_path / "bad.policy.json"
    bad.write_text('{"kind": "prism.policy.layer"}')
    code, envelopes, stderr = run_cli(tmp_path, "--simulate", str(tmp_path / "nope.json"), "--policy", str(bad))
    assert code == 2, stderr
    assert envelopes[-1]["payload"]["stage"] == "join"
    assert [e["topic"] for e in envelopes] == [
        "assistant.session.started",
        "assistant.room.join.requested",
        "assistant.room.join.failed",
        "assistant.session.failed",
    ]
    assert "nope.json" in stderr.strip().splitlines()[-1] and "Traceback" not in stderr
