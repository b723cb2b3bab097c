"""Lone surrogates and control characters in a simulated room (issue 11, item 11): made
well-formed at the edge, the same way everywhere, so every event is still built and logs never
print what was typed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from loguru import logger

from bot.core.text import clean, printable
from tests.policy.harness import payloads, play, policy_of

ODD_ID = "p-\ud800mallory"
ODD_NAME = "Mal\udfff\x1b]0;pwned\x07lory"
QUESTION = "Ship\ud800 it?"


def odd_room(tmp_path: Path) -> Path:
    room = {
        "name": "odd-text",
        "sampleRate": 16000,
        "durationMs": 40_000,
        "participants": [{"id": "p-alice", "name": "Alice"}, {"id": ODD_ID, "name": ODD_NAME}],
        "events": [
            {"atMs": 0, "type": "join", "participant": "p-alice"},
            {"atMs": 0, "type": "join", "participant": ODD_ID},
            {"atMs": 1_000, "type": "chat", "participant": ODD_ID, "text": f"/vote {QUESTION} | y\ud801es | no"},
            {"atMs": 2_000, "type": "chat", "participant": "p-alice", "text": "secret-typed-words \ud800"},
            {"atMs": 3_000, "type": "leave", "participant": ODD_ID},
        ],
    }
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(room))  # json escapes the lone surrogates as \ud800: what a browser can send
    return path


@pytest.mark.timeout(120)
def test_a_room_with_lone_surrogates_gets_every_event_consistently(tmp_path: Path) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG", format="{message}")
    try:
        envelopes = play(odd_room(tmp_path), policy_of())["envelopes"]
    finally:
        logger.remove(sink)
    odd_id = clean(ODD_ID)
    joined = {p["participantId"]: p for p in payloads(envelopes, "room.participant.joined")}
    assert odd_id in joined and odd_id == "p-\ufffdmallory"
    assert joined[odd_id]["displayName"] == "Mal\ufffd]0;pwnedlory", "no lone surrogate, no control characters"
    assert [p["participantId"] for p in payloads(envelopes, "room.participant.left")] == [odd_id]
    [started] = payloads(envelopes, "room.vote.started")
    [closed] = payloads(envelopes, "room.vote.closed")
    assert started["voteId"] == closed["voteId"] and started["question"] == "Ship\ufffd it?"
    assert set(closed["tally"]) == set(started["options"]) == {"y\ufffdes", "no"}
    for score in payloads(envelopes, "room.dominance.score"):
        assert {p["participantId"] for p in score["participants"]} <= {"p-alice", odd_id}
    assert not any("secret-typed-words" in line or "Ship" in line for line in lines), "logs never print chat text"


def test_a_vote_that_cannot_be_announced_is_never_opened() -> None:
    from bot.analytics.votes import VoteBook

    book = VoteBook()
    result = book.chat(1_000, "p-1", "/vote Ship\ud800 it? | yes | no")  # raw, as a caller without the edge
    assert result.error == "invalid_text" and result.events == ()
    assert book.tick(100_000) == [] and book.finish(100_000) == [], "nothing opened, so nothing closes"


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b]52;c;ZXZpbA==\x07", "\\x1b]52;c;ZXZpbA==\\x07"),
        ("\x1b]0;title\x07\x1b[2J", "\\x1b]0;title\\x07\\x1b[2J"),
        ("abc\u202etxt.exe", "abc\\u202etxt.exe"),
        ("a\ud800b", "a\\ud800b"),
        ("ok\r\nnext", "ok\\x0d\nnext"),
    ],
    ids=["osc52-clipboard", "osc0-title-and-clear", "bidi-override", "lone-surrogate", "carriage-return"],
)
def test_printable_escapes_what_a_terminal_would_obey(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_clean_is_deterministic_and_keeps_real_characters() -> None:
    assert clean("\ud83d\ude00 é\tx\n") == "😀 é\tx\n"
    assert clean(ODD_ID) == clean(ODD_ID) == "p-\ufffdmallory"
    assert clean("a\x00b\x7fc\x9bd") == "abcd"
