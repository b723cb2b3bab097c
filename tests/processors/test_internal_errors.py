"""No processor drops a frame because an event could not be built: the error is logged (one line,
never the exception's message, which may quote a participant's text) and counted, and the frame
goes on (issue 11, item 4)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest
from loguru import logger
from pipecat.frames.frames import Frame
from pydantic import BaseModel

from bot.analytics.dominance import MAX_LISTED, DominanceTracker
from bot.core.frames import ChatMessageFrame, EnvelopeFrame, MediaTickFrame, ParticipantJoinedFrame, SpeakingStateFrame
from bot.generated.models import RoomDominanceScore
from bot.processors import safety
from bot.processors.agenda import Agenda
from bot.processors.dominance import Dominance
from bot.processors.overlaps import Overlaps
from bot.processors.pacing import Pacing
from bot.processors.policy import PolicyEnforcer
from bot.processors.votes import Votes
from tests.pipeline_harness import run_pipeline


def run(processor: Any, frames: list[Frame]) -> list[Frame]:
    down, _ = run_pipeline(processor, frames_to_send=frames)
    return list(down)


def room_of(n: int, talkers: int = 40) -> DominanceTracker:
    tracker = DominanceTracker()
    for i in range(n):
        tracker.join(0, f"p-{uuid.UUID(int=i)}")
    for i in range(talkers):  # the later ones talk more
        pid = f"p-{uuid.UUID(int=n - 1 - i)}"
        tracker.speaking(1_000, pid, True)
        tracker.speaking(1_000 + 100 * (talkers - i), pid, False)
    return tracker


@pytest.mark.parametrize("n", [2, MAX_LISTED, MAX_LISTED + 1, 101, 1_000])
def test_the_dominance_score_scales_to_any_room(n: int) -> None:
    [score] = room_of(n, talkers=min(n, 40)).finish(60_000)
    listed = score.participants
    assert len(listed) == min(n, MAX_LISTED)
    total = sum(p.talk_time_ms for p in listed) + (score.others.talk_time_ms if score.others else 0)
    assert total == 100 * sum(range(1, min(n, 40) + 1))
    assert round(sum(p.share for p in listed) * 1e6) + round((score.others.share if score.others else 0) * 1e6) == 1e6
    if n <= MAX_LISTED:
        assert score.others is None
    else:
        assert score.others is not None and score.others.participants == n - MAX_LISTED
        top = sorted(listed, key=lambda p: -p.talk_time_ms)[0]
        assert top.participant_id == f"p-{uuid.UUID(int=n - 1)}", "the most talk time is listed"
        assert score.dominant_participant_id in (None, top.participant_id)
    wire = orjson.dumps(score.model_dump(mode="json", by_alias=True, exclude_none=True))
    assert len(wire) < 3_000, "with the envelope around it, it fits a 4 KB Daily app message"


def test_a_room_of_101_gets_dominance_scores_through_the_processor() -> None:
    frames: list[Frame] = [ParticipantJoinedFrame(participant_id=f"p-{i}", media_time_ms=0) for i in range(101)]
    frames += [SpeakingStateFrame(participant_id="p-7", speaking=True, media_time_ms=500)]
    frames += [MediaTickFrame(media_time_ms=t) for t in range(0, 31_000, 1_000)]
    out = run(Dominance(), frames)
    scores = [f.payload for f in out if isinstance(f, EnvelopeFrame) and isinstance(f.payload, RoomDominanceScore)]
    assert scores and scores[-1].trigger == "final"
    assert sum(isinstance(f, MediaTickFrame) for f in out) == 31


class _Broken(BaseModel):
    question: str


def explode(*_: Any, **__: Any) -> list[Any]:
    _Broken.model_validate({"question": 7_000_000, "secret": "my typed text"})
    return []


PROCESSORS = {
    "dominance": (lambda: Dominance(), "tracker", "tick"),
    "agenda": (lambda: Agenda(), "tracker", "tick"),
    "overlaps": (lambda: Overlaps(), "classifier", "tick"),
    "votes": (lambda: Votes(), "book", "tick"),
    "pacing": (lambda: Pacing(), "tracker", "speaking"),
}


@pytest.mark.parametrize("name", list(PROCESSORS))
def test_an_event_that_cannot_be_built_is_counted_and_the_frame_goes_on(name: str, monkeypatch: Any) -> None:
    make, attribute, method = PROCESSORS[name]
    processor = make()
    monkeypatch.setattr(getattr(processor, attribute), method, explode)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="ERROR", format="{message}")
    before = safety.internal_errors()
    try:
        frames: list[Frame] = [MediaTickFrame(media_time_ms=t) for t in (100, 200, 300)]
        frames.insert(1, SpeakingStateFrame(participant_id="p-1", speaking=True, media_time_ms=150))
        out = run(processor, frames)
    finally:
        logger.remove(sink)
    assert [type(f).__name__ for f in out if not isinstance(f, EnvelopeFrame)].count("MediaTickFrame") == 3
    assert any(isinstance(f, SpeakingStateFrame) for f in out), "the frame behind the error went on"
    assert safety.internal_errors() > before
    assert lines and all("\n" not in line.rstrip("\n") for line in lines)
    assert "ValidationError at " in lines[0] and (
        "question: int_type" in lines[0] or "question: string_type" in lines[0]
    )
    assert "my typed text" not in "".join(lines) and "7000000" not in "".join(lines)


def test_the_policy_enforcer_passes_a_chat_on_when_its_rule_breaks(monkeypatch: Any) -> None:
    from tests.policy.harness import policy_of

    enforcer = PolicyEnforcer(policy=policy_of())
    monkeypatch.setattr(enforcer.room, "chat", explode)
    chat = ChatMessageFrame(participant_id="p-1", text="hello", media_time_ms=0)
    out = run(enforcer, [chat])
    assert any(isinstance(f, ChatMessageFrame) for f in out)
