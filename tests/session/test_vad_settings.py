"""``BOT_VAD_MODEL_GAIN_DB`` reaches the speech detection: the gate the room pipeline is built with."""

from __future__ import annotations

from pathlib import Path

from bot.analytics.speaking import GateParams
from bot.config.settings import Settings
from bot.events import SessionContext, create_runtime
from bot.pipelines.room import build_room_pipeline
from bot.processors.participant_vad import ParticipantVAD
from bot.rooms.simulated import SimulatedRoom
from bot.session.pipeline import vad_gate

DEMO = Path(__file__).resolve().parents[2] / "bot" / "scenarios" / "rooms" / "balanced.json"


def test_the_defaults_leave_the_gain_off() -> None:
    assert vad_gate(Settings()) is None
    assert vad_gate(Settings(vad_model_gain_db=0.0)) is None


def test_a_gain_setting_becomes_the_gate_of_the_room_pipeline() -> None:
    gate = vad_gate(Settings(vad_model_gain_db=15.0))
    assert gate == GateParams(model_gain_max_db=15.0)
    runtime = create_runtime(SessionContext(session_id="s-1", assistant_id="a-1", tenant_id="t-1", room_id="r-1"))
    pipeline = build_room_pipeline(SimulatedRoom(DEMO, speed=0), runtime, gate=gate)
    vad = next(p for p in pipeline.processors if isinstance(p, ParticipantVAD))
    assert vad._gate == gate
    default = build_room_pipeline(SimulatedRoom(DEMO, speed=0), runtime)
    assert next(p for p in default.processors if isinstance(p, ParticipantVAD))._gate == GateParams()
