"""Scenario limits are checked at load, before anything is built (issue 11, item 13): a 10 h
noise event is a ScenarioError (stage join, exit 2), not a MemoryError in the pipeline, and a 1 h
one no longer takes gigabytes while loading."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from bot.core.errors import ScenarioError
from bot.rooms.scenario import MAX_EVENTS, MAX_NOISE_MS, MAX_ROOM_MS, load_scenario, noise_samples

REPO = Path(__file__).resolve().parents[2]


def room(tmp_path: Path, *events: dict[str, Any], **top: Any) -> Path:
    data = {
        "participants": [{"id": "p", "name": "P"}],
        "events": [{"atMs": 0, "type": "join", "participant": "p"}, *events],
        **top,
    }
    path = tmp_path / "room.json"
    path.write_text(json.dumps(data))
    return path


def noise(ms: int, kind: str = "pink", at: int = 10) -> dict[str, Any]:
    return {"atMs": at, "type": "noise", "participant": "p", "durationMs": ms, "kind": kind}


@pytest.mark.parametrize(
    ("events", "top", "field", "message"),
    [
        ([noise(10 * 3_600_000)], {}, "durationMs", "a noise event lasts at most 3600000 ms (1 h)"),
        ([noise(MAX_NOISE_MS // 2), noise(MAX_NOISE_MS // 2 + 1, at=MAX_NOISE_MS)], {}, "durationMs", "in all"),
        ([], {"durationMs": MAX_ROOM_MS + 1}, "durationMs", "a simulated room lasts at most"),
        ([{"atMs": MAX_ROOM_MS + 1, "type": "chat", "participant": "p", "text": "late"}], {}, "atMs", "at most"),
    ],
    ids=["ten-hour-noise", "total-noise", "room-duration", "event-past-the-end"],
)
@pytest.mark.timeout(30)
def test_limits_fail_at_load_naming_the_field(
    tmp_path: Path, events: list[dict[str, Any]], top: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(ScenarioError) as err:
        load_scenario(room(tmp_path, *events, **top))
    assert err.value.field == field and message in str(err.value)


def test_too_many_events_fail_before_any_is_parsed(tmp_path: Path) -> None:
    chats = [{"atMs": 1, "type": "chat", "participant": "p", "text": "x"}] * (MAX_EVENTS + 1)
    with pytest.raises(ScenarioError, match=f"at most {MAX_EVENTS}"):
        load_scenario(room(tmp_path, *chats))


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_long_noise_is_generated_without_whole_event_float_arrays() -> None:
    n = 10 * 60 * 16_000  # 10 min at 16 kHz: 19 MB of int16
    tracemalloc.start()
    try:
        samples = noise_samples("pink", n, 16_000, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert samples.nbytes == 2 * n
    assert peak < samples.nbytes + 120_000_000, f"peak {peak / 1e6:.0f} MB"  # whole-event floats: ~350 MB


def test_short_noise_is_unchanged_by_block_generation() -> None:
    """The bundled rooms' noise (seconds long) plays the same samples as before."""
    import numpy as np

    rng = np.random.default_rng(7)
    x = rng.uniform(-1.0, 1.0, 32_000)
    expected = np.clip(np.round(x * 0.3 * 32767.0), -32768, 32767).astype(np.int16)
    assert (noise_samples("white", 32_000, 16_000, seed=7) == expected).all()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_ten_hour_noise_room_fails_at_join_with_exit_2(tmp_path: Path) -> None:
    path = room(tmp_path, noise(10 * 3_600_000))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "DAILY_", "ROOM_URL"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--simulate", str(path), "--speed", "0", "--view", "off"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert proc.returncode == 2, proc.stderr
    failed = [json.loads(line) for line in proc.stdout.splitlines() if '"assistant.session.failed"' in line]
    assert [f["payload"]["stage"] for f in failed] == ["join"]
    assert proc.stderr.strip().endswith('"durationMs" is 36000000 ms; a noise event lasts at most 3600000 ms (1 h)')


def test_a_participant_who_never_makes_a_sound_sends_no_audio(tmp_path: Path) -> None:
    """Mic off, as in a large Daily room: 1,000 silent people used to cost 50,000 frames of zeros
    per media second (0.19x real time at speed 0; issue 11, item 13)."""
    from pipecat.frames.frames import UserAudioRawFrame

    from bot.rooms.simulated import ScenarioPlayer

    data = {
        "participants": [{"id": f"p-{i}", "name": f"P{i}"} for i in range(50)],
        "events": [{"atMs": 0, "type": "join", "participant": f"p-{i}"} for i in range(50)]
        + [noise(1_000, "white", at=100) | {"participant": "p-7"}],
    }
    path = tmp_path / "silent.json"
    path.write_text(json.dumps(data))
    player = ScenarioPlayer(load_scenario(path))
    audio = [f.user_id for _, frames in player.steps() for f in frames if isinstance(f, UserAudioRawFrame)]
    assert set(audio) == {"p-7"} and len(audio) == 3_100 // 20
