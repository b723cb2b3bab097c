"""What the real-speech rooms' truth counts as heard over a track's room tone (``rooms.heard``).

No recordings needed: a voice-like harmonic sound and synthetic room tones."""

from __future__ import annotations

import numpy as np

from bot.scenarios.realspeech.rooms import _pink, heard, noise_levels
from bot.scenarios.realspeech.sources import RATE, frame_dbfs

SECOND = RATE


def _voice(dbfs: float, f0: float = 140.0, n: int = SECOND) -> np.ndarray:
    """A steady vowel-like sound: harmonics of ``f0`` up to 4 kHz, falling 6 dB per octave above 500 Hz."""
    t = np.arange(n) / RATE
    x = sum(np.sin(2 * np.pi * k * f0 * t) / max(1.0, k * f0 / 500) for k in range(1, int(4000 // f0) + 1))
    return np.asarray(x * 10 ** (dbfs / 20) / np.sqrt(np.mean(x**2)))


def _tone(kind: str, dbfs: float, n: int = 10 * SECOND) -> np.ndarray:
    return _pink(n, seed=7, power={"pink": 1.0, "brown": 2.0}[kind]) * 10 ** (dbfs / 20)


def test_a_voice_under_rumble_broadband_is_heard_above_it() -> None:
    # brown noise (ventilation) has ~95 % of its power below 354 Hz: a voice 5 dB under it
    # broadband is far over it where speech is (kt-meeting's -42 dBFS talker on -50 dBFS rumble:
    # the formants were plain in the spectrogram and cut from the old, broadband-only truth)
    voice, noise = _voice(-50.0), noise_levels(_tone("brown", -45.0))
    assert np.median(frame_dbfs(voice)) - noise[0] < 0  # under the rumble broadband
    assert heard(voice, noise).all()


def test_the_same_voice_under_pink_room_tone_is_not_heard() -> None:
    # pink room tone keeps half its power above 354 Hz: 5 dB under it broadband stays unheard,
    # so the rule is not just more lenient everywhere
    assert not heard(_voice(-50.0), noise_levels(_tone("pink", -45.0))).any()


def test_whatever_is_heard_broadband_stays_heard() -> None:
    # the band is added to the broadband rule, never instead of it: a hum under 354 Hz, 6 dB over
    # a pink room tone broadband, is heard as it was
    t = np.arange(SECOND) / RATE
    hum = np.sin(2 * np.pi * 120 * t) * np.sqrt(2) * 10 ** (-49.0 / 20)
    assert heard(hum, noise_levels(_tone("pink", -55.0))).all()


def test_silence_and_a_voice_under_the_threshold_are_not_heard() -> None:
    noise = noise_levels(_tone("brown", -50.0))
    assert not heard(np.zeros(SECOND), noise).any()
    assert not heard(_voice(-75.0), noise).any()
