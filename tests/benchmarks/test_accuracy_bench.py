"""benchmarks/accuracy.py: held-out rooms are scored only when asked for, and bad arguments say
what was wrong (a full-table run once scored the held-out rooms with an experiment by mistake)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("accuracy_bench", REPO / "benchmarks" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """The bench over two small synthetic rooms, the second marked held out."""
    module = load_bench()
    room = REPO / "bot" / "scenarios" / "rooms" / "balanced.json"
    truth: dict[str, Any] = module.load_truth(room)
    fake = [("open-room", room, truth), ("secret-room", room, {**truth, "heldOut": True})]
    monkeypatch.setattr(module, "rooms", lambda: fake)
    return module


@pytest.mark.timeout(120)
def test_a_full_table_leaves_the_held_out_rooms_out_and_says_so(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert "open-room" in out
    assert "held out, not scored: secret-room" in out
    assert not [line for line in out.splitlines() if line.startswith("secret-room")]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("argv", [["secret-room"], ["--held-out"]])
def test_held_out_rooms_are_scored_when_asked_for(
    bench: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(argv) == 0
    out = capsys.readouterr().out
    assert [line for line in out.splitlines() if line.startswith("secret-room") and line.endswith("(held out)")]
    assert "not scored" not in out


def test_a_room_whose_recordings_are_not_installed_names_the_package(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(bench.MISSING, "kt-gone", "/x/a.ogg: not found; install the Debian package ktuberling-data")
    assert bench.main(["kt-gone"]) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        "accuracy: room 'kt-gone' cannot be built here: /x/a.ogg: not found; install the Debian package ktuberling-data"
    ]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["no-such-room"], "no room 'no-such-room'"),
        (["--fast"], "unknown option --fast"),
        (["--model-gain", "loud"], "--model-gain needs a number of dB (0-24), got 'loud'"),
        (["--model-gain", "30"], "got '30'"),
        (["--model-gain", "-3"], "got '-3'"),
        (["--model-gain"], "got ''"),
        (["--model-gain", "15", "--model-gain", "9"], "--model-gain given twice"),
    ],
)
def test_bad_arguments_exit_2_naming_the_problem(
    bench: ModuleType, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(argv) == 2
    assert says in capsys.readouterr().err


@pytest.mark.timeout(120)
def test_model_gain_scores_another_gain_and_says_so(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    gates: list[Any] = []
    real = bench.play_scenario
    monkeypatch.setattr(
        bench, "play_scenario", lambda scenario, gate=None: gates.append(gate) or real(scenario, gate=gate)
    )
    assert bench.main(["open-room", "--model-gain", "9"]) == 0
    assert [g.model_gain_max_db for g in gates] == [9.0]
    assert capsys.readouterr().out.startswith("model input gain up to 9 dB, not the default 15 dB")
    gates.clear()
    assert bench.main(["open-room", "--model-gain", "0"]) == 0
    assert [g.model_gain_max_db for g in gates] == [0.0]
    assert capsys.readouterr().out.startswith("model input gain off, not the default 15 dB")
    for argv in (["open-room"], ["open-room", "--model-gain", "15"]):
        gates.clear()
        assert bench.main(argv) == 0
        assert gates == [None]  # the defaults
        assert "model input gain" not in capsys.readouterr().out
