"""BotTrack: the bot's voice in a simulated room, placed on the room's media time, written as WAV.

A simulated room has no one to hear the bot, so its output records what a live transport would
have played: each audio frame at the media time stamped on it, resampled to the room rate, cut
where the bot yielded (``BotAudioCutFrame``). ``write`` produces the bot's track and, beside it,
the room's participants mixed with the bot (``*.mix.wav``), so a person can listen to what the
bot said, and when, against what people said.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import soxr

from bot.rooms.scenario import NoiseEvent, Scenario, SpeechEvent

__all__ = ["BotTrack", "mix_path"]


def mix_path(path: Path) -> Path:
    """``out.wav`` → ``out.mix.wav``: the room with the bot."""
    return path.with_name(path.stem + ".mix" + (path.suffix or ".wav"))


class BotTrack:
    """The bot's audio segments on media time, at ``sample_rate``.

    Example::

        track = BotTrack(16_000)
        track.add(1_000, pcm_24k, 24_000)
        track.cut(1_500)                 # a barge-in at 1.5 s: nothing after it plays
        track.write(Path("bot.wav"), duration_ms=60_000)
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.segments: list[tuple[int, np.ndarray]] = []  # (start sample, int16 samples)

    def add(self, media_time_ms: int, pcm: bytes, sample_rate: int) -> None:
        samples = np.frombuffer(pcm, dtype="<i2")
        if sample_rate != self.sample_rate and samples.size:
            samples = soxr.resample(samples, sample_rate, self.sample_rate).astype(np.int16)
        self.segments.append((media_time_ms * self.sample_rate // 1000, samples))

    def cut(self, media_time_ms: int) -> None:
        """Nothing the bot sent plays at or after ``media_time_ms``."""
        at = media_time_ms * self.sample_rate // 1000
        kept: list[tuple[int, np.ndarray]] = []
        for start, samples in self.segments:
            if start < at:
                kept.append((start, samples[: at - start]))
        self.segments = kept

    def spans_ms(self) -> list[tuple[int, int]]:
        """Media-time spans (ms) where the bot's track has audio, adjacent segments merged."""
        spans: list[tuple[int, int]] = []
        for start, samples in sorted(self.segments, key=lambda s: s[0]):
            if not samples.size:
                continue
            a = start * 1000 // self.sample_rate
            b = -(-(start + samples.size) * 1000 // self.sample_rate)
            if spans and a <= spans[-1][1] + 1:
                spans[-1] = (spans[-1][0], max(spans[-1][1], b))
            else:
                spans.append((a, b))
        return spans

    def render(self, duration_ms: int) -> np.ndarray:
        end = max([duration_ms * self.sample_rate // 1000] + [s + a.size for s, a in self.segments])
        out = np.zeros(end, dtype=np.int32)
        for start, samples in self.segments:
            out[start : start + samples.size] += samples
        return out

    def write(self, path: Path, *, duration_ms: int, scenario: Scenario | None = None) -> None:
        """Write the bot's track to ``path`` and, given the scenario, the room mix beside it."""
        bot = self.render(duration_ms)
        _write_wav(path, bot, self.sample_rate)
        if scenario is not None:
            room = np.zeros(bot.size, dtype=np.int32)
            for event in scenario.events:
                if isinstance(event, (SpeechEvent, NoiseEvent)) and event.sample_rate == self.sample_rate:
                    lo = event.start_sample
                    hi = min(room.size, lo + event.samples.size)
                    if hi > lo:
                        room[lo:hi] += event.samples[: hi - lo]
            _write_wav(mix_path(path), room + bot, self.sample_rate)


def _write_wav(path: Path, samples: np.ndarray, sample_rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())
