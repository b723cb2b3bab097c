"""CrosstalkFilter: a louder talking participant's voice on another microphone is bleed; a voice
of one's own over it is not."""

from __future__ import annotations

import numpy as np

from bot.analytics.crosstalk import CrosstalkFilter, CrosstalkParams

RATE = 16000


def _voice(seed: int, ms: int, dbfs: float) -> np.ndarray:
    """Speech-like noise (amplitude-modulated, band-limited): what matters is that it is not a copy."""
    rng = np.random.default_rng(seed)
    n = RATE * ms // 1000
    x = np.convolve(rng.standard_normal(n), np.ones(8) / 8, mode="same")
    x *= 1 + 0.8 * np.sin(2 * np.pi * 4 * np.arange(n) / RATE)
    return x / np.sqrt(np.mean(x**2)) * 10 ** (dbfs / 20) * 32768


def _play(tracks: dict[str, np.ndarray], who: str, talking: list[str], **params: float) -> list[bool]:
    ct = CrosstalkFilter(RATE, CrosstalkParams(**params))
    out = []
    for k in range(len(next(iter(tracks.values()))) // 320):
        end = (k + 1) * 20
        for pid, x in tracks.items():
            ct.push(pid, x[k * 320 : (k + 1) * 320], end)
        if end % 32 == 0 and end >= 64:
            out.append(ct.is_bleed(who, end, 32, talking))
    return out


def _delayed(x: np.ndarray, ms: int) -> np.ndarray:
    d = RATE * ms // 1000
    return np.concatenate([np.zeros(d), x[:-d]])


def test_a_louder_neighbours_copy_is_bleed() -> None:
    loud = _voice(1, 2000, -24)
    quiet = _delayed(loud, 3) * 10 ** (-20 / 20) + _voice(9, 2000, -50)  # bleed + room tone
    verdicts = _play({"a": loud, "b": quiet}, "b", ["a"])
    assert sum(verdicts) >= 0.95 * len(verdicts)


def test_own_voice_over_the_bleed_is_kept() -> None:
    loud = _voice(1, 2000, -24)
    own = _voice(2, 2000, -36)  # 8 dB above the -44 dBFS bleed
    mixed = _delayed(loud, 3) * 10 ** (-20 / 20) + own
    verdicts = _play({"a": loud, "b": mixed}, "b", ["a"])
    assert sum(verdicts) <= 0.05 * len(verdicts)


def test_nobody_talking_means_no_bleed() -> None:
    loud = _voice(1, 1000, -24)
    quiet = _delayed(loud, 3) * 0.1
    assert not any(_play({"a": loud, "b": quiet}, "b", []))


def test_a_different_voice_as_loud_as_bleed_is_not_bleed() -> None:
    # two unrelated voices, one 15 dB quieter: not a copy, so not bleed
    verdicts = _play({"a": _voice(1, 1000, -24), "b": _voice(3, 1000, -39)}, "b", ["a"])
    assert not any(verdicts)
