"""Per-participant speaking state from per-window Silero confidences, on media time.

``SpeakingTracker`` turns ``(window_end_ms, confidence | None)`` into started/stopped transitions;
``EnergyGate`` decides which windows are quiet enough to skip the model. No asyncio, no Pipecat.

How a tracker decides (one tracker per participant, one observation per 32 ms Silero window):

* **Enter** when a window scores ``>= enter_threshold`` (0.5, Silero's own default threshold).
* **Onset** is traced back through the unbroken run of windows scoring ``>= onset_threshold``
  that led up to it (at most ``onset_lookback_ms``), so the first syllable, which the model
  scores low while its recurrent state catches up, counts as speech, as a listener hears it.
  Where the caller gives window levels, it also crosses a longer dip (``onset_bridge_ms``) back
  to an earlier syllable as loud as the speech it confirmed (an in-breath is 20-25 dB quieter),
  and on from that syllable to the one it would have bridged to itself (a chain of soft
  syllables, each dip short, the chain's quietest as loud as a first syllable of the word; still
  at most ``onset_lookback_ms``). It never reaches back into the participant's previous segment,
  and never moves an onset later than it was when the start was entered.
* **Confirm** once windows ``>= leave_threshold`` adding up to ``min_speech_ms`` have been seen,
  with no dip between them longer than ``max_dip_ms``: a single window that scores high (a
  click, a cough, a noisy window) never starts speech. Strong evidence confirms sooner: an
  unbroken run of windows ``>= confirm_threshold`` holding ``confirm_fast_ms`` of sound.
* **Leave** once ``hangover_ms`` has passed with every window ``< leave_threshold`` (hysteresis:
  a dip inside a word or a short breath does not split an utterance). The stop time is the end
  of the last window that scored ``>= leave_threshold``, not the end of the hangover, so talk
  time is not inflated by it.
* A window the energy gate found quiet arrives as ``None`` and counts as silence (score 0).
* Where the caller knows where sound is inside a window (``sound_ms``: the first and last
  sounding 8 ms block, from the gate's levels), the onset and the stop time are placed there
  instead of on the 32 ms window grid, and the hangover counts from the end of the sound.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from enum import Enum

import numpy as np

__all__ = [
    "BLOCKS_PER_WINDOW",
    "SILENCE_DBFS",
    "EnergyGate",
    "GateDecision",
    "GateParams",
    "SpeakingParams",
    "SpeakingTracker",
    "SpeechStarted",
    "SpeechStopped",
    "Transition",
    "block_dbfs",
    "block_power",
    "power_dbfs",
    "window_dbfs",
]


# --------------------------------------------------------------------------------------------
# State machine
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpeakingParams:
    """Thresholds and durations of the speaking state machine.

    Parameters:
        enter_threshold: a window must score at least this to start speech. 0.5 is Silero's own
            default (``get_speech_timestamps(threshold=0.5)``). Pipecat's 0.7 plus its volume
            gate loses the soft edges of short utterances (recall 0.74 on backchannels).
        leave_threshold: speech continues while windows score at least this, and
            ``min_speech_ms`` counts windows at or above it. 0.3 sits below Silero's in-word dips
            (rarely under 0.5 on speech) and well above what noise and tones score (< 0.17 on
            white/pink noise and 440 Hz tones from -50 to -3 dBFS).
        onset_threshold: the onset is traced back through the unbroken run of windows scoring at
            least this before the window that crossed ``enter_threshold``. Silero ramps up over
            the first two or three windows of an utterance (0.05-0.4 from a fresh state), so a
            threshold below ``leave_threshold`` recovers the first syllable; 0.15 is still above
            what most noise windows score, and the trace-back is bounded by ``onset_lookback_ms``.
        min_speech_ms: windows ``>= leave_threshold`` adding up to this (whole 32 ms windows)
            confirm speech. 96 ms is three windows: one stray high window cannot start speech,
            a 275 ms "yeah" can.
        max_dip_ms: a start not yet confirmed survives a dip below ``leave_threshold`` this long
            (one window: a stop consonant in the first word). Without it the first word of a
            fresh stream was lost on one clip (recall 0.89); a longer dip drops the start.
        hangover_ms: speech stops once this long has passed since the end of the last sound
            scored ``>= leave_threshold`` (every window since scored lower or was quiet). 200 ms
            bridges the gaps between words and the breaths inside a phrase and ends a segment at
            a sentence break; it is Pipecat's ``stop_secs`` default and the gap below which the
            clips' ground truth merges voiced runs.
        onset_lookback_ms: the onset is traced back at most this far before the start of the
            window that crossed ``enter_threshold``. Bounds the damage when noise scoring just
            above ``onset_threshold`` runs into speech. The trace-back crosses one window below
            ``onset_threshold`` (``max_dip_ms``): a soft first syllable scored 0.24, 0.25, 0.35,
            then 0.10 on a stop closure, then 0.99, and its onset was found 136 ms late.
        resume_within_ms: a start given up in a dip (longer than ``max_dip_ms``) is remembered
            this long: if speech starts again that soon and is confirmed, its onset is the
            abandoned start's (within ``onset_lookback_ms``). A soft -38 dBFS first word in
            -47 dBFS room tone scored 0.26, 0.46, 0.75, then sank into the noise floor for
            128 ms before the next word: found 242 ms late without it.
        confirm_threshold, confirm_fast_ms: a faster confirmation on strong evidence: an unbroken
            run of windows scoring ``>= confirm_threshold`` whose *sound* (the sounding blocks the
            gate found inside them, ``sound_ms``) adds up to ``confirm_fast_ms`` confirms speech
            without waiting for ``min_speech_ms``: two fully sounding windows at 0.8 or more
            (64 ms) instead of three at 0.3. Detection latency is mostly this wait: on the real
            and synthetic rooms the start latency fell 5-18 ms at the median and up to 33 ms at
            p95 (meeting-4 224 -> 204 ms), with every detected interval unchanged. Counting sound
            rather than windows keeps the one-stray-window protection where it matters: the
            edge of a neighbour's bleed scored 0.99 and 0.96 on two windows with 8 ms of sound
            each, and counting windows started speech on it (precision 1.00 -> 0.95).
            ``confirm_fast_ms >= min_speech_ms`` turns it off.
        onset_bridge_ms, onset_bridge_db: the onset trace-back also crosses a longer dip (up to
            ``onset_bridge_ms`` of windows below ``onset_threshold``, e.g. gated) back to an
            earlier run of windows ``>= onset_threshold``, when that run was about as loud as
            the run that entered: its loudest window no more than ``onset_bridge_db`` below
            this run's loudest (the caller passes each window's level, ``level_dbfs``; without
            levels nothing is bridged). A soft first syllable is about as loud as the next one,
            while an in-breath or a click before a word is 20-25 dB quieter, so the level tells
            them apart where the score cannot (both score 0.2-0.6). On ``prompts`` a -42 dBFS
            telephone-band speaker's first syllable scored 0.22-0.36, then 64 ms were gated
            between it and the second syllable, and her onsets were found 225-273 ms late.
            96 ms: a stop closure and a syllable boundary, below the 200 ms gap at which the
            ground truth (and ``hangover_ms``) splits an utterance. Bridges chain: a
            run that would have bridged back to an earlier one, and then broke before speech was
            confirmed, carries the earlier run's start, if it is a syllable itself
            (``syllable_min_ms`` of windows ``>= leave_threshold``: steady noise scoring 0.15-0.3
            makes run after run and would carry its first along) and the chain as a whole, its
            quietest run, passes the level test against the word (two 10 dB steps would reach an
            in-breath 20 dB under it). On
            ``kt-phone`` a telephone-band word scored 0.25 (fricative, -22 dBFS), 96 ms at
            0.05-0.09, then 0.44, 0.37 and 0.43, 96 ms gated, then the word that entered: the
            onset stopped at the middle run, 211 ms late (now 96 ms, at ``onset_lookback_ms``).
        carry_min_ms: a first syllable's evidence counts towards confirming the utterance it
            begins: when a start given up in a dip resumes (``resume_within_ms``) or the onset
            bridges back to an earlier run (``onset_bridge_ms``), that run's windows
            ``>= leave_threshold`` count towards ``min_speech_ms``, if they add up to this much
            (a syllable, not one stray window) and no window in between was another
            participant's voice (``observe(bleed=True)``). The evidence was there; waiting for
            more windows only delayed the decision: a quiet speaker's soft first
            syllable (0.49, 0.77), 96 ms gated, then the word (0.95, 0.97) was decided on the
            word's second window, 281 ms after its onset (249 ms now).
        syllable_bridge_db, syllable_min_ms: a run with at least ``syllable_min_ms`` of windows
            ``>= leave_threshold`` (a syllable the model scored as speech) and no bleed after
            it is bridged this much further under the word than ``onset_bridge_db``: soft
            onsets' first syllables were 12 dB under the word on ``meeting-6`` (two windows
            scoring 0.49-0.77; and 0.12, 0.28, 0.38, whose onset was found 218 ms late with
            ``syllable_min_ms`` 64, 156 ms now). An in-breath that scored 0.30-0.39 was 20 dB
            under the word on ``meeting-5`` (bridged at 20 dB, its onset was 261 ms early), and
            one that scored 0.20 (no window ``>= leave_threshold``) was 11 dB under it on
            ``meeting-4``: a weak run keeps the 10 dB rule. Bridging needs less than carrying
            evidence (``carry_min_ms``): it moves the onset back, it does not confirm speech.
    """

    enter_threshold: float = 0.5
    leave_threshold: float = 0.3
    onset_threshold: float = 0.15
    min_speech_ms: int = 96
    max_dip_ms: int = 32
    hangover_ms: int = 200
    onset_lookback_ms: int = 320
    resume_within_ms: int = 160
    confirm_threshold: float = 0.8
    confirm_fast_ms: int = 64
    onset_bridge_ms: int = 160
    onset_bridge_db: float = 10.0
    carry_min_ms: int = 64
    syllable_bridge_db: float = 5.0
    syllable_min_ms: int = 32

    def __post_init__(self) -> None:
        if not 0.0 < self.onset_threshold <= self.leave_threshold <= self.enter_threshold <= 1.0:
            raise ValueError(
                "SpeakingParams: need 0 < onset_threshold <= leave_threshold <= enter_threshold"
                f" <= 1, got onset_threshold={self.onset_threshold}, leave_threshold="
                f"{self.leave_threshold}, enter_threshold={self.enter_threshold}"
            )
        if not self.enter_threshold <= self.confirm_threshold <= 1.0:
            raise ValueError(
                "SpeakingParams: need enter_threshold <= confirm_threshold <= 1, got "
                f"confirm_threshold={self.confirm_threshold}, enter_threshold={self.enter_threshold}"
            )
        for name in (
            "min_speech_ms",
            "max_dip_ms",
            "hangover_ms",
            "onset_lookback_ms",
            "resume_within_ms",
            "confirm_fast_ms",
            "onset_bridge_ms",
            "onset_bridge_db",
            "carry_min_ms",
            "syllable_bridge_db",
            "syllable_min_ms",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"SpeakingParams: {name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class SpeechStarted:
    """Speech was confirmed at ``decided_at_ms``; it began at ``media_time_ms`` (the onset)."""

    participant_id: str
    media_time_ms: int
    decided_at_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    """Speech that began at ``started_at_ms`` ended at ``media_time_ms``.

    ``media_time_ms`` is the end of the last speech window (or of its last sounding block);
    ``decided_at_ms`` is when the hangover ran out.
    """

    participant_id: str
    media_time_ms: int
    duration_ms: int
    started_at_ms: int
    decided_at_ms: int


Transition = SpeechStarted | SpeechStopped


class _State(Enum):
    QUIET = "quiet"
    PENDING = "pending"  # crossed enter_threshold, not yet min_speech_ms long
    SPEAKING = "speaking"


@dataclass(frozen=True)
class _Chain:
    """The earliest start a run reaches through runs that bridged back, one to the one before."""

    start_ms: int
    loudest_db: float  # of the quietest run of the chain (its loudest window)
    syllables: bool  # every run of the chain had syllable_min_ms of windows >= leave_threshold ...
    leave_end_ms: int  # ... the earliest of them ending here (a bleed since: not syllables any more)


@dataclass(frozen=True)
class _Bridge:
    """A run of windows >= ``onset_threshold`` broken by a dip, kept for a later run to bridge to."""

    start_ms: int
    loudest_db: float
    leave_ms: int  # its windows >= leave_threshold
    leave_end_ms: int  # the end of the last of them
    chain: _Chain | None  # what it reaches beyond itself (``SpeakingTracker._chain``)


class SpeakingTracker:
    """Speaking state of one participant, fed one Silero window at a time.

    Example::

        tracker = SpeakingTracker("p-alice")
        transitions = tracker.observe(1024, 0.93)
    """

    def __init__(
        self,
        participant_id: str,
        *,
        params: SpeakingParams | None = None,
        window_ms: int = 32,
    ) -> None:
        """Create a quiet tracker.

        Args:
            participant_id: copied into every transition.
            params: thresholds and durations; ``SpeakingParams()`` by default.
            window_ms: length of one model window (32 ms for Silero v5 at 8 and 16 kHz).
        """
        self.participant_id = participant_id
        self.params = params or SpeakingParams()
        self.window_ms = window_ms
        self._state = _State.QUIET
        self._onset_run_ms: int | None = None  # where the run of windows >= onset began
        self._onset_dip_ms = 0  # windows < onset since the run's last window >= onset
        self._onset_run_db: float | None = None  # loudest level of the run (None: unknown)
        self._onset_run_leave_ms = 0  # windows >= leave in the current onset run
        self._onset_run_leave_end_ms = 0  # end of its last window >= leave
        self._last_bleed_ms = -(2**62)  # end of the last window that was another participant's voice
        # a run broken by a dip, and the one the current run follows
        self._bridge: _Bridge | None = None
        self._bridge_to: _Bridge | None = None
        self._last_stop_ms = -(2**62)  # end of the last segment
        # (onset, when, own evidence, end of its last window >= leave) of the last start given up
        self._abandoned: tuple[int, int, int, int] | None = None
        self._leave_run_ms: int | None = None  # window start of the run of windows >= leave
        self._pending_speech_ms = 0  # windows >= leave since the segment became pending
        self._pending_gap_ms = 0  # the dip (windows < leave) a pending segment is in
        self._carried_ms = 0  # of _pending_speech_ms, evidence carried over from a start given up
        self._strong_run_ms = 0  # sound in the unbroken run of windows >= confirm_threshold
        self._onset_ms = 0
        self._speech_end_ms = 0  # where sound ends in the last window >= leave
        self._loudest_db: float | None = None  # loudest window >= leave since the start began
        self._last_window_end_ms: int | None = None

    @property
    def speaking(self) -> bool:
        """True between a ``SpeechStarted`` and its ``SpeechStopped``."""
        return self._state is _State.SPEAKING

    @property
    def pending_onset_ms(self) -> int | None:
        """The onset of speech entered but not yet confirmed (``min_speech_ms``), else ``None``.

        An early, provisional sign that someone is starting to speak: the facilitator's voice
        yields on it rather than wait ~100 ms for the confirmation.
        """
        return self._onset_ms if self._state is _State.PENDING else None

    @property
    def loudest_speech_dbfs(self) -> float | None:
        """While speaking: the loudest window scored ``>= leave_threshold`` since this utterance's
        start began (its level, as passed to :meth:`observe`); ``None`` otherwise. The energy gate
        follows a quiet speaker with it (``GateParams.follow_speaker_db``)."""
        return self._loudest_db if self._state is _State.SPEAKING else None

    @property
    def active(self) -> bool:
        """Speaking, or a start not yet confirmed (the crosstalk filter treats both as a voice)."""
        return self._state is not _State.QUIET

    @property
    def onset_ms(self) -> int | None:
        """Onset of the current segment while speaking, else ``None``."""
        return self._onset_ms if self._state is _State.SPEAKING else None

    @property
    def last_window_end_ms(self) -> int | None:
        """End of the last window observed (``None`` before the first)."""
        return self._last_window_end_ms

    def observe(
        self,
        window_end_ms: int,
        confidence: float | None,
        sound_ms: tuple[int, int] | None = None,
        level_dbfs: float | None = None,
        *,
        bleed: bool = False,
    ) -> list[Transition]:
        """Feed one window; return the transitions it caused (usually none).

        Args:
            window_end_ms: media time at the end of the window.
            confidence: Silero's speech probability for the window, or ``None`` when the energy
                gate found it quiet (counted as silence).
            sound_ms: media times of the start of the first and the end of the last sounding
                block inside the window, when known; ``None`` = the whole window.
            level_dbfs: the window's level (its loudest 8 ms block), when known: lets the onset
                trace-back bridge a longer dip to an earlier syllable as loud as this one
                (``onset_bridge_ms``).
            bleed: the window was sound, but another participant's voice on this microphone
                (``bot.analytics.crosstalk``); pass ``confidence=None``. Counted as silence, and
                no evidence is carried across it (``carry_min_ms``): what comes after bleed is not
                known to be the syllable before it continued.
        """
        out = self._observe(window_end_ms, confidence, sound_ms, level_dbfs, bleed=bleed)
        if self._state is _State.QUIET:
            self._loudest_db = None
        elif level_dbfs is not None and confidence is not None and confidence >= self.params.leave_threshold:
            self._loudest_db = level_dbfs if self._loudest_db is None else max(self._loudest_db, level_dbfs)
        return out

    def _observe(
        self,
        window_end_ms: int,
        confidence: float | None,
        sound_ms: tuple[int, int] | None,
        level_dbfs: float | None,
        *,
        bleed: bool,
    ) -> list[Transition]:
        p = self.params
        if bleed:
            self._last_bleed_ms = window_end_ms
        score = 0.0 if confidence is None else float(confidence)
        window_start_ms = window_end_ms - self.window_ms
        sound_start, sound_end = sound_ms or (window_start_ms, window_end_ms)
        self._last_window_end_ms = window_end_ms
        above_leave = score >= p.leave_threshold
        strong = score >= p.confirm_threshold
        self._strong_run_ms = self._strong_run_ms + (sound_end - sound_start) if strong else 0
        if score < p.onset_threshold:
            # the trace-back crosses one low window (a stop closure, a gated dip in a soft onset)
            self._onset_dip_ms += self.window_ms
            if self._onset_dip_ms > p.max_dip_ms and self._onset_run_ms is not None:
                # broken: kept a while, a later run as loud may bridge back to it
                run_db = self._onset_run_db
                fresh = self._state is _State.QUIET and self._onset_run_ms >= self._last_stop_ms
                # (a run that began inside the last segment is that segment's tail, not a syllable)
                self._bridge = None
                if fresh and run_db is not None:
                    leave_ms, leave_end_ms = self._onset_run_leave_ms, self._onset_run_leave_end_ms
                    self._bridge = _Bridge(
                        self._onset_run_ms, run_db, leave_ms, leave_end_ms, self._chain(run_db, leave_ms, leave_end_ms)
                    )
                self._onset_run_ms = None
            if self._onset_dip_ms > p.onset_bridge_ms:
                self._bridge = None
        else:
            if self._onset_run_ms is None:
                self._onset_run_ms = sound_start
                self._onset_run_db = level_dbfs
                self._onset_run_leave_ms = 0
                self._bridge_to, self._bridge = self._bridge, None
            elif level_dbfs is None or self._onset_run_db is None:
                self._onset_run_db = None
            else:
                self._onset_run_db = max(self._onset_run_db, level_dbfs)
            self._onset_dip_ms = 0
            if above_leave:
                self._onset_run_leave_ms += self.window_ms
                self._onset_run_leave_end_ms = window_end_ms
        if not above_leave:
            self._leave_run_ms = None
        elif self._leave_run_ms is None:
            self._leave_run_ms = window_start_ms

        if self._state is _State.SPEAKING:
            if above_leave:
                self._speech_end_ms = sound_end
            elif window_end_ms - self._speech_end_ms >= p.hangover_ms:
                return [self._stop(decided_at_ms=window_end_ms)]
            return []

        if self._state is _State.QUIET:
            if score < p.enter_threshold:
                return []
            # enter >= leave >= onset, so both runs include this window.
            assert self._onset_run_ms is not None and self._leave_run_ms is not None
            earliest = self._earliest(window_start_ms)
            # a run that began inside the last segment is its tail, not this word's first syllable
            run_ms = self._onset_run_ms if self._onset_run_ms >= self._last_stop_ms else self._leave_run_ms
            self._onset_ms = max(run_ms, earliest)
            self._pending_speech_ms = window_end_ms - max(self._leave_run_ms, earliest)
            self._carried_ms = 0
            abandoned = self._abandoned
            if abandoned is not None and window_start_ms - abandoned[1] <= p.resume_within_ms:
                # a start given up on a moment ago was this utterance's first syllable: its onset
                # and its evidence are this utterance's
                self._onset_ms = max(min(self._onset_ms, abandoned[0]), earliest)
                self._carried_ms = self._carry(abandoned[2], abandoned[3])
                self._pending_speech_ms += self._carried_ms
            self._abandoned = None
            self._pending_gap_ms = 0
            self._state = _State.PENDING
        elif above_leave:  # PENDING
            self._pending_speech_ms += self.window_ms
            self._pending_gap_ms = 0
        else:  # PENDING, in a dip: give up once the dip is longer than max_dip_ms
            self._pending_gap_ms += self.window_ms
            if self._pending_gap_ms > p.max_dip_ms:
                self._state = _State.QUIET
                # its own evidence only: carried evidence is not carried twice
                self._abandoned = (
                    self._onset_ms,
                    window_end_ms,
                    self._pending_speech_ms - self._carried_ms,
                    window_end_ms - self._pending_gap_ms,
                )
            return []

        bridge, run_db = self._bridge_to, self._onset_run_db
        bridged = self._bridges(bridge, run_db)
        # the first syllable's own evidence counts towards confirming the utterance it begins
        carried = self._carry(bridge.leave_ms, bridge.leave_end_ms) if bridge is not None and bridged else 0
        evidence = self._pending_speech_ms + carried
        if evidence < p.min_speech_ms and self._strong_run_ms < p.confirm_fast_ms:
            return []
        if bridge is not None and bridged:
            # An earlier run as loud as the speech confirmed now, across a dip: the utterance's
            # first syllable. Compared at confirmation, not entry: a word's first windows are
            # still rising, and an in-breath is only quieter than the word's loudest part.
            assert bridge is not None and run_db is not None
            start, chain = bridge.start_ms, bridge.chain
            if chain is not None:
                syllables = chain.syllables and self._last_bleed_ms <= chain.leave_end_ms  # no bleed since
                if chain.loudest_db >= run_db - self._bridge_db(syllables):
                    start = chain.start_ms  # every run of the chain as loud as a first syllable of this one
            # earlier only: the onset taken at entry (already reported as pending) never moves later
            self._onset_ms = min(self._onset_ms, max(start, self._earliest(window_start_ms)))
        self._bridge_to = None
        self._state = _State.SPEAKING
        self._speech_end_ms = sound_end
        return [
            SpeechStarted(
                participant_id=self.participant_id,
                media_time_ms=self._onset_ms,
                decided_at_ms=window_end_ms,
            )
        ]

    def _bridges(self, bridge: _Bridge | None, run_db: float | None) -> bool:
        """Is ``bridge`` (an earlier run broken by a dip) loud enough against a run whose loudest
        window is ``run_db`` to be its first syllable (``onset_bridge_db``, ``syllable_bridge_db``)?"""
        if bridge is None or run_db is None:
            return False
        return bridge.loudest_db >= run_db - self._bridge_db(self._syllable(bridge.leave_ms, bridge.leave_end_ms))

    def _earliest(self, window_start_ms: int) -> int:
        """How far back an onset may go for a window starting at ``window_start_ms``:
        ``onset_lookback_ms``, and never into the last segment (unless the clock went back)."""
        return max(window_start_ms - self.params.onset_lookback_ms, min(self._last_stop_ms, window_start_ms))

    def _bridge_db(self, syllable: bool) -> float:
        p = self.params
        return p.onset_bridge_db + (p.syllable_bridge_db if syllable else 0.0)

    def _chain(self, run_db: float, leave_ms: int, leave_end_ms: int) -> _Chain | None:
        """What a run breaking now reaches back to beyond itself: the run it would have bridged to
        (``_bridge_to``) and all that run reached, if this run is a syllable the model scored as
        speech (a run of noise scoring 0.15-0.3 chains to nothing: otherwise a steady noise would
        carry its first run's start along every later run). Kept with the quietest run's level:
        at confirmation the whole chain must be as loud as a first syllable of the word, not only
        each run of the one after it (two 10 dB steps would reach an in-breath 20 dB under it)."""
        earlier = self._bridge_to
        if not self._syllable(leave_ms, leave_end_ms) or not self._bridges(earlier, run_db):
            return None
        assert earlier is not None
        syllable = self._syllable(earlier.leave_ms, earlier.leave_end_ms)
        if earlier.chain is None:
            return _Chain(earlier.start_ms, earlier.loudest_db, syllable, earlier.leave_end_ms)
        return _Chain(
            earlier.chain.start_ms,
            min(earlier.loudest_db, earlier.chain.loudest_db),
            syllable and earlier.chain.syllables,
            earlier.chain.leave_end_ms,
        )

    def _syllable(self, evidence_ms: int, evidence_end_ms: int) -> bool:
        """Was a run with this evidence (windows >= leave, the last ending at ``evidence_end_ms``)
        a syllable the model scored as speech, with no bleed since (``syllable_min_ms``)?"""
        return evidence_ms >= self.params.syllable_min_ms and self._last_bleed_ms <= evidence_end_ms

    def _carry(self, evidence_ms: int, evidence_end_ms: int) -> int:
        """What a first syllable's evidence (windows >= leave, the last ending at
        ``evidence_end_ms``) adds to confirming the utterance it begins: all of it when it is a
        syllable (``carry_min_ms``) and no bleed came after it, else nothing."""
        if evidence_ms < self.params.carry_min_ms or self._last_bleed_ms > evidence_end_ms:
            return 0
        return evidence_ms

    def close(self, at_ms: int | None = None) -> list[Transition]:
        """End the stream (participant left, room ended): stop if speaking, forget the rest.

        Args:
            at_ms: media time of the close; a stop is placed no later than this. Defaults to the
                end of the last observed window.
        """
        decided = at_ms if at_ms is not None else (self._last_window_end_ms or 0)
        out: list[Transition] = []
        if self._state is _State.SPEAKING:
            if at_ms is not None:
                self._speech_end_ms = min(self._speech_end_ms, at_ms)
            out.append(self._stop(decided_at_ms=decided))
        self._state = _State.QUIET
        self._onset_run_ms = self._leave_run_ms = None
        self._onset_dip_ms = self._strong_run_ms = 0
        self._abandoned = self._bridge = self._bridge_to = self._onset_run_db = None
        return out

    def _stop(self, *, decided_at_ms: int) -> SpeechStopped:
        self._state = _State.QUIET
        end = max(self._speech_end_ms, self._onset_ms)
        self._last_stop_ms = end
        return SpeechStopped(
            participant_id=self.participant_id,
            media_time_ms=end,
            duration_ms=end - self._onset_ms,
            started_at_ms=self._onset_ms,
            decided_at_ms=decided_at_ms,
        )


# --------------------------------------------------------------------------------------------
# Energy gate
# --------------------------------------------------------------------------------------------

SILENCE_DBFS = -120.0
"""The level reported for digital silence (instead of minus infinity)."""

BLOCKS_PER_WINDOW = 4
"""A window's level is measured in 4 blocks: 8 ms each at 16 kHz (128 samples) and at 8 kHz."""


def block_power(audio: np.ndarray, blocks: int = BLOCKS_PER_WINDOW) -> list[float]:
    """Mean square of each of ``blocks`` equal blocks of float audio scaled to [-1, 1).

    1.0 is a full-scale square wave (0 dBFS). ``audio`` must split evenly into ``blocks``.
    (A list: the gate runs on every window, and four Python floats are cheaper to use than an
    array.)
    """
    scale = blocks / audio.size
    return [s * scale for s in np.square(audio).reshape(blocks, -1).sum(axis=1).tolist()]


def power_dbfs(power: float) -> float:
    """A mean square (1.0 = full scale) in dBFS; digital silence reports ``SILENCE_DBFS``."""
    return max(10.0 * math.log10(power), SILENCE_DBFS) if power > 0.0 else SILENCE_DBFS


def block_dbfs(samples: np.ndarray, blocks: int = BLOCKS_PER_WINDOW) -> np.ndarray:
    """RMS level in dBFS of each of ``blocks`` equal blocks of int16 ``samples``."""
    power = block_power(np.asarray(samples, dtype=np.float64) / 32768.0, blocks)
    return np.array([power_dbfs(x) for x in power])


def window_dbfs(samples: np.ndarray) -> float:
    """RMS level in dBFS of a whole window of int16 samples."""
    return float(block_dbfs(samples, 1)[0]) if np.size(samples) else SILENCE_DBFS


@dataclass(frozen=True)
class GateParams:
    """When a window counts as quiet, and when the model may skip it.

    A window is *quiet* when none of its 8 ms blocks reaches ``threshold_dbfs``. A quiet window is
    reported as silence (``None``) and is not run through the model, except the ``trail_windows``
    right after a sounding window (the model sees a phrase decay, as it would without the gate)
    and the ``preroll_windows`` replayed just before a sounding window that follows gated ones
    (the model sees the lead-in to an onset). Those runs only update the model's state; their
    scores are discarded, because a quiet window is silence whatever the model says (Silero
    lags: the silent window after a word still scores ~0.6).

    Parameters:
        threshold_dbfs: -55 dBFS is an RMS of about 58/32768: below the quietest speech sounds at
            a normal level (unvoiced consonants around -45..-35 dBFS, conversational speech
            -30..-20) and above a muted or idle WebRTC track (digital silence, or comfort noise
            near -70..-90). Anything louder is scored by the model, so noise never hides behind
            the gate: rejecting noise is Silero's job.
        trail_windows: quiet windows still run through the model after a sounding one.
        preroll_windows: gated windows replayed through the model before a sounding one that
            follows them (scores discarded), when the model's state was kept (a short gap). One
            window (32 ms) carries the 64-sample context and lets the state settle on the silence
            before the onset. More would drive a mid-phrase state towards "silence": with 8, the
            word after a 160 ms gap inside "rear center" scored 0.25 instead of 0.83 and the
            phrase split.
        warmup_windows: the same, when the state is the initial one (a stream's first sound, or
            after a reset): the zeroed state warms up on the room's own silence or room tone
            before the onset. With one window, Silero scored the first 200 ms of a clearly voiced
            real utterance (telephone band, -30 dBFS) 0.01-0.05 and its onset was found 667 ms
            late; with 4 windows 0.13-0.33 (the trace-back still broke), with 8 0.21-0.43 (onset
            right). 7 model runs per utterance after a pause more than one.
        reset_after_ms: a gated stretch at least this long zeroes the model's recurrent state
            before the next model run, so what follows a real pause is scored from the fresh
            state a stream starts with. Left in the "speech just ended" state, the model takes
            noise for speech: 60 of 360 noise bursts played 0.7-1.5 s after a clip started
            speech without the reset, none with it. The price is a slower first syllable after
            a pause (mean onset error 18 ms instead of 4). Shorter stretches (pauses between
            words, <= 350 ms in the clips) keep the state, as if there were no gate.
        refresh_after_ms: the model's state is also refreshed when it has run this long on sound it
            scores below ``refresh_below`` (room tone, line noise, a fan: sound above the gate
            that is not speech). Left running on such sound, Silero's recurrent state sinks into
            a "long silence" state in which a soft word scores 0.05-0.2 instead of 0.6-0.9: on real
            recordings, a -36 dBFS word after 20 s of -46 dBFS room tone and a -42 dBFS word after
            7 s of room tone were missed with it (docs/vad.md, "Real-speech rooms"). 0 disables it.
        refresh_below: windows scoring under this count as non-speech for ``refresh_after_ms``
            (Silero's scores on room tone and noise stay < 0.13; speech, even soft, goes above).
        floor_margin_db: the gate also follows the track's own noise floor: a window is quiet
            unless its loudest block is this far above the floor (or above ``threshold_dbfs``,
            whichever is higher). A window above ``threshold_dbfs`` but within the floor margin
            is silence for the tracker, yet still runs through the model (its state keeps
            following the room tone: a zeroed state scored a soft word in -46 dBFS room tone
            0.07-0.24, a state that had heard 1 s of it 0.55-0.9). So on a track with room tone
            or line noise, speech stops where the voice sinks into the noise rather than where
            Silero's slowly decaying score on the noise drops under ``leave_threshold``
            (400-1000 ms later at -46 dBFS room tone).
            6 dB: room tone's loudest 8 ms block stays within 4.3 dB of its 3 s minimum on 99.9 %
            of windows (pink noise, 8 and 16 kHz, telephone band). 0 disables it.
        floor_window_ms: the floor is the lowest window level of the last this-many ms. 3 s
            always holds a pause between words or phrases.
        floor_after_ms: the floor applies once the stream is this old (before, only
            ``threshold_dbfs``): a stream's first 500 ms (a join, room tone before the first
            word) give a floor; waiting for the whole ``floor_window_ms`` let room tone under a
            neighbour's bleed keep the model saying "speech" for a whole first sentence.
        refresh_warmup_windows: after a refresh, the last windows (already scored) are run again
            from the zeroed state, scores discarded, so the model's onset transient is spent on
            the noise it already saw, not on the next window: a bare reset on a loud steady tone
            scored 0.34-0.62 and started speech.
        settle_windows: the state a reset after silence (and a stream's first sound) starts from
            is not zero but Silero's state after this many windows of digital silence run from
            zero (computed once per sample rate): the state a stream run without a gate would
            be in after a long silence. From the zeroed state, even after the 8-window warm-up,
            a -42 dBFS telephone-band word scored 0.05-0.13 (missed) where the same model run
            through the silence scored 0.57; from the settled state it scores 0.29-0.36 and its
            second syllable 0.52-0.63. 0 keeps the zero state.
        highpass_hz: ``threshold_dbfs`` is held to the level above this frequency
            (``bot.audio.speech_band``): a window loud only in the rumble band (ventilation, a
            fan, traffic, a knock) is quiet, gated and not scored, like silence. Brown-noise
            rumble at -56 dBFS RMS peaks above -55 dBFS broadband in most windows, so the model
            ran on it all the time and refreshed its state every second; a -30 dBFS word just
            after a refresh then scored 0.01-0.2 for its first 200 ms (decided 345 ms after its
            onset on ``meeting-6``; 217 ms with the filter). 100 Hz is under the fundamental of
            most voices and far under the formants. The floor margin and the level reported
            with each window stay broadband. 0 turns it off.
        follow_speaker_db, follow_lowest_dbfs: while a participant speaks, the fixed threshold
            follows them: a window is sounding down to ``follow_speaker_db`` under the loudest
            window of the utterance so far (``SpeakingTracker.loudest_speech_dbfs``), never above
            ``threshold_dbfs`` nor below ``follow_lowest_dbfs``; the floor margin still applies.
            A speaker at -20..-30 dBFS keeps -55 dBFS; a quiet one keeps the voicing inside and at
            the end of a phrase that sinks under it: ``prompts``' -42 dBFS telephone-band speaker
            had phrases cut 272 ms before a last consonant, across voicing at -57..-62 dBFS (share
            error 2.42 -> 1.25 pp, scripted overlaps 17/19 -> 19/19). Only the sounding threshold
            moves: windows under -55 dBFS that are not sounding are still gated and do not run
            the model (running it on them sank its state inside phrases and split them). 20 dB
            lost the gain; 25 and 30 gave it. 0 turns it off.
        model_gain_max_db, model_gain_target_dbfs, model_gain_floor_dbfs: the model scores a quiet
            participant's sounding windows on their audio raised towards a normal speaking level:
            by ``model_gain_target_dbfs`` minus their voice (the louder of their last utterance's
            loudest window scored as speech and the current one's), at most ``model_gain_max_db``
            (0 turns it off), and never so far that the track's floor would rise over
            ``model_gain_floor_dbfs``; no window is raised past the target; no gain until voice
            and floor are known (never without ``floor_margin_db``, which follows the floor).
            The gate, the levels and the sound spans stay on the audio as it is; windows the gate does not find
            sounding (warm-up and preroll replays, trail windows) are not raised, though the
            64-sample context the model carries over from a raised window is (a refresh's
            warm-up re-runs windows as they were scored, raised or not). Silero is
            level-dependent: a -42 dBFS telephone-band speaker's first syllables scored 0.03-0.05
            as recorded and 0.34-0.62 at +12 dB, words it "could not hear" 0.95 at +12 dB. With
            15 / -24 / -50: ``prompts`` 2 missed words -> 0, start latency p95 342 -> 195 ms, share
            0.96 -> 0.44 pp (every target met). Opt-in from the sixth round (held-out ``huddle`` got
            slightly worse within its targets) to the ninth, when a held-out room it had never seen
            (``kt-panel``) decided: start latency p95 171 -> 145 ms, nothing worse (docs/vad.md).
            Raising the replayed room tone too made a quiet 8 kHz talker's onsets score lower
            (0.74 -> 0.51) and start 32-160 ms later; lifting a noisy track's floor (-47 dBFS pink
            noise, a -45 dBFS cap) let noise tails through (``standup`` precision 0.984).
        model_gain_over_floor_db: ...and only windows this far over the track's floor are raised:
            the voice, not the room. Raised, the rumble windows after a -44 dBFS talker's words on
            -58 dBFS brown noise (4-7 dB over its floor, sounding while she speaks:
            ``follow_speaker_db``) scored 0.4-0.75 instead of 0.25 and held her speech on for
            200-460 ms more (``kt-phone`` share 0.36 -> 2.18 pp; 0.49 with this at 10).
    """

    threshold_dbfs: float = -55.0
    trail_windows: int = 1
    preroll_windows: int = 1
    warmup_windows: int = 8
    reset_after_ms: int = 500
    refresh_after_ms: int = 1000
    refresh_below: float = 0.15
    refresh_warmup_windows: int = 3
    settle_windows: int = 64
    floor_margin_db: float = 6.0
    floor_window_ms: int = 3000
    floor_after_ms: int = 500
    highpass_hz: float = 100.0
    follow_speaker_db: float = 25.0
    follow_lowest_dbfs: float = -65.0
    model_gain_max_db: float = 15.0
    model_gain_target_dbfs: float = -24.0
    model_gain_floor_dbfs: float = -50.0
    model_gain_over_floor_db: float = 10.0

    def __post_init__(self) -> None:
        if min(self.trail_windows, self.preroll_windows, self.warmup_windows, self.reset_after_ms) < 0:
            raise ValueError(
                "GateParams: trail_windows, preroll_windows, warmup_windows and reset_after_ms must be >= 0"
            )
        if self.floor_margin_db < 0 or self.floor_window_ms < 0:
            raise ValueError("GateParams: floor_margin_db and floor_window_ms must be >= 0")
        if min(self.refresh_after_ms, self.refresh_warmup_windows, self.settle_windows) < 0 or not (
            0 <= self.refresh_below <= 1
        ):
            raise ValueError(
                "GateParams: refresh_after_ms, refresh_warmup_windows and settle_windows must be >= 0,"
                " refresh_below in 0..1"
            )
        if self.highpass_hz < 0:
            raise ValueError(f"GateParams: highpass_hz must be >= 0 (0: off), got {self.highpass_hz}")
        for name in (
            "model_gain_max_db",
            "model_gain_target_dbfs",
            "model_gain_floor_dbfs",
            "model_gain_over_floor_db",
        ):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"GateParams: {name} must be a finite number, got {getattr(self, name)}")
        if self.model_gain_over_floor_db < 0:
            raise ValueError(
                f"GateParams: model_gain_over_floor_db must be >= 0 dB, got {self.model_gain_over_floor_db}"
            )
        if not 0 <= self.model_gain_max_db <= 24:
            raise ValueError(f"GateParams: model_gain_max_db must be 0..24 dB (0: off), got {self.model_gain_max_db}")
        if not self.model_gain_floor_dbfs < self.model_gain_target_dbfs < 0:
            raise ValueError(
                "GateParams: need model_gain_floor_dbfs < model_gain_target_dbfs < 0 dBFS, got"
                f" {self.model_gain_floor_dbfs} and {self.model_gain_target_dbfs}"
            )
        if self.follow_speaker_db < 0 or self.follow_lowest_dbfs > self.threshold_dbfs:
            raise ValueError(
                "GateParams: follow_speaker_db must be >= 0 (0: off) and follow_lowest_dbfs <= threshold_dbfs,"
                f" got {self.follow_speaker_db} and {self.follow_lowest_dbfs}"
            )


@dataclass(frozen=True)
class GateDecision:
    """What to do with one window.

    Parameters:
        sounding: the window reaches the threshold: score it and report the score.
        infer: run the model on this window (always when ``sounding``; for a quiet trail window
            only to update the model's state).
        replay: how many of the immediately preceding gated windows to run through the model
            first, in order, discarding their scores.
        reset: reset the model's recurrent state before the replay and this window.
    """

    sounding: bool
    infer: bool
    replay: int = 0
    reset: bool = False


_GATED = GateDecision(sounding=False, infer=False)
_TRAIL = GateDecision(sounding=False, infer=True)
_SOUNDING = GateDecision(sounding=True, infer=True)


class EnergyGate:
    """One stream's gate: feed each window's level, get a :class:`GateDecision`.

    Example::

        gate = EnergyGate(GateParams(), window_ms=32)
        decision = gate.step(float(block_dbfs(window).max()))
    """

    def __init__(self, params: GateParams | None = None, *, window_ms: int = 32) -> None:
        """Start gated: a stream that opens with silence is not scored.

        Args:
            params: thresholds; ``GateParams()`` by default.
            window_ms: length of one window, to turn ``reset_after_ms`` into windows.
        """
        self.params = params or GateParams()
        self._reset_after_windows = max(1, math.ceil(self.params.reset_after_ms / window_ms))
        self._floor_windows = max(1, self.params.floor_window_ms // window_ms) if self.params.floor_margin_db else 0
        self._floor_after = max(1, self.params.floor_after_ms // window_ms)
        self._levels: deque[tuple[int, float]] = deque()  # increasing levels: a sliding minimum
        self._count = 0
        self.threshold_dbfs = self.params.threshold_dbfs
        """The threshold the last window was held to: the fixed one (or the speaker-following one,
        ``follow_speaker_db``), or the track's floor + margin where that is higher."""
        self._noise_dbfs: float | None = None  # the track's floor + floor_margin_db, once known
        self._quiet_run = self.params.trail_windows  # quiet windows since the last sounding one
        self._gated_run = 0  # gated windows since the last model run
        self._fresh = True  # no model run yet: the state is still the initial one

    @property
    def floor_dbfs(self) -> float | None:
        """The track's noise floor (the lowest window level of the last ``floor_window_ms``), once
        ``floor_after_ms`` of it has been seen; ``None`` before, or when the floor is not followed."""
        return None if self._noise_dbfs is None else self._noise_dbfs - self.params.floor_margin_db

    def step(self, dbfs: float, band_dbfs: float | None = None, speaker_dbfs: float | None = None) -> GateDecision:
        """Decide for the next window, given its loudest block's level in dBFS.

        Args:
            dbfs: the loudest 8 ms block, broadband (the track's noise floor follows this).
            band_dbfs: the same above ``GateParams.highpass_hz``, when measured: a window that is
                loud only in the rumble band is held to the fixed threshold by this level.
            speaker_dbfs: while the participant speaks, the loudest window of the utterance
                (``GateParams.follow_speaker_db``); ``None`` otherwise.
        """
        p = self.params
        sounding_from = p.threshold_dbfs
        if speaker_dbfs is not None and p.follow_speaker_db:
            sounding_from = max(p.follow_lowest_dbfs, min(p.threshold_dbfs, speaker_dbfs - p.follow_speaker_db))
        if self._floor_windows:
            self._track_floor(dbfs)
        self.threshold_dbfs = sounding_from if self._noise_dbfs is None else max(sounding_from, self._noise_dbfs)
        if band_dbfs is not None and band_dbfs < p.threshold_dbfs:
            dbfs = band_dbfs  # rumble: quiet where speech would be
        if dbfs < self.threshold_dbfs and dbfs >= p.threshold_dbfs:
            # Above the fixed threshold but within the track's noise floor: silence for the
            # tracker, but the model still runs, so its state keeps following the room tone.
            self._quiet_run = 0
            self._gated_run = 0
            self._fresh = False
            return _TRAIL
        if dbfs >= self.threshold_dbfs:
            if self._gated_run == 0:  # the common case while someone talks
                decision = _SOUNDING
            else:
                reset = not self._fresh and self._gated_run >= self._reset_after_windows
                zeroed = reset or self._fresh  # the state is the initial one: warm it up
                decision = GateDecision(
                    sounding=True,
                    infer=True,
                    replay=min(self._gated_run, p.warmup_windows if zeroed else p.preroll_windows),
                    reset=reset,
                )
            self._quiet_run = 0
            self._gated_run = 0
            self._fresh = False
            return decision
        self._quiet_run += 1
        if self._quiet_run <= p.trail_windows:
            return _TRAIL
        self._gated_run += 1
        return _GATED

    def _track_floor(self, dbfs: float) -> None:
        """Sliding minimum of the window levels (monotonic deque: O(1) per window)."""
        i = self._count
        self._count += 1
        levels = self._levels
        while levels and levels[-1][1] >= dbfs:
            levels.pop()
        levels.append((i, dbfs))
        if levels[0][0] <= i - self._floor_windows:
            levels.popleft()
        if self._count >= self._floor_after:
            self._noise_dbfs = levels[0][1] + self.params.floor_margin_db
