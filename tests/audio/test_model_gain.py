"""The model input gain (``GateParams.model_gain_max_db``): how much, when, and on which windows.

The real Silero model on pink noise and a tone, to check what the model is fed: only windows the gate
finds sounding are raised, replays and trail windows are not, and the gate, levels and sound spans
are measured on the audio as it is.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from bot.analytics.speaking import EnergyGate, GateParams
from bot.audio.silero_stream import SileroStreams
from tests.audio.test_silero_batch import pink, tone

ON = GateParams(model_gain_max_db=15.0)


@pytest.fixture(scope="module")
def session():  # type: ignore[no-untyped-def]
    return SileroStreams.load().session


def with_floor(streams: SileroStreams, pid: str, dbfs: float = -70.0) -> None:
    """Open ``pid`` and give its gate 1 s of room tone at about ``dbfs``, so its floor is known."""
    streams.open(pid)
    streams.feed(pid, pink(1000, seed=1, dbfs=dbfs))


def test_on_by_default_since_the_ninth_round() -> None:
    assert GateParams().model_gain_max_db == 15.0
    assert GateParams().model_gain_over_floor_db == 10.0


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        ({"model_gain_max_db": -1.0}, "model_gain_max_db must be 0..24"),
        ({"model_gain_max_db": 30.0}, "model_gain_max_db must be 0..24"),
        ({"model_gain_max_db": float("nan")}, "model_gain_max_db must be a finite number"),
        ({"model_gain_max_db": float("inf")}, "model_gain_max_db must be a finite number"),
        ({"model_gain_target_dbfs": float("nan")}, "model_gain_target_dbfs must be a finite number"),
        ({"model_gain_floor_dbfs": float("-inf")}, "model_gain_floor_dbfs must be a finite number"),
        ({"model_gain_target_dbfs": 10.0}, "model_gain_floor_dbfs < model_gain_target_dbfs < 0"),
        ({"model_gain_floor_dbfs": -20.0}, "model_gain_floor_dbfs < model_gain_target_dbfs < 0"),
        ({"model_gain_over_floor_db": float("nan")}, "model_gain_over_floor_db must be a finite number"),
        ({"model_gain_over_floor_db": -1.0}, "model_gain_over_floor_db must be >= 0 dB"),
    ],
)
def test_bad_gain_parameters_are_refused(kwargs: dict[str, float], says: str) -> None:
    with pytest.raises(ValueError, match=re.escape(says)):
        GateParams(**kwargs)


def test_the_gate_reports_the_floor_once_it_knows_it() -> None:
    gate = EnergyGate(GateParams(floor_after_ms=64), window_ms=32)
    assert gate.floor_dbfs is None
    gate.step(-62.0)
    assert gate.floor_dbfs is None
    gate.step(-60.0)
    assert gate.floor_dbfs == -62.0  # the lowest window level, without the margin
    assert EnergyGate(GateParams(floor_margin_db=0), window_ms=32).floor_dbfs is None  # not followed


def test_the_gain_brings_a_quiet_voice_towards_the_target_within_both_caps(session) -> None:  # type: ignore[no-untyped-def]
    streams = SileroStreams(session, gate=ON)
    with_floor(streams, "p-quiet", dbfs=-75.0)
    floor = streams._streams["p-quiet"].gate.floor_dbfs  # type: ignore[union-attr]
    assert floor is not None and floor < -70.0
    assert streams.model_gain_db("p-quiet") == 0.0  # no voice heard yet
    streams.follow("p-quiet", -33.0)  # speaking, loudest window -33 dBFS: -24 - -33 = 9 dB
    assert streams.model_gain_db("p-quiet") == pytest.approx(9.0)
    streams.follow("p-quiet", -45.0)  # louder max: capped at 15 dB
    assert streams.model_gain_db("p-quiet") == pytest.approx(15.0)
    streams.follow("p-quiet", -20.0)  # a loud voice: never below 0 (no attenuation)
    assert streams.model_gain_db("p-quiet") == 0.0


def test_a_loud_window_is_never_raised_past_the_target(session) -> None:  # type: ignore[no-untyped-def]
    # after a quiet utterance the gain is 15 dB; a -20 dBFS tone (over the -24 dBFS target) and a
    # -30 dBFS one (6 dB under it) reach the model unraised and raised 6 dB
    streams = SileroStreams(session, gate=ON)
    with_floor(streams, "p-a", dbfs=-75.0)
    streams.follow("p-a", -42.0)
    streams.follow("p-a", None)
    fed: list[float] = []
    real = streams._infer
    streams._infer = lambda stream, window: fed.append(float(np.max(np.abs(window)))) or real(stream, window)  # type: ignore[method-assign]
    for dbfs in (-20.0, -30.0):
        fed.clear()
        loud = tone(320, dbfs=dbfs)  # tone() sets the peak; its loudest 8 ms block is 3 dB under it
        streams.feed("p-a", loud)
        level = dbfs - 3.01
        expected = 10 ** (dbfs / 20) * 10 ** (max(0.0, -24.0 - level) / 20)
        assert fed and max(fed) == pytest.approx(expected, rel=0.02)
        streams.feed("p-a", np.zeros(16000, dtype=np.int16))  # a pause between the two


def test_the_last_utterance_sets_the_gain_until_the_next_is_louder(session) -> None:  # type: ignore[no-untyped-def]
    streams = SileroStreams(session, gate=ON)
    with_floor(streams, "p-a", dbfs=-75.0)
    streams.follow("p-a", -36.0)
    streams.follow("p-a", None)  # the utterance ended at -36: its level stays
    assert streams.model_gain_db("p-a") == pytest.approx(12.0)
    streams.follow("p-a", -44.0)  # a new utterance's first windows are quieter: the louder counts
    assert streams.model_gain_db("p-a") == pytest.approx(12.0)
    streams.follow("p-a", -30.0)
    assert streams.model_gain_db("p-a") == pytest.approx(6.0)


def test_a_noisy_track_is_not_raised_over_the_floor_cap(session) -> None:  # type: ignore[no-untyped-def]
    # room tone at -47 dBFS RMS: raising it would lift noise tails into speech; the floor (its
    # quietest window's loudest block) is over -50 dBFS, so no gain at all
    streams = SileroStreams(session, gate=ON)
    with_floor(streams, "p-noisy", dbfs=-47.0)
    streams.follow("p-noisy", -40.0)
    assert streams.model_gain_db("p-noisy") == 0.0
    # a -60 dBFS floor allows 10 dB (-50 - -60) though the voice asks for 16
    streams = SileroStreams(session, gate=ON)
    with_floor(streams, "p-mid", dbfs=-63.0)
    floor = streams._streams["p-mid"].gate.floor_dbfs  # type: ignore[union-attr]
    streams.follow("p-mid", -40.0)
    assert streams.model_gain_db("p-mid") == pytest.approx(min(15.0, 16.0, -50.0 - floor))


def test_off_means_unchanged_scores_and_on_raises_only_sounding_windows(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # room tone under the gate between two tones: its windows are replayed (preroll) or run as
    # trail windows, and must reach the model as they are
    audio = np.concatenate([tone(300, dbfs=-40.0), pink(300, seed=2, dbfs=-75.0), tone(300, dbfs=-40.0)])
    fed: dict[str, list[float]] = {}

    def run(gate: GateParams, pid: str) -> list[tuple[float | None, float | None, tuple[int, int] | None]]:
        streams = SileroStreams(session, gate=gate)
        real = streams._infer

        def spy(stream, window):  # type: ignore[no-untyped-def]
            fed.setdefault(pid, []).append(float(np.max(np.abs(window))))
            return real(stream, window)

        monkeypatch.setattr(streams, "_infer", spy)
        with_floor(streams, pid, dbfs=-75.0)
        fed[pid] = []
        streams.follow(pid, -40.0)  # as if the participant had just spoken at -40 dBFS: 15 dB
        return [(w.confidence, w.level, w.sound) for w in streams.feed(pid, audio)]

    off = run(GateParams(model_gain_max_db=0.0), "off")
    on = run(ON, "on")
    assert [level for _, level, _ in on] == [level for _, level, _ in off]  # levels measured as it is
    assert [sound for _, _, sound in on] == [sound for _, _, sound in off]  # and the sound spans
    peak = 10 ** (-40 / 20)  # the tone's peak (tone() scales the peak)
    raised = [p for p in fed["on"] if p > 2 * peak]
    assert raised and all(p == pytest.approx(peak * 10 ** (15 / 20), rel=0.01) for p in raised)
    assert len(raised) == len([p for p in fed["off"] if p == pytest.approx(peak, rel=0.01)])  # every tone window
    # the model runs on the gated silence between the tones (replay, trail) are not raised
    quiet_on, quiet_off = [p for p in fed["on"] if p < peak / 2], [p for p in fed["off"] if p < peak / 2]
    assert quiet_on and quiet_on == quiet_off
    assert len(fed["on"]) == len(fed["off"])  # the same windows run: the gate decided on the audio as it is


def test_no_floor_means_no_gain(session) -> None:  # type: ignore[no-untyped-def]
    # floor_margin_db 0: the floor is not followed, so the floor cap cannot be kept: no gain at all
    streams = SileroStreams(session, gate=GateParams(floor_margin_db=0))
    with_floor(streams, "p-a", dbfs=-75.0)
    streams.follow("p-a", -42.0)
    assert streams.model_gain_db("p-a") == 0.0


def test_windows_near_the_floor_are_not_raised(session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # a quiet talker's rumble after her words sounds while she speaks (follow_speaker_db); raised,
    # it scored as speech and held her on (kt-phone): only windows 10 dB over the floor are raised
    fed: list[float] = []
    streams = SileroStreams(session, gate=ON)
    real = streams._infer
    monkeypatch.setattr(
        streams, "_infer", lambda stream, window: fed.append(float(np.max(np.abs(window)))) or real(stream, window)
    )
    with_floor(streams, "p-a", dbfs=-66.0)
    floor = streams._streams["p-a"].gate.floor_dbfs  # type: ignore[union-attr]
    assert floor is not None
    streams.follow("p-a", -44.0)  # speaking at -44 dBFS: sounding down to -65 dBFS
    gain = streams.model_gain_db("p-a")
    assert gain > 0
    for over, raised in ((8.0, False), (15.0, True)):  # 8: over the 6 dB floor margin, under 10
        fed.clear()
        peak = floor + over + 3.01  # tone() sets the peak; its loudest block is 3 dB under it
        streams.feed("p-a", tone(96, dbfs=peak))
        as_is, lifted = 10 ** (peak / 20), 10 ** ((peak + gain) / 20)
        # the tone's windows reach the model as they are or raised by the gain (the replayed room
        # tone before them is never raised)
        assert any(p == pytest.approx(lifted if raised else as_is, rel=0.02) for p in fed), over
        assert not any(p == pytest.approx(as_is if raised else lifted, rel=0.02) for p in fed), over
