"""Real-speech rooms: recipes that place checked utterances of real recordings on participant
tracks, with the level, band, room tone and bleed a real call has, and their ground truth.

A room is rendered to a folder: one WAV (or FLAC) per participant covering the whole meeting (as
a per-participant raw-tracks recording gives), ``scenario.json`` playing them (one ``speech``
event per participant at 0 ms, no transcript) and ``truth.json`` (the voiced intervals per
participant on the room timeline, the scripted overlaps with their labels). Everything is
deterministic: the same packages give the same files.

How a track is made (``render``):

* each placed utterance is scaled to its **active speech level** (RMS over its voiced 10 ms frames,
  dBFS), optionally with a **soft onset** (a 250 ms raised-cosine fade from -20 dB);
* **room tone**: pink noise (or brown: ventilation rumble) at a steady RMS level (dBFS) for the
  whole track;
* **bleed**: another participant's speech (their utterances at their level) mixed in 20 dB lower
  and 3 ms late, as an open microphone picks up the speaker next to it;
* **telephone band**: 300-3400 Hz band-pass (FFT, 50 Hz raised-cosine edges) on the whole track.

Truth of a placed utterance = the checked voiced intervals of the recording
(``sources.source_intervals``), shifted to the room timeline and trimmed at the edges to the
frames where the placed speech is above the track's room tone, broadband or above 354 Hz (what
can be heard at all: ``above_rumble``; rumble under a voice does not hide it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bot.scenarios.realspeech.sources import RATE, Utterance, frame_dbfs, utterance

__all__ = ["Place", "RoomRecipe", "Track", "build_room", "default_out_dir"]

BLEED_DB = -20.0
BLEED_DELAY_MS = 3
SOFT_ONSET_MS = 250
SOFT_ONSET_FROM_DB = -20.0


@dataclass(frozen=True)
class Place:
    """One utterance on one participant's track.

    ``at_ms`` is where the utterance's first *voiced* ms lands on the room timeline (not the cut's
    start), so recipes place speech onsets exactly. ``label`` marks a scripted overlap
    (``backchannel``/``interruption``) for scoring.
    """

    who: str
    uid: str
    at_ms: int
    level_db: float = -26.0
    soft: bool = False
    label: str | None = None


@dataclass(frozen=True)
class Track:
    """A participant's track settings."""

    pid: str
    name: str
    room_tone_db: float = -60.0
    phone: bool = False
    bleed_from: str | None = None
    tone: str = "pink"
    """``pink`` (room tone, 1/f) or ``brown`` (1/f², the rumble of ventilation or a fan)."""


@dataclass(frozen=True)
class RoomRecipe:
    name: str
    description: str
    tracks: tuple[Track, ...]
    places: tuple[Place, ...]
    duration_ms: int
    sample_rate: int = 16000
    fmt: str = "wav"
    held_out: bool = False
    """Not looked at while tuning the VAD and the overlap classifier (docs/vad.md)."""
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------------------------


def _active_level(u: Utterance, x: np.ndarray) -> float:
    db = frame_dbfs(x)
    idx = [i for a, b in u.voiced for i in range(a // 10, min(len(db), b // 10))]
    power = np.mean(10 ** (db[idx] / 10)) if idx else 1e-12
    return float(10 * np.log10(power))


def _pink(n: int, seed: int, power: float = 1.0) -> np.ndarray:
    """Unit-RMS noise with a 1/f^power spectrum (1: pink, 2: brown) above 20 Hz."""
    rng = np.random.default_rng(seed)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, d=1.0 / RATE)
    spectrum[0] = 0.0
    f = np.maximum(freqs[1:], 20.0)
    spectrum[1:] /= np.sqrt(f) if power == 1.0 else f ** (power / 2)
    x: np.ndarray = np.fft.irfft(spectrum, n)
    scaled: np.ndarray = x / np.sqrt(np.mean(x**2))
    return scaled


def _band(x: np.ndarray, lo: float = 300.0, hi: float = 3400.0, edge: float = 50.0) -> np.ndarray:
    spectrum = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), d=1.0 / RATE)
    gain = np.clip((f - (lo - edge)) / (2 * edge), 0, 1) * np.clip(((hi + edge) - f) / (2 * edge), 0, 1)
    gain = 0.5 - 0.5 * np.cos(np.pi * gain)
    out: np.ndarray = np.fft.irfft(spectrum * gain, len(x))
    return out


def _room_tone(recipe: RoomRecipe, track: Track, n: int) -> np.ndarray:
    """The track's room tone as it ends up on the track (band-limited on a telephone track)."""
    i = [t.pid for t in recipe.tracks].index(track.pid)
    power = {"pink": 1.0, "brown": 2.0}[track.tone]
    tone = _pink(n, seed=1000 * len(recipe.name) + i, power=power) * 10 ** (track.room_tone_db / 20)
    return _band(tone) if track.phone else tone


def _placed(p: Place) -> tuple[int, np.ndarray, Utterance]:
    """(first sample on the timeline, scaled samples, utterance) of one placement."""
    u = utterance(p.uid)
    x = np.array(u.samples(), dtype=np.float64)
    x *= 10 ** ((p.level_db - _active_level(u, x)) / 20)
    if p.soft:
        n = SOFT_ONSET_MS * RATE // 1000
        first = u.voiced[0][0] * RATE // 1000
        floor = 10 ** (SOFT_ONSET_FROM_DB / 20)
        ramp = floor + (1 - floor) * (0.5 - 0.5 * np.cos(np.linspace(0, np.pi, n)))
        x[first : first + n] *= ramp[: len(x[first : first + n])]
    start = (p.at_ms - u.voiced[0][0]) * RATE // 1000
    return start, x, u


AUDIBLE_ABOVE_DB = 3.0
"""A 10 ms frame of placed speech counts as heard when it is this far above the track's room tone,
broadband or above ``ABOVE_RUMBLE_HZ``."""
ABOVE_RUMBLE_HZ = 354.0
"""The lower edge of the octave band centred on 500 Hz: above it lies nearly all of what makes
speech intelligible (ANSI S3.5's Speech Intelligibility Index gives the 250 Hz band about 6 % of
the importance, nothing below), and little of ventilation rumble's power (brown noise keeps 5 % of
its power above it, pink noise half)."""


def above_rumble(x: np.ndarray) -> np.ndarray:
    """``x`` (16 kHz) above ``ABOVE_RUMBLE_HZ``: ``_band`` with no upper edge (its 100 Hz
    raised-cosine edge; a brick wall rang for 10-50 ms past an abrupt end of a voice, and the
    ringing counted as heard over quiet rumble).

    Why: whether speech is heard over a background depends on the frequencies where each has its
    power. Brown noise (ventilation rumble) has almost all of it below 200 Hz, where speech has
    little: compared broadband only, a -42 dBFS talker's formants, plain in the spectrogram and
    scored 0.99 by Silero, were "under" -50 dBFS rumble and cut from the truth (``kt-meeting``,
    docs/vad.md, eighth round). Tried and dropped, by plot: A-weighting both (it cut a low voice's
    murmur out of pink noise, which in its own band stood 11 dB over it), and comparing octave band
    by octave band (narrow bands let narrow non-speech through: a recording's low-frequency floor
    below 354 Hz, a steady 3.8 kHz tone)."""
    return _band(x, lo=ABOVE_RUMBLE_HZ, hi=float(RATE))


def noise_levels(tone: np.ndarray) -> np.ndarray:
    """A room tone's RMS level (dB), broadband and above ``ABOVE_RUMBLE_HZ``: what ``heard``
    compares with."""
    power = [np.mean(tone**2), np.mean(above_rumble(tone) ** 2)]
    return 10 * np.log10(np.maximum(power, 1e-12))


def heard(x: np.ndarray, noise_db: np.ndarray) -> np.ndarray:
    """Which 10 ms frames of ``x`` (speech as it is on the track, 16 kHz) are heard over a room
    tone of ``noise_db`` (``noise_levels``): more than ``AUDIBLE_ABOVE_DB`` over it broadband, or
    above ``ABOVE_RUMBLE_HZ``."""
    above = np.maximum(frame_dbfs(x) - noise_db[0], frame_dbfs(above_rumble(x)) - noise_db[1])
    flags: np.ndarray = above > AUDIBLE_ABOVE_DB
    return flags


MERGE_MS = 200
"""Heard stretches closer than this are one interval (the same merge as the recordings' truth)."""


def _truth_intervals(p: Place, x: np.ndarray, u: Utterance, noise_db: np.ndarray) -> list[list[int]]:
    """Checked intervals on the room timeline, cut to what is heard above the room tone.

    ``x`` is the placed speech as it is on the track (level, soft onset, telephone band);
    ``noise_db`` the levels of the track's room tone as it is on the track (``noise_levels``).
    Inside each checked interval, the frames ``heard`` over the room tone count; heard
    stretches closer than ``MERGE_MS`` are joined (word gaps that sink into the room tone split)."""
    audible = heard(x, noise_db)
    offset = p.at_ms - u.voiced[0][0]
    out: list[list[int]] = []
    for a, b in u.voiced:
        for i in (i for i in range(a // 10, min(len(audible), b // 10)) if audible[i]):
            lo, hi = offset + max(a, i * 10), offset + min(b, (i + 1) * 10)
            if out and lo - out[-1][1] < MERGE_MS:
                out[-1][1] = max(out[-1][1], hi)
            else:
                out.append([lo, hi])
    return [iv for iv in out if iv[1] - iv[0] >= 30]


def _speech_track(recipe: RoomRecipe, pid: str, n: int) -> tuple[np.ndarray, list[list[int]], list[dict[str, Any]]]:
    track = next(t for t in recipe.tracks if t.pid == pid)
    tone = _room_tone(recipe, track, n)
    noise_db = noise_levels(tone)
    x = np.zeros(n)
    intervals: list[list[int]] = []
    utts: list[dict[str, Any]] = []
    for i, p in enumerate(recipe.places):
        if p.who != pid:
            continue
        start, s, u = _placed(p)
        if start < 0 or start + len(s) > n:
            raise ValueError(f"{recipe.name}: {p.uid} at {p.at_ms} ms does not fit the room")
        x[start : start + len(s)] += s
        on_track = _band(s) if track.phone else s
        ivs = _truth_intervals(p, on_track, u, noise_db)
        intervals += ivs
        utts.append(
            {
                "event": i,
                "participant": pid,
                "uid": p.uid,
                "atMs": p.at_ms,
                "levelDb": p.level_db,
                "soft": p.soft,
                "label": p.label,
                "intervals": ivs,
                "startMs": ivs[0][0],
                "endMs": ivs[-1][1],
                "voicedMs": sum(b - a for a, b in ivs),
            }
        )
    return x, sorted(intervals), utts


def render(recipe: RoomRecipe) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tracks (float, 16 kHz) and truth of a room."""
    from bot.scenarios.tools.truth import _overlaps, _union_ms

    n = recipe.duration_ms * RATE // 1000
    speech: dict[str, np.ndarray] = {}
    participants: dict[str, dict[str, Any]] = {}
    all_utts: list[dict[str, Any]] = []
    for t in recipe.tracks:
        x, ivs, utts = _speech_track(recipe, t.pid, n)
        speech[t.pid] = x
        participants[t.pid] = {
            "name": t.name,
            "intervals": ivs,
            "talkTimeMs": _union_ms(ivs),
            "utterances": utts,
            "roomToneDb": t.room_tone_db,
            "phone": t.phone,
            "bleedFrom": t.bleed_from,
        }
        all_utts += utts
    tracks: dict[str, np.ndarray] = {}
    for t in recipe.tracks:
        x = speech[t.pid].copy()
        if t.bleed_from:
            d = BLEED_DELAY_MS * RATE // 1000
            x[d:] += speech[t.bleed_from][:-d] * 10 ** (BLEED_DB / 20)
        if t.phone:
            x = _band(x)
        x += _room_tone(recipe, t, n)
        tracks[t.pid] = x
    total = sum(p["talkTimeMs"] for p in participants.values())
    truth = {
        "name": recipe.name,
        "description": recipe.description,
        "durationMs": recipe.duration_ms,
        "sampleRate": recipe.sample_rate,
        "heldOut": recipe.held_out,
        "participants": participants,
        "shares": {pid: p["talkTimeMs"] / total for pid, p in participants.items()},
        "overlaps": _scripted(_overlaps(sorted(all_utts, key=lambda u: u["event"]), participants)),
        "noise": [],
    }
    return tracks, truth


SCRIPTED_MARGIN_MS = 100
"""An overlap is scored as a scripted backchannel/interruption only when the rules
(``bot.scenarios.tools.truth.classify``) give that kind by at least this margin."""


def _scripted(overlaps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Label each overlap with the kind the rules give it, when that is clear-cut: robust by
    ``SCRIPTED_MARGIN_MS`` and the overlapper's utterance coming in over one other speaker only (a
    word said across a hand-over between two others has no single holder)."""
    partners: dict[int, set[int]] = {}  # event -> the events it came in over
    for o in overlaps:
        partners.setdefault(o["overlapperEvent"], set()).add(o["holderEvent"])
    for o in overlaps:
        clear = o["robustMs"] >= SCRIPTED_MARGIN_MS and len(partners[o["overlapperEvent"]]) == 1
        o["label"] = o["kind"] if clear and o["kind"] != "overlap" else None
    return overlaps


def default_out_dir() -> Path:
    """Where rooms are built: ``$PRISM_REAL_ROOMS`` or ``build/real-rooms`` in the repository."""
    import os

    env = os.environ.get("PRISM_REAL_ROOMS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "build" / "real-rooms"


def build_room(recipe: RoomRecipe, out_dir: Path | None = None) -> Path:
    """Render a room's tracks, scenario and truth into ``out_dir/<name>/``; return the scenario path."""
    import soundfile as sf
    import soxr

    folder = (out_dir or default_out_dir()) / recipe.name
    folder.mkdir(parents=True, exist_ok=True)
    tracks, truth = render(recipe)
    events: list[dict[str, Any]] = []
    for t in recipe.tracks:
        x = tracks[t.pid]
        if recipe.sample_rate != RATE:
            x = soxr.resample(x, RATE, recipe.sample_rate, quality="VHQ")
        file = f"{t.name.lower()}.{recipe.fmt}"
        pcm = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
        sf.write(str(folder / file), pcm, recipe.sample_rate, subtype="PCM_16", format=recipe.fmt.upper())
        events.append({"atMs": 0, "type": "join", "participant": t.pid})
        events.append({"atMs": 0, "type": "speech", "participant": t.pid, "audio": file})
    scenario = {
        "name": recipe.name,
        "description": recipe.description,
        "sampleRate": recipe.sample_rate,
        "durationMs": recipe.duration_ms,
        "participants": [{"id": t.pid, "name": t.name} for t in recipe.tracks],
        "events": events,
    }
    (folder / "scenario.json").write_text(json.dumps(scenario, indent=1) + "\n")
    (folder / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return folder / "scenario.json"
