"""Talk-time shares, Gini and the dominant speaker; monologue detection. On media time.

``DominanceTracker`` turns speaking segments and ticks into ``RoomDominanceScore`` (on a change, a
periodic beat and once at session end); ``MonologueDetector`` turns them into
``RoomInterruptRequest(reason="monologue")``. No asyncio, no Pipecat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.analytics.segments import BackchannelRule
from bot.generated import DominanceOthers, DominanceShare, RoomDominanceScore, RoomInterruptRequest

__all__ = [
    "DominanceParams",
    "DominanceTracker",
    "MonologueDetector",
    "MonologueParams",
    "ScoreTrigger",
    "gini",
    "shares",
]

MAX_LISTED = 25
"""Participants a score lists (the spec's ``maxItems``); a bigger room lists the ones with the most
talk time and aggregates the rest in ``others``, so scoring never fails at any room size."""

SHARE_RESOLUTION = 1_000_000
"""Shares are whole millionths, apportioned so that they add up to exactly one million."""


def shares(talk_ms: list[int]) -> list[float]:
    """Fractions of the total, in millionths that sum to exactly 1; all 0 when the total is 0.

    Largest-remainder apportionment: each share is floored to a millionth, and the millionths
    left over go to the largest remainders (ties to the earlier entry), so ``sum(round(s * 1e6))``
    is exactly 1 000 000 and the float sum is 1 to within one rounding error.
    """
    total = sum(talk_ms)
    if total <= 0:
        return [0.0] * len(talk_ms)
    exact = [t * SHARE_RESOLUTION for t in talk_ms]
    units = [e // total for e in exact]
    left = SHARE_RESOLUTION - sum(units)
    order = sorted(range(len(talk_ms)), key=lambda i: (-(exact[i] % total), i))
    for i in order[:left]:
        units[i] += 1
    return [u / SHARE_RESOLUTION for u in units]


def gini(values: list[int]) -> float:
    """Gini coefficient of non-negative ``values``: 0 = equal, (n-1)/n = one holds everything.

    The standard (unnormalized) form, ``sum((2i - n - 1) x_i) / (n sum x)`` over sorted values,
    as team_comm_tools computes it (FACILITATION_METRICS §2). Zeros count: a silent participant
    is part of the inequality. 0 when there are fewer than two values or nobody spoke.
    """
    n = len(values)
    total = sum(values)
    if n < 2 or total <= 0:
        return 0.0
    ordered = sorted(values)
    weighted = sum((2 * (i + 1) - n - 1) * x for i, x in enumerate(ordered))
    return min(1.0, max(0.0, round(weighted / (n * total), 6)))


ScoreTrigger = Literal["change", "periodic", "final"]
"""Why a ``room.dominance.score`` was emitted."""


@dataclass(frozen=True)
class DominanceParams:
    """When a participant is dominant, and when a score is emitted.

    Parameters:
        dominant_share_floor, dominant_share_cap: a participant becomes dominant at a share of
            ``2/N`` (twice the equal share 1/N, FACILITATION_METRICS §2 "share above equal
            share"), clamped to [0.5, 0.7]. The floor: holding half of all talk time dominates any
            room (N >= 4). The cap: with 2 participants 2/N would be 100 %, so 70/30 counts.
            With 3 participants the threshold is 2/3.
        hysteresis: the dominant participant stays dominant until their share falls this far
            below the entering threshold, so a share hovering at the threshold does not flap.
        min_total_talk_ms: nobody is dominant before the room has this much talk time in total:
            whoever opens a meeting holds 100 % of its first sentence.
        change_threshold: a score is due when any share moved at least this much (5 percentage
            points) since the last emitted score, or the dominant participant changed.
        min_interval_ms: change-triggered scores are at most this frequent. Shares swing at the
            start of a meeting; one update every 5 s is plenty for a dashboard.
        periodic_ms: a score is emitted at least this often (15 s, as the health heartbeat),
            so a consumer that joins late or missed one catches up.
    """

    dominant_share_floor: float = 0.5
    dominant_share_cap: float = 0.7
    hysteresis: float = 0.05
    min_total_talk_ms: int = 10_000
    change_threshold: float = 0.05
    min_interval_ms: int = 5_000
    periodic_ms: int = 15_000

    def __post_init__(self) -> None:
        if not 0.0 < self.dominant_share_floor <= self.dominant_share_cap <= 1.0:
            raise ValueError("DominanceParams: need 0 < dominant_share_floor <= dominant_share_cap <= 1")
        if not 0.0 <= self.hysteresis < self.dominant_share_floor:
            raise ValueError("DominanceParams: hysteresis must be in [0, dominant_share_floor)")
        if min(self.min_total_talk_ms, self.min_interval_ms) < 0 or self.periodic_ms <= 0:
            raise ValueError("DominanceParams: intervals must be >= 0 and periodic_ms > 0")

    def enter_share(self, participants: int) -> float:
        """The share at which a participant becomes dominant in a room of ``participants``."""
        return min(self.dominant_share_cap, max(self.dominant_share_floor, 2.0 / max(1, participants)))


@dataclass
class _Talk:
    """One participant's talk time as running totals (a score needs no segment history)."""

    closed_ms: int = 0
    open_since: int | None = None
    segments: int = 0

    def close(self, at: int) -> None:
        """End the open segment (if any) at ``at`` and add it to the total."""
        if self.open_since is not None:
            self.closed_ms += max(0, at - self.open_since)
            self.open_since = None
            self.segments += 1


class DominanceTracker:
    """Talk time per participant and the room's dominance score.

    Every participant seen (joined, or heard speaking) is in the score, silent ones with zero talk
    time, and stays in it after leaving: the session's distribution includes them.

    Example::

        dt = DominanceTracker()
        dt.join(0, "p-alice"); dt.join(0, "p-bob")
        dt.speaking(500, "p-alice", True); scores = dt.tick(15_000)
    """

    def __init__(self, params: DominanceParams | None = None) -> None:
        """Create a tracker with nobody seen yet.

        Args:
            params: thresholds; ``DominanceParams()`` by default.
        """
        self.params = params or DominanceParams()
        self._talk: dict[str, _Talk] = {}
        self._now = 0
        self._dominant: str | None = None
        self._last_emit_ms: int | None = None
        self._last_shares: dict[str, float] = {}
        self._last_dominant: str | None = None
        self._finished = False

    # -- observations ---------------------------------------------------------------------

    def join(self, media_time_ms: int, participant_id: str) -> None:
        """A participant is in the room (counted in the score from now on, even if silent)."""
        self._advance(media_time_ms)
        if participant_id:
            self._talk.setdefault(participant_id, _Talk())

    def speaking(self, media_time_ms: int, participant_id: str, speaking: bool, duration_ms: int = 0) -> None:
        """A participant started (``media_time_ms`` = onset) or stopped (= end) speaking."""
        if self._finished or not participant_id:
            return
        self._advance(media_time_ms)
        talk = self._talk.setdefault(participant_id, _Talk())
        if speaking:
            if talk.open_since is None:
                talk.open_since = media_time_ms
        elif talk.open_since is not None:
            talk.close(media_time_ms)
        elif talk.segments == 0 and duration_ms > 0:  # we joined mid-segment: trust its length
            talk.closed_ms += duration_ms
            talk.segments += 1

    def leave(self, media_time_ms: int, participant_id: str) -> int:
        """A participant left: close their open segment; return their session talk time."""
        self._advance(media_time_ms)
        talk = self._talk.get(participant_id)
        if talk is None:
            return 0
        talk.close(media_time_ms)
        return talk.closed_ms

    def talk_time_ms(self, participant_id: str, media_time_ms: int | None = None) -> int:
        """Talk time of one participant so far (the open segment counted up to now)."""
        talk = self._talk.get(participant_id)
        if talk is None:
            return 0
        now = self._now if media_time_ms is None else media_time_ms
        open_ms = max(0, now - talk.open_since) if talk.open_since is not None else 0
        return talk.closed_ms + open_ms

    # -- scores ---------------------------------------------------------------------------

    def tick(self, media_time_ms: int) -> list[RoomDominanceScore]:
        """The media clock advanced: return a score if one is due (at most one)."""
        if self._finished:
            return []
        self._advance(media_time_ms)
        if not self._talk:
            return []
        now = self._now
        ids, talk, fractions = self._snapshot(now)
        dominant = self._update_dominant(ids, talk, fractions)
        since = None if self._last_emit_ms is None else now - self._last_emit_ms
        p = self.params
        moved = max(
            (abs(f - self._last_shares.get(pid, 0.0)) for pid, f in zip(ids, fractions, strict=True)), default=0.0
        )
        changed = moved >= p.change_threshold - 1e-9 or dominant != self._last_dominant
        trigger: ScoreTrigger
        if changed and (since is None or since >= p.min_interval_ms):
            trigger = "change"
        elif (now if since is None else since) >= p.periodic_ms:
            trigger = "periodic"
        else:
            return []
        return [self._emit(now, ids, talk, fractions, dominant, trigger)]

    def finish(self, media_time_ms: int) -> list[RoomDominanceScore]:
        """Session end: the final score over the whole session (``window_ms`` = its media time)."""
        if self._finished:
            return []
        self._advance(media_time_ms)
        now = self._now
        for talk in self._talk.values():
            talk.close(now)
        ids, talk_ms, fractions = self._snapshot(now)
        dominant = self._update_dominant(ids, talk_ms, fractions)
        self._finished = True
        return [self._emit(now, ids, talk_ms, fractions, dominant, "final")]

    @property
    def dominant_participant_id(self) -> str | None:
        """The participant currently above the dominance threshold, or None."""
        return self._dominant

    # -- internals ------------------------------------------------------------------------

    def _advance(self, media_time_ms: int) -> None:
        self._now = max(self._now, int(media_time_ms))

    def _snapshot(self, now: int) -> tuple[list[str], list[int], list[float]]:
        ids = list(self._talk)
        talk = [self.talk_time_ms(pid, now) for pid in ids]
        return ids, talk, shares(talk)

    def _update_dominant(self, ids: list[str], talk: list[int], fractions: list[float]) -> str | None:
        p = self.params
        n = len(ids)
        if n < 2 or sum(talk) < p.min_total_talk_ms:
            self._dominant = None
            return None
        enter = p.enter_share(n)
        by_id = dict(zip(ids, fractions, strict=True))
        if self._dominant is not None and by_id.get(self._dominant, 0.0) >= enter - p.hysteresis:
            return self._dominant
        top = max(range(n), key=lambda i: (fractions[i], -i))
        self._dominant = ids[top] if fractions[top] >= enter else None
        return self._dominant

    def _emit(
        self,
        now: int,
        ids: list[str],
        talk: list[int],
        fractions: list[float],
        dominant: str | None,
        trigger: ScoreTrigger,
    ) -> RoomDominanceScore:
        self._last_emit_ms = now
        self._last_shares = dict(zip(ids, fractions, strict=True))
        self._last_dominant = dominant
        others = None
        listed = list(zip(ids, talk, fractions, strict=True))
        if len(ids) > MAX_LISTED:  # the most talk time (ties: first seen), kept in the order first seen
            keep = sorted(sorted(range(len(ids)), key=lambda i: (-talk[i], i))[:MAX_LISTED])
            rest_ms = sum(talk) - sum(talk[i] for i in keep)
            split = shares([talk[i] for i in keep] + [rest_ms])  # listed + others add up to exactly 1
            listed = [(ids[i], talk[i], split[k]) for k, i in enumerate(keep)]
            others = DominanceOthers(participants=len(ids) - len(keep), talk_time_ms=rest_ms, share=split[-1])
        return RoomDominanceScore(
            window_ms=now,
            participants=[DominanceShare(participant_id=pid, talk_time_ms=t, share=f) for pid, t, f in listed],
            others=others,
            gini=gini(talk),
            dominant_participant_id=dominant,
            trigger=trigger,
            media_time_ms=now,
        )


# --------------------------------------------------------------------------------------------
# Monologue
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonologueParams:
    """What counts as one continuous turn, and when it is too long.

    Parameters:
        monologue_ms: a continuous turn this long asks for an interruption. Gong's "longest
            monologue" figures are from sales calls, where a *customer* talking ~4 min
            uninterrupted goes with higher close rates and a ~50 s maximum with lower ones
            (FACILITATION_METRICS §1.5): there, long monologues by the other side are welcome. A
            facilitated group meeting aims for shared turns, so 15 s (about 40 words, one point
            made) is our default before the facilitator steps in.
        repeat_ms: if the same turn goes on, ask again every this much longer (15 s, 45 s, 75 s,
            ...). 0 = once per turn.
        pause_ms: the speaker's own silences shorter than this do not end the turn. Turns
            average ~2 s and typical pauses last 0.25-0.5 s; a 4 s pause already hurts listeners
            (FACILITATION_METRICS §2). 1.5 s keeps a speaker's breath between points in the turn
            and ends it when they really stopped.
        backchannel: another participant's segment at most this long (1000 ms plus 250 ms of
            VAD measurement slack, :class:`BackchannelRule`; the same rule as
            ``OverlapParams.backchannel``) is a backchannel ("yeah", "right") and does not end
            the turn, as Gong counts "short interruptions such as clarifying questions" as part
            of a monologue. Anything longer is someone else's turn.
    """

    monologue_ms: int = 15_000
    repeat_ms: int = 30_000
    pause_ms: int = 1_500
    backchannel: BackchannelRule = BackchannelRule()

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if name != "backchannel" and value < 0:  # the rule checks its own fields
                raise ValueError(f"MonologueParams: {name} must be >= 0, got {value}")
        if self.monologue_ms <= 0:
            raise ValueError("MonologueParams: monologue_ms must be > 0")


@dataclass
class _Speaker:
    open_since: int | None = None
    last_end: int | None = None
    run_start: int | None = None  # start of the current continuous turn (own pauses bridged)
    long_until: int | None = None  # end of this participant's last non-backchannel segment
    alert_run: int | None = None  # the turn start the alerts below refer to
    next_alert_ms: int = 0


class MonologueDetector:
    """Asks to interrupt a participant whose continuous turn runs past ``monologue_ms``.

    A continuous turn of P starts at P's onset after at least ``pause_ms`` of P's silence, goes on
    across P's shorter pauses and others' backchannels, and restarts after another participant's
    longer segment (someone else had the floor). Checked on ticks, only while P is speaking.

    Example::

        md = MonologueDetector()
        md.speaking(1000, "p-alice", True); requests = md.tick(16_000)
    """

    def __init__(self, params: MonologueParams | None = None) -> None:
        """Create a detector with nobody speaking.

        Args:
            params: thresholds; ``MonologueParams()`` by default.
        """
        self.params = params or MonologueParams()
        self._people: dict[str, _Speaker] = {}
        self._now = 0

    def speaking(self, media_time_ms: int, participant_id: str, speaking: bool, duration_ms: int = 0) -> None:
        """A participant started (``media_time_ms`` = onset) or stopped (= end) speaking."""
        if not participant_id:
            return
        self._now = max(self._now, media_time_ms)
        sp = self._people.setdefault(participant_id, _Speaker())
        if speaking:
            if sp.open_since is not None:
                return
            sp.open_since = media_time_ms
            resumed = sp.last_end is not None and media_time_ms - sp.last_end < self.params.pause_ms
            if sp.run_start is None or not resumed:
                sp.run_start = media_time_ms
        elif sp.open_since is not None:
            if not self.params.backchannel.fits(media_time_ms - sp.open_since):
                sp.long_until = max(sp.long_until or 0, media_time_ms)
            sp.last_end = max(sp.open_since, media_time_ms)
            sp.open_since = None

    def leave(self, media_time_ms: int, participant_id: str) -> None:
        """A participant left: forget their turn."""
        self._now = max(self._now, media_time_ms)
        self._people.pop(participant_id, None)

    def tick(self, media_time_ms: int) -> list[RoomInterruptRequest]:
        """The media clock advanced: return the interrupt requests that fell due."""
        self._now = now = max(self._now, media_time_ms)
        p = self.params
        floor_taken: dict[str, int] = {}  # pid -> when someone else last held a real turn
        for pid, sp in self._people.items():
            until = sp.long_until
            if sp.open_since is not None and not p.backchannel.fits(now - sp.open_since):
                until = now
            if until is not None:
                floor_taken[pid] = until
        out: list[RoomInterruptRequest] = []
        for pid, sp in self._people.items():
            if sp.open_since is None or sp.run_start is None:
                continue
            others = [t for q, t in floor_taken.items() if q != pid]
            start = max([sp.run_start, *others])
            if start >= now:
                continue
            if sp.alert_run != start:
                sp.alert_run = start
                sp.next_alert_ms = p.monologue_ms
            length = now - start
            if sp.next_alert_ms and length >= sp.next_alert_ms:
                sp.next_alert_ms = sp.next_alert_ms + p.repeat_ms if p.repeat_ms else 0
                out.append(
                    RoomInterruptRequest(
                        target_participant_id=pid,
                        reason="monologue",
                        monologue_ms=length,
                        media_time_ms=now,
                    )
                )
        return out
