"""``BOT_VAD_MODEL_GAIN_DB`` (15 dB by default, 0: off) reaches the speech detection: the gate the room pipeline is built with."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.analytics.speaking import GateParams
from bot.config.settings import Settings
from bot.events import SessionContext, create_runtime
from bot.pipelines.room import build_room_pipeline
from bot.policy import default_policy
from bot.processors.participant_vad import ParticipantVAD
from bot.rooms.simulated import SimulatedRoom
from bot.session.pipeline import run_room_pipeline, vad_gate

DEMO = Path(__file__).resolve().parents[2] / "bot" / "scenarios" / "rooms" / "balanced.json"


def test_the_defaults_build_the_default_gate_with_the_gain_on() -> None:
    assert Settings().vad_model_gain_db == GateParams().model_gain_max_db == 15.0
    assert vad_gate(Settings()) is None  # None: the defaults
    assert vad_gate(Settings(vad_model_gain_db=15.0)) is None
    assert vad_gate(Settings(vad_model_gain_db=0.0)) == GateParams(model_gain_max_db=0.0)  # off


def test_a_gain_setting_becomes_the_gate_of_the_room_pipeline() -> None:
    gate = vad_gate(Settings(vad_model_gain_db=9.0))
    assert gate == GateParams(model_gain_max_db=9.0)
    runtime = create_runtime(SessionContext(session_id="s-1", assistant_id="a-1", tenant_id="t-1", room_id="r-1"))
    pipeline = build_room_pipeline(SimulatedRoom(DEMO, speed=0), runtime, gate=gate)
    vad = next(p for p in pipeline.processors if isinstance(p, ParticipantVAD))
    assert vad._gate == gate
    default = build_room_pipeline(SimulatedRoom(DEMO, speed=0), runtime)
    assert next(p for p in default.processors if isinstance(p, ParticipantVAD))._gate == GateParams()


class _Built(Exception):
    """Raised by the stand-in ``build_room_pipeline`` to stop the session once it has its arguments."""

    def __init__(self, kwargs: dict[str, Any]) -> None:
        super().__init__("built")
        self.kwargs = kwargs


@pytest.mark.parametrize(
    "gain, expected", [(15.0, None), (9.0, GateParams(model_gain_max_db=9.0)), (0.0, GateParams(model_gain_max_db=0.0))]
)
def test_the_session_builds_its_room_pipeline_with_the_setting(
    gain: float, expected: GateParams | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bot.pipelines.room as room_module

    def capture(*_args: Any, **kwargs: Any) -> None:
        raise _Built(kwargs)

    monkeypatch.setattr(room_module, "build_room_pipeline", capture)
    runtime = create_runtime(SessionContext(session_id="s-1", assistant_id="a-1", tenant_id="t-1", room_id="r-1"))
    settings = Settings(vad_model_gain_db=gain, idle_timeout_secs=None)
    run = run_room_pipeline(
        SimulatedRoom(DEMO, speed=0),
        settings=settings,
        runtime=runtime,
        policy=default_policy(),
        limiter=None,  # type: ignore[arg-type]
        agenda=(),
        daily=False,
        control=None,  # type: ignore[arg-type]
        heartbeats=None,  # type: ignore[arg-type]
    )
    with pytest.raises(_Built) as built:
        asyncio.run(asyncio.wait_for(run, timeout=30))
    assert built.value.kwargs["gate"] == expected


def test_the_environment_variable_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_VAD_MODEL_GAIN_DB", "0")
    assert Settings().vad_model_gain_db == 0.0
    assert vad_gate(Settings()) == GateParams(model_gain_max_db=0.0)
