"""Browser app messages for a simulated room, read from stdin (what the supervisor writes)."""

from __future__ import annotations

import os
import time

import pytest

from bot.rooms.stdin_messages import MAX_LINE_BYTES, MAX_PENDING, StdinMessages

pytestmark = pytest.mark.timeout(30)


def drained(inbound: StdinMessages, want: int, timeout: float = 5.0) -> list[tuple[str, object]]:
    got: list[tuple[str, object]] = []
    deadline = time.monotonic() + timeout
    while len(got) < want and time.monotonic() < deadline:
        got += inbound.drain()
        time.sleep(0.01)
    return got


def test_lines_from_a_pipe_become_sender_and_message_and_bad_lines_are_counted() -> None:
    read_fd, write_fd = os.pipe()
    inbound = StdinMessages(read_fd)
    inbound.start()
    vote = b'{"senderId": "p-viewer", "message": {"topic": "room.vote.cast", "payload": {"voteId": "vote-1", "option": "no"}}}'
    os.write(write_fd, vote + b"\n{not json\n" + b'{"message": {}}\n' + b'{"senderId": "p-x", "mess')
    os.write(write_fd, b'age": "raw text"}\n\n' + b"x" * (MAX_LINE_BYTES + 10) + b"\n")
    os.write(write_fd, b'{"senderId": "p-y", "message": 1}\n')
    got = drained(inbound, 3)
    assert got == [
        ("p-viewer", {"topic": "room.vote.cast", "payload": {"voteId": "vote-1", "option": "no"}}),
        ("p-x", "raw text"),  # the bot's inbound validator judges the message itself
        ("p-y", 1),
    ]
    assert inbound.dropped == {"malformed": 2, "too_large": 1}
    os.close(write_fd)
    os.close(read_fd)


def test_pending_messages_are_bounded() -> None:
    inbound = StdinMessages()
    for i in range(MAX_PENDING + 5):
        inbound.feed(f'{{"senderId": "p-{i}", "message": {{}}}}'.encode())
    assert len(inbound.drain()) == MAX_PENDING
    assert inbound.dropped["backlog_full"] == 5
    assert inbound.drain() == []
