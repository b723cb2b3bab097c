"""Crowd votes: ``/vote`` and ``/endvote`` chat commands, browser casts, tallies. On media time.

``VoteBook`` opens a vote from a host's chat command, counts casts (one per participant, the last
one wins) and closes it after ``duration_ms``, on ``/endvote`` or at session end, returning
``RoomVoteStarted`` / ``RoomVoteClosed``. Every refusal comes back as a short reason for the
caller to log and count. No asyncio, no Pipecat.

Command syntax (Daily Prebuilt chat)::

    /vote Ship on Friday? | yes | no | later      2-10 options, separated by "|"
    /endvote                                      close the open vote now

One vote is open at a time: a ``/vote`` while one is open is refused (``vote_open``) rather than
closing the running one, so nobody's half-collected vote disappears by accident; the host sends
``/endvote`` first.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from pydantic import ValidationError

from bot.generated import RoomVoteClosed, RoomVoteStarted

__all__ = ["Vote", "VoteBook", "VoteParams", "VoteResult", "parse_vote_command"]

MAX_QUESTION = 300
MAX_OPTION = 100
"""Schema limits of ``question`` and each option."""

_COMMAND = re.compile(r"^/(vote|endvote)(?:\s+(.*))?$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class VoteParams:
    """Vote rules.

    Parameters:
        duration_ms: a vote closes by itself this long after it opens (30 s of media: long
            enough to read a short question and click, short enough to keep a meeting moving).
        min_options, max_options: 2-10 options (the ``room.vote.started`` schema's limits).
        host_ids: Daily participant ids allowed to start votes (and end anyone's). None = every
            participant counts as a host (the simulated room and Prebuilt chat carry no roles);
            the lead passes the owners from the room context when it has them. Whoever started a
            vote may always end it.
        early_cast_hold_ms: a cast for the vote about to be opened (``vote-N+1``) is held this
            long in case the ``/vote`` chat is still in the pipeline: chat is a data frame and a
            browser's cast a system frame, so a cast sent right after the vote appeared can
            overtake the command that opened it. Applied if its media time is not before the
            vote's start; dropped otherwise.
    """

    duration_ms: int = 30_000
    min_options: int = 2
    max_options: int = 10
    host_ids: frozenset[str] | None = None
    early_cast_hold_ms: int = 5_000

    def __post_init__(self) -> None:
        if self.duration_ms <= 0 or self.early_cast_hold_ms < 0:
            raise ValueError("VoteParams: duration_ms must be > 0 and early_cast_hold_ms >= 0")
        if not 2 <= self.min_options <= self.max_options <= 10:
            raise ValueError("VoteParams: need 2 <= min_options <= max_options <= 10")


@dataclass(frozen=True)
class VoteResult:
    """What a command or cast did.

    Parameters:
        events: payloads to publish (``RoomVoteStarted``/``RoomVoteClosed``), in order.
        error: why the command or cast was refused or ignored, None when it was accepted.
        is_command: the chat text was a vote command (False for ordinary chat).
    """

    events: tuple[RoomVoteStarted | RoomVoteClosed, ...] = ()
    error: str | None = None
    is_command: bool = False


@dataclass
class Vote:
    """One vote: question, options and the ballots (participant id -> option)."""

    vote_id: str
    question: str
    options: tuple[str, ...]
    opened_at_ms: int
    closes_at_ms: int
    started_by: str
    ballots: dict[str, str] = field(default_factory=dict)
    closed: bool = False

    def option(self, choice: str) -> str | None:
        """The option ``choice`` names: exact, else case-insensitive and trimmed; None if none."""
        if not isinstance(choice, str):
            return None
        if choice in self.options:
            return choice
        folded = choice.strip().casefold()
        return next((o for o in self.options if o.casefold() == folded), None)

    def tally(self) -> dict[str, int]:
        """Votes per option, every option listed, in display order."""
        counts = Counter(self.ballots.values())
        return {option: counts.get(option, 0) for option in self.options}


def parse_vote_command(text: str) -> tuple[str, str | None] | None:
    """``("vote", args)`` / ``("endvote", args)`` for a command, None for ordinary chat."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    return match.group(1).lower(), (match.group(2) or "").strip() or None


class VoteBook:
    """The session's votes: at most one open, ids ``vote-1``, ``vote-2``, ... in order.

    Example::

        book = VoteBook()
        started = book.chat(1000, "p-alice", "/vote Ship on Friday? | yes | no").events
        book.cast(2000, "p-bob", "vote-1", "yes")
        closed = book.tick(31_000)    # [RoomVoteClosed(vote_id="vote-1", tally={"yes": 1, "no": 0}, ...)]
    """

    def __init__(self, params: VoteParams | None = None) -> None:
        """Create an empty book.

        Args:
            params: rules; ``VoteParams()`` by default.
        """
        self.params = params or VoteParams()
        self.votes: dict[str, Vote] = {}
        self.ignored: Counter[str] = Counter()  # reasons casts and commands were refused
        self._open: Vote | None = None
        self._next_number = 1
        self._held: dict[str, tuple[int, str]] = {}  # early casts: sender -> (media time, option)
        self._finished = False

    @property
    def open_vote(self) -> Vote | None:
        """The vote collecting casts now, if any."""
        return self._open

    # -- chat commands --------------------------------------------------------------------

    def chat(self, media_time_ms: int, participant_id: str, text: str) -> VoteResult:
        """A chat message: run it if it is ``/vote`` or ``/endvote``, else ignore it."""
        parsed = parse_vote_command(text)
        if parsed is None:
            return VoteResult()
        name, args = parsed
        events: list[RoomVoteStarted | RoomVoteClosed] = list(
            self.tick(media_time_ms)
        )  # a vote past its deadline closes first
        if self._finished:
            return self._refuse("session_ended", events)
        if name == "endvote":
            return self._end(media_time_ms, participant_id, events)
        return self._start(media_time_ms, participant_id, args, events)

    def _start(
        self, now: int, participant_id: str, args: str | None, events: list[RoomVoteStarted | RoomVoteClosed]
    ) -> VoteResult:
        p = self.params
        if p.host_ids is not None and participant_id not in p.host_ids:
            return self._refuse("not_host", events)
        if self._open is not None:
            return self._refuse("vote_open", events)
        if not args or "|" not in args:
            return self._refuse("usage", events)
        question, *options = (part.strip() for part in args.split("|"))
        if not question:
            return self._refuse("usage", events)
        if len(question) > MAX_QUESTION:
            return self._refuse("question_too_long", events)
        if any(not option for option in options):
            return self._refuse("empty_option", events)
        if len(options) < p.min_options:
            return self._refuse("too_few_options", events)
        if len(options) > p.max_options:
            return self._refuse("too_many_options", events)
        if any(len(option) > MAX_OPTION for option in options):
            return self._refuse("option_too_long", events)
        if len({option.casefold() for option in options}) != len(options):
            return self._refuse("duplicate_option", events)

        vote = Vote(
            vote_id=f"vote-{self._next_number}",
            question=question,
            options=tuple(options),
            opened_at_ms=now,
            closes_at_ms=now + p.duration_ms,
            started_by=participant_id,
        )
        try:  # the event first: a vote that cannot be announced is never opened (nor closed later)
            started = RoomVoteStarted(
                vote_id=vote.vote_id,
                question=vote.question,
                options=list(vote.options),
                closes_at_ms=vote.closes_at_ms,
            )
        except ValidationError:
            return self._refuse("invalid_text", events)
        self._next_number += 1
        self.votes[vote.vote_id] = vote
        self._open = vote
        events.append(started)
        self._apply_held(vote)
        return VoteResult(events=tuple(events), is_command=True)

    def _end(self, now: int, participant_id: str, events: list[RoomVoteStarted | RoomVoteClosed]) -> VoteResult:
        vote = self._open
        if vote is None:
            return self._refuse("no_open_vote", events)
        hosts = self.params.host_ids
        if hosts is not None and participant_id not in hosts and participant_id != vote.started_by:
            return self._refuse("not_host", events)
        events.append(self._close(vote))
        return VoteResult(events=tuple(events), is_command=True)

    def _refuse(self, reason: str, events: list[RoomVoteStarted | RoomVoteClosed]) -> VoteResult:
        self.ignored[reason] += 1
        return VoteResult(events=tuple(events), error=reason, is_command=True)

    # -- casts ----------------------------------------------------------------------------

    def cast(self, media_time_ms: int, participant_id: str, vote_id: str, option: str) -> str | None:
        """A validated ``room.vote.cast`` from ``participant_id`` (Daily's sender id).

        Returns None when the ballot counts (replacing the participant's earlier one), ``"held"``
        when it waits for its vote to open, or why it was ignored: ``unknown_vote``, ``closed``,
        ``unknown_option``, ``no_sender``.
        """
        reason = self._cast(media_time_ms, participant_id, vote_id, option)
        if reason is not None and reason != "held":
            self.ignored[reason] += 1
        return reason

    def _cast(self, now: int, participant_id: str, vote_id: str, option: str) -> str | None:
        if not participant_id:
            return "no_sender"
        vote = self.votes.get(vote_id)
        if vote is None:
            upcoming = vote_id == f"vote-{self._next_number}" and not self._finished
            if upcoming and self.params.early_cast_hold_ms:
                self._held[participant_id] = (now, option)
                return "held"
            return "unknown_vote"
        if vote.closed:
            return "closed"
        choice = vote.option(option)
        if choice is None:
            return "unknown_option"
        vote.ballots[participant_id] = choice
        return None

    def _apply_held(self, vote: Vote) -> None:
        held, self._held = self._held, {}
        for sender, (at, option) in held.items():
            if at < vote.opened_at_ms:
                self.ignored["unknown_vote"] += 1
                continue
            choice = vote.option(option)
            if choice is None:
                self.ignored["unknown_option"] += 1
            else:
                vote.ballots[sender] = choice

    # -- time -----------------------------------------------------------------------------

    def tick(self, media_time_ms: int) -> list[RoomVoteClosed]:
        """The media clock advanced: close the open vote at its deadline; expire held casts."""
        if self._held:
            horizon = media_time_ms - self.params.early_cast_hold_ms
            for sender in [s for s, (at, _) in self._held.items() if at < horizon]:
                del self._held[sender]
                self.ignored["unknown_vote"] += 1
        vote = self._open
        if vote is not None and media_time_ms >= vote.closes_at_ms:
            return [self._close(vote)]
        return []

    def finish(self, media_time_ms: int) -> list[RoomVoteClosed]:
        """Session end: close the open vote with the ballots it has."""
        out = self.tick(media_time_ms)
        if self._open is not None:
            out.append(self._close(self._open))
        self._finished = True
        self.ignored["unknown_vote"] += len(self._held)
        self._held.clear()
        return out

    def _close(self, vote: Vote) -> RoomVoteClosed:
        vote.closed = True
        self._open = None
        tally = vote.tally()
        best = max(tally.values(), default=0)
        leaders = [option for option, count in tally.items() if count == best]
        return RoomVoteClosed(
            vote_id=vote.vote_id,
            tally=tally,
            total_votes=sum(tally.values()),
            winner=leaders[0] if best > 0 and len(leaders) == 1 else None,
        )
