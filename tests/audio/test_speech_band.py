"""The energy gate's view above the rumble band: a 2nd-order Butterworth high-pass, windowed."""

from __future__ import annotations

import numpy as np
import pytest

from bot.audio.speech_band import SpeechBandLevel, highpass_kernel


def tone(freq: float, rate: int, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return np.sin(2 * np.pi * freq * t).astype(np.float32)


def gain_db(freq: float, rate: int, cutoff: float = 100.0) -> float:
    x = tone(freq, rate)
    y = np.convolve(x, highpass_kernel(cutoff, rate))[: x.size]
    settled = slice(rate // 4, None)  # past the filter's start-up
    return float(10 * np.log10(np.mean(y[settled] ** 2) / np.mean(x[settled] ** 2)))


@pytest.mark.parametrize("rate", [8000, 16000])
def test_response_is_a_butterworth_high_pass(rate):
    assert gain_db(100.0, rate) == pytest.approx(-3.0, abs=0.3)  # the cutoff
    assert gain_db(50.0, rate) == pytest.approx(-12.3, abs=0.5)  # 12 dB/octave below it
    assert gain_db(25.0, rate) < -23
    for speech in (300.0, 1000.0, 3000.0):
        assert abs(gain_db(speech, rate)) < 0.5


@pytest.mark.parametrize("window", [256, 512])
def test_windows_filtered_in_turn_equal_the_whole_signal_filtered(window):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(window * 20).astype(np.float32)
    band = SpeechBandLevel(100.0, 16000)
    pieces = []
    for i in range(20):
        w = x[i * window : (i + 1) * window]
        if i % 3 == 1:
            band.remember(w)  # not needed for this window: only its samples are kept
            pieces.append(None)
        else:
            pieces.append(band.filter(w))
    whole = np.convolve(x, highpass_kernel(100.0, 16000))[: x.size]
    for i, got in enumerate(pieces):
        if got is not None:
            np.testing.assert_allclose(got, whole[i * window : (i + 1) * window], atol=1e-5)


def test_windows_shorter_than_the_kernel_keep_the_right_history():
    x = np.random.default_rng(1).standard_normal(64 * 30).astype(np.float32)
    band = SpeechBandLevel(100.0, 16000)  # kernel of 256 taps: longer than a 64-sample window
    got = [
        band.filter(x[i : i + 64]) if i % 128 else (band.remember(x[i : i + 64]) or None) for i in range(0, x.size, 64)
    ]
    whole = np.convolve(x, highpass_kernel(100.0, 16000))[: x.size]
    for k, piece in enumerate(got):
        if piece is not None:
            np.testing.assert_allclose(piece, whole[k * 64 : (k + 1) * 64], atol=1e-5)


@pytest.mark.parametrize("cutoff", [0.0, -5.0, 4000.0, 9000.0])
def test_a_cutoff_outside_the_band_is_rejected(cutoff):
    with pytest.raises(ValueError, match="cutoff"):
        highpass_kernel(cutoff, 8000)
