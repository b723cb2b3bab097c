"""The live view for the meeting host: fits the terminal, speaks plainly, never writes raw participant text."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest

from bot.cli.live_view import LiveView, balance_words
from bot.core.text import printable_line as printable
from bot.events import EventBus

STYLE = re.compile(r"\x1b\[[0-9;]*m")
POLICY_VERSION = "sha256:" + "0" * 64


def env(topic: str, payload: dict[str, Any], media_ms: int | None = None) -> dict[str, Any]:
    return {"topic": topic, "payload": payload, "meta": {} if media_ms is None else {"mediaTimeMs": media_ms}}


def joined(pid: str, name: str) -> dict[str, Any]:
    return env("room.participant.joined", {"participantId": pid, "displayName": name})


def score(shares: dict[str, float], gini: float, dominant: str | None = None, at: int = 10_000) -> dict[str, Any]:
    parts = [{"participantId": p, "share": s, "talkTimeMs": int(s * 10_000)} for p, s in shares.items()]
    payload = {
        "windowMs": at,
        "participants": parts,
        "gini": gini,
        "dominantParticipantId": dominant,
        "trigger": "change",
        "mediaTimeMs": at,
    }
    return env("room.dominance.score", payload, at)


def violation(pid: str, kind: str = "rate_limit", action: str = "block") -> dict[str, Any]:
    payload = {
        "policyVersion": POLICY_VERSION,
        "rule": "r1",
        "kind": kind,
        "participantId": pid,
        "action": action,
        "severity": "low",
    }
    return env("conversation.policy.violation", payload)


@pytest.fixture
def view(bus: EventBus) -> LiveView:
    return LiveView(bus, stream=io.StringIO(), scenario_name="standup", min_interval_s=0)


def visible(lines: list[str]) -> list[str]:
    return [STYLE.sub("", line) for line in lines]


def feed(view: LiveView, *envelopes: dict[str, Any]) -> None:
    for e in envelopes:
        view.on_envelope(e)


def test_a_small_terminal_keeps_the_header_and_every_line_fits(view: LiveView) -> None:
    names = ["Alice", "Bob", "Carol", "Dan", "Erin", "Frank", "Grace", "Hank", "Ivy", "Jon", "Kim", "Lea"]
    feed(view, *(joined(f"p-{n.lower()}", n) for n in names))
    feed(view, score({f"p-{n.lower()}": 1 / 12 for n in names}, 0.0))
    feed(view, *(violation("p-bob", kind) for kind in ("rate_limit", "content", "turn_limit") * 4))
    view.set_agenda([{"title": "Status", "timeboxMs": 60_000}])
    lines = visible(view.render(70, 16))
    assert len(lines) <= 15 and all(len(line) <= 69 for line in lines)
    assert lines[0].startswith("Prism Room Bot — standup")
    assert lines[1].strip().startswith("now: Status")
    assert any("… and" in line and "more" in line for line in lines), "people cut with a count, not dropped"
    assert any("policy:" in line for line in lines), "the latest events still get a few lines"
    big = visible(view.render(120, 40))
    assert all(f"  {n:<14}" in "\n".join(big) for n in names)


def test_the_panel_never_scrolls_even_in_a_tiny_terminal(view: LiveView) -> None:
    feed(view, *(joined(f"p{i}", f"Person {i}") for i in range(30)))
    for columns, rows in [(20, 3), (40, 6), (70, 16), (200, 60)]:
        lines = visible(view.render(columns, rows))
        assert 1 <= len(lines) <= rows - 1 and all(len(line) <= max(20, columns - 1) for line in lines)


def test_participant_text_cannot_drive_the_terminal(bus: EventBus) -> None:
    out = io.StringIO()
    view = LiveView(bus, stream=out, min_interval_s=0)
    evil = "Eve\x1b[2J\u202eexe"
    feed(
        view,
        joined("p-eve", evil),
        env(
            "room.vote.started",
            {"voteId": "v1", "question": "Ship?\x1b]52;c;cm0gLXJmIH4=\x07", "options": ["yes\x9b1m", "no"]},
        ),
        env("facilitator.message", {"text": "hi\x1b]0;t\x07", "audience": "room", "reason": "nudge"}),
        env("new.processor.topic", {"label": "x\x1b[31mred", "participantId": "p-eve"}),
    )
    view.close()
    written = STYLE.sub("", out.getvalue().replace("\x1b[J", ""))
    written = re.sub(r"\x1b\[\d+F", "", written)
    assert "\x1b" not in written and "\x07" not in written and "\u202e" not in written and "\x9b" not in written
    assert "Eve\\x1b[2J\\u202eexe" in written and "Ship?\\x1b]52;c;" in written, "shown escaped: the host sees it"


def test_printable_escapes_controls_bidi_and_line_breaks_but_keeps_ordinary_text() -> None:
    assert printable("Zoë 👩‍💻 Łukasz") == "Zoë 👩‍💻 Łukasz"
    assert printable("a\nb\tc\u2028d\u2066e") == "a\\x0ab\\x09c\\u2028d\\u2066e"
    assert printable("x" * 50, 10) == "x" * 9 + "…"


def test_repeated_policy_events_collapse_into_one_line_with_a_count(view: LiveView) -> None:
    feed(view, joined("p-bob", "Bob"), *(violation("p-bob") for _ in range(5)))
    text = "\n".join(visible(view.render(100, 24)))
    assert "policy: 5 messages from Bob refused: rate limit" in text
    assert text.count("policy:") == 1
    feed(view, violation("p-bob", "content", "redact"))
    assert "policy: Bob redacted: content" in "\n".join(visible(view.render(100, 24)))


def test_rejected_inbound_messages_collapse_per_sender_and_reason(view: LiveView) -> None:
    feed(view, joined("p-dan", "Dan"))
    feed(view, *(env("events.inbound.rejected", {"reason": "not_json", "senderId": "p-dan"}) for _ in range(3)))
    assert "3 messages from Dan refused: not json" in "\n".join(visible(view.render(100, 24)))


def test_balance_is_in_words_and_the_silent_are_named(view: LiveView) -> None:
    feed(view, joined("p-a", "Alice"), joined("p-b", "Bob"), joined("p-c", "Carol"))
    feed(view, score({"p-a": 0.7, "p-b": 0.3, "p-c": 0.0}, 0.38))
    text = "\n".join(visible(view.render(100, 24)))
    assert "Gini" not in text and "balance: uneven" in text
    assert "not spoken yet: Carol" in text
    feed(view, score({"p-a": 0.8, "p-b": 0.2, "p-c": 0.0}, 0.5, dominant="p-a"))
    assert "balance: Alice dominates" in "\n".join(visible(view.render(100, 24)))
    assert balance_words(0.05, None, 4) == "balance: even" and balance_words(None, None, 4) is None


def test_time_left_in_the_item_and_the_meeting(view: LiveView) -> None:
    view.set_agenda([{"title": "Status", "timeboxMs": 30_000}, {"title": "Risks", "timeboxMs": 20_000}])
    feed(
        view,
        env(
            "bot.health.heartbeat",
            {"uptimeMs": 1, "published": 1, "dropped": 0, "violations": 0, "bufferFillPercent": 0, "participants": 0},
            35_000,
        ),
    )
    status = visible(view.render(100, 24))[1]
    assert "now: Risks (0:15 left)" in status and "meeting: 0:15 left" in status
    feed(
        view,
        env(
            "bot.health.heartbeat",
            {"uptimeMs": 1, "published": 1, "dropped": 0, "violations": 0, "bufferFillPercent": 0, "participants": 0},
            62_000,
        ),
    )
    assert "agenda done" in visible(view.render(100, 24))[1] and "0:12 over time" in visible(view.render(100, 24))[1]


def test_pace_is_in_the_persons_row(view: LiveView) -> None:
    feed(view, joined("p-a", "Alice"))
    feed(
        view,
        env(
            "room.pacing.updated",
            {"participantId": "p-a", "wordsPerMinute": 212.4, "state": "fast", "turnCount": 3, "windowMs": 20_000},
        ),
    )
    (row,) = [line for line in visible(view.render(100, 24)) if line.startswith("  Alice")]
    assert "212 wpm fast" in row


def test_a_room_without_transcripts_says_no_words_instead_of_zero_wpm(view: LiveView) -> None:
    feed(view, joined("p-a", "Alice"))
    payload = {"participantId": "p-a", "wordsPerMinute": 0, "state": "no_words", "turnCount": 1, "windowMs": 4_000}
    feed(view, env("room.pacing.updated", payload))
    (row,) = [line for line in visible(view.render(100, 24)) if line.startswith("  Alice")]
    assert "no words" in row and "0 wpm" not in row


def test_facilitator_words_show_and_monologue_length_only_for_a_monologue(view: LiveView) -> None:
    feed(view, joined("p-a", "Alice"))
    feed(view, env("facilitator.message", {"text": "Let's hear from Bob.", "audience": "room", "reason": "nudge"}))
    feed(
        view,
        env("room.interrupt.request", {"targetParticipantId": "p-a", "reason": "monologue", "monologueMs": 45_000}),
    )
    feed(
        view, env("room.interrupt.request", {"targetParticipantId": "p-a", "reason": "dominance", "monologueMs": 3_000})
    )
    text = visible(view.render(120, 24))
    assert any("facilitator to room: Let's hear from Bob." in line for line in text)
    assert any("interrupt Alice: monologue after 45s" in line for line in text)
    (dominance,) = [line for line in text if "interrupt Alice: dominance" in line]
    assert "3s" not in dominance


def test_unknown_topics_appear_generically(view: LiveView) -> None:
    feed(view, joined("p-a", "Alice"))
    feed(view, env("facilitator.speech.started", {"utteranceId": "u1", "chars": 42}))
    feed(view, env("room.sentiment.shifted", {"participantId": "p-a", "mood": "tense"}))
    text = "\n".join(visible(view.render(120, 24)))
    assert "facilitator speech started chars 42" in text
    assert "sentiment shifted (Alice) mood tense" in text


def test_the_view_follows_a_real_bus(bus: EventBus) -> None:
    from bot.generated import RoomParticipantJoined

    out = io.StringIO()
    view = LiveView(bus, stream=out, min_interval_s=0, size=lambda: (70, 16))
    bus.publish(
        RoomParticipantJoined(participant_id="p-a", display_name="Alice", media_time_ms=1_000), media_time_ms=1_000
    )
    view.close()
    assert "+ Alice joined" in out.getvalue()
