"""Real human speech (Debian's codec2-examples, alsa-utils, asterisk-core-sounds and asterisk-prompt recordings) through
the room pipeline, scored with the field's conventions. Thresholds sit just below today's figures
(docs/vad.md, "Real-speech rooms"), so a regression trips them; the issue's targets are reported
by benchmarks/accuracy.py, not asserted here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from bot.analytics.speaking import GateParams
from bot.audio.silero_stream import SileroStreams
from bot.scenarios.realspeech.recipes import ROOMS
from bot.scenarios.realspeech.rooms import build_room
from bot.scenarios.realspeech.sources import HELD_OUT_VOICES, KT_VOICES, SOURCES
from bot.scenarios.tools.play import play_scenario
from bot.scenarios.tools.scoring import score_conventions

REPO = Path(__file__).resolve().parents[2]
ROUND_5 = [name for name, s in SOURCES.items() if s.voice in HELD_OUT_VOICES]
"""The fifth round's voices (held-out rooms ``meeting-7`` and ``huddle``), in packages of their own."""
ROUND_7 = [name for name, s in SOURCES.items() if s.voice in KT_VOICES]
"""The volunteers' voices from ktuberling-data: the seventh round's (``kt-meeting``, ``kt-phone``)
and the eighth's (``kt-panel``, held out)."""
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not all(s.path.exists() for name, s in SOURCES.items() if name not in ROUND_5 + ROUND_7),
        reason="codec2-examples / alsa-utils / asterisk-core-sounds-*-wav not installed (scripts/setup-system.sh)",
    ),
]
needs_round_5 = pytest.mark.skipif(
    not all(SOURCES[name].path.exists() for name in ROUND_5),
    reason="asterisk-prompt-es-co / asterisk-prompt-fr-armelle / asterisk-prompt-it-menardi-wav not installed "
    "(scripts/setup-system.sh): the held-out rooms meeting-7 and huddle",
)
needs_round_7 = pytest.mark.skipif(
    not all(SOURCES[name].path.exists() for name in ROUND_7),
    reason="ktuberling-data not installed (scripts/setup-system.sh): the rooms kt-meeting, kt-phone, kt-panel, kt-call, "
    "kt-line, kt-desk",
)


@cache
def built(name: str, out: str) -> Path:
    return build_room(ROOMS[name], Path(out))


@cache
def scored(name: str, out: str) -> dict[str, Any]:
    scenario = built(name, out)
    truth = json.loads((scenario.parent / "truth.json").read_text())
    return score_conventions(truth, play_scenario(scenario))


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("real-rooms"))


def test_rooms_rebuild_identically(out: str, tmp_path: Path) -> None:
    a = built("quiet-hello", out)
    b = build_room(ROOMS["quiet-hello"], tmp_path)
    for file in ("ann.wav", "ben.wav", "truth.json", "scenario.json"):
        assert (a.parent / file).read_bytes() == (b.parent / file).read_bytes(), file


def test_truth_labels_follow_the_overlap_rules(out: str) -> None:
    truth = json.loads((built("backchannel-early", out).parent / "truth.json").read_text())
    labelled = [o for o in truth["overlaps"] if o["label"]]
    assert len(labelled) >= 4
    assert all(o["label"] == o["kind"] and o["robustMs"] >= 100 for o in labelled)


def test_quiet_words_after_long_silence_start_on_time(out: str) -> None:
    # -42/-40 dBFS words after 7 s of room tone, soft onsets (before: onset max 162 ms, start
    # latency p95 336 ms, share error 2.8 points)
    s = scored("quiet-hello", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.98
    assert s["minRecall"] >= 0.97
    assert s["onsetMax"] <= 100
    assert s["startLatencyP95"] <= 200
    assert s["shareErrorPoints"] <= 1.0


def test_bleed_of_a_neighbour_is_not_speech_and_backchannels_stay_backchannels(out: str) -> None:
    # -20 dB bleed between two tracks (before: precision 0.41, share error 11 points);
    # backchannels 100-300 ms after a soft onset
    s = scored("backchannel-early", out)
    assert s["minPrecision"] >= 0.98
    assert s["shareErrorPoints"] <= 1.0
    assert s["scriptedOverlaps"] >= 4
    assert s["scriptedRight"] == s["scriptedOverlaps"], s["scriptedWrong"]
    assert s["minRecall"] >= 0.97
    assert s["missed"] == []


def test_telephone_band_words_in_room_tone_are_found(out: str) -> None:
    # 8 kHz room, telephone band, -36 dBFS words in -46 dBFS room tone after 10-20 s of it
    # (before: a 360 ms word missed, start latency p95 273 ms: Silero's state sank into "long silence")
    s = scored("phone", out)
    assert s["missed"] == []
    assert s["minRecall"] >= 0.97
    assert s["minPrecision"] >= 0.98
    assert s["onsetMax"] <= 150
    assert s["startLatencyP95"] <= 250


SOFT_FRICATIVE_STARTS = {"kt-de-moon_sign"}
"""Checked by plot: the recording begins inside a fricative (2-4 kHz frication from the first
sample, rising 10 dB over 100 ms) whose level hovers at the energy rule's threshold for 80 ms:
sound, not a click, so the truth rightly starts at 0."""


def _assert_no_truth_starts_on_a_click(names: list[str]) -> None:
    """No checked interval may begin with less than 30 ms of sound followed by 60 ms or more below
    the energy rule's threshold before the sound goes on."""
    import numpy as np

    from bot.scenarios.realspeech.sources import frame_dbfs, load_source, source_intervals

    for name in (n for n in names if n not in SOFT_FRICATIVE_STARTS):
        src = SOURCES[name]
        db = frame_dbfs(load_source(name))
        floor = np.percentile(db, 5) if src.floor_db is None else src.floor_db
        on = db > max(floor + 12, np.percentile(db, 99) - 40)
        for a, b in source_intervals(name):
            run = on[a // 10 : b // 10].astype(int)
            first_sustained = next(i for i in range(len(run) - 2) if run[i : i + 3].all())
            assert first_sustained * 10 < 60, f"{name} {a}-{b}: sound goes on only at +{first_sustained * 10} ms"


def test_truth_starts_no_utterance_on_a_click_before_the_word() -> None:
    # The energy rule's 200 ms merge joined a lone 10 ms click (after an in-breath) to the word
    # 200 ms later in speech_orig_16k, so every onset on that utterance scored ~210 ms "late"
    # (meeting-5 onset max 226 ms, start latency p95 305 ms; fast-exchange 211 ms).
    _assert_no_truth_starts_on_a_click([name for name in SOURCES if name not in ROUND_5 + ROUND_7])


@needs_round_5
def test_truth_of_the_held_out_voices_starts_on_no_click() -> None:
    # fifth round: clicks 40-100 ms before the voice in three recordings (es agent-alreadyon,
    # vm-newpassword, fr conf-getchannel) were corrected by hand from their plots (sources.CORRECTIONS)
    _assert_no_truth_starts_on_a_click(ROUND_5)


@needs_round_7
def test_truth_of_the_volunteers_voices_starts_on_no_click() -> None:
    # seventh round: a buzz before the first consonant (el shorts) and a -60 dBFS bump before the
    # first formant (lt xmas_reindeer) were corrected by hand from their plots (sources.CORRECTIONS);
    # eighth round's voices: none needed (one recording starts inside a fricative, above)
    _assert_no_truth_starts_on_a_click(ROUND_7)


@needs_round_7
def test_truth_of_the_volunteers_voices_leaves_out_breath_on_the_microphone() -> None:
    # the Lithuanian speaker's words end in 0.3-0.9 s of rumble below 300 Hz (no harmonics), which
    # the energy rule ran on into: the checked truth ends with the voice
    from bot.scenarios.realspeech.sources import energy_intervals, load_source, source_intervals

    name = "kt-lt-tv_breakdown_lorry"
    rule = energy_intervals(load_source(name), floor_db=SOURCES[name].floor_db)
    assert rule[-1][1] - source_intervals(name)[-1][1] >= 500


@needs_round_7
def test_ogg_rooms_rebuild_identically(out: str, tmp_path: Path) -> None:
    # Ogg Vorbis decoding (libsndfile), 44.1 -> 16 kHz resampling and the high-pass give the same
    # bytes every time
    a = built("kt-phone", out)
    b = build_room(ROOMS["kt-phone"], tmp_path)
    for file in ("mo.wav", "nia.wav", "ole.wav", "truth.json", "scenario.json"):
        assert (a.parent / file).read_bytes() == (b.parent / file).read_bytes(), file


@needs_round_7
def test_kt_phone_bleed_of_a_telephone_band_talker(out: str) -> None:
    # seventh round, a tuning room since: p-mo's telephone-band track was 7-14 dB (not 20) above
    # her wide-band voice on p-ole's microphone, so the crosstalk filter's margin test missed
    # bleed windows and p-ole "spoke" in 7 stretches of them (precision 0.817, share error
    # 1.82 pp). Compared in the telephone band: 0.935, 0.37 pp; on today's layout (the snore
    # replaced) 0.863 -> 0.937, share 1.95 -> 1.83 pp. Measured through a periodogram, the
    # bleed's band level came out 6 dB high and a quiet word's end over the caller's onset was
    # taken for bleed (recall 0.989): the recall bound catches that (docs/vad.md, seventh round).
    # Eighth round, the truth heard above the rumble too: share 1.83 -> 0.36 pp (p-nia's "late
    # stops" on brown noise were her voice), recall 1.000 -> 0.997, onset p95 85 -> 174 ms.
    # Round 9: bleed correlated above the rumble too, precision 0.938 -> 0.943; the model gain on
    # by default (windows within 10 dB of the floor not raised), 0.957, share 0.34 -> 0.49 pp.
    # Round 10: a neighbour not yet taken to be speaking is checked by correlation when her track
    # sounds, and while p-ole is quiet the part of p-mo's voice the line cut is her bleed:
    # precision 0.957 -> 0.991 (p-ole's three false starts gone but the room's very first bleed),
    # share 0.49 -> 0.39 pp. Round 11: bridges chain back through a run that bridged itself
    # (p-mo's word at 61 s: three runs, two short dips), onset max 211 -> 188 ms, share 0.39 ->
    # 0.48 pp (her talk time closer to her truth; the others' detected time is shorter than theirs).
    s = scored("kt-phone", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.985
    assert s["minRecall"] >= 0.99
    assert s["shareErrorPoints"] <= 0.55
    assert s["onsetP50"] <= 10
    assert s["onsetMax"] <= 200
    assert s["startLatencyP50"] <= 100


@needs_round_7
def test_kt_meeting_a_quiet_talker_on_rumble_with_a_loud_neighbours_bleed(out: str) -> None:
    # held out in round 7 (precision 0.907, share 3.88 pp), a tuning room since round 8. Most of
    # p-jan's "false speech" was her own voice: -42 dBFS on -50 dBFS brown noise, her formants
    # plain in the spectrogram, but under the rumble broadband, so the old truth cut them. With
    # the truth heard above the rumble (rooms.heard): precision 0.950, share 0.38 pp, onset max
    # 305 ms. Her bleed checks read her neighbour's audio a 20 ms chunk short of her window (the
    # neighbour's chunk of the step came after hers), so the bleed correlated 0.2-0.6 instead of
    # 0.8-1.0: checked against the same moment, precision 0.970, onset p95/max 93/305 -> 88/209 ms.
    # Round 9: her rumble held the bleed's wide-band correlation at 0.5-0.6 (0.8-0.98 above 300 Hz)
    # in three stretches of false speech; correlated above the rumble too, precision 0.970 -> 1.000,
    # recall 0.997, share 0.32 pp, onset max 209 -> 305 ms (one onset of hers under bleed 6 dB
    # louder than her voice: its first window is now bleed).
    s = scored("kt-meeting", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.995
    assert s["minRecall"] >= 0.99
    assert s["shareErrorPoints"] <= 0.4
    assert s["onsetP95"] <= 100
    assert s["onsetMax"] <= 320
    assert s["startLatencyP95"] <= 240


@needs_round_7
def test_held_out_kt_panel_stays_where_round_8_found_it(out: str) -> None:
    # held out (round 8): four more volunteers' voices, scored whole-room only, once per decision
    # (first score, this round's VAD: every target met; precision and recall 1.000, share 0.79 pp,
    # onset 5/42/68 ms, start latency p50/p95 92/171 ms; round 9, the model gain on by default,
    # scored once for that decision: share 0.76 pp, start latency 90/145 ms, the rest identical)
    s = scored("kt-panel", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.995 and s["minRecall"] >= 0.995
    assert s["shareErrorPoints"] <= 0.9
    assert s["onsetMax"] <= 100
    assert s["startLatencyP95"] <= 170


@needs_round_7
def test_kt_call_a_callers_bleed_in_a_16_khz_room(out: str) -> None:
    # held out in round 10, a tuning room since round 11: kt-phone's case built anew for that
    # round's decision (a telephone-band talker bleeding onto a neighbour's microphone, 16 kHz,
    # other voices and levels). First score,
    # round 9's VAD: precision 0.828, share 3.79 pp, onset max 403 ms, start latency p95 259 ms;
    # with round 10's crosstalk rules, scored once: precision 0.832, share 3.68 pp, the rest
    # identical. Seen since; with the line's band ending at 3400 Hz in a 16 kHz room (the
    # caller's "s" reaches her neighbour, not her line): precision 0.929, share 2.22 pp, onset
    # max 339 ms; the line floor taken every 100 ms: 0.943, 2.10 pp. Round 11, the neighbour's
    # window correlated with the line through the line's band while he is quiet: 0.966, 1.92 pp,
    # onset max 275 ms. Still short of the targets: bounds that a regression trips.
    s = scored("kt-call", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.96 and s["minRecall"] >= 0.98
    assert s["shareErrorPoints"] <= 2.0
    assert s["onsetMax"] <= 290
    assert s["startLatencyP95"] <= 270


@needs_round_7
def test_kt_line_a_caller_in_an_8_khz_room_of_four(out: str) -> None:
    # held out for round 11's first change, a tuning room since: built and looked at before that
    # change was scored on it; an 8 kHz room of four, a telephone-band talker on line noise bleeding into a neighbour's
    # microphone, a talker on rumble, a -42 dBFS backchanneller. First score (round 10's VAD):
    # precision and recall 1.000, share 0.41 pp, onset max 229 ms, start latency p95 193 ms; with
    # round 11's chained bridges, identical.
    s = scored("kt-line", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.995 and s["minRecall"] >= 0.995
    assert s["shareErrorPoints"] <= 0.6
    assert s["onsetMax"] <= 240
    assert s["startLatencyP95"] <= 210


@needs_round_7
def test_kt_desk_a_callers_wide_band_bleed_in_a_16_khz_room_of_four(out: str) -> None:
    # held out (round 11, for its second candidate): a telephone-band talker whose wide-band voice
    # reaches her neighbour's microphone, 16 kHz, four voices. First score (round 11's first
    # change in): precision and recall 1.000, share 1.04 pp, onset max 227 ms, start latency p95
    # 253 ms; with the correlation within the line's band, identical.
    s = scored("kt-desk", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.995 and s["minRecall"] >= 0.995
    assert s["shareErrorPoints"] <= 1.15
    assert s["onsetMax"] <= 240
    assert s["startLatencyP95"] <= 265


@needs_round_5
def test_held_out_rooms_rebuild_identically(out: str, tmp_path: Path) -> None:
    # GSM decoding, resampling and the 80 Hz high-pass give the same bytes every time
    a = built("huddle", out)
    b = build_room(ROOMS["huddle"], tmp_path)
    for file in ("ema.wav", "fox.wav", "gia.wav", "truth.json", "scenario.json"):
        assert (a.parent / file).read_bytes() == (b.parent / file).read_bytes(), file


@needs_round_5
def test_held_out_meeting_7_stays_where_round_4_left_it(out: str) -> None:
    # held out (round 5): three voices no tuning room has, -44..-20 dBFS, rumble, telephone band,
    # bleed, quiet words after 6 s of silence. Scored once per VAD, whole room only (round 3 VAD:
    # share 1.09 pp, onset max 312 ms, start latency p95 364 ms, 22/23 scripted; round 4: 1.01 pp,
    # 156 ms, 289 ms, 23/23, one missed utterance in both). Round 8's truth (heard above the
    # rumble too) adds a 25th scripted overlap, which this VAD gets wrong (held out: not looked at).
    # Round 9 (the model gain on by default): share 1.01 -> 0.80 pp, missed 1 -> 0, start latency
    # p95 292 -> 236 ms
    s = scored("meeting-7", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.99
    assert s["minRecall"] >= 0.98
    assert s["shareErrorPoints"] <= 0.9
    assert s["onsetP95"] <= 150
    assert s["onsetMax"] <= 200
    assert s["startLatencyP95"] <= 260
    assert s["scriptedOverlaps"] >= 25 and s["scriptedRight"] >= 24


@needs_round_5
def test_held_out_huddle_stays_where_round_4_left_it(out: str) -> None:
    # held out (round 5): the three unheard voices in quick turns, 8 kHz room (round 3 VAD:
    # precision 0.990, share 1.31 pp, start latency p95 166 ms; round 4: 1.000, 1.20 pp, 157 ms;
    # round 9, the model gain on by default: 1.000, 1.19 pp, 171 ms)
    s = scored("huddle", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.995
    assert s["minRecall"] >= 0.98
    assert s["shareErrorPoints"] <= 1.25
    assert s["onsetMax"] <= 130
    assert s["startLatencyP95"] <= 190
    assert s["scriptedRight"] == s["scriptedOverlaps"] >= 12


def test_meeting_5_onsets_against_the_corrected_truth(out: str) -> None:
    # 5 people, 210 s (held out from the VAD tuning); before the truth correction: onset max
    # 226 ms, start latency p95 305 ms, share error 1.09 points (all from one utterance's click)
    s = scored("meeting-5", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.98 and s["minRecall"] >= 0.97
    assert s["onsetMax"] <= 200
    assert s["startLatencyP95"] <= 250
    assert s["shareErrorPoints"] <= 1.0
    assert s["offsetP95"] <= 110  # 95 ms: tails in room tone end where the voice sinks into it
    assert s["scriptedRight"] == s["scriptedOverlaps"] >= 15


def test_new_voices_tuning_room_bleed_and_quiet_words(out: str) -> None:
    # prompts: bleed fading in the talker's dips (before: precision 0.964), a -42 dBFS
    # telephone-band speaker after long silences (round 1: 3 missed, share error 4.05 points)
    s = scored("prompts", out)
    assert s["minPrecision"] >= 0.98
    assert s["minRecall"] >= 0.985
    assert len(s["missed"]) <= 2
    # her voicing sinking under -55 dBFS before a last consonant stays hers while she speaks
    # (GateParams.follow_speaker_db; before: share error 2.42 points, recall 0.978, 17/19)
    assert s["shareErrorPoints"] <= 1.5
    assert s["startLatencyP95"] <= 380
    # her first syllable, split from the second by a 64-128 ms gated dip, is bridged by level
    # (SpeakingParams.onset_bridge_ms; before: onset p95 235 ms, max 273 ms, share error 2.89)
    assert s["onsetP95"] <= 100
    assert s["onsetMax"] <= 250
    assert s["offsetP95"] <= 160  # 138 ms
    # the holder's own voice 3-5 dB over a loud neighbour's predicted bleed is hers
    # (CrosstalkParams.own_voice_floor_db; before: her phrase cut 340 ms early, 16/19 scripted)
    assert s["scriptedRight"] == s["scriptedOverlaps"] >= 19


def test_rumble_is_gated_and_first_syllables_count(out: str) -> None:
    # meeting-6 (held out in rounds 2-3): a -30 dBFS word just after a state refresh on brown-noise
    # rumble scored 0.01-0.2 for 200 ms (GateParams.highpass_hz), a soft first syllable's evidence
    # was not counted (SpeakingParams.carry_min_ms); before: start latency p95 281 ms. A first
    # syllable with one window scored as speech, 12 dB under the word, was not bridged
    # (SpeakingParams.syllable_min_ms): onset max 218 ms, now 156
    # Round 8's truth (heard above the rumble too) keeps the faint last 300 ms of one prompt p-vic
    # says four times (-44 dBFS on -62 dBFS room tone): the VAD stops before it (offset p95 84 ->
    # 272 ms), and two interruptions of her over it, new in the truth, are not reported.
    # Round 9, the model gain on by default: onset max 156 -> 87 ms, start latency p95 215 -> 150,
    # share 0.48 -> 0.51 pp.
    s = scored("meeting-6", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.98
    assert s["minRecall"] >= 0.97
    assert s["shareErrorPoints"] <= 0.6
    assert s["onsetMax"] <= 120
    assert s["offsetP95"] <= 290  # 272 ms
    assert s["startLatencyP95"] <= 190
    assert s["scriptedOverlaps"] >= 27 and s["scriptedRight"] >= 25


def test_the_model_gain_finds_a_quiet_speakers_words(out: str) -> None:
    # GateParams.model_gain_max_db (BOT_VAD_MODEL_GAIN_DB, 15 dB by default since round 9): the
    # -42 dBFS telephone-band speaker's two words the model scored <= 0.14 are found and her
    # starts are decided on her first syllable (round 9: off, 2 missed, start latency p95 342 ms,
    # onset max 225 ms, share 0.96 pp; on, 0, 195 ms, 112 ms, 0.44 pp)
    s = scored("prompts", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.98 and s["minRecall"] >= 0.985
    assert s["shareErrorPoints"] <= 0.6
    assert s["startLatencyP95"] <= 220
    assert s["onsetMax"] <= 150
    assert s["scriptedRight"] == s["scriptedOverlaps"] >= 19
    scenario = built("prompts", out)
    truth = json.loads((scenario.parent / "truth.json").read_text())
    off = score_conventions(truth, play_scenario(scenario, gate=GateParams(model_gain_max_db=0.0)))
    assert len(off["missed"]) >= 1 and off["startLatencyP95"] >= 280  # what the gain is for


def test_the_model_gain_leaves_an_8khz_room_with_a_quiet_talker_as_it_was(
    out: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # quiet-8k (round 6): a -38 dBFS talker on a -58 dBFS floor, where the gain acts. Raising the
    # warm-up windows too (the gain's first version) made her starts later (start latency p50 74
    # -> 87 ms at round 6's settings, 80 at the first version's); raising only sounding windows
    # leaves it as it was with the gain off
    scenario = built("quiet-8k", out)
    truth = json.loads((scenario.parent / "truth.json").read_text())
    s = score_conventions(truth, play_scenario(scenario, gate=GateParams(model_gain_max_db=0.0)))
    assert s["missed"] == [] and s["minPrecision"] >= 0.98 and s["minRecall"] >= 0.97
    assert s["shareErrorPoints"] <= 0.5 and s["onsetMax"] <= 60 and s["startLatencyP95"] <= 150
    assert s["scriptedRight"] == s["scriptedOverlaps"] >= 8
    gains: dict[str, float] = {}
    follow = SileroStreams.follow

    def recording(self: SileroStreams, stream_id: str, speaker_dbfs: float | None) -> None:
        follow(self, stream_id, speaker_dbfs)
        if stream_id in self:
            gains[stream_id] = max(gains.get(stream_id, 0.0), self.model_gain_db(stream_id))

    monkeypatch.setattr(SileroStreams, "follow", recording)
    gained = score_conventions(truth, play_scenario(scenario))  # the defaults: the gain on
    assert gains["p-kat"] > 3.0  # the gain acts here (the -50 dBFS floor cap holds it under 10 dB)
    assert gained["startLatencyP50"] <= s["startLatencyP50"] + 2
    assert gained["onsetErrors"] == s["onsetErrors"]
    assert gained["missed"] == [] and gained["minPrecision"] >= 0.98


def test_quick_turns_in_an_8khz_room_with_rumble(out: str) -> None:
    # standup (held out in rounds 2-3): before the rumble gate, a backchannel over a -23 dBFS
    # talker with brown-noise room tone was reported as an overlap (8/9 scripted right)
    s = scored("standup", out)
    assert s["missed"] == []
    assert s["minPrecision"] >= 0.98
    assert s["minRecall"] >= 0.97
    assert s["shareErrorPoints"] <= 1.15
    assert s["onsetMax"] <= 100
    assert s["offsetP95"] <= 160  # 141 ms: stops 66-78 ms late on noise peaks in -47 dBFS pink noise
    assert s["startLatencyP95"] <= 200
    assert s["scriptedRight"] == s["scriptedOverlaps"] >= 9


def test_cli_tracks_analyses_a_recording_without_a_scenario(out: str) -> None:
    folder = built("quiet-hello", out).parent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--tracks", str(folder / "ann.wav"), str(folder / "ben.wav"), "--view", "off"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    envelopes = [json.loads(line) for line in proc.stdout.splitlines()]
    joined = [e["payload"] for e in envelopes if e["topic"] == "room.participant.joined"]
    assert [(p["participantId"], p["displayName"]) for p in joined] == [("ann", "ann"), ("ben", "ben")]
    started = {e["payload"]["participantId"] for e in envelopes if e["topic"] == "room.speaking.started"}
    assert started == {"ann", "ben"}
    pacing = [e["payload"] for e in envelopes if e["topic"] == "room.pacing.updated"]
    assert pacing and {p["state"] for p in pacing} == {"no_words"}, "a recording has no words: pacing says so"
    assert len({p["participantId"] for p in pacing}) == len(pacing), "once per speaker"
    assert envelopes[-1]["payload"]["reason"] == "completed"


def test_cli_tracks_names_a_bad_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "carol.wav"
    bad.write_text("not audio")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BOT_", "ROOM_URL", "DAILY_"))}
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--tracks", str(bad), "--view", "off"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if "carol.wav" in line]
    assert lines and "is not an audio file" in lines[0]
    assert "Traceback" not in proc.stderr
