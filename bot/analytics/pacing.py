"""Speaking rate (words per minute of speaking time) and turn counts per participant.

``PacingTracker`` takes speaking segments and transcripts and returns ``RoomPacingUpdated`` when a
transcript arrives and enough speech exists to measure. No asyncio, no Pipecat.

**Rate.** Each transcript closes a *block* of its participant's speech: the words it carries and
the media-time span since that participant's previous transcript. The rate is words ÷ speaking time
(the VAD segments intersected with the blocks), over the participant's newest blocks until they
hold ``window_speaking_ms`` of speaking time (the whole session while it holds less). Speaking time
excludes pauses, so this is the *articulation rate*: it runs well above a rate over session time
(FACILITATION_METRICS §2, "Watch out"). Segments are re-read each time, so a stop that arrives
after its transcript (the VAD decides a stop ~250 ms after the speech ends; the room sends the
transcript at the utterance end) corrects the next update.

**Turns.** An *utterance* is a speaking segment, except a backchannel: a segment at most
``backchannel.max_ms`` (+ ``backchannel.jitter_ms``, the rule the overlap classifier uses) long
during which one other participant spoke all along (at its onset and at its end: the floor never
passed, Schegloff's continuers).
Utterances are ordered by onset; a *turn* is a maximal run of consecutive utterances by one
participant (FACILITATION_METRICS §2, turn-taking index). A participant's turn count is the number
of such runs that are theirs; a segment still open counts provisionally (so the transcript of a
participant's first utterance reports one turn, not zero).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from bot.analytics.segments import BackchannelRule, SegmentLog
from bot.generated import RoomPacingUpdated

__all__ = ["PacingParams", "PacingState", "PacingTracker", "count_words", "pacing_state"]

MAX_WPM = 1000.0
"""Schema maximum of ``wordsPerMinute``; a transcript with no measured speech would exceed it."""

MAX_SEGMENTS = 4_000
"""Segments kept per participant when no transcript arrives to trim them (hours of speech)."""


def count_words(text: str) -> int:
    """Words in a transcript: whitespace-separated tokens with at least one letter or digit."""
    return sum(1 for token in text.split() if any(ch.isalnum() for ch in token))


PacingState = Literal["slow", "normal", "fast", "no_words"]
"""The bands of ``room.pacing.updated``'s ``state``, and ``no_words`` (speech, no transcript)."""


@dataclass(frozen=True)
class PacingParams:
    """Rate window, bands and the minimum evidence for an update.

    Parameters:
        window_speaking_ms: the rate covers the newest transcripts holding this much of the
            participant's speaking time (60 s, about 150 words at a conversational 120-150 wpm):
            steady enough to ignore one hurried sentence, recent enough to follow a change.
        slow_below_wpm, fast_above_wpm: the bands, in words per minute of *speaking* time. People
            converse at 120-150 wpm measured over the session, and Gong's sales calls run ~173
            (FACILITATION_METRICS §2), but those figures include the pauses inside a turn. Our rate
            divides by voiced time only (close to articulation rate), which runs roughly 20-30 %
            higher for the same speaker, so the session-rate band 100-160 maps to 120-200 here:
            under 120 a room hears someone dragging, over 200 is fast even for speech (espeak-ng
            at ``-s 175`` measures ~217 wpm this way; at ``-s 120``, ~149).
        hysteresis_wpm: a participant leaves ``fast`` only below ``fast_above - 10`` and leaves
            ``slow`` only above ``slow_below + 10``, so a rate hovering at a band edge does not
            flip the state on every sentence.
        min_speaking_ms, min_words: no update until the window holds this much speaking time
            and this many words. A single "yeah" (one word in 300 ms) would read as 200 wpm; 3 s
            and 5 words is one real sentence.
        backchannel: a segment at most this long (1000 ms plus 250 ms of VAD measurement slack,
            :class:`BackchannelRule`) said while one other participant speaks throughout is a
            backchannel, not a turn; the same rule as ``OverlapParams.backchannel``.
        compact_after: utterances kept individually for turn counting; older ones are folded into
            counters (they can no longer be reordered by a late stop).
    """

    window_speaking_ms: int = 60_000
    slow_below_wpm: float = 120.0
    fast_above_wpm: float = 200.0
    hysteresis_wpm: float = 10.0
    min_speaking_ms: int = 3_000
    min_words: int = 5
    backchannel: BackchannelRule = BackchannelRule()
    compact_after: int = 2_000

    def __post_init__(self) -> None:
        if not 0 < self.slow_below_wpm < self.fast_above_wpm:
            raise ValueError("PacingParams: need 0 < slow_below_wpm < fast_above_wpm")
        if self.hysteresis_wpm < 0 or self.window_speaking_ms <= 0 or self.compact_after < 2:
            raise ValueError("PacingParams: hysteresis_wpm >= 0, window_speaking_ms > 0, compact_after >= 2")
        if self.min_speaking_ms <= 0 or self.min_words < 1:  # a rate over no speaking time is no rate
            raise ValueError("PacingParams: min_speaking_ms > 0, min_words >= 1")


def pacing_state(previous: PacingState | None, wpm: float, params: PacingParams) -> PacingState:
    """The band for ``wpm`` given the previous state (hysteresis at both band edges)."""
    h = params.hysteresis_wpm
    if previous == "fast" and wpm >= params.fast_above_wpm - h:
        return "fast"
    if previous == "slow" and wpm <= params.slow_below_wpm + h:
        return "slow"
    if wpm > params.fast_above_wpm:
        return "fast"
    if wpm < params.slow_below_wpm:
        return "slow"
    return "normal"


@dataclass
class _Block:
    start: int | None  # None = from the beginning of the session
    end: int
    words: int


@dataclass
class _Person:
    log: SegmentLog = field(default_factory=SegmentLog)
    blocks: list[_Block] = field(default_factory=list)
    state: PacingState | None = None
    no_words_told: bool = False


class PacingTracker:
    """Words per minute and turn counts per participant.

    Example::

        pt = PacingTracker()
        pt.speaking(0, "p-bob", True); pt.speaking(4000, "p-bob", False)
        updates = pt.transcript(4000, "p-bob", "The build is green and the tests pass.")
    """

    def __init__(self, params: PacingParams | None = None) -> None:
        """Create a tracker with no speech yet.

        Args:
            params: window, bands and thresholds; ``PacingParams()`` by default.
        """
        self.params = params or PacingParams()
        self.transcribed = True
        """Whether the room delivers transcripts. When it does not (an audio-only recording, a Daily
        room without transcription or whose token may not start it), each participant gets one
        ``no_words`` update once they have spoken ``min_speaking_ms``: pacing says it cannot
        measure instead of staying silent. A room-level fact, not a guess from missing
        transcripts: a long utterance's transcript legitimately comes only at its end."""
        self._people: dict[str, _Person] = {}
        self._utterances: list[tuple[int, str]] = []  # (onset, participant), sorted
        self._base_turns: Counter[str] = Counter()  # turns folded out of _utterances
        self._base_utterances = 0
        self._base_last: str | None = None

    # -- observations ---------------------------------------------------------------------

    def speaking(
        self, media_time_ms: int, participant_id: str, speaking: bool, duration_ms: int = 0
    ) -> list[RoomPacingUpdated]:
        """A participant started (``media_time_ms`` = onset) or stopped (= end) speaking.

        Returns the participant's one ``no_words`` update when the room is not transcribed and
        this stop takes them past ``min_speaking_ms`` of speech; otherwise nothing."""
        if not participant_id:
            return []
        person = self._people.setdefault(participant_id, _Person())
        if speaking:
            if person.log.start(media_time_ms) is not None and len(person.log.segments) > MAX_SEGMENTS:
                person.log.drop_oldest(MAX_SEGMENTS // 2)  # nobody's transcripts prune them (no STT)
            return []
        closed = person.log.stop(media_time_ms, duration_ms)  # duration: we joined mid-segment
        if closed is None or closed.end is None:  # a closed segment always has its end
            return []
        onset, end = int(closed.start), int(closed.end)
        if not self._is_backchannel(participant_id, onset, end):
            bisect.insort(self._utterances, (onset, participant_id))
            if len(self._utterances) > self.params.compact_after:
                self._compact()
        return self._no_words(participant_id, person, end)

    def _no_words(self, participant_id: str, person: _Person, end: int) -> list[RoomPacingUpdated]:
        if self.transcribed or person.blocks or person.no_words_told:
            return []
        spoken_ms = person.log.speaking_ms_in(None, end)
        if spoken_ms < self.params.min_speaking_ms:
            return []
        person.no_words_told = True
        return [
            RoomPacingUpdated(
                participant_id=participant_id,
                words_per_minute=0.0,
                state="no_words",
                turn_count=self.turn_counts(provisional_at=end).get(participant_id, 0),
                window_ms=spoken_ms,
                word_count=0,
                media_time_ms=max(0, end),
            )
        ]

    def leave(self, media_time_ms: int, participant_id: str) -> None:
        """A participant left: their open segment ends now."""
        person = self._people.get(participant_id)
        if person and person.log.speaking:
            self.speaking(media_time_ms, participant_id, False)

    def transcript(self, media_time_ms: int, participant_id: str, text: str) -> list[RoomPacingUpdated]:
        """A final transcript of ``participant_id`` ending at ``media_time_ms``: update their pace."""
        words = count_words(text)
        if not participant_id or words == 0:
            return []
        person = self._people.setdefault(participant_id, _Person())
        previous_end = person.blocks[-1].end if person.blocks else None
        end = media_time_ms if previous_end is None else max(media_time_ms, previous_end)
        person.blocks.append(_Block(start=previous_end, end=end, words=words))

        speaking_ms, word_count = self._window(person)
        p = self.params
        if speaking_ms < p.min_speaking_ms or word_count < p.min_words:
            return []
        wpm = min(MAX_WPM, word_count * 60_000 / speaking_ms)
        person.state = pacing_state(person.state, wpm, p)
        return [
            RoomPacingUpdated(
                participant_id=participant_id,
                words_per_minute=round(wpm, 1),
                state=person.state,
                turn_count=self.turn_counts(provisional_at=end).get(participant_id, 0),
                window_ms=speaking_ms,
                word_count=word_count,
                media_time_ms=max(0, end),
            )
        ]

    # -- turns ----------------------------------------------------------------------------

    def turn_counts(self, provisional_at: int | None = None) -> dict[str, int]:
        """Turns per participant; open segments count when ``provisional_at`` is given."""
        turns, _, _ = self._turns(provisional_at)
        return dict(turns)

    def turn_taking_index(self) -> float | None:
        """(turns - 1) / (utterances - 1) for the room: 0 = one monologue, 1 = strict alternation.

        None until there are two utterances (Almaatouq et al. 2023, FACILITATION_METRICS §2).
        """
        turns, utterances, _ = self._turns(None)
        if utterances < 2:
            return None
        return round((sum(turns.values()) - 1) / (utterances - 1), 6)

    def _turns(self, provisional_at: int | None) -> tuple[Counter[str], int, str | None]:
        sequence = self._utterances
        if provisional_at is not None:
            extra = [
                (int(p.log.segments[-1].start), pid)
                for pid, p in self._people.items()
                if p.log.speaking and self._counts_provisionally(pid, provisional_at)
            ]
            if extra:
                sequence = sorted([*sequence, *extra])
        turns = Counter(self._base_turns)
        last = self._base_last
        for _, pid in sequence:
            if pid != last:
                turns[pid] += 1
                last = pid
        return turns, self._base_utterances + len(sequence), last

    def _counts_provisionally(self, participant_id: str, at: int) -> bool:
        onset = int(self._people[participant_id].log.segments[-1].start)
        return not self._is_backchannel(participant_id, onset, at)

    def _is_backchannel(self, participant_id: str, onset: int, end: int) -> bool:
        """Short, and one other participant spoke all along (at its onset and at its end)."""
        if not self.params.backchannel.fits(end - onset):
            return False
        return bool(self._others_speaking(participant_id, onset) & self._others_speaking(participant_id, end))

    def _others_speaking(self, participant_id: str, at: int) -> set[str]:
        """Participants other than ``participant_id`` whose segment covers ``at``."""
        return {pid for pid, person in self._people.items() if pid != participant_id and person.log.covers(at)}

    def _compact(self) -> None:
        """Fold the oldest half of the utterances into counters."""
        keep = self.params.compact_after // 2
        fold, self._utterances = self._utterances[:-keep], self._utterances[-keep:]
        for _, pid in fold:
            if pid != self._base_last:
                self._base_turns[pid] += 1
                self._base_last = pid
        self._base_utterances += len(fold)

    # -- rate -----------------------------------------------------------------------------

    def _window(self, person: _Person) -> tuple[int, int]:
        """Speaking time and words of the newest blocks up to the window; forgets older ones."""
        speaking = words = 0
        used = 0
        for block in reversed(person.blocks):
            speaking += person.log.speaking_ms_in(block.start, block.end)
            words += block.words
            used += 1
            if speaking >= self.params.window_speaking_ms:
                break
        if used < len(person.blocks):
            del person.blocks[: len(person.blocks) - used]
        oldest = person.blocks[0].start
        if oldest is not None:
            # Segments that ended before the oldest block started can no longer count.
            person.log.drop_ended_by(oldest)
        return speaking, words
