"""Every field that can carry what a person typed or said is PII level 3 (issue 11, item 5).

spec/config/pii.json defines level 3 as "free text a person said or typed, or that quotes them",
level 2 as names, level 1 as pseudonymous ids. How a field is known to be free text: **every
string field not constrained by ``enum``, ``const``, ``pattern`` or ``format`` is free text**, and
so is every map whose keys are data (``additionalProperties`` with a schema: the keys are free
strings), unless :data:`NOT_FREE_TEXT` below classifies it, with the reason. A new unconstrained
string field therefore fails this test until it is classified: fail closed. Each free-text field
must be listed in the topic's ``pii.fields`` with a topic level of 3; an id field level ≥ 1 and a
name field level ≥ 2, also listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.events import Redactor, SessionContext, create_runtime
from bot.generated.models import RoomVoteClosed, RoomVoteStarted

REGISTRY = json.loads((Path(__file__).resolve().parents[2] / "bot" / "generated" / "registry.json").read_text())

ID, NAME, SYSTEM = 1, 2, 0
NOT_FREE_TEXT: dict[str, tuple[int, str]] = {
    # pseudonymous ids (level 1): Daily session ids, never typed by a person
    "participantId": (ID, "Daily participant (session) id"),
    "senderId": (ID, "Daily participant (session) id"),
    "targetParticipantId": (ID, "Daily participant (session) id"),
    "speakerId": (ID, "Daily participant (session) id"),
    "overlapperId": (ID, "Daily participant (session) id"),
    "dominantParticipantId": (ID, "Daily participant (session) id"),
    # names (level 2): display names name a person; the definitions put them at 2, not 3
    "displayName": (NAME, "the name shown in the room"),
    # written by the operator or the bot, never by a participant (level 0)
    "roomId": (SYSTEM, "the room's name, from the room URL the operator gave"),
    "assistantId": (SYSTEM, "configuration"),
    "tenantId": (SYSTEM, "configuration"),
    "botVersion": (SYSTEM, "the package version"),
    "error": (SYSTEM, "the bot's own error line (errors never quote chat, transcripts or names)"),
    "rule": (SYSTEM, "a policy rule id, from the operator's policy layers"),
    "layers": (SYSTEM, "policy layer names, from the operator"),
    "detail": (SYSTEM, "a JSON pointer and a rule, built from safe segments only (bot/events/inbound.py)"),
    "topic": (SYSTEM, "a topic id, or omitted when it does not look like one"),
    "reason": (SYSTEM, "facilitator.message: the bot's reason code (the LLM's text is in text, level 3)"),
    "currentItem": (SYSTEM, "an agenda title, from the operator's policy or scenario"),
    "nextItem": (SYSTEM, "an agenda title, from the operator's policy or scenario"),
    "message": (SYSTEM, "room.wrapup.prompt: the bot's fixed wording and the time left"),
    "utteranceId": (SYSTEM, "an id the bot gives its own spoken utterance (bot/voice)"),
}


def fields(schema: dict[str, Any], path: str = "/payload") -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(pointer, field name, schema) of every property, array items as ``*``."""
    for name, node in (schema.get("properties") or {}).items():
        pointer = f"{path}/{name}"
        yield pointer, name, node
        yield from fields(node, pointer)
        items = node.get("items")
        if isinstance(items, dict):
            yield f"{pointer}/*", name, items
            yield from fields(items, f"{pointer}/*")


def is_free_text(node: dict[str, Any]) -> bool:
    types = node.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types:
        return not any(k in node for k in ("enum", "const", "pattern", "format"))
    return "object" in types and isinstance(node.get("additionalProperties"), dict)  # data in the keys


def classified() -> list[tuple[str, str, int, str]]:
    """(topic, pointer, required level, why) for every field that needs a PII level."""
    out = []
    for topic_id, topic in sorted(REGISTRY["topics"].items()):
        for pointer, name, node in fields(topic["schema"]):
            if not is_free_text(node) or (node.get("type") == "array"):
                continue
            level, why = NOT_FREE_TEXT.get(name, (3, "free text"))
            out.append((topic_id, pointer, level, why))
    return out


@pytest.mark.parametrize(
    ("topic_id", "pointer", "level", "why"), classified(), ids=[f"{c[0]}{c[1]}" for c in classified()]
)
def test_every_field_has_the_level_its_content_requires(topic_id: str, pointer: str, level: int, why: str) -> None:
    pii = REGISTRY["topics"][topic_id]["pii"]
    assert pii["level"] >= level, f"{topic_id} {pointer} ({why}) needs PII level {level}, the topic says {pii['level']}"
    if level > 0:
        parent = pointer.rsplit("/", 1)[0] if pointer.endswith("/*") else None
        assert pointer in pii["fields"] or parent in pii["fields"], (
            f"{topic_id}: {pointer} ({why}) is not in pii.fields"
        )


def test_the_rule_finds_the_vote_texts() -> None:
    found = {(t, p) for t, p, level, _ in classified() if level == 3}
    assert {
        ("room.vote.started", "/payload/question"),
        ("room.vote.started", "/payload/options/*"),
        ("room.vote.closed", "/payload/tally"),
        ("room.vote.closed", "/payload/winner"),
        ("room.vote.cast", "/payload/option"),
        ("facilitator.message", "/payload/text"),
    } <= found


def test_vote_texts_reach_eventbridge_only_hashed_and_still_join() -> None:
    bus = create_runtime(SessionContext(session_id="s-1", assistant_id="a", tenant_id="t", room_id="r")).bus
    registry = bus.registry
    redactor = Redactor(registry, salt="s")
    started = bus.publish(
        RoomVoteStarted(vote_id="v1", question="Fire Dana?", options=["yes", "no"], closes_at_ms=60_000)
    )
    closed = bus.publish(RoomVoteClosed(vote_id="v1", tally={"yes": 2, "no": 1}, total_votes=3, winner="yes"))
    out_started = redactor.apply(started, registry.topics["room.vote.started"], "eventbridge")
    out_closed = redactor.apply(closed, registry.topics["room.vote.closed"], "eventbridge")
    wire = json.dumps([out_started, out_closed])
    for text in ("Fire Dana", '"yes"', '"no"'):
        assert text not in wire
    yes = out_started["payload"]["options"][0]
    assert yes.startswith("h:") and out_closed["payload"]["winner"] == yes and out_closed["payload"]["tally"][yes] == 2
    assert out_started["pii"] == {
        "level": 3,
        "redacted": ["/payload/question", "/payload/options/0", "/payload/options/1"],
    }
    assert redactor.apply(started, registry.topics["room.vote.started"], "app_message") is started, "browsers see it"
