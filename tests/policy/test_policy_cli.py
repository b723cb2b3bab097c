"""``python -m bot.policy compose|check``: snapshots written canonically, errors one line, exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import rfc8785

from bot.policy import load_policy
from bot.policy.__main__ import main

REPO = Path(__file__).resolve().parents[2]
POLICY_ROOMS = REPO / "bot" / "scenarios" / "policy"
LAYERS = POLICY_ROOMS / "layers"


def layers_of(room: str) -> list[str]:
    return [str(POLICY_ROOMS / p) for p in json.loads((POLICY_ROOMS / f"{room}.json").read_text())["x-policy-layers"]]


def test_compose_writes_a_canonical_verified_snapshot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "policy.json"
    assert main(["compose", *layers_of("monologue"), "-o", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.endswith(b"\n") and raw[:-1] == rfc8785.dumps(json.loads(raw))
    loaded = load_policy(out)
    assert loaded.layers == ("prism-platform", "tenant-acme", "assistant-standup", "room-monologue")
    said = capsys.readouterr().out
    assert said.startswith(f"{out}: {loaded.version} ({len(loaded.rules)} rules; layers prism-platform → tenant-acme")


def test_check_reports_a_snapshot_and_a_layer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(POLICY_ROOMS / "guarded.policy.json")]) == 0
    assert main(["check", str(LAYERS / "tenant-acme.json")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith("(14 rules; layers prism-platform → tenant-acme → room-guarded)")
    assert "ok, tenant layer 'tenant-acme' (turns, rates, content)" in lines[1]


@pytest.mark.parametrize("room", ["guarded", "monologue"])
def test_the_committed_room_snapshots_are_fresh(tmp_path: Path, room: str) -> None:
    """bot/scenarios/policy/ROOM.policy.json is what composing its layers gives today."""
    out = tmp_path / "p.json"
    assert main(["compose", *layers_of(room), "-o", str(out)]) == 0
    assert out.read_bytes() == (POLICY_ROOMS / f"{room}.policy.json").read_bytes(), (
        "run: python -m bot.policy compose ... (docs/policy.md)"
    )


def test_errors_are_one_line_naming_file_and_field_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "kind": "prism.policy.layer",
                "schemaVersion": 1,
                "name": "b",
                "level": "tenant",
                "rates": {"botMessages": {"capacity": 0, "refillEveryMs": 1}},
            }
        )
    )
    assert main(["compose", str(bad), "-o", str(tmp_path / "x.json")]) == 2
    assert main(["check", str(bad)]) == 2
    assert main(["check", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f'error: {bad}: "rates.botMessages.capacity" input should be greater than or equal to 1 (got 0)',
        f'error: {bad}: "rates.botMessages.capacity" input should be greater than or equal to 1 (got 0)',
        f"error: {tmp_path / 'missing.json'}: file not found",
    ]
    assert not (tmp_path / "x.json").exists()


def test_the_module_runs_as_a_command(tmp_path: Path) -> None:
    tampered = json.loads((POLICY_ROOMS / "guarded.policy.json").read_text())
    tampered["policy"]["turns"]["maxTurnMs"] = 1_000
    path = tmp_path / "t.json"
    path.write_text(json.dumps(tampered))
    proc = subprocess.run(
        [sys.executable, "-m", "bot.policy", "check", str(path)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.startswith(f'error: {path}: "policyVersion" does not match the snapshot\'s content')
    assert len(proc.stderr.splitlines()) == 1
