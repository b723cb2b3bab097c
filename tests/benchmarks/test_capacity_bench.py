"""The capacity bench still runs rooms through the real supervisor (it once silently measured no
room at all for a whole session, after the supervisor's ingestion grew an argument)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("capacity_bench", REPO / "benchmarks" / "capacity_bench.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(120)
def test_one_room_at_speed_0_joins_and_is_measured(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_bench()
    assert bench.main(["--rooms", "1", "--scenario", "demo", "--speed", "0"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] == ["1"]]
    assert [row[1] for row in rows] == ["exec", "template"], out  # both ways of starting a bot
    for _rooms, _spawn, ok, cpu, *_ in rows:
        assert ok == "1", out
        assert cpu != "nan", out  # the pipeline started (conversation.policy.loaded was seen)
    assert "not meaningful" in out  # speed 0 is said to check the bench only


def test_a_room_that_never_joins_fails_the_bench(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = load_bench()

    async def no_rooms(
        n: int, scenario: str, media_secs: float, speed: float = 1.0, spawn: str = "template"
    ) -> list[object]:
        return [bench.RoomProbe(room_id=f"r{i}", created_wall=0.0) for i in range(n)]

    monkeypatch.setattr(bench, "run_rooms", no_rooms)
    assert bench.main(["--rooms", "1", "--scenario", "demo"]) == 1
    assert "rooms that never joined: 1 of 1" in capsys.readouterr().err
