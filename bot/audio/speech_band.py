"""The level of a window above the rumble band, for the energy gate's fixed threshold.

Ventilation, fans, traffic, a desk knock and microphone handling put most of their power below
100 Hz, where speech has little (a low male voice's fundamental is ~85-120 Hz; the formants that
make speech intelligible start near 300 Hz). Measured broadband, brown-noise rumble at -56 dBFS
RMS peaks above the gate's -55 dBFS in most windows, so the model ran on it all the time; on
such a track the model state is refreshed every second of rumble and a word starting soon after
a refresh scored 0.01-0.2 for its first 200 ms (a -30 dBFS "нет" on ``meeting-6``), where after
a gated pause (settled state, warm-up) it scores 0.6-0.9 at once. Measured above 100 Hz, the
rumble is gated like silence.

The filter is a second-order Butterworth high-pass (the RBJ cookbook biquad), applied as its
impulse response truncated at 16 ms (where it has decayed below 1e-3 of its peak) so a window is
filtered with one ``np.convolve`` and no per-sample Python loop. Only the gate's decision uses
it: the model still sees the unfiltered audio, and the level reported with each window (and the
track's noise floor) stays broadband. Computed only for windows loud enough broadband to matter.
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

__all__ = ["SpeechBandLevel", "highpass_kernel"]

KERNEL_MS = 16
"""Length of the truncated impulse response (its tail is below 1e-3 of the peak by then at 100 Hz)."""


@cache
def highpass_kernel(cutoff_hz: float, sample_rate: int) -> np.ndarray:
    """Impulse response of a 2nd-order Butterworth high-pass, truncated at ``KERNEL_MS``.

    Raises:
        ValueError: the cutoff is not between 0 and the Nyquist frequency.
    """
    if not 0 < cutoff_hz < sample_rate / 2:
        raise ValueError(f"high-pass cutoff must be in (0, {sample_rate / 2}) Hz, got {cutoff_hz}")
    w0 = 2 * math.pi * cutoff_hz / sample_rate
    alpha = math.sin(w0) / (2 * math.sqrt(0.5))  # Q = 1/sqrt(2): Butterworth
    cos_w0 = math.cos(w0)
    a0 = 1 + alpha
    b0, b1, b2 = (1 + cos_w0) / 2 / a0, -(1 + cos_w0) / a0, (1 + cos_w0) / 2 / a0
    a1, a2 = -2 * cos_w0 / a0, (1 - alpha) / a0
    n = sample_rate * KERNEL_MS // 1000
    h = np.zeros(n)
    x1 = x2 = y1 = y2 = 0.0
    for i in range(n):  # once per (cutoff, rate): the filter's response to a unit impulse
        x0 = 1.0 if i == 0 else 0.0
        y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
        h[i] = y0
        x2, x1, y2, y1 = x1, x0, y1, y0
    return h.astype(np.float32)


class SpeechBandLevel:
    """Per-stream high-passed view of each window (keeps the samples the filter needs from the
    previous windows).

    Example::

        band = SpeechBandLevel(100.0, 16000)
        filtered = band.filter(window)      # call for every window, in order
    """

    def __init__(self, cutoff_hz: float, sample_rate: int) -> None:
        self._kernel = highpass_kernel(cutoff_hz, sample_rate)
        self._history = np.zeros(self._kernel.size - 1, dtype=np.float32)

    def remember(self, audio: np.ndarray) -> None:
        """Keep the end of a window that was not filtered (so the next one can be)."""
        self._history = self._tail(self._history, audio)

    def filter(self, audio: np.ndarray) -> np.ndarray:
        """The window high-passed (same length), continuing from the previous windows."""
        buf = np.concatenate((self._history, audio))
        self._history = buf[-self._history.size :]
        return np.convolve(buf, self._kernel, mode="valid").astype(np.float32, copy=False)

    def _tail(self, history: np.ndarray, audio: np.ndarray) -> np.ndarray:
        keep = history.size
        if audio.size >= keep:
            return audio[-keep:].astype(np.float32, copy=True)
        return np.concatenate((history[audio.size :], audio)).astype(np.float32, copy=False)
