"""VoteBook: /vote and /endvote commands, casts, deadlines and tallies."""

from __future__ import annotations

import pytest

from bot.analytics.votes import VoteBook, VoteParams, parse_vote_command
from bot.generated.models import RoomVoteClosed, RoomVoteStarted

VOTE = "/vote Ship on Friday? | yes | no | later"


def open_vote(book: VoteBook, at: int = 1_000, text: str = VOTE, by: str = "p-alice") -> RoomVoteStarted:
    result = book.chat(at, by, text)
    assert result.error is None, result.error
    (started,) = result.events
    return started


def close(book: VoteBook, at: int = 5_000, by: str = "p-alice") -> RoomVoteClosed:
    (closed,) = book.chat(at, by, "/endvote").events
    return closed


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        (VOTE, ("vote", "Ship on Friday? | yes | no | later")),
        ("/VOTE  a | b | c ", ("vote", "a | b | c")),
        ("/endvote", ("endvote", None)),
        ("/vote", ("vote", None)),
        ("let's /vote on it", None),
        ("/voter a | b", None),
        ("hello", None),
    ],
    ids=["vote", "case-and-spaces", "endvote", "bare-vote", "not-at-start", "other-command", "chat"],
)
def test_parse_vote_command(text, parsed):
    assert parse_vote_command(text) == parsed


def test_vote_starts_from_a_chat_command():
    book = VoteBook()
    started = open_vote(book, at=46_321)
    assert started.vote_id == "vote-1"
    assert started.question == "Ship on Friday?"
    assert started.options == ["yes", "no", "later"]
    assert started.closes_at_ms == 46_321 + 30_000


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("/vote", "usage"),
        ("/vote Ship on Friday?", "usage"),
        ("/vote | yes | no", "usage"),
        ("/vote Ship? | yes", "too_few_options"),
        ("/vote Ship? | " + " | ".join(str(i) for i in range(11)), "too_many_options"),
        ("/vote Ship? | yes | | no", "empty_option"),
        ("/vote Ship? | yes | Yes", "duplicate_option"),
        ("/vote " + "q" * 301 + " | yes | no", "question_too_long"),
        ("/vote Ship? | yes | " + "n" * 101, "option_too_long"),
    ],
    ids=[
        "bare",
        "no-options",
        "no-question",
        "one-option",
        "eleven-options",
        "empty-option",
        "duplicate",
        "long-question",
        "long-option",
    ],
)
def test_bad_command_opens_no_vote(text, reason):
    book = VoteBook()
    result = book.chat(1_000, "p-alice", text)
    assert (result.events, result.error, result.is_command) == ((), reason, True)
    assert book.open_vote is None
    assert book.ignored[reason] == 1


def test_ordinary_chat_is_not_a_command():
    result = VoteBook().chat(1_000, "p-bob", "link to the rollback plan?")
    assert (result.events, result.error, result.is_command) == ((), None, False)


def test_ten_options_are_allowed():
    started = open_vote(VoteBook(), text="/vote Pick | " + " | ".join(f"o{i}" for i in range(10)))
    assert len(started.options) == 10


def test_vote_last_cast_wins():
    book = VoteBook()
    open_vote(book)
    assert book.cast(2_000, "p-bob", "vote-1", "yes") is None
    assert book.cast(3_000, "p-bob", "vote-1", "later") is None
    closed = close(book)
    assert closed.tally == {"yes": 0, "no": 0, "later": 1}
    assert (closed.total_votes, closed.winner) == (1, "later")


def test_one_vote_per_participant():
    book = VoteBook()
    open_vote(book)
    for voter, option in [("p-bob", "yes"), ("p-carol", "later"), ("p-dan", "yes"), ("p-bob", "yes")]:
        book.cast(2_000, voter, "vote-1", option)
    closed = close(book)
    assert closed.tally == {"yes": 2, "no": 0, "later": 1}
    assert (closed.total_votes, closed.winner) == (3, "yes")


@pytest.mark.parametrize(
    ("casts", "winner"),
    [([], None), ([("b", "yes"), ("c", "no")], None), ([("b", "yes"), ("c", "no"), ("d", "no")], "no")],
    ids=["no-votes", "tie", "majority"],
)
def test_winner_is_none_on_a_tie_or_no_votes(casts, winner):
    book = VoteBook()
    open_vote(book)
    for voter, option in casts:
        book.cast(2_000, voter, "vote-1", option)
    assert close(book).winner == winner


@pytest.mark.parametrize(
    ("vote_id", "option", "reason"),
    [("vote-7", "yes", "unknown_vote"), ("vote-1", "maybe", "unknown_option"), ("vote-1", 3, "unknown_option")],
    ids=["unknown-vote", "unknown-option", "not-a-string"],
)
def test_bad_cast_is_ignored_with_a_reason(vote_id, option, reason):
    book = VoteBook()
    open_vote(book)
    assert book.cast(2_000, "p-bob", vote_id, option) == reason
    assert book.ignored[reason] == 1
    assert close(book).total_votes == 0


def test_cast_after_close_is_ignored():
    book = VoteBook()
    open_vote(book)
    close(book)
    assert book.cast(6_000, "p-bob", "vote-1", "yes") == "closed"


def test_option_matching_forgives_case_and_spaces():
    book = VoteBook()
    open_vote(book)
    assert book.cast(2_000, "p-bob", "vote-1", " YES ") is None
    assert close(book).tally["yes"] == 1


def test_vote_closes_by_itself_after_its_duration():
    book = VoteBook(VoteParams(duration_ms=10_000))
    open_vote(book, at=1_000)
    book.cast(2_000, "p-bob", "vote-1", "no")
    assert book.tick(10_900) == []
    (closed,) = book.tick(11_000)
    assert (closed.vote_id, closed.winner) == ("vote-1", "no")
    assert book.tick(12_000) == []


def test_only_one_vote_is_open_at_a_time():
    book = VoteBook()
    open_vote(book)
    refused = book.chat(2_000, "p-alice", "/vote Another? | a | b")
    assert (refused.events, refused.error) == ((), "vote_open")
    close(book)
    assert open_vote(book, at=6_000, text="/vote Another? | a | b").vote_id == "vote-2"


def test_endvote_without_an_open_vote_is_refused():
    assert VoteBook().chat(1_000, "p-alice", "/endvote").error == "no_open_vote"


def test_hosts_start_votes_and_the_starter_may_end_it():
    book = VoteBook(VoteParams(host_ids=frozenset({"p-alice", "p-host"})))
    assert book.chat(1_000, "p-bob", VOTE).error == "not_host"
    open_vote(book, by="p-alice")
    assert book.chat(2_000, "p-bob", "/endvote").error == "not_host"
    assert close(book, by="p-alice").vote_id == "vote-1"


def test_a_cast_that_overtakes_its_vote_is_held_and_counted():
    # Chat is a DataFrame, casts are SystemFrames: a cast can reach Votes before the /vote.
    book = VoteBook()
    assert book.cast(47_521, "p-bob", "vote-1", "yes") == "held"
    assert book.cast(40_000, "p-carol", "vote-1", "no") == "held"  # sent before the vote existed
    open_vote(book, at=46_321)
    closed = close(book, at=54_237)
    assert closed.tally == {"yes": 1, "no": 0, "later": 0}
    assert book.ignored["unknown_vote"] == 1


def test_held_casts_expire():
    book = VoteBook()
    book.cast(1_000, "p-bob", "vote-1", "yes")
    book.tick(7_000)
    open_vote(book, at=7_000)
    assert close(book, at=8_000).total_votes == 0


def test_session_end_closes_the_open_vote():
    book = VoteBook()
    open_vote(book)
    book.cast(2_000, "p-bob", "vote-1", "yes")
    (closed,) = book.finish(3_000)
    assert closed.tally["yes"] == 1
    assert book.finish(4_000) == []
    assert book.chat(5_000, "p-alice", VOTE).error == "session_ended"
