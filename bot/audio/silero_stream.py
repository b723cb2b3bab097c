"""Silero VAD inference for many audio streams: one ONNX session, per-stream model state.

``SileroStreams`` scores every 512-sample window (32 ms at 16 kHz) of each participant's audio,
skipping windows the energy gate (``bot.analytics.speaking.EnergyGate``) finds silent.

Why one shared session is equivalent to one analyzer per participant
--------------------------------------------------------------------
Silero v5 is a stateless ONNX graph: each call takes ``input`` (64 context samples + 512 new
samples), ``state`` (the recurrent state, shape ``(2, 1, 128)``) and ``sr``, and returns the speech
probability and the next state. Pipecat's ``SileroOnnxModel`` keeps that state and the 64-sample
context on the Python object and passes them in on every call; the session itself holds only the
weights, which never change. So one ``InferenceSession`` with the state and context kept per
stream computes exactly what one ``SileroOnnxModel`` per stream computes (``_infer`` mirrors
``SileroOnnxModel.__call__`` step by step; a test checks the scores are identical window by
window). onnxruntime documents ``InferenceSession.run`` as safe to call concurrently.

This satisfies "one Silero analyzer per participant (created off the event loop, released on
leave)": each participant gets its own model *state* (opened on first audio, dropped by
:meth:`SileroStreams.close`), while the immutable weights are loaded once, off the event loop,
through :meth:`SileroStreams.load`. It avoids what N ``SileroVADAnalyzer`` objects cost: N model
loads of ~24 ms each, N copies of the session, and N executor threads.

Model state resets
------------------
The recurrent state is reset (zeroed) before the first model run after a gated stretch of at
least ``GateParams.reset_after_ms`` (a real pause), so an utterance after a pause starts from the
same fresh state as the first utterance of a stream. Unlike Pipecat's analyzer, the state is
*not* reset periodically during long ungated non-speech: every reset re-creates the model's
onset transient, and on loud stationary sound that transient is what looks like speech. Measured
here: a full-scale 200 Hz tone scored 0.34-0.62 on the 2-3 windows after each 2 s reset (and
started speech twice in 10 s), and never above 0.3 past its first windows without resets; speech
after 8 s of white or pink noise (-50..-30 dBFS) was found as well without the resets as with
them. Pipecat's reasons (music, 8 kHz) are outside this bot's use.

The 64-sample context always holds the samples that really precede the window, gated or not.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import onnxruntime

from bot.analytics.speaking import (
    BLOCKS_PER_WINDOW,
    EnergyGate,
    GateParams,
    block_power,
    power_dbfs,
)
from bot.audio.speech_band import SpeechBandLevel

__all__ = ["SileroStreams", "StreamStats", "WindowScore", "model_path"]

SUPPORTED_RATES = {16000: (512, 64), 8000: (256, 32)}
"""sample rate -> (window samples, context samples), as in ``SileroOnnxModel``."""


def model_path() -> Path:
    """Path of the ``silero_vad.onnx`` bundled with Pipecat (``pipecat.audio.vad.data``)."""
    return Path(str(resources.files("pipecat.audio.vad.data").joinpath("silero_vad.onnx")))


class WindowScore(NamedTuple):
    """The result for one window of one stream.

    Parameters:
        end: index of the sample just after the window (samples since the stream opened).
        confidence: Silero's speech probability, or ``None`` when the window is quiet (below the
            gate threshold: silence, whether or not the model ran on it).
        sound: ``(start, end)`` sample indices of the first and last sounding 8 ms block of a
            sounding window; ``None`` when quiet or when gating is off (then: the whole window).
        level: the loudest 8 ms block's level in dBFS (what the gate decided on), for every
            window the gate saw; ``None`` when gating is off. The speaking tracker compares the
            level of a soft first syllable with the syllable that follows it (an in-breath is
            20-25 dB quieter than the word, a syllable about as loud).
    """

    end: int
    confidence: float | None
    sound: tuple[int, int] | None
    level: float | None = None


@dataclass
class StreamStats:
    """Window counters.

    Parameters:
        windows_seen: complete windows received.
        windows_inferred: model runs: sounding windows, quiet trail windows and replays. This is
            the cost, and what scales with speech.
        windows_gated: windows the gate skipped when they arrived (some are replayed later).
        windows_replayed: gated windows run through the model afterwards, before an onset.
        resets: recurrent-state resets (after a gated pause, or a refresh).
        refreshes: resets after a long run of non-speech sound (``GateParams.refresh_after_ms``);
            their warm-up runs count as ``windows_replayed``.

    ``windows_seen == windows_inferred - windows_replayed + windows_gated``.
    """

    windows_seen: int = 0
    windows_inferred: int = 0
    windows_gated: int = 0
    windows_replayed: int = 0
    resets: int = 0
    refreshes: int = 0

    def add(self, other: StreamStats) -> None:
        """Accumulate ``other`` into this one."""
        self.windows_seen += other.windows_seen
        self.windows_inferred += other.windows_inferred
        self.windows_gated += other.windows_gated
        self.windows_replayed += other.windows_replayed
        self.resets += other.resets
        self.refreshes += other.refreshes


@dataclass
class _Stream:
    sample_rate: int
    window: int
    context_size: int
    gate: EnergyGate | None
    state: np.ndarray
    context: np.ndarray
    pending: np.ndarray  # int16 samples not yet making a full window
    samples: int = 0  # samples consumed into complete windows
    recent: deque[tuple[np.ndarray, np.ndarray]] = field(
        default_factory=deque
    )  # (context, window) of recent gated windows, bounded
    scored: deque[tuple[np.ndarray, np.ndarray]] = field(
        default_factory=deque
    )  # (context, window) of the last scored windows, for a refresh
    band: SpeechBandLevel | None = None  # the gate's view above the rumble (GateParams.highpass_hz)
    low_run: int = 0  # consecutive model runs scoring below refresh_below
    speaker_dbfs: float | None = None  # the utterance's loudest window while speaking (GateParams.follow_speaker_db)
    last_voice_dbfs: float | None = None  # the last finished utterance's loudest window (GateParams.model_gain_max_db)
    gain_db: float = 0.0  # how far the model's input of a quiet sounding window is raised (model_gain_max_db)
    sr: np.ndarray = field(default_factory=lambda: np.array(16000, dtype="int64"))  # the model's rate input
    stats: StreamStats = field(default_factory=StreamStats)


class _Pending(NamedTuple):
    """A window between its gate decision and its model run (see ``SileroStreams.feed_many``)."""

    stream: _Stream
    start: int  # sample index of the window's first sample
    audio: np.ndarray  # float32 window
    context: np.ndarray  # the context it is scored with (kept for a refresh)
    power: list[float] | None  # 8 ms block powers; None when gating is off
    loudest: float
    sounding: bool | None


class SileroStreams:
    """Silero confidences for many participants from one ONNX session.

    Example::

        streams = await asyncio.to_thread(SileroStreams.load)
        streams.open("p-alice")
        for window in streams.feed("p-alice", pcm_int16):
            print(window.end, window.confidence)
    """

    def __init__(
        self,
        session: onnxruntime.InferenceSession,
        *,
        gate: GateParams | None = GateParams(),
    ) -> None:
        """Wrap a loaded session (use :meth:`load` to create one).

        Args:
            session: an ``InferenceSession`` of Silero v5 (``input``, ``state``, ``sr``).
            gate: energy-gate parameters; ``None`` scores every window (no gating, no resets:
                the scores are then exactly those of one ``SileroOnnxModel`` per stream).
        """
        self._session = session
        self._gate_params = gate
        self._streams: dict[str, _Stream] = {}
        self._closed_stats = StreamStats()
        self._settled: dict[int, np.ndarray] = {}  # sample rate -> state after long silence

    @classmethod
    def load(cls, path: str | Path | None = None, **kwargs: Any) -> SileroStreams:
        """Load the model (blocking, ~20-40 ms: call it via ``asyncio.to_thread``).

        The session options are Pipecat's: CPU provider, one intra-op and one inter-op thread.

        Args:
            path: the ONNX file; Pipecat's bundled ``silero_vad.onnx`` by default.
            **kwargs: passed to ``SileroStreams(...)``.
        """
        opts = onnxruntime.SessionOptions()
        opts.inter_op_num_threads = 1
        opts.intra_op_num_threads = 1
        providers = (
            ["CPUExecutionProvider"] if "CPUExecutionProvider" in onnxruntime.get_available_providers() else None
        )
        session = onnxruntime.InferenceSession(str(path or model_path()), providers=providers, sess_options=opts)
        return cls(session, **kwargs)

    @property
    def session(self) -> onnxruntime.InferenceSession:
        """The shared session (immutable weights): another ``SileroStreams`` may reuse it."""
        return self._session

    # -- streams -------------------------------------------------------------------------------

    def open(self, stream_id: str, *, sample_rate: int = 16000) -> None:
        """Start a stream with fresh model state (re-opening an open stream resets it).

        Raises:
            ValueError: ``sample_rate`` is not 8000 or 16000 (what Silero supports).
        """
        if sample_rate not in SUPPORTED_RATES:
            raise ValueError(f"Silero VAD needs 8000 or 16000 Hz audio, got {sample_rate} Hz")
        if stream_id in self._streams:
            self.close(stream_id)
        window, context_size = SUPPORTED_RATES[sample_rate]
        window_ms = window * 1000 // sample_rate
        self._streams[stream_id] = _Stream(
            sample_rate=sample_rate,
            window=window,
            context_size=context_size,
            gate=EnergyGate(self._gate_params, window_ms=window_ms) if self._gate_params else None,
            state=np.zeros((2, 1, 128), dtype=np.float32),
            context=np.zeros((1, context_size), dtype=np.float32),
            pending=np.zeros(0, dtype=np.int16),
            recent=deque(
                maxlen=max(1, self._gate_params.preroll_windows, self._gate_params.warmup_windows)
                if self._gate_params
                else 1
            ),
            scored=deque(maxlen=max(1, self._gate_params.refresh_warmup_windows) if self._gate_params else 1),
            sr=np.array(sample_rate, dtype="int64"),
            band=SpeechBandLevel(self._gate_params.highpass_hz, sample_rate)
            if self._gate_params and self._gate_params.highpass_hz
            else None,
        )

    def close(self, stream_id: str) -> StreamStats | None:
        """Drop a stream's state (a trailing partial window is discarded); return its stats."""
        stream = self._streams.pop(stream_id, None)
        if stream is None:
            return None
        self._closed_stats.add(stream.stats)
        return stream.stats

    def close_all(self) -> None:
        """Drop every stream."""
        for stream_id in list(self._streams):
            self.close(stream_id)

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._streams

    def follow(self, stream_id: str, speaker_dbfs: float | None) -> None:
        """Tell the stream's gate how loud its participant's current utterance is (the loudest
        window scored as speech, ``None`` when not speaking), for its next windows
        (``GateParams.follow_speaker_db``). Unknown streams are ignored."""
        stream = self._streams.get(stream_id)
        if stream is None:
            return
        if stream.speaker_dbfs is not None and speaker_dbfs is None:  # an utterance ended
            stream.last_voice_dbfs = stream.speaker_dbfs
        stream.speaker_dbfs = speaker_dbfs
        if self._gate_params is not None and self._gate_params.model_gain_max_db:
            stream.gain_db = self._model_gain_db(stream, self._gate_params)

    @staticmethod
    def _model_gain_db(stream: _Stream, p: GateParams) -> float:
        """``GateParams.model_gain_max_db``: how far to raise the stream's sounding windows for the model."""
        voices = [v for v in (stream.speaker_dbfs, stream.last_voice_dbfs) if v is not None]
        floor = stream.gate.floor_dbfs if stream.gate is not None else None
        if not voices or floor is None:
            return 0.0
        gain = min(p.model_gain_max_db, p.model_gain_target_dbfs - max(voices), p.model_gain_floor_dbfs - floor)
        return max(0.0, gain)

    def model_gain_db(self, stream_id: str) -> float:
        """The gain (dB) the model's input of an open stream's sounding windows gets now
        (``GateParams.model_gain_max_db``; 0 when off); a window whose loudest block is within that
        of ``model_gain_target_dbfs`` gets less, one at or over it none."""
        return self._streams[stream_id].gain_db

    def window_samples(self, stream_id: str) -> int:
        """Samples per window of an open stream (512 at 16 kHz, 256 at 8 kHz)."""
        return self._streams[stream_id].window

    @property
    def stats(self) -> StreamStats:
        """Counters over every stream, open and closed."""
        total = StreamStats()
        total.add(self._closed_stats)
        for stream in self._streams.values():
            total.add(stream.stats)
        return total

    # -- inference -----------------------------------------------------------------------------

    def feed(self, stream_id: str, samples: np.ndarray | bytes) -> list[WindowScore]:
        """Append mono int16 samples; score each window they complete.

        Args:
            stream_id: an open stream.
            samples: int16 PCM (``bytes`` or an int16 array), any length.

        Returns:
            One :class:`WindowScore` per completed window, in order. Sample indices count from
            the stream's first sample.
        """
        return self.feed_many([(stream_id, samples)])[0]

    def feed_many(self, items: Sequence[tuple[str, np.ndarray | bytes]]) -> list[list[WindowScore]]:
        """:meth:`feed` for several streams at once, with one model run per round of windows.

        Round ``r`` takes the ``r``-th window each item completes; the windows of a round that
        the gate lets through are scored by one batched ``InferenceSession.run`` (input
        ``(B, 576)``, state ``(2, B, 128)``) per sample rate. Everything else per window (the
        gate, resets, replays before an onset, refreshes after it) runs per stream exactly as in
        :meth:`feed`; those rare extra runs stay single. Silero's rows are independent and
        onnxruntime computes each row of a batch bit for bit as a batch of one
        (tests/audio/test_silero_batch.py), so the scores are identical to feeding each item on
        its own, in order.

        Args:
            items: ``(stream_id, samples)`` pairs of open streams; a stream may appear once.

        Returns:
            Per item, in order, what :meth:`feed` would return for it.

        Raises:
            KeyError: a stream is not open.
            ValueError: a stream appears twice (its second chunk depends on the first's state).
        """
        streams = [self._streams[stream_id] for stream_id, _ in items]  # all checked before any is touched
        seen: set[str] = set()
        for stream_id, _ in items:
            if stream_id in seen:
                raise ValueError(f"SileroStreams.feed_many: stream {stream_id!r} given twice")
            seen.add(stream_id)
        windows = [self._split(stream, samples) for stream, (_, samples) in zip(streams, items, strict=True)]
        results: list[list[WindowScore]] = [[] for _ in streams]
        for r in range(max(map(len, windows), default=0)):
            pending: list[tuple[int, _Pending]] = []
            for i, stream in enumerate(streams):
                if r < len(windows[i]):
                    step = self._begin(stream, windows[i][r])
                    if isinstance(step, WindowScore):
                        results[i].append(step)
                    else:
                        pending.append((i, step))
            for (i, step), confidence in zip(pending, self._run_batch([p for _, p in pending]), strict=True):
                results[i].append(self._end(step, confidence))
        return results

    @staticmethod
    def _split(stream: _Stream, samples: np.ndarray | bytes) -> list[np.ndarray]:
        """The complete windows ``samples`` makes with the stream's pending samples (kept: the rest)."""
        if isinstance(samples, (bytes, bytearray, memoryview)):
            samples = np.frombuffer(samples, dtype=np.int16)
        buf = np.concatenate((stream.pending, samples)) if stream.pending.size else samples
        n = stream.window
        complete = (buf.size // n) * n
        stream.pending = buf[complete:].copy()
        return [buf[start : start + n] for start in range(0, complete, n)]

    def _begin(self, stream: _Stream, pcm: np.ndarray) -> WindowScore | _Pending:
        """A window up to its model run: gate, reset, replays. A quiet gated window is done here."""
        stream.stats.windows_seen += 1
        start = stream.samples
        stream.samples += stream.window
        # Same conversion as SileroVADAnalyzer.voice_confidence.
        audio = pcm.astype(np.float32) / 32768.0
        gate = stream.gate
        if gate is None:
            return _Pending(stream, start, audio, stream.context, None, 0.0, None)

        power = block_power(audio)
        loudest = max(power)
        level = power_dbfs(loudest)
        band_level = None
        if stream.band is not None:
            if level >= gate.params.threshold_dbfs:  # only then can the rumble band matter
                band_level = power_dbfs(max(block_power(stream.band.filter(audio))))
            else:
                stream.band.remember(audio)
        decision = gate.step(level, band_level, stream.speaker_dbfs)
        if decision.sounding and stream.gain_db:  # the model's input only (GateParams.model_gain_max_db)
            # the voice, not the room: a gain is only set once the floor is known (_model_gain_db)
            floor = gate.floor_dbfs
            gain_db = min(stream.gain_db, gate.params.model_gain_target_dbfs - level)  # never past the target
            if gain_db > 0 and floor is not None and level >= floor + gate.params.model_gain_over_floor_db:
                audio = audio * np.float32(10 ** (gain_db / 20))
        if not decision.infer:
            stream.stats.windows_gated += 1
            stream.recent.append((stream.context, audio))  # deque(maxlen=preroll) drops the oldest
            stream.context = audio[np.newaxis, -stream.context_size :]
            return WindowScore(stream.samples, None, None, level)

        if decision.reset:
            self._reset(stream)
            stream.state = self._silence_state(stream.sample_rate)
            stream.low_run = 0
        if decision.replay:
            for context, window in list(stream.recent)[-decision.replay :]:
                stream.context = context
                self._infer(stream, window)
                stream.stats.windows_inferred += 1
                stream.stats.windows_replayed += 1
        stream.recent.clear()
        return _Pending(stream, start, audio, stream.context, power, loudest, decision.sounding)

    def _end(self, step: _Pending, confidence: float) -> WindowScore:
        """A window after its model run: refresh, and the score with its sound span."""
        stream = step.stream
        stream.stats.windows_inferred += 1
        if stream.gate is None or step.power is None:
            return WindowScore(stream.samples, confidence, None)
        self._maybe_refresh(stream, step.context, step.audio, confidence)
        level = power_dbfs(step.loudest)
        if not step.sounding:
            return WindowScore(stream.samples, None, None, level)
        block = stream.window // BLOCKS_PER_WINDOW
        # min(): the loudest block always counts, even if dB rounding put it on the threshold.
        threshold = min(10 ** (stream.gate.threshold_dbfs / 10), step.loudest)
        sounding = [i for i, p in enumerate(step.power) if p >= threshold]
        start = step.start
        sound = (start + sounding[0] * block, start + (sounding[-1] + 1) * block)
        return WindowScore(stream.samples, confidence, sound, level)

    def _run_batch(self, steps: list[_Pending]) -> list[float]:
        """One model run per sample rate for ``steps`` (each of a different stream), in order."""
        if len(steps) == 1:
            return [self._infer(steps[0].stream, steps[0].audio)]
        confidences: list[float] = [0.0] * len(steps)
        by_rate: dict[int, list[int]] = {}
        for i, step in enumerate(steps):
            by_rate.setdefault(step.stream.sample_rate, []).append(i)
        for indices in by_rate.values():
            if len(indices) == 1:
                i = indices[0]
                confidences[i] = self._infer(steps[i].stream, steps[i].audio)
                continue
            group = [steps[i].stream for i in indices]
            x = np.concatenate(
                [
                    np.concatenate((s.context, steps[i].audio[np.newaxis, :]), axis=1)
                    for s, i in zip(group, indices, strict=True)
                ]
            )
            state = np.concatenate([s.state for s in group], axis=1)
            out, new_state = self._session.run(None, {"input": x, "state": state, "sr": group[0].sr})
            for row, (s, i) in enumerate(zip(group, indices, strict=True)):
                s.state = np.ascontiguousarray(new_state[:, row : row + 1])
                s.context = x[row : row + 1, -s.context_size :]
                confidences[i] = float(out[row][0])
        return confidences

    def _infer(self, stream: _Stream, audio: np.ndarray) -> float:
        """One step of ``SileroOnnxModel.__call__`` with this stream's state and context."""
        x = np.concatenate((stream.context, audio[np.newaxis, :]), axis=1)
        out, state = self._session.run(
            None,
            {"input": x, "state": stream.state, "sr": stream.sr},
        )
        stream.state = state
        stream.context = x[..., -stream.context_size :]
        return float(out[0][0])

    def _maybe_refresh(self, stream: _Stream, context: np.ndarray, audio: np.ndarray, confidence: float) -> None:
        """Refresh the state after ``refresh_after_ms`` of model runs on non-speech sound: zero it,
        then run the last few windows again (scores discarded) so the onset transient is spent."""
        p = self._gate_params
        assert p is not None
        stream.scored.append((context, audio))
        if not p.refresh_after_ms:
            return
        stream.low_run = stream.low_run + 1 if confidence < p.refresh_below else 0
        if stream.low_run * stream.window * 1000 < p.refresh_after_ms * stream.sample_rate:
            return
        stream.low_run = 0
        self._reset(stream)
        stream.stats.refreshes += 1
        saved = stream.context
        for ctx, window in list(stream.scored)[-p.refresh_warmup_windows :] if p.refresh_warmup_windows else []:
            stream.context = ctx
            self._infer(stream, window)
            stream.stats.windows_inferred += 1
            stream.stats.windows_replayed += 1
        stream.context = saved

    def _silence_state(self, sample_rate: int) -> np.ndarray:
        """The recurrent state a gated stream starts from (and returns to after a silence):
        Silero's state after ``GateParams.settle_windows`` windows of digital silence from zero,
        computed once per rate. Zero without a gate (exactly ``SileroOnnxModel``)."""
        settle = self._gate_params.settle_windows if self._gate_params else 0
        if not settle:
            return np.zeros((2, 1, 128), dtype=np.float32)
        if sample_rate not in self._settled:
            window, context_size = SUPPORTED_RATES[sample_rate]
            state = np.zeros((2, 1, 128), dtype=np.float32)
            x = np.zeros((1, context_size + window), dtype=np.float32)
            sr = np.array(sample_rate, dtype="int64")
            for _ in range(settle):
                _out, state = self._session.run(None, {"input": x, "state": state, "sr": sr})
            self._settled[sample_rate] = state
        return self._settled[sample_rate].copy()

    def _reset(self, stream: _Stream) -> None:
        stream.state = np.zeros((2, 1, 128), dtype=np.float32)
        stream.stats.resets += 1
