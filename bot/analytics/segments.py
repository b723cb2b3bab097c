"""Speaking segments on media time: one participant's log of them, and the backchannel length rule.

The overlap classifier and the pacing tracker keep the same per-participant segment list and read
it the same way; the overlap, pacing and monologue analytics share one backchannel rule. No asyncio,
no Pipecat.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["BackchannelRule", "Segment", "SegmentLog", "overlap_ms"]


@dataclass(frozen=True)
class BackchannelRule:
    """How long a *measured* segment may be and still be a backchannel ("mm-hm", "yeah", "right").

    One definition, because the overlap taxonomy, the turn count and the monologue detector must
    agree on what a continuer is: a "yeah" that does not end someone's monologue must not count as a
    turn of its own either.

    Parameters:
        max_ms: the longest continuer. Continuers are one or two words; one vendor puts them
            "almost always under 400 ms" and LiveKit starts treating speech as an interruption at
            0.5 s (FACILITATION_METRICS §2). 1000 ms leaves room for "yeah, right".
        jitter_ms: added to ``max_ms`` when comparing a *measured* segment. The VAD traces an
            onset back by up to 320 ms and ends a segment at the last window scoring above its
            leave threshold (Silero lags by a window or two), so a 700 ms "yeah, okay" can measure
            ~1000 ms. The scripted backchannels are 250-700 ms of voiced audio.
    """

    max_ms: int = 1_000
    jitter_ms: int = 250

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 0:
                raise ValueError(f"BackchannelRule: {name} must be >= 0, got {value}")

    @property
    def cap_ms(self) -> int:
        """The longest measured segment that can be a backchannel: ``max_ms + jitter_ms``."""
        return self.max_ms + self.jitter_ms

    def fits(self, measured_ms: int) -> bool:
        """True if a segment measured this long is short enough to be a backchannel."""
        return measured_ms <= self.cap_ms


@dataclass
class Segment:
    """One stretch of speech: ``[start, end]`` in media milliseconds, ``end`` None while open."""

    start: int
    end: int | None = None

    def end_at(self, horizon: int) -> int:
        """The end; an open segment is taken to run until ``horizon`` (never before its start)."""
        return self.end if self.end is not None else max(self.start, horizon)


class SegmentLog:
    """One participant's speaking segments, oldest first; only the last one may be open.

    Starts and stops arrive from one VAD tracker per participant, so they alternate, but a start
    may carry an onset traced back before the previous stop: it is moved to that stop, and
    segments never overlap. The segments are for reading; change them only through the methods.

    Example::

        log = SegmentLog()
        log.start(1000); log.stop(2500); log.speaking_ms_in(None, 5000)  # 1500
    """

    def __init__(self) -> None:
        """Create an empty log (nothing heard yet)."""
        self._segments: list[Segment] = []

    @property
    def segments(self) -> list[Segment]:
        """The segments kept, oldest first."""
        return self._segments

    @property
    def last(self) -> Segment | None:
        """The newest segment, or None before the first one."""
        return self._segments[-1] if self._segments else None

    @property
    def speaking(self) -> bool:
        """True while the newest segment is open."""
        return bool(self._segments) and self._segments[-1].end is None

    def start(self, at: int) -> Segment | None:
        """Open a segment at ``at`` (moved to the previous end if earlier); None if one is open.

        A repeated start changes nothing: the caller may ignore it altogether.
        """
        last = self.last
        if last is not None:
            if last.end is None:
                return None
            at = max(at, last.end)
        segment = Segment(start=at)
        self._segments.append(segment)
        return segment

    def stop(self, at: int, duration_ms: int = 0) -> Segment | None:
        """Close the open segment at ``at``; return the segment closed (or added), else None.

        With nothing open and nothing heard yet, a positive ``duration_ms`` adds the closed segment
        ``[at - duration_ms, at]`` (clipped at 0): we joined while it was under way and the stop
        says how long it was. Otherwise (a repeated stop) nothing changes.
        """
        last = self.last
        if last is not None and last.end is None:
            last.end = max(last.start, at)
            return last
        if last is None and duration_ms > 0:
            start = max(0, at - duration_ms)
            segment = Segment(start=start, end=max(start, at))
            self._segments.append(segment)
            return segment
        return None

    def covers(self, at: int) -> bool:
        """True if a segment started before ``at`` and had not ended before it: ``(start, end]``."""
        for segment in reversed(self._segments):
            if segment.start < at and (segment.end is None or segment.end >= at):
                return True
            if segment.end is not None and segment.end < at:
                return False
        return False

    def speaking_ms_in(self, start: int | None, end: int) -> int:
        """Speaking time inside ``(start, end]`` (``start`` None: from the beginning).

        An open segment runs until ``end``.
        """
        total = 0
        for segment in self._segments:
            lo = segment.start if start is None else max(segment.start, start)
            hi = min(segment.end_at(end), end)
            if hi > lo:
                total += hi - lo
        return total

    def drop_oldest(self, count: int) -> None:
        """Forget the ``count`` oldest segments; the newest always stays (the next start reads it)."""
        count = min(count, len(self._segments) - 1)
        if count > 0:
            del self._segments[:count]

    def drop_ended_by(self, at: int) -> None:
        """Forget the oldest segments that ended at or before ``at`` (the newest always stays)."""
        drop = 0
        while drop < len(self._segments) - 1:
            end = self._segments[drop].end
            if end is None or end > at:
                break
            drop += 1
        if drop:
            del self._segments[:drop]


def overlap_ms(a: Sequence[Segment], b: Sequence[Segment], horizon: int) -> tuple[int, int | None]:
    """Total time two participants' segments overlap, and where the first overlap starts.

    Open segments run until ``horizon``. The start is None when they never overlap.
    """
    total = 0
    first: int | None = None
    for sa in a:
        a_end = sa.end_at(horizon)
        for sb in b:
            lo, hi = max(sa.start, sb.start), min(a_end, sb.end_at(horizon))
            if hi > lo:
                total += hi - lo
                first = lo if first is None else min(first, lo)
    return total, first
