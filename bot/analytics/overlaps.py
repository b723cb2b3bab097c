"""Overlap episodes between participants, classified as backchannel, interruption or overlap.

``OverlapClassifier`` takes speaking segments and media-time ticks and returns one
``RoomOverlapDetected`` per episode once its kind is decided. No asyncio, no Pipecat.

Terms (docs/pipeline.md, "Overlaps", has the worked timelines):

* A participant's **run** is their speaking segments joined across their own pauses shorter than
  ``pause_bridge_ms``, so a breath between two sentences does not end their turn.
* The **holder** at time ``t`` is the participant whose run covers ``t`` and started first (ties
  go to the lower participant id).
* An **episode** starts when participant B starts a run while holder A's run covers that instant.
  ``overlap_ms`` is the time both actually spoke (their raw segments intersected), and the event's
  ``media_time_ms`` is the first instant both spoke. An episode in which they never spoke at the
  same time (B spoke inside A's pause) is dropped: nobody overlapped anyone.

Classification (Schegloff's continuers vs Ferguson/Beattie's interruption with floor change,
FACILITATION_METRICS §2), thresholds from :class:`OverlapParams`:

* **backchannel**: B's run lasts at most ``backchannel.max_ms`` (+ ``backchannel.jitter_ms``, see
  :class:`~bot.analytics.segments.BackchannelRule`) and A's run goes on at least
  ``holder_continues_ms`` past B's stop. A kept the floor.
* **interruption**: A's run started at least ``holder_lead_ms`` before B's, A stops between
  ``cutoff_min_ms`` and ``cutoff_max_ms`` after B's onset while B still speaks, and B goes on at
  least ``takeover_ms`` past A's stop. A was cut off and the floor changed.
* **simultaneous start**: when B's run starts within ``simultaneous_ms`` of A's, which onset came
  first is VAD jitter. If A's (earlier-detected) run is backchannel-short and B's goes on past it,
  A's is the **backchannel** (reported with B as the speaker): a short turn inside a longer one is a
  backchannel whoever's onset was detected first. Otherwise the rules below apply (and a start
  within A's first second is never an interruption).
* **overlap**: everything else (terminal overlap, both keep talking, B started within A's first
  second, A stopped too soon or too late, B gave up). Emitted when the first of the two runs ends,
  so ``overlap_ms`` is complete.

Frames of different participants reach the analytics slightly out of media order (a start is
decided up to ~420 ms after its corrected onset, a stop ~280 ms after its end), so decisions use
only what is certain: speech is known up to ``now - settle_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from bot.analytics.segments import BackchannelRule, Segment, SegmentLog, overlap_ms
from bot.generated import RoomOverlapDetected

__all__ = ["OverlapClassifier", "OverlapKind", "OverlapParams"]


OverlapKind = Literal["backchannel", "interruption", "overlap"]
"""The kinds of ``room.overlap.detected``."""


@dataclass(frozen=True)
class OverlapParams:
    """Thresholds of the overlap taxonomy (all media milliseconds).

    Parameters:
        backchannel: the longest continuer ("mm-hm", "yeah", "right"), 1000 ms, plus 250 ms of
            VAD slack on the measured length (:class:`BackchannelRule` says why). The same rule
            decides turns (``PacingParams``) and monologues (``MonologueParams``).
        holder_continues_ms: for a backchannel, the holder must keep talking this long after B
            stops. 1000 ms is several words: A clearly carried on rather than yielding.
        holder_lead_ms: for an interruption, A must have been talking this long before B
            started. Speech starting within A's first second is a simultaneous start (both
            grabbed the floor), not a cut-off.
        cutoff_min_ms: A stopping sooner than this after B's onset was already finishing
            (a terminal overlap: the floor was being handed over anyway). 200 ms is the typical
            between-speaker gap (Stivers et al. 2009; Fisher corpus, §2).
        cutoff_max_ms: A stopping later than this after B's onset held on through the overlap
            (both talked; a competitive overlap, not a cut-off).
        takeover_ms: B must keep talking this long after A stops for the floor to have changed.
            1500 ms is a clause, not a parting word.
        pause_bridge_ms: own pauses shorter than this do not end a participant's run. A typical
            pause lasts 0.25-0.5 s (Lundholm Fors 2015, §2) and the VAD splits at ~300 ms
            (its 250 ms hangover), so 500 ms keeps sentence breaks inside the turn.
        settle_ms: speech is taken as known up to ``now - settle_ms``. A start frame reaches the
            analytics up to ~420 ms after its onset (320 ms onset lookback + 96 ms confirmation)
            and a stop ~280 ms after its end (250 ms hangover + one window); 500 ms covers both.
    """

    backchannel: BackchannelRule = BackchannelRule()
    holder_continues_ms: int = 1000
    holder_lead_ms: int = 1000
    cutoff_min_ms: int = 200
    cutoff_max_ms: int = 1500
    takeover_ms: int = 1500
    pause_bridge_ms: int = 500
    settle_ms: int = 500
    simultaneous_ms: int = 400
    """Two runs starting this close are a simultaneous start: which onset the VAD found first is
    jitter (a soft first syllable is found up to a few hundred ms late), so it decides nothing. If
    the earlier-detected run is short and the other goes on past it, the short one is the
    backchannel (see :meth:`OverlapClassifier._short_inside`); otherwise it is a plain overlap
    (``holder_lead_ms`` already rules out an interruption)."""
    retain_ms: int = 30_000
    """History kept for finished runs; far longer than any decision waits."""

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name != "backchannel" and value < 0:  # the rule checks its own fields
                raise ValueError(f"OverlapParams: {name} must be >= 0, got {value}")
        if self.cutoff_min_ms > self.cutoff_max_ms:
            raise ValueError("OverlapParams: cutoff_min_ms must be <= cutoff_max_ms")


@dataclass
class _Run:
    """Segments of one participant joined across short own pauses."""

    start: int
    segs: list[Segment]
    extent: int  # known to have spoken (with bridged pauses) at least until here
    open: bool  # the last segment is still open
    final: bool  # the run can no longer grow

    @property
    def end(self) -> int:
        return self.extent

    def reaches(self, t: int) -> bool | None:
        """True: the run is known to last until ``t``; False: it ended before; None: not yet known."""
        if self.extent >= t:
            return True
        return False if self.final else None


@dataclass
class _Participant:
    log: SegmentLog = field(default_factory=SegmentLog)
    left_at: int | None = None


class OverlapClassifier:
    """Detects and classifies overlap episodes from speaking segments, on media time.

    Example::

        oc = OverlapClassifier()
        oc.speaking(0, "p-alice", True); oc.speaking(4000, "p-bob", True)
        oc.speaking(4300, "p-bob", False); events = oc.tick(6000)
    """

    def __init__(self, params: OverlapParams | None = None) -> None:
        """Create a classifier with no history.

        Args:
            params: thresholds; ``OverlapParams()`` by default.
        """
        self.params = params or OverlapParams()
        self._people: dict[str, _Participant] = {}
        self._done: set[tuple[str, int]] = set()  # (overlapper, run start) already decided
        self._now = 0
        self._finished = False

    # -- observations ---------------------------------------------------------------------

    def speaking(
        self, media_time_ms: int, participant_id: str, speaking: bool, duration_ms: int = 0
    ) -> list[RoomOverlapDetected]:
        """A participant started (``media_time_ms`` = onset) or stopped (= end) speaking."""
        if self._finished or not participant_id:
            return []
        person = self._people.setdefault(participant_id, _Participant())
        if speaking:
            segment = person.log.start(media_time_ms)
            if segment is None:
                return []  # already speaking: a repeated start changes nothing
            media_time_ms = segment.start  # an onset before the previous stop starts at that stop
            person.left_at = None  # back in the room
        else:
            person.log.stop(media_time_ms, duration_ms)  # duration: we joined mid-segment
        return self.tick(media_time_ms)

    def left(self, media_time_ms: int, participant_id: str) -> list[RoomOverlapDetected]:
        """A participant left: their open segment ends now and their runs can no longer grow."""
        person = self._people.get(participant_id)
        if person is None or self._finished:
            return []
        person.log.stop(media_time_ms)
        person.left_at = media_time_ms
        return self.tick(media_time_ms)

    def tick(self, media_time_ms: int) -> list[RoomOverlapDetected]:
        """The media clock advanced: decide every episode whose kind is now certain."""
        if self._finished:
            return []
        self._now = max(self._now, media_time_ms)
        horizon = self._now - self.params.settle_ms
        runs = self._all_runs(horizon)
        events = self._decide(runs, horizon)
        self._prune(runs, horizon)
        return events

    def finish(self, media_time_ms: int) -> list[RoomOverlapDetected]:
        """Session end: close every segment at ``media_time_ms`` and decide every episode."""
        if self._finished:
            return []
        self._now = max(self._now, media_time_ms)
        for person in self._people.values():
            person.log.stop(self._now)
            if person.left_at is None:
                person.left_at = self._now
        events = self._decide(self._all_runs(self._now), self._now)
        self._finished = True
        return events

    # -- decisions ------------------------------------------------------------------------

    def _all_runs(self, horizon: int) -> dict[str, list[_Run]]:
        """Every participant's runs as known at ``horizon`` (a pure function of the segments)."""
        return {pid: self._runs(person, horizon) for pid, person in self._people.items()}

    def _runs(self, person: _Participant, horizon: int) -> list[_Run]:
        bridge = self.params.pause_bridge_ms
        runs: list[_Run] = []
        for seg in person.log.segments:
            if runs and runs[-1].segs[-1].end is not None and seg.start - runs[-1].segs[-1].end < bridge:
                runs[-1].segs.append(seg)
            else:
                runs.append(_Run(start=seg.start, segs=[seg], extent=seg.start, open=False, final=True))
        for i, run in enumerate(runs):
            last = run.segs[-1]
            run.open = last.end is None
            if last.end is None:
                run.extent = max(last.start, horizon)
                run.final = False
            else:
                run.extent = last.end
                later = i + 1 < len(runs)
                gone = person.left_at is not None and person.left_at <= horizon
                run.final = later or gone or horizon >= run.extent + bridge
        return runs

    def _decide(self, runs: dict[str, list[_Run]], horizon: int) -> list[RoomOverlapDetected]:
        """Events for the episodes whose kind ``runs`` (from :meth:`_all_runs` at ``horizon``) settle."""
        events: list[tuple[int, str, RoomOverlapDetected]] = []
        for b_id, b_runs in runs.items():
            for rb in b_runs:
                key = (b_id, rb.start)
                if key in self._done or rb.start > horizon:
                    continue
                holder = self._holder(runs, b_id, rb.start)
                if holder is None:
                    continue  # not yet known whether someone held the floor
                if isinstance(holder, str):  # only ever "": see _holder
                    self._done.add(key)  # nobody held the floor: a plain start
                    continue
                a_id, ra = holder
                swapped = self._short_inside(ra, rb)
                if swapped is None:
                    continue
                kind: OverlapKind | None
                speaker_id, speaker_run, overlapper_id, overlapper_run = a_id, ra, b_id, rb
                if swapped:  # the earlier-detected run is the backchannel inside B's turn
                    speaker_id, speaker_run, overlapper_id, overlapper_run = b_id, rb, a_id, ra
                    kind = "backchannel"
                else:
                    kind = self._classify(ra, rb)
                if kind is None:
                    continue
                self._done.add(key)
                both_ms, first = overlap_ms(speaker_run.segs, overlapper_run.segs, horizon)
                if both_ms <= 0 or first is None:
                    continue  # B spoke inside A's pause: nobody spoke at once
                events.append(
                    (
                        first,
                        overlapper_id,
                        RoomOverlapDetected(
                            speaker_id=speaker_id,
                            overlapper_id=overlapper_id,
                            overlap_ms=both_ms,
                            kind=kind,
                            media_time_ms=max(0, first),
                        ),
                    )
                )
        events.sort(key=lambda e: (e[0], e[1]))
        return [e[2] for e in events]

    def _holder(self, runs: dict[str, list[_Run]], b_id: str, t0: int) -> tuple[str, _Run] | str | None:
        """The holder's id and run at ``t0``; ``""`` when nobody held the floor; None if unknown.

        A candidate run still in a pause that may or may not resume leaves the answer unknown
        only if it would outrank the best known holder (it started earlier).
        """
        known: list[tuple[int, str, _Run]] = []
        pending: list[tuple[int, str]] = []
        for pid, p_runs in runs.items():
            if pid == b_id:
                continue
            for run in p_runs:
                if run.start > t0 or (run.start == t0 and pid > b_id):
                    continue
                covers = run.reaches(t0 + 1)
                if covers is None:
                    pending.append((run.start, pid))
                elif covers:
                    known.append((run.start, pid, run))
        best = min(known, key=lambda c: (c[0], c[1])) if known else None
        if pending and (best is None or min(pending) < (best[0], best[1])):
            return None
        return "" if best is None else (best[1], best[2])

    def _short_inside(self, ra: _Run, rb: _Run) -> bool | None:
        """Is the holder's run ``ra`` really a backchannel inside ``rb``? True when both started
        within ``simultaneous_ms`` (the order of their onsets is jitter), ``ra`` is backchannel-short
        and ``rb`` goes on ``holder_continues_ms`` past its end; None while that is not known yet."""
        p = self.params
        if not 0 <= rb.start - ra.start <= p.simultaneous_ms:
            return False
        if not ra.final:
            return None if p.backchannel.fits(ra.extent - ra.start) else False
        if not p.backchannel.fits(ra.end - ra.start):
            return False
        return rb.reaches(ra.end + p.holder_continues_ms)

    def _classify(self, ra: _Run, rb: _Run) -> OverlapKind | None:
        """``backchannel``/``interruption``/``overlap``, or None while it cannot be decided yet."""
        p = self.params
        t0 = rb.start

        # Backchannel: B short, A carries on.
        if rb.final and p.backchannel.fits(rb.end - t0):
            backchannel = ra.reaches(rb.end + p.holder_continues_ms)
            if backchannel is None:
                return None
            if backchannel:
                return "backchannel"
        elif not rb.final and p.backchannel.fits(rb.extent - t0):
            return None  # B may still turn out short

        # Interruption: A (talking for a while) cut off shortly after B's onset, B takes over.
        interruption: bool | None = False
        if ra.start <= t0 - p.holder_lead_ms and ra.extent <= t0 + p.cutoff_max_ms:
            if not ra.final:
                interruption = None
            elif t0 + p.cutoff_min_ms <= ra.end:
                interruption = rb.reaches(ra.end + p.takeover_ms)
        if interruption is None:
            return None
        if interruption:
            return "interruption"

        # Plain overlap, reported once the overlap is over (one of the two runs ended).
        if ra.final or rb.final:
            return "overlap"
        return None

    def _prune(self, runs: dict[str, list[_Run]], horizon: int) -> None:
        """Forget runs that ended long ago (every episode touching them is decided by then).

        ``runs`` are the ones :meth:`_decide` just used: deciding changes no segment, so they are
        still every participant's runs at ``horizon``.
        """
        cutoff = horizon - self.params.retain_ms
        for pid, person in self._people.items():
            keep_from = 0
            for run in runs[pid][:-1]:  # the latest run always stays: the next start may join it
                if not (run.final and run.extent < cutoff):
                    break
                keep_from += len(run.segs)
            person.log.drop_oldest(keep_from)
        first = {pid: person.log.segments[0].start for pid, person in self._people.items() if person.log.segments}
        self._done = {(pid, t) for pid, t in self._done if pid in first and t >= first[pid]}
