"""Room media time: the stamp carried on Pipecat frames, and the one sample-counted audio clock.

Analytics count time from audio samples, not the wall clock (ARCHITECTURE principle 2). Room
connectors stamp each frame they push with the media time it belongs to; processors read it back
with :func:`media_time_of`. Frames without a stamp (for example audio pushed by Pipecat's own
DailyTransport) are stamped by the connector's clock before analytics see them. Audio time is
counted in samples by :class:`SampleClock`, the only place samples become milliseconds.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MEDIA_TIME_KEY", "SampleClock", "media_time_of", "samples_to_ms", "stamp"]

MEDIA_TIME_KEY = "prism.media_time_ms"


def stamp(frame: Any, media_time_ms: int) -> Any:
    """Record ``media_time_ms`` on ``frame`` (in ``frame.metadata``) and return the frame."""
    frame.metadata[MEDIA_TIME_KEY] = int(media_time_ms)
    return frame


def media_time_of(frame: Any, default: int | None = None) -> int | None:
    """The media time stamped on ``frame``, its own ``media_time_ms`` field, or ``default``.

    The stamp is looked up first: audio frames, the per-20-ms case, only ever have the stamp.
    """
    metadata = getattr(frame, "metadata", None)
    if metadata:
        stamped = metadata.get(MEDIA_TIME_KEY)
        if stamped is not None:
            return int(stamped)
    value = getattr(frame, "media_time_ms", None)
    if value is not None:
        return int(value)
    return default


def samples_to_ms(num_samples: int, sample_rate: int) -> int:
    """Milliseconds spanned by ``num_samples`` at ``sample_rate``, rounded down.

    This is the rounding rule of all media time: a sample is placed in the millisecond it falls
    in, so a time computed from samples is never ahead of the audio. Times are always computed
    from a sample *count* since an anchor (see :class:`SampleClock`), never by adding rounded
    chunk lengths, so chunks that are not a whole number of ms long cannot drift.
    """
    return num_samples * 1000 // sample_rate


class SampleClock:
    """Media time of one audio stream, counted in samples from an anchor.

    Sample ``i`` (counted from the stream's first sample) is at
    ``anchor_ms + samples_to_ms(i - anchor_sample, sample_rate)``; indices before the anchor
    extrapolate back from it. Each chunk is placed where the previous one ended, unless the
    caller knows better (``at_ms``: a stamp, or an arrival time after a gap), in which case the
    clock is re-anchored there.

    Used by ``ParticipantVAD``: it takes a chunk's stamp as its start (``at_ms``) and uses the
    clock only for the samples in between (window ends and sound spans inside and across chunks).
    The Daily room's ``MediaClockStamper`` keeps its own per-stream position, which slews toward
    the room clock (bot/processors/media_clock.py); while it slews, a stamp differs from where the
    VAD's clock would have placed the chunk by at most the slew step (2 ms per 20 ms chunk), and
    the VAD re-anchors on it, so the two never drift apart.

    Example::

        clock = SampleClock(16000, anchor_ms=1000)
        clock.place(320)               # → 1000 (the chunk's start)
        clock.place(320)               # → 1020
        clock.place(320, at_ms=5000)   # → 5000 (a gap: re-anchored at the stamp)
        clock.now_ms                   # → 5020
    """

    __slots__ = ("_anchor_ms", "_anchor_sample", "sample_rate", "samples")

    def __init__(self, sample_rate: int, *, anchor_ms: int = 0) -> None:
        """Start a stream whose first sample is at ``anchor_ms``.

        Args:
            sample_rate: samples per second (> 0).
            anchor_ms: media time of the stream's first sample.
        """
        if sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0, got {sample_rate!r}")
        self.sample_rate = sample_rate
        self.samples = 0  # samples placed so far
        self._anchor_ms = int(anchor_ms)
        self._anchor_sample = 0

    def at(self, sample_index: int) -> int:
        """Media time (ms) of sample ``sample_index`` of the stream (the rounding rule above)."""
        # samples_to_ms(sample_index - anchor sample), inlined: called for every VAD window.
        return self._anchor_ms + (sample_index - self._anchor_sample) * 1000 // self.sample_rate

    @property
    def now_ms(self) -> int:
        """Media time just after the last sample placed: where the next chunk starts."""
        return self.at(self.samples)

    def place(self, num_samples: int, at_ms: int | None = None) -> int:
        """Add a chunk of ``num_samples``; return the media time (ms) at which it starts.

        Args:
            num_samples: the chunk's length in samples (per channel).
            at_ms: the chunk's known start, or ``None`` to count on from the previous chunk. A
                value equal to the counted start changes nothing (the anchor keeps its sub-ms
                precision); any other value re-anchors the clock there (the track had a gap, or
                whoever stamped the chunk re-anchored its own clock).
        """
        # self.now_ms, inlined: this is the per-frame path.
        start = self._anchor_ms + (self.samples - self._anchor_sample) * 1000 // self.sample_rate
        if at_ms is not None and at_ms != start:
            self._anchor_ms, self._anchor_sample, start = at_ms, self.samples, at_ms
        self.samples += num_samples
        return start
