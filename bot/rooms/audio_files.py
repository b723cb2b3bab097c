"""Decode audio files into mono int16 at a room rate: WAV/FLAC/OGG with soundfile (libsndfile),
Opus/WebM/MP4/anything FFmpeg reads with PyAV, resampled with soxr.

No shell-outs: both are libraries. soundfile is tried first (exact, fast, any WAV subtype and
rate); files libsndfile does not recognise go to PyAV, which decodes what Daily's raw-tracks
recordings are (Opus in WebM). Errors are one-line ``AudioFileError``s saying what is wrong;
callers add the file name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = ["AudioFileError", "decode_audio"]


class AudioFileError(Exception):
    """A file that cannot be decoded (message without the path: callers name the file)."""


def decode_audio(path: str | Path, sample_rate: int) -> np.ndarray:
    """The file's audio as mono int16 at ``sample_rate`` (channels averaged, soxr HQ resampling).

    Raises:
        AudioFileError: missing, unreadable, not audio, or no samples.
    """
    path = Path(path)
    if not path.exists():
        raise AudioFileError("file not found")
    if path.is_dir():
        raise AudioFileError("is a directory")
    signal, rate = _read_soundfile(path)
    if signal is None:
        signal, rate = _read_av(path)
    if signal.size == 0:
        raise AudioFileError("has no audio samples")
    if rate != sample_rate:
        import soxr

        signal = soxr.resample(signal, rate, sample_rate, quality="HQ")
    pcm: np.ndarray = np.clip(np.round(signal * 32768.0), -32768, 32767).astype(np.int16)
    return pcm


def _read_soundfile(path: Path) -> tuple[np.ndarray | None, int]:
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError:
        return None, 0  # not a format libsndfile knows (or a broken one): let FFmpeg try
    except OSError as exc:
        raise AudioFileError(f"cannot read it: {exc.strerror or exc}") from None
    return data.mean(axis=1), int(rate)


def _read_av(path: Path) -> tuple[np.ndarray, int]:
    import av

    try:
        container = av.open(str(path))
    except av.error.InvalidDataError:
        raise AudioFileError("is not an audio file this bot can decode (WAV, FLAC, OGG, Opus/WebM, ...)") from None
    except (av.error.FFmpegError, OSError) as exc:
        raise AudioFileError(f"cannot decode it: {exc}") from None
    with container:
        if not container.streams.audio:
            raise AudioFileError("has no audio stream")
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate or 48000
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks: list[np.ndarray] = []
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunks.append(out.to_ndarray().reshape(-1))
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as exc:
            raise AudioFileError(f"cannot decode it: {exc}") from None
    return (np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)), rate
