"""Plots for checking ground truth by eye: waveform, 10 ms level and spectrogram, truth on top.

Needs matplotlib (a dev dependency)::

    python -m bot.scenarios.realspeech plot [--out DIR] [SOURCE_OR_ROOM ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bot.scenarios.realspeech.sources import RATE, frame_dbfs

__all__ = ["plot_signal"]


def plot_signal(
    x: np.ndarray,
    intervals: Sequence[tuple[int, int]],
    out: Path,
    *,
    title: str,
    detected: Sequence[tuple[int, int]] = (),
    start_ms: int = 0,
    end_ms: int | None = None,
) -> Path:
    """Write a PNG: waveform with truth (green) and detections (red, if given), the 10 ms level in
    dBFS, and a spectrogram (harmonics and formants tell speech from noise where levels do not)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    end_ms = end_ms if end_ms is not None else len(x) * 1000 // RATE
    seg = x[start_ms * RATE // 1000 : end_ms * RATE // 1000]
    t = start_ms / 1000 + np.arange(len(seg)) / RATE
    fig, axes = plt.subplots(3, 1, figsize=(max(8, (end_ms - start_ms) / 1500), 7), sharex=True)
    axes[0].plot(t, seg, lw=0.3, color="0.3")
    db = frame_dbfs(seg)
    axes[1].plot(start_ms / 1000 + np.arange(len(db)) * 0.01, db, lw=0.6)
    axes[1].set_ylim(-90, 0)
    axes[1].set_ylabel("dBFS (10 ms)")
    axes[2].specgram(
        seg + 1e-7, NFFT=512, Fs=RATE, noverlap=384, cmap="magma", xextent=(start_ms / 1000, end_ms / 1000)
    )
    axes[2].set_ylabel("Hz")
    for ax in axes[:2]:
        for a, b in intervals:
            if b >= start_ms and a <= end_ms:
                ax.axvspan(max(a, start_ms) / 1000, min(b, end_ms) / 1000, color="tab:green", alpha=0.25)
        for a, b in detected:
            if b >= start_ms and a <= end_ms:
                ax.axvspan(
                    max(a, start_ms) / 1000, min(b, end_ms) / 1000, ymin=0, ymax=0.08, color="tab:red", alpha=0.8
                )
    axes[0].set_title(title)
    axes[2].set_xlabel("s")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80)
    plt.close(fig)
    return out
