"""ParticipantVAD with the real Silero model on the committed espeak-ng clips.

Ground truth is ``bot/scenarios/clips/manifest.json``: each clip's exact voiced intervals. Every
run goes through a real Pipecat pipeline (``tests.pipeline_harness.run_pipeline``), 20 ms chunks per
participant, interleaved the way Daily delivers per-participant tracks.
"""

from __future__ import annotations

import itertools
import json
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from pipecat.audio.vad.silero import SileroOnnxModel
from pipecat.frames.frames import TextFrame, UserAudioRawFrame
from pipecat.pipeline.pipeline import Pipeline

from bot.analytics.speaking import GateParams
from bot.audio.silero_stream import SileroStreams, model_path
from bot.core.frames import (
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantLeftFrame,
    RoomAudioFrame,
    RoomEndedFrame,
    SpeakingStateFrame,
    SpeechOnsetFrame,
)
from bot.core.media import media_time_of, stamp
from bot.generated import RoomSpeakingStarted, RoomSpeakingStopped
from bot.processors.media_clock import MediaClockStamper
from bot.processors.participant_vad import ParticipantVAD
from tests.pipeline_harness import run_pipeline

CLIPS = Path(__file__).resolve().parents[2] / "bot" / "scenarios" / "clips"
MANIFEST = CLIPS / "manifest.json"
RATE = 16000
CHUNK = 320  # 20 ms, like Daily's per-participant audio callbacks
FRAME_MS = 10  # resolution of the accuracy metrics

needs_clips = pytest.mark.skipif(
    not MANIFEST.exists(),
    reason="bot/scenarios/clips/manifest.json is missing (clips not generated)",
)


# --- helpers ---------------------------------------------------------------------------------


def manifest() -> dict:
    return json.loads(MANIFEST.read_text())


def clip(name: str) -> np.ndarray:
    entry = manifest()["clips"][name]
    with wave.open(str(CLIPS / entry["file"])) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (RATE, 1, 2)
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)


def voiced(name: str, offset_ms: int) -> list[tuple[int, int]]:
    return [(offset_ms + s, offset_ms + e) for s, e in manifest()["clips"][name]["voiced"]]


@dataclass
class Track:
    """One participant's audio in a test room, with the truth."""

    audio: np.ndarray
    truth: list[tuple[int, int]] = field(default_factory=list)

    def place(self, name: str, at_ms: int) -> None:
        """Mix clip ``name`` in at ``at_ms`` (cut at the end of the track)."""
        start = at_ms * RATE // 1000
        samples = clip(name)[: self.audio.size - start]
        self.audio[start : start + samples.size] += samples
        end_ms = self.audio.size * 1000 // RATE
        self.truth += [(s, min(e, end_ms)) for s, e in voiced(name, at_ms) if s < end_ms]


def silent_track(duration_ms: int) -> Track:
    return Track(np.zeros(duration_ms * RATE // 1000, dtype=np.int16))


def noise(kind: str, dbfs: float, duration_ms: int, seed: int = 0) -> np.ndarray:
    n = duration_ms * RATE // 1000
    rng = np.random.default_rng(seed)
    if kind == "white":
        x = rng.standard_normal(n)
    elif kind == "pink":  # 1/f power: shape white noise's spectrum by 1/sqrt(f)
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.arange(spectrum.size, dtype=np.float64)
        f[0] = 1.0
        x = np.fft.irfft(spectrum / np.sqrt(f), n)
    elif kind == "brown":  # 1/f^2 power (ventilation rumble): most of it below 100 Hz
        spectrum = np.fft.rfft(rng.standard_normal(n))
        f = np.arange(spectrum.size, dtype=np.float64)
        f[0] = 1.0
        x = np.fft.irfft(spectrum / f, n)
    elif kind == "tone":
        x = np.sin(2 * np.pi * 440.0 * np.arange(n) / RATE)
    else:
        raise ValueError(kind)
    x = x / np.sqrt(np.mean(x**2)) * 32768.0 * 10 ** (dbfs / 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def chunks(tracks: dict[str, np.ndarray], *, stamped: bool = True, start_ms: int = 0) -> list:
    """Interleave 20 ms chunks of every track (time-major), stamped with room media time."""
    frames = []
    longest = max(a.size for a in tracks.values())
    for start in range(0, longest, CHUNK):
        for pid, audio in tracks.items():
            piece = audio[start : start + CHUNK]
            if piece.size == 0:
                continue
            frame = UserAudioRawFrame(audio=piece.tobytes(), sample_rate=RATE, num_channels=1, user_id=pid)
            if stamped:
                stamp(frame, start_ms + start * 1000 // RATE)
            frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def session() -> onnxruntime.InferenceSession:
    """One loaded model for the module; each test gets fresh per-participant state."""
    return SileroStreams.load().session


def make_vad(session, **kwargs) -> ParticipantVAD:
    gate = kwargs.pop("gate", GateParams())
    return ParticipantVAD(streams=SileroStreams(session, gate=gate), **kwargs)


def run(vad: ParticipantVAD, frames: list) -> list:
    down, _up = run_pipeline(vad, frames_to_send=frames)
    return list(down)


def states(down: list) -> list[SpeakingStateFrame]:
    return [f for f in down if isinstance(f, SpeakingStateFrame)]


def segments(down: list, pid: str) -> list[tuple[int, int]]:
    stops = [f for f in states(down) if f.participant_id == pid and not f.speaking]
    return [(f.media_time_ms - f.duration_ms, f.media_time_ms) for f in stops]


def frame_mask(intervals: list[tuple[int, int]], duration_ms: int) -> np.ndarray:
    """10 ms frames whose midpoint lies inside one of ``intervals``."""
    mids = np.arange(0, duration_ms, FRAME_MS) + FRAME_MS / 2
    mask = np.zeros(mids.size, dtype=bool)
    for s, e in intervals:
        mask |= (mids >= s) & (mids < e)
    return mask


def precision_recall(truth, detected, duration_ms) -> tuple[float, float]:
    t, d = frame_mask(truth, duration_ms), frame_mask(detected, duration_ms)
    hits = int((t & d).sum())
    return hits / max(int(d.sum()), 1), hits / max(int(t.sum()), 1)


def onset_errors(truth, detected) -> list[int]:
    """Per true interval: detected onset minus true onset (nearest overlapping segment)."""
    errors = []
    for s, e in truth:
        starts = [a for a, b in detected if a < e and b > s]
        if starts:
            errors.append(min(starts, key=lambda a: abs(a - s)) - s)
    return errors


# --- accuracy on every clip --------------------------------------------------------------------

LEAD_MS, TAIL_MS = 700, 1000


@pytest.fixture(scope="module")
def clip_room(session):
    """Every clip in the manifest as its own participant, all streamed together."""
    names = list(manifest()["clips"])
    tracks: dict[str, Track] = {}
    for i, name in enumerate(names):
        lead = LEAD_MS + 37 * i  # vary where onsets fall on the 32 ms window grid
        track = silent_track(lead + manifest()["clips"][name]["durationMs"] + TAIL_MS)
        track.place(name, lead)
        tracks[name] = track
    vad = make_vad(session)
    down = run(vad, chunks({n: t.audio for n, t in tracks.items()}))
    return tracks, down, vad


@needs_clips
@pytest.mark.parametrize("name", list(manifest()["clips"]) if MANIFEST.exists() else [])
def test_clip_speech_is_found_frame_by_frame(clip_room, name):
    tracks, down, _vad = clip_room
    track = tracks[name]
    duration = track.audio.size * 1000 // RATE
    detected = segments(down, name)
    precision, recall = precision_recall(track.truth, detected, duration)
    assert precision >= 0.95 and recall >= 0.90, (name, precision, recall, track.truth, detected)
    errors = onset_errors(track.truth, detected)
    assert errors and max(abs(e) for e in errors) <= 100, (name, errors)


@needs_clips
def test_clip_onsets_are_close_to_the_truth(clip_room):
    tracks, down, _vad = clip_room
    errors = [e for n, t in tracks.items() for e in onset_errors(t.truth, segments(down, n))]
    assert float(np.median(np.abs(errors))) <= 20


# --- talk-time shares in a four-person room ----------------------------------------------------

ROOM_MS = 48_000
ROOM = [  # (participant, clip, at_ms): turns, short gaps, backchannels over other speakers
    ("alice", "alice-1", 500),
    ("bob", "bob-1", 4300),
    ("carol", "carol-right", 5500),
    ("dan", "dan-1", 7600),
    ("alice", "alice-2", 11600),
    ("carol", "carol-1", 14500),
    ("bob", "bob-yeah", 16000),
    ("dan", "dan-okay", 18200),
    ("alice", "alice-monologue", 19000),
    ("bob", "bob-interject", 33000),  # talks over the end of the monologue
    ("carol", "carol-2", 38000),
    ("dan", "dan-2", 41700),
    ("alice", "alice-mmhm", 43000),
]


@pytest.fixture(scope="module")
def four_person_room(session):
    tracks: dict[str, Track] = {}
    for pid, name, at_ms in ROOM:
        tracks.setdefault(pid, silent_track(ROOM_MS)).place(name, at_ms)
    vad = make_vad(session)
    down = run(vad, chunks({p: t.audio for p, t in tracks.items()}))
    return tracks, down, vad


def total_ms(intervals) -> int:
    return sum(e - s for s, e in intervals)


@needs_clips
def test_talk_time_shares_match_the_truth(four_person_room):
    tracks, down, _vad = four_person_room
    true_ms = {p: total_ms(t.truth) for p, t in tracks.items()}
    found_ms = {p: total_ms(segments(down, p)) for p in tracks}
    for p in tracks:
        true_share = true_ms[p] / sum(true_ms.values())
        found_share = found_ms[p] / sum(found_ms.values())
        assert abs(found_share - true_share) <= 0.02, (p, true_share, found_share)


@needs_clips
@pytest.mark.parametrize("pid", ["alice", "bob", "carol", "dan"])
def test_room_speech_is_found_frame_by_frame(four_person_room, pid):
    tracks, down, _vad = four_person_room
    precision, recall = precision_recall(tracks[pid].truth, segments(down, pid), ROOM_MS)
    assert precision >= 0.95 and recall >= 0.90, (pid, precision, recall)


@needs_clips
def test_gating_skips_inference_on_silence(four_person_room):
    tracks, _down, vad = four_person_room
    stats = vad.stats
    speech_windows = sum(total_ms(t.truth) for t in tracks.values()) / 32
    assert stats.windows_seen == 4 * (ROOM_MS * RATE // 1000 // 512)
    scored_on_arrival = stats.windows_inferred - stats.windows_replayed
    assert stats.windows_seen == scored_on_arrival + stats.windows_gated
    # Speech is ~45% of this room's participant-time; the model runs on little more than that.
    assert stats.windows_inferred <= 1.15 * speech_windows
    assert stats.windows_gated >= 0.9 * (stats.windows_seen - speech_windows)


# --- noise never counts as speech ----------------------------------------------------------------

NOISE_LEVELS = [-50, -35, -20, -6]  # dBFS RMS


@pytest.mark.parametrize("kind", ["white", "pink", "tone"], ids=["white", "pink", "tone_440hz"])
def test_noise_never_starts_speech(session, kind):
    tracks = {f"{kind}{db}": noise(kind, db, 6000, seed=i) for i, db in enumerate(NOISE_LEVELS)}
    vad = make_vad(session)
    down = run(vad, chunks(tracks))
    assert states(down) == []
    assert vad.stats.windows_inferred > 0.9 * vad.stats.windows_seen  # all above the gate


@needs_clips
@pytest.mark.parametrize("kind", ["white", "pink", "tone"], ids=["white", "pink", "tone_440hz"])
def test_noise_burst_after_speech_does_not_start_speech(session, kind):
    """After a pause, the model starts from a fresh state: a burst is not taken for speech."""
    track = silent_track(7000)
    track.place("bob-1", 300)
    bursts = {"short": (300, 4000), "long": (800, 5000)}
    for i, (dur, at) in enumerate(bursts.values()):
        piece = noise(kind, -25, dur, seed=i)
        track.audio[at * 16 : at * 16 + piece.size] += piece
    down = run(make_vad(session), chunks({"bob": track.audio}))
    assert len(segments(down, "bob")) == 1
    assert segments(down, "bob")[0][1] < 4000


def telephone_word_after_silence(name: str, level_dbfs: float) -> tuple[np.ndarray, int]:
    """``name`` at 6 s of a 9 s track, band-passed 300-3400 Hz, scaled, in -64 dBFS hiss (below
    the gate); returns (audio, true onset ms)."""
    track = silent_track(9000)
    track.place(name, 6000)
    spectrum = np.fft.rfft(track.audio.astype(np.float64))
    f = np.fft.rfftfreq(track.audio.size, 1 / RATE)
    spectrum[(f < 300) | (f > 3400)] = 0
    x = np.fft.irfft(spectrum, track.audio.size)
    x *= 0.6 * 32768 * 10 ** (level_dbfs / 20) / np.sqrt(np.mean(x[6000 * RATE // 1000 :] ** 2))
    x += np.random.default_rng(0).standard_normal(x.size) * 32768 * 10 ** (-64 / 20)
    return np.clip(np.round(x), -32768, 32767).astype(np.int16), min(a for a, _b in track.truth)


@needs_clips
def test_a_word_after_long_silence_starts_from_the_settled_silence_state(session):
    """After 500 ms gated, the model restarts from Silero's state after a long silence, not from
    zero: this telephone-band word's onset was 80 ms late from the zeroed state (32 ms now)."""
    audio, onset = telephone_word_after_silence("bob-cut", -36)
    down = run(make_vad(session), chunks({"p": audio}))
    (start, _stop), *_ = segments(down, "p")
    assert abs(start - onset) <= 50
    zeroed = run(make_vad(session, gate=GateParams(settle_windows=0)), chunks({"p": audio}))
    assert segments(zeroed, "p")[0][0] - onset > 50  # what the zeroed state gave


@needs_clips
def test_rumble_below_the_speech_band_is_gated_like_silence(session):
    """Ventilation rumble (brown noise, -54 dBFS RMS: its loudest blocks are above -55 dBFS
    broadband) used to keep the model running all the time; measured above 100 Hz it is quiet."""
    track = silent_track(8000)
    track.audio += noise("brown", -54, 8000, seed=1)
    track.place("bob-2", 6100)
    onset = min(a for a, _b in track.truth)
    found = {}
    for hz in (100.0, 0.0):
        vad = make_vad(session, gate=GateParams(highpass_hz=hz))
        down = run(vad, chunks({"p": track.audio}))
        (start, _stop), *_ = segments(down, "p")
        found[hz] = (start - onset, vad.stats.windows_inferred)
    speech_windows = total_ms(track.truth) / 32
    assert found[100.0][1] <= 1.6 * speech_windows < found[0.0][1] / 2
    assert abs(found[100.0][0]) <= 50 and abs(found[0.0][0]) <= 50


def test_the_settled_silence_state_is_computed_once_per_rate(session):
    streams = SileroStreams(session, gate=GateParams(settle_windows=4))
    a, b = streams._silence_state(16000), streams._silence_state(16000)
    assert np.array_equal(a, b) and a is not b  # a copy each time: streams never share it
    assert not np.array_equal(a, np.zeros_like(a))
    assert not np.array_equal(a, streams._silence_state(8000))
    off = SileroStreams(session, gate=GateParams(settle_windows=0))
    assert not off._silence_state(16000).any()


# --- wiring --------------------------------------------------------------------------------------


@needs_clips
def test_interleaved_participants_are_tracked_independently(session):
    alice = silent_track(5000)
    alice.place("alice-2", 1000)
    tracks = {"alice": alice.audio, "bob": np.zeros_like(alice.audio)}
    down = run(make_vad(session), chunks(tracks))
    assert {f.participant_id for f in states(down)} == {"alice"}
    precision, recall = precision_recall(alice.truth, segments(down, "alice"), 5000)
    assert precision >= 0.95 and recall >= 0.9


@needs_clips
def test_transitions_push_state_frames_and_generated_envelopes(session):
    track = silent_track(4000)
    track.place("bob-short", 1000)
    down = run(make_vad(session), chunks({"p-bob": track.audio}))
    pushed = [f for f in down if isinstance(f, (SpeakingStateFrame, EnvelopeFrame))]
    assert [type(f) for f in pushed] == [
        SpeakingStateFrame,
        EnvelopeFrame,
        SpeakingStateFrame,
        EnvelopeFrame,
    ]
    start_state, start_env, stop_state, stop_env = pushed
    assert start_env.payload == RoomSpeakingStarted(participant_id="p-bob", media_time_ms=start_state.media_time_ms)
    assert stop_env.payload == RoomSpeakingStopped(
        participant_id="p-bob",
        media_time_ms=stop_state.media_time_ms,
        duration_ms=stop_state.duration_ms,
    )
    assert (start_env.media_time_ms, stop_env.media_time_ms) == (
        start_state.media_time_ms,
        stop_state.media_time_ms,
    )
    assert stop_env.payload.model_dump(mode="json", by_alias=True).keys() == {
        "participantId",
        "mediaTimeMs",
        "durationMs",
    }
    assert not any(isinstance(f, UserAudioRawFrame) for f in down)


@needs_clips
def test_participant_leaving_mid_speech_emits_a_stop(session):
    track = silent_track(6000)
    track.place("alice-monologue", 500)
    frames = chunks({"alice": track.audio[: 2500 * 16]})  # leaves 2.5 s in, mid-sentence
    frames.append(ParticipantLeftFrame(participant_id="alice", media_time_ms=2500))
    down = run(make_vad(session), frames)
    relevant = [f for f in down if isinstance(f, (SpeakingStateFrame, ParticipantLeftFrame))]
    assert [(type(f), getattr(f, "speaking", None)) for f in relevant] == [
        (SpeakingStateFrame, True),
        (SpeakingStateFrame, False),
        (ParticipantLeftFrame, None),
    ]
    stop = relevant[1]
    assert 2400 <= stop.media_time_ms <= 2500
    assert stop.duration_ms == stop.media_time_ms - relevant[0].media_time_ms


@needs_clips
def test_room_end_stops_every_speaker_at_their_last_audio(session):
    a, b = silent_track(3000), silent_track(3000)
    a.place("alice-cut", 500)
    b.place("bob-cut", 800)
    frames = [*chunks({"alice": a.audio, "bob": b.audio}), RoomEndedFrame(media_time_ms=3000)]
    down = run(make_vad(session), frames)
    stops = [f for f in states(down) if not f.speaking]
    assert sorted(f.participant_id for f in stops) == ["alice", "bob"]
    assert all(2900 <= f.media_time_ms <= 3000 for f in stops)
    assert isinstance(down[-1], RoomEndedFrame)


@needs_clips
def test_end_frame_stops_speakers_before_it_is_forwarded(session):
    a = silent_track(2000)
    a.place("carol-1", 500)
    down = run(make_vad(session), chunks({"carol": a.audio}))  # run_pipeline sends EndFrame last
    assert [f.speaking for f in states(down)] == [True, False]


@needs_clips
def test_media_time_counts_samples_from_the_first_stamp(session):
    track = silent_track(3000)
    track.place("bob-short", 1000)
    frames = chunks({"bob": track.audio}, start_ms=60_000)
    for f in frames[1:]:
        f.metadata.clear()  # only the first chunk is stamped
    down = run(make_vad(session), frames)
    assert abs(states(down)[0].media_time_ms - 61_000) <= 40


@needs_clips
def test_unstamped_audio_counts_from_zero(session):
    track = silent_track(3000)
    track.place("bob-short", 1000)
    down = run(make_vad(session), chunks({"bob": track.audio}, stamped=False))
    assert abs(states(down)[0].media_time_ms - 1000) <= 40


@needs_clips
def test_stamp_far_ahead_re_anchors_after_a_gap(session):
    first = chunks({"bob": np.zeros(16000, np.int16)}, start_ms=0)  # 0-1 s
    track = silent_track(3000)
    track.place("bob-short", 500)
    second = chunks({"bob": track.audio}, start_ms=10_000)  # nothing sent from 1 s to 10 s
    down = run(make_vad(session), first + second)
    assert abs(states(down)[0].media_time_ms - 10_500) <= 40


@needs_clips
def test_stamped_audio_starts_at_its_stamp_even_after_a_short_gap(session):
    """Any stamp is the chunk's start: a 600 ms gap is not counted over (it used to take 1 s)."""
    first = chunks({"bob": np.zeros(16000, np.int16)}, start_ms=0)  # 0-1 s
    track = silent_track(3000)
    track.place("bob-short", 500)
    second = chunks({"bob": track.audio}, start_ms=1600)  # 1.0-1.6 s sent nothing
    down = run(make_vad(session), first + second)
    assert abs(states(down)[0].media_time_ms - 2100) <= 40


@needs_clips
def test_on_the_daily_path_the_vad_takes_the_stampers_times_without_recounting(session):
    """Daily: MediaClockStamper counts the samples, ParticipantVAD uses its stamps as they are.

    The track stalls for 500 ms after 1 s. The stamper (resync 300 ms) re-anchors at the arrival
    time, so the audio after the stall is 500 ms later than its sample count says. A VAD that
    counted samples again would put bob's onset at ~1.5 s; on the stamper's timeline it is ~2 s.
    """
    first = chunks({"bob": np.zeros(16000, np.int16)}, stamped=False)  # arrives 0-1 s
    track = silent_track(3000)
    track.place("bob-short", 500)
    second = chunks({"bob": track.audio}, stamped=False)  # arrives from 1.5 s
    arrival_ms = [20 * (k + 1) for k in range(len(first))]
    arrival_ms += [1500 + 20 * (k + 1) for k in range(len(second))]
    arrivals = iter(arrival_ms)
    stamper = MediaClockStamper(clock=lambda: next(arrivals), tick_ms=None, resync_ms=300)
    vad = make_vad(session, forward_audio=True)
    down, _ = run_pipeline(Pipeline([stamper, vad]), frames_to_send=first + second)
    stamps = [media_time_of(f) for f in down if isinstance(f, UserAudioRawFrame)]
    assert stamps[49:52] == [980, 1500, 1520]  # the stamper re-anchored after the stall
    (start, stop) = states(down)
    assert abs(start.media_time_ms - 2000) <= 40
    assert stop.media_time_ms - stop.duration_ms == start.media_time_ms
    # Exactly what the same audio gives when the room stamps it (the simulated room's path).
    stamped = chunks({"bob": np.zeros(16000, np.int16)}) + chunks({"bob": track.audio}, start_ms=1500)
    reference = states(run(make_vad(session), stamped))
    assert [(f.speaking, f.media_time_ms, f.duration_ms) for f in (start, stop)] == [
        (f.speaking, f.media_time_ms, f.duration_ms) for f in reference
    ]


def test_other_frames_pass_and_audio_is_forwarded_only_when_asked(session):
    audio = np.zeros(CHUNK, np.int16).tobytes()
    frames = [
        UserAudioRawFrame(audio=audio, sample_rate=RATE, num_channels=1, user_id="p1"),
        TextFrame(text="hello"),
    ]
    down = run(make_vad(session), list(frames))
    assert [type(f) for f in down] == [TextFrame]
    down = run(make_vad(session, forward_audio=True), list(frames))
    assert [type(f) for f in down] == [UserAudioRawFrame, TextFrame]


BAD_AUDIO = {
    "no_user_id": UserAudioRawFrame(audio=b"\x00\x10" * 320, sample_rate=RATE, num_channels=1, user_id=""),
    "unsupported_rate": UserAudioRawFrame(audio=b"\x00\x10" * 960, sample_rate=48000, num_channels=1, user_id="p1"),
}


@pytest.mark.parametrize("frame", BAD_AUDIO.values(), ids=BAD_AUDIO.keys())
def test_unusable_audio_is_ignored_without_crashing(session, frame):
    vad = make_vad(session)
    down = run(vad, [frame, TextFrame(text="after")])
    assert [type(f) for f in down] == [TextFrame]
    assert vad.stats.windows_seen == 0


@needs_clips
def test_stereo_audio_is_mixed_down(session):
    track = silent_track(3000)
    track.place("bob-short", 1000)
    stereo = np.repeat(track.audio, 2)
    frames = [
        UserAudioRawFrame(audio=stereo[i : i + 2 * CHUNK].tobytes(), sample_rate=RATE, num_channels=2, user_id="b")
        for i in range(0, stereo.size, 2 * CHUNK)
    ]
    down = run(make_vad(session), frames)
    assert abs(states(down)[0].media_time_ms - 1000) <= 40


# --- the shared session equals Pipecat's model ----------------------------------------------------


@needs_clips
def test_scores_match_pipecats_silero_model_window_by_window(session):
    audio = np.concatenate([np.zeros(8000, np.int16), clip("dan-2"), noise("pink", -30, 1000)])
    ours = SileroStreams(session, gate=None)
    for pid in ("a", "b"):  # two interleaved streams on one session
        ours.open(pid)
    reference = SileroOnnxModel(str(model_path()), force_onnx_cpu=True)
    mine_a, mine_b, theirs = [], [], []
    for start in range(0, audio.size - 511, 512):
        window = audio[start : start + 512]
        mine_a += ours.feed("a", window)
        mine_b += ours.feed("b", window[::-1].copy())  # different audio on the other stream
        theirs.append(float(reference(window.astype(np.float32) / 32768.0, RATE)[0][0]))
    assert [w.confidence for w in mine_a] == pytest.approx(theirs, abs=1e-6)
    assert [w.end for w in mine_a] == list(range(512, 512 * (len(theirs) + 1), 512))


# --- provisional onsets (the facilitator's voice yields on them) -------------------------------


@needs_clips
def test_a_provisional_onset_comes_before_the_confirmed_start_only_when_asked(session):
    track = silent_track(4_000)
    track.place("bob-1", 1_000)
    frames = chunks({"p-bob": track.audio})
    down = run(make_vad(session, report_onsets=True), frames)
    onsets = [f for f in down if isinstance(f, SpeechOnsetFrame)]
    starts = [f for f in states(down) if f.speaking]
    assert onsets and starts
    first_onset = down.index(onsets[0])
    assert first_onset < down.index(starts[0])  # earlier in the stream than the confirmation
    assert onsets[0].decided_at_ms < starts[0].decided_at_ms
    assert onsets[0].decided_at_ms - track.truth[0][0] <= 100  # known within 100 ms of the truth
    quiet = run(make_vad(session), chunks({"p-bob": track.audio}))
    assert not any(isinstance(f, SpeechOnsetFrame) for f in quiet)  # analytics' stream unchanged
    assert [(f.speaking, f.media_time_ms) for f in states(quiet)] == [
        (f.speaking, f.media_time_ms) for f in states(down)
    ]


# --- a whole room's step as one RoomAudioFrame ---------------------------------------------------


def by_step(frames: list) -> list:
    """``chunks()`` output grouped into one ``RoomAudioFrame`` per stamped step, as the simulated room pushes."""
    steps: dict[int | None, list] = {}
    for f in frames:
        steps.setdefault(media_time_of(f), []).append(f)
    return [stamp(RoomAudioFrame(frames=fs, media_time_ms=t or 0), t or 0) for t, fs in steps.items()]


def pushed(down: list) -> list[tuple]:
    """What the VAD pushed, in order, with every field analytics read."""
    out = []
    for f in down:
        if isinstance(f, SpeakingStateFrame):
            out.append(("state", f.participant_id, f.speaking, f.media_time_ms, f.duration_ms, f.decided_at_ms))
        elif isinstance(f, SpeechOnsetFrame):
            out.append(("onset", f.participant_id, f.media_time_ms, f.decided_at_ms))
        elif isinstance(f, EnvelopeFrame):
            out.append(("envelope", f.payload, f.media_time_ms))
        elif not isinstance(f, (UserAudioRawFrame, RoomAudioFrame)):
            out.append((type(f).__name__,))
    return out


def bleed_room() -> dict[str, np.ndarray]:
    """Four people; alice's voice also reaches bob's microphone (-18 dB, 3 ms late): the
    crosstalk check reads the other participants' state on every one of bob's windows."""
    alice, bob, carol, dan = (silent_track(9000) for _ in range(4))
    alice.place("alice-1", 500)
    bob.place("bob-1", 5200)
    carol.place("carol-interject", 1800)
    dan.place("dan-okay", 5400)
    leak = np.zeros_like(alice.audio)
    leak[48:] = (alice.audio[:-48] * 10 ** (-18 / 20)).astype(np.int16)
    return {"alice": alice.audio, "bob": bob.audio + leak, "carol": carol.audio, "dan": dan.audio}


@needs_clips
def test_room_audio_frames_give_exactly_what_per_participant_frames_give(session):
    frames = chunks(bleed_room())
    one_by_one = make_vad(session, report_onsets=True)
    expected = pushed(run(one_by_one, frames))
    batched = make_vad(session, report_onsets=True)
    got = pushed(run(batched, by_step(frames)))
    assert got == expected
    assert batched.stats == one_by_one.stats
    assert {e[1] for e in expected if e[0] == "state"} >= {"alice", "bob", "carol", "dan"}


def talker_last(room: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The bleed room with bob's track (alice's bleed on it) first in each step and alice's last:
    each of bob's windows is complete before alice's audio of the same 20 ms has come."""
    return {pid: room[pid] for pid in ("bob", "carol", "dan", "alice")}


@needs_clips
def test_a_bleed_check_waits_for_the_talkers_audio_of_the_same_moment(session):
    # Live, each track's frames come on their own. Checked against alice's audio that stopped
    # up to 20 ms short of his window, bob's copy of her voice (in -50 dBFS room tone) correlated
    # poorly and was his own speech at 0.83-1.28 s; his windows now wait for hers, so frame by
    # frame is a whole step at once, and bob speaks only his own words
    room = bleed_room()
    room["bob"] = (
        (room["bob"].astype(np.int32) + noise("pink", -50.0, 9000, seed=3)).clip(-32768, 32767).astype(np.int16)
    )
    frames = chunks(talker_last(room))
    one_by_one, batched = make_vad(session, report_onsets=True), make_vad(session, report_onsets=True)
    got = pushed(run(one_by_one, frames))
    assert sorted(got, key=repr) == sorted(pushed(run(batched, by_step(frames))), key=repr)
    bob = [e for e in got if e[0] == "state" and e[1] == "bob"]
    assert bob and min(e[3] for e in bob) >= 5000, bob  # his words start at 5.2 s; alice talks at 0.5-3 s


@needs_clips
def test_frames_in_any_order_within_a_step_give_the_same_decisions(session):
    # live, which track's frame of a moment comes first is anyone's guess: shuffled within every
    # step (fixed seed), frame by frame decides what a whole step at once decides
    room = bleed_room()
    room["bob"] = (
        (room["bob"].astype(np.int32) + noise("pink", -50.0, 9000, seed=3)).clip(-32768, 32767).astype(np.int16)
    )
    frames = chunks(room)
    rng = np.random.default_rng(12)
    shuffled: list = []
    for _t, step in itertools.groupby(frames, key=media_time_of):
        group = list(step)
        shuffled += [group[i] for i in rng.permutation(len(group))]
    decided = pushed(run(make_vad(session), shuffled))
    assert sorted(decided, key=repr) == sorted(pushed(run(make_vad(session), by_step(frames))), key=repr)
    assert {e[1] for e in decided if e[0] == "state"} == {"alice", "bob", "carol", "dan"}


@needs_clips
def test_a_stalled_talkers_track_holds_a_neighbours_windows_back_only_briefly(session):
    # alice's frames stop for good while she is talking (her tracker stays "speaking"): bob's
    # windows wait for her audio at most CROSSTALK_WAIT_MS (100 ms), then are decided with what is there
    frames = [f for f in chunks(talker_last(bleed_room())) if not (f.user_id == "alice" and media_time_of(f) >= 1500)]
    down = run(make_vad(session, forward_audio=True), frames)
    pushed_at = 0  # media time of the newest audio that had gone through when a frame was pushed
    starts = []
    for f in down:
        if isinstance(f, UserAudioRawFrame):
            pushed_at = max(pushed_at, media_time_of(f) or 0)
        elif isinstance(f, SpeakingStateFrame) and f.participant_id == "bob" and f.speaking:
            starts.append((f, pushed_at))
    late = [(f, at) for f, at in starts if f.media_time_ms >= 5000]
    assert late, starts  # his own words are still found...
    start, at = late[0]
    assert at - start.decided_at_ms <= 100 + 2 * CHUNK * 1000 // RATE  # ...and not held back


@needs_clips
def test_a_waiting_window_whose_track_stops_is_decided_on_the_rooms_clock(session):
    # bob starts talking over alice (later in each step); both tracks go silent on the wire right
    # after the chunk of bob's that confirms his start, before alice's chunk of that moment: his
    # window waits for her audio, which never comes, and only the room's MediaTickFrame (every
    # 100 ms, carol's and dan's audio still flowing) moves it on; without it his start went out
    # when the room ended
    room = bleed_room()
    extra = silent_track(9000)
    extra.place("alice-2", 5000)
    room["alice"] = room["alice"] + extra.audio
    full = chunks(talker_last(room))
    start = next(f for f in states(run(make_vad(session), full)) if f.participant_id == "bob" and f.speaking)
    cut = (start.decided_at_ms - 1) // 20 * 20  # the step whose chunk of bob's decides it
    frames = []
    for f in full:
        t = media_time_of(f) or 0
        if (f.user_id == "alice" and t >= cut) or (f.user_id == "bob" and t > cut):
            continue
        frames.append(f)
        if f.user_id == "dan" and t % 100 == 80:
            frames.append(MediaTickFrame(media_time_ms=t + 20))
    pushed_at, starts = 0, []
    for f in run(make_vad(session, forward_audio=True), frames):
        if isinstance(f, UserAudioRawFrame):
            pushed_at = max(pushed_at, media_time_of(f) or 0)
        elif isinstance(f, SpeakingStateFrame) and f.participant_id == "bob" and f.speaking:
            starts.append((f.decided_at_ms, pushed_at))
    assert starts and starts[0][0] == start.decided_at_ms, (starts, start)
    assert starts[0][1] <= start.decided_at_ms + 100 + 100, starts  # by the first tick 100 ms on, not at the end


@needs_clips
def test_a_failing_bleed_check_costs_one_window_not_the_room(session, monkeypatch):
    # the check of one of bob's windows throws: counted and logged, the window counts as his
    # own, and every other participant's decisions still go out (a window left at the head of
    # the queue threw again on every chunk and took the others' drains with it)
    from bot.analytics.crosstalk import CrosstalkFilter
    from bot.processors.safety import INTERNAL_ERRORS

    original = CrosstalkFilter.is_bleed

    def flaky(self, pid, window_end_ms, window_ms, talking, *args, **kwargs):
        if pid == "bob" and window_end_ms == 1024:
            raise RuntimeError("boom")
        return original(self, pid, window_end_ms, window_ms, talking, *args, **kwargs)

    frames = chunks(talker_last(bleed_room()))
    expected = pushed(run(make_vad(session), frames))
    monkeypatch.setattr(CrosstalkFilter, "is_bleed", flaky)
    before = INTERNAL_ERRORS["participant vad"]
    got = pushed(run(make_vad(session), frames))
    assert INTERNAL_ERRORS["participant vad"] - before == 1
    others = [e for e in expected if e[0] != "state" or e[1] != "bob"]
    assert [e for e in got if e[0] != "state" or e[1] != "bob"] == others


@needs_clips
def test_a_participant_missing_from_some_steps_keeps_their_media_time(session):
    """Daily-like: bob's track stalls for 200 ms (no chunks), then resumes with later stamps."""
    tracks = bleed_room()
    frames = [f for f in chunks(tracks) if not (f.user_id == "bob" and 5300 <= (media_time_of(f) or 0) < 5500)]
    one_by_one, batched = make_vad(session), make_vad(session)
    assert pushed(run(batched, by_step(frames))) == pushed(run(one_by_one, frames))
    assert batched.stats == one_by_one.stats


@needs_clips
def test_joins_leaves_and_rate_changes_between_and_within_steps(session):
    """A leave between steps, a rejoin, a participant whose rate changes inside a step, and one
    who appears twice in a step: handled at the same point of the sequence as chunk by chunk."""
    alice, bob = silent_track(4000), silent_track(4000)
    alice.place("alice-2", 200)
    bob.place("bob-1", 300)
    frames = chunks({"alice": alice.audio, "bob": bob.audio})
    steps = by_step(frames)
    # bob switches to 8 kHz from 2 s on (a reopen, with a stop if he was speaking)
    for step in steps[100:]:
        for f in step.frames:
            if f.user_id == "bob":
                f.audio = np.frombuffer(f.audio, np.int16)[::2].tobytes()
                f.sample_rate = 8000
    # carol: joins mid-room, appears twice in one step, leaves, and comes back
    carol = clip("carol-right")
    for i, step in enumerate(steps[60:120]):
        piece = carol[i * CHUNK : (i + 1) * CHUNK]
        if piece.size == CHUNK:
            extra = [UserAudioRawFrame(audio=piece.tobytes(), sample_rate=RATE, num_channels=1, user_id="carol")]
            if i == 10:
                extra.append(
                    UserAudioRawFrame(audio=piece.tobytes(), sample_rate=RATE, num_channels=1, user_id="carol")
                )
            for f in extra:
                stamp(f, step.media_time_ms)
            step.frames[1:1] = extra  # between alice and bob
    seq: list = [*steps[:90], ParticipantLeftFrame(participant_id="carol", media_time_ms=1800), *steps[90:]]
    flat: list = []
    for f in seq:
        flat.extend(f.frames if isinstance(f, RoomAudioFrame) else [f])
    one_by_one, batched = make_vad(session, report_onsets=True), make_vad(session, report_onsets=True)
    expected = pushed(run(one_by_one, flat))
    assert pushed(run(batched, seq)) == expected
    assert batched.stats == one_by_one.stats
    assert ("ParticipantLeftFrame",) in expected
    assert any(e[0] == "state" and e[1] == "bob" and not e[2] for e in expected)  # the rate change stopped him


def test_bad_chunks_in_a_step_are_skipped_and_the_rest_is_scored(session):
    from bot.processors.safety import INTERNAL_ERRORS

    good = [
        UserAudioRawFrame(audio=b"\x00\x10" * CHUNK, sample_rate=RATE, num_channels=1, user_id=f"p{i}")
        for i in range(3)
    ]
    bad = [
        UserAudioRawFrame(audio=b"\x00\x10" * CHUNK, sample_rate=RATE, num_channels=1, user_id=""),  # no id
        UserAudioRawFrame(audio=b"\x00\x10" * 960, sample_rate=48000, num_channels=1, user_id="p9"),  # rate
        UserAudioRawFrame(audio=b"\x00\x10\x00", sample_rate=RATE, num_channels=1, user_id="p8"),  # odd bytes
        UserAudioRawFrame(audio=b"\x00\x10" * 321, sample_rate=RATE, num_channels=2, user_id="p7"),  # 2 ch, odd
    ]
    steps = [
        stamp(RoomAudioFrame(frames=[good[0], *bad, good[1], good[2]], media_time_ms=t), t) for t in range(0, 400, 20)
    ]
    before = INTERNAL_ERRORS["participant vad"]
    vad = make_vad(session)
    down = run(vad, [*steps, TextFrame(text="after")])
    assert [type(f) for f in down] == [TextFrame]
    assert vad.stats.windows_seen == 3 * (20 * CHUNK // 512)  # the three good streams, every window
    assert INTERNAL_ERRORS["participant vad"] - before == 2 * 20  # the two malformed chunks, each step


def test_room_audio_is_forwarded_only_when_asked(session):
    step = stamp(
        RoomAudioFrame(
            frames=[UserAudioRawFrame(audio=b"\x00\x00" * CHUNK, sample_rate=RATE, num_channels=1, user_id="p1")]
        ),
        0,
    )
    assert [type(f) for f in run(make_vad(session), [step])] == []
    assert [type(f) for f in run(make_vad(session, forward_audio=True), [step])] == [RoomAudioFrame]


@pytest.mark.parametrize("name", ["carol-1", "dan-1"])
def test_a_quiet_speakers_phrase_stays_whole_where_it_sinks_under_the_fixed_threshold(session, name):
    """A -42 dBFS speaker whose voice sinks 18 dB for 200 ms mid-phrase (-60 dBFS, under the
    gate's fixed -55): while they speak, the gate follows them (GateParams.follow_speaker_db), so
    the phrase is one segment; with the fixed threshold alone it splits in two."""
    track = silent_track(6000)
    track.place(name, 1000)
    x = track.audio.astype(np.float64)
    x *= 10 ** (-42 / 20) / (np.sqrt(np.mean(x[x != 0] ** 2)) / 32768)
    (start, end), *_ = sorted(track.truth, key=lambda iv: iv[0] - iv[1])
    middle = (start + end) // 2
    x[(middle - 100) * 16 : (middle + 100) * 16] *= 10 ** (-18 / 20)
    audio = np.clip(x + noise("pink", -66, 6000, seed=3), -32768, 32767).astype(np.int16)
    found = {}
    for follow_db in (25.0, 0.0):
        vad = make_vad(session, gate=GateParams(follow_speaker_db=follow_db))
        found[follow_db] = segments(run(vad, chunks({"p": audio})), "p")
    assert len(found[25.0]) == 1 and abs(found[25.0][0][0] - start) <= 60 and abs(found[25.0][0][1] - end) <= 120
    assert len(found[0.0]) == 2  # split where the voice sank
