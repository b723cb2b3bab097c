"""Decoding audio files for scenarios and recorded rooms (bot.rooms.audio_files): real soundfile
and PyAV on files written here, resampled with soxr."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from bot.rooms.audio_files import AudioFileError, decode_audio


def _tone(rate: int, secs: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(rate * secs)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def _write_webm_opus(path: Path, x: np.ndarray, rate: int = 48000) -> None:
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libopus", rate=rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(x.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = rate
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


@pytest.mark.parametrize(
    ("suffix", "subtype", "rate"),
    [("wav", "PCM_24", 44100), ("wav", "FLOAT", 48000), ("flac", "PCM_16", 22050), ("wav", "PCM_16", 8000)],
)
def test_soundfile_formats_decode_at_any_rate(tmp_path: Path, suffix: str, subtype: str, rate: int) -> None:
    path = tmp_path / f"a.{suffix}"
    sf.write(str(path), np.stack([_tone(rate), _tone(rate)], axis=1), rate, subtype=subtype)
    pcm = decode_audio(path, 16000)
    assert pcm.dtype == np.int16
    assert abs(len(pcm) - 16000) <= 2
    assert 0.45 < np.abs(pcm).max() / 32768 < 0.55  # level kept, channels averaged


def test_opus_in_webm_decodes_through_pyav(tmp_path: Path) -> None:
    path = tmp_path / "alice.webm"
    _write_webm_opus(path, _tone(48000, 2.0))
    pcm = decode_audio(path, 16000)
    assert abs(len(pcm) - 32000) < 800  # Opus pre-skip / padding
    level = np.sqrt(np.mean((pcm[4000:28000] / 32768.0) ** 2))
    assert 0.3 < level < 0.4  # a 0.5-peak sine has RMS 0.354


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"these are not samples", "is not an audio file"), (b"", "is not an audio file")],
)
def test_bad_files_give_one_line_errors(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "notes.wav"
    path.write_bytes(content)
    with pytest.raises(AudioFileError, match=message) as err:
        decode_audio(path, 16000)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match="file not found"):
        decode_audio(tmp_path / "nope.flac", 16000)
