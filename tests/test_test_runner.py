"""./test's step runner (scripts/steps.sh): one line per step, failures in full, a tally CI reads."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_steps(body: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "t.sh"
    script.write_text(f"source {REPO / 'scripts' / 'steps.sh'}\n{body}\nfinish\n")
    return subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=30, cwd=tmp_path)


def test_passing_steps_print_one_line_each_and_the_tally_last(tmp_path: Path) -> None:
    out = run_steps(
        "step 'codegen' true\n"
        "step 'pytest' bash -c 'echo bringing up nodes...; echo ...; echo \"12 passed, 1 skipped in 3.1s\"'\n"
        'step \'web\' bash -c \'echo "# tests 5"; echo "# pass 5"; echo "# fail 0"\'',
        tmp_path,
    )
    lines = out.stdout.splitlines()
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(lines) == 5 and "bringing up nodes" not in out.stdout
    assert lines[0].split()[:2] == ["codegen", "ok"]
    assert lines[1].split()[:2] == ["pytest", "ok"] and lines[1].endswith("12 passed, 0 failed, 1 skipped")
    assert lines[2].endswith("5 passed, 0 failed")
    assert lines[3].startswith("== 3 steps: 3 ok, 0 failed")
    assert lines[4] == "17 passed, 0 failed"


def test_a_failing_step_shows_its_whole_output_and_fails_the_run(tmp_path: Path) -> None:
    out = run_steps(
        "step 'pytest' bash -c 'echo \"E   assert 1 == 2\"; echo \"3 passed, 2 failed in 1s\"; exit 1'\n"
        "step 'check' bash -c 'echo generated code is stale; exit 3'\n"
        "step 'after' true",
        tmp_path,
    )
    assert out.returncode == 1
    assert "E   assert 1 == 2" in out.stdout and "generated code is stale" in out.stdout
    assert "after" in out.stdout, "a failing step does not stop the others"
    assert "2 failed (pytest check)" in out.stdout
    assert out.stdout.splitlines()[-1] == "3 passed, 3 failed"  # the check counts as one failure


def test_a_stopping_step_ends_the_run_with_the_tally(tmp_path: Path) -> None:
    out = run_steps("step -x 'setup' false\nstep 'never' true", tmp_path)
    assert out.returncode == 1 and "never" not in out.stdout
    assert out.stdout.splitlines()[-1] == "0 passed, 1 failed"


def test_pytest_selecting_nothing_is_not_a_failure(tmp_path: Path) -> None:
    out = run_steps("step 'slow' bash -c 'echo \"no tests ran in 0.1s\"; exit 5'", tmp_path)
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == "0 passed, 0 failed"
