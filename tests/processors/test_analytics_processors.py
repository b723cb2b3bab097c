"""Wiring of the analytics processors: frames in, EnvelopeFrames out, everything else forwarded.

The logic is tested in tests/analytics; these tests only check that each processor feeds its
analytic the right frames and pushes what it returns. No audio, no Silero.
"""

from __future__ import annotations

from collections import Counter

import pytest
from pipecat.frames.frames import Frame, InputTransportMessageFrame, TextFrame, TranscriptionFrame
from pipecat.transports.daily.transport import DailyInputTransportMessageFrame

from bot.analytics.agenda import AgendaItem
from bot.analytics.dominance import DominanceParams
from bot.analytics.votes import VoteParams
from bot.core.frames import (
    ChatMessageFrame,
    EnvelopeFrame,
    InboundEnvelopeFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    RoomEndedFrame,
    SpeakingStateFrame,
)
from bot.core.media import stamp
from bot.generated.models import (
    RoomDominanceScore,
    RoomOverlapDetected,
    RoomPacingUpdated,
    RoomParticipantLeft,
    RoomTopicShiftSuggested,
    RoomVoteCast,
    RoomVoteClosed,
    RoomVoteStarted,
    RoomWrapupPrompt,
)
from bot.generated.topics import Topic
from bot.processors.agenda import Agenda
from bot.processors.chat import ChatRouter
from bot.processors.dominance import Dominance
from bot.processors.overlaps import Overlaps
from bot.processors.pacing import Pacing
from bot.processors.votes import Votes
from tests.pipeline_harness import SleepFrame, run_pipeline


def run(processor, frames: list[Frame]) -> list[Frame]:
    """Frames that came out downstream (StartFrame and the final EndFrame left out)."""
    down, up = run_pipeline(processor, frames_to_send=frames)
    assert list(up) == []
    return list(down)


def payloads(frames: list[Frame]) -> list:
    return [f.payload for f in frames if isinstance(f, EnvelopeFrame)]


def forwarded(frames: list[Frame]) -> Counter:
    return Counter(type(f).__name__ for f in frames if not isinstance(f, EnvelopeFrame))


def speaking(pid: str, at: int, on: bool, duration: int = 0) -> SpeakingStateFrame:
    return SpeakingStateFrame(participant_id=pid, speaking=on, media_time_ms=at, duration_ms=duration)


def ticks(start: int, end: int, step: int = 100) -> list[MediaTickFrame]:
    return [MediaTickFrame(media_time_ms=t) for t in range(start, end + 1, step)]


def transcript(pid: str, at: int, text: str) -> TranscriptionFrame:
    return stamp(TranscriptionFrame(text=text, user_id=pid, timestamp="2026-01-01T00:00:00.000Z"), at)


def test_pacing_pushes_an_update_per_transcript():
    frames = [
        speaking("p-bob", 0, True),
        speaking("p-bob", 4_000, False, 4_000),
        SleepFrame(sleep=0.05),
        transcript("p-bob", 4_000, "one two three four five six seven eight nine ten"),
        TextFrame(text="unrelated"),
    ]
    down = run(Pacing(), frames)
    (update,) = payloads(down)
    assert isinstance(update, RoomPacingUpdated)
    assert (update.participant_id, update.words_per_minute, update.state, update.turn_count) == (
        "p-bob",
        150.0,
        "normal",
        1,
    )
    envelope = next(f for f in down if isinstance(f, EnvelopeFrame))
    assert envelope.media_time_ms == 4_000
    assert forwarded(down) == {"SpeakingStateFrame": 2, "TranscriptionFrame": 1, "TextFrame": 1}


def test_dominance_reports_roster_scores_and_the_final_total():
    frames = [
        ParticipantJoinedFrame(participant_id="p-alice", display_name="Alice", media_time_ms=0),
        ParticipantJoinedFrame(participant_id="p-bob", display_name="Bob", media_time_ms=0),
        speaking("p-alice", 500, True),
        *ticks(100, 2_000),
        speaking("p-alice", 2_500, False, 2_000),
        ParticipantLeftFrame(participant_id="p-alice", media_time_ms=3_000),
        RoomEndedFrame(media_time_ms=4_000),
    ]
    down = run(Dominance(), frames)
    kinds = [type(p).__name__ for p in payloads(down)]
    assert kinds == [
        "RoomParticipantJoined",
        "RoomParticipantJoined",
        "RoomDominanceScore",  # the first change: alice started talking
        "RoomParticipantLeft",
        "RoomDominanceScore",  # final
    ]
    left = next(p for p in payloads(down) if isinstance(p, RoomParticipantLeft))
    assert (left.participant_id, left.display_name, left.talk_time_ms) == ("p-alice", "Alice", 2_000)
    final = payloads(down)[-1]
    assert (final.trigger, final.window_ms) == ("final", 4_000)
    assert forwarded(down) == {
        "ParticipantJoinedFrame": 2,
        "SpeakingStateFrame": 2,
        "MediaTickFrame": 20,
        "ParticipantLeftFrame": 1,
        "RoomEndedFrame": 1,
    }
    # Session totals leave ahead of the RoomEndedFrame that caused them.
    assert isinstance(down[-2], EnvelopeFrame) and isinstance(down[-1], RoomEndedFrame)


def test_dominance_requests_an_interruption_for_a_monologue():
    frames = [speaking("p-alice", 0, True), *ticks(100, 15_000)]
    down = run(Dominance(params=DominanceParams(periodic_ms=60_000)), frames)
    requests = [p for p in payloads(down) if type(p).__name__ == "RoomInterruptRequest"]
    assert [(r.target_participant_id, r.reason, r.monologue_ms) for r in requests] == [("p-alice", "monologue", 15_000)]


def test_end_frame_without_room_end_still_emits_the_final_score():
    down = run(Dominance(), [ParticipantJoinedFrame(participant_id="p-a", media_time_ms=0), *ticks(100, 1_000)])
    finals = [p for p in payloads(down) if isinstance(p, RoomDominanceScore) and p.trigger == "final"]
    assert [f.window_ms for f in finals] == [1_000]


def test_overlaps_pushes_one_event_per_episode():
    frames = [
        speaking("p-alice", 0, True),
        *ticks(100, 4_000),
        speaking("p-bob", 4_000, True),
        *ticks(4_100, 4_500),
        speaking("p-bob", 4_300, False, 300),
        *ticks(4_600, 7_000),
    ]
    down = run(Overlaps(), frames)
    (event,) = payloads(down)
    assert isinstance(event, RoomOverlapDetected)
    assert (event.speaker_id, event.overlapper_id, event.kind, event.overlap_ms) == (
        "p-alice",
        "p-bob",
        "backchannel",
        300,
    )
    assert forwarded(down) == {"SpeakingStateFrame": 3, "MediaTickFrame": 70}


def test_agenda_pushes_time_box_and_wrapup_events():
    agenda = [AgendaItem(title="Status", timebox_ms=3_000), AgendaItem(title="Risks", timebox_ms=2_000)]
    down = run(Agenda(agenda=agenda), [*ticks(100, 6_000), TextFrame(text="x")])
    events = payloads(down)
    assert [type(e) for e in events] == [RoomTopicShiftSuggested, RoomWrapupPrompt, RoomTopicShiftSuggested]
    assert (events[0].current_item, events[0].next_item) == ("Status", "Risks")
    assert events[1].remaining_ms == 1_000  # 20 % of a 5 s meeting
    assert forwarded(down) == {"MediaTickFrame": 60, "TextFrame": 1}


def test_agenda_accepts_scenario_style_items():
    down = run(Agenda(agenda=[{"title": "All", "timeboxMs": 1_000}]), ticks(100, 1_000))
    assert [type(e) for e in payloads(down)] == [RoomWrapupPrompt, RoomTopicShiftSuggested]


def cast(sender: str, option: str, at: int) -> InboundEnvelopeFrame:
    return InboundEnvelopeFrame(
        topic=Topic.ROOM_VOTE_CAST.value,
        payload=RoomVoteCast(vote_id="vote-1", option=option),
        sender_id=sender,
        media_time_ms=at,
    )


def chat(sender: str, text: str, at: int) -> ChatMessageFrame:
    return ChatMessageFrame(participant_id=sender, text=text, display_name=None, media_time_ms=at)


def test_votes_open_count_and_close():
    other = InboundEnvelopeFrame(topic="room.something.else", payload=None, sender_id="p-x", media_time_ms=1)
    frames = [
        chat("p-alice", "/vote Ship on Friday? | yes | no | later", 46_321),
        SleepFrame(sleep=0.05),
        cast("p-bob", "yes", 47_521),
        cast("p-carol", "later", 48_121),
        cast("p-bob", "no", 48_500),
        cast("p-dan", "maybe", 49_000),
        InboundEnvelopeFrame(topic=Topic.ROOM_VOTE_CAST.value, payload={"voteId": "vote-1"}, sender_id="p-eve"),
        InboundEnvelopeFrame(
            topic=Topic.ROOM_VOTE_CAST.value, payload={"voteId": "vote-1", "option": "yes"}, sender_id="p-fay"
        ),
        other,
        chat("p-bob", "link to the rollback plan?", 49_491),
        SleepFrame(sleep=0.05),
        chat("p-alice", "/endvote", 54_237),
    ]
    votes = Votes()
    down = run(votes, frames)
    started, closed = payloads(down)
    assert isinstance(started, RoomVoteStarted) and started.vote_id == "vote-1"
    assert isinstance(closed, RoomVoteClosed)
    assert closed.tally == {"yes": 1, "no": 1, "later": 1} and closed.winner is None
    assert votes.book.ignored["unknown_option"] == 1
    assert votes.book.ignored["invalid"] == 1  # a payload that is not a RoomVoteCast never crashes
    # Casts are consumed; chat (commands included) and other inbound envelopes go on.
    assert forwarded(down) == {"ChatMessageFrame": 3, "InboundEnvelopeFrame": 1}
    assert [f for f in down if isinstance(f, InboundEnvelopeFrame)] == [other]


def test_votes_close_on_their_deadline_and_at_room_end():
    frames = [
        chat("p-alice", "/vote A or B? | A | B", 1_000),
        SleepFrame(sleep=0.05),
        *ticks(1_100, 3_000),
        chat("p-alice", "/vote Again? | A | B", 3_000),
        SleepFrame(sleep=0.05),
        RoomEndedFrame(media_time_ms=3_500),
    ]
    down = run(Votes(params=VoteParams(duration_ms=1_000)), frames)
    assert [(type(p).__name__, p.vote_id) for p in payloads(down)] == [
        ("RoomVoteStarted", "vote-1"),
        ("RoomVoteClosed", "vote-1"),
        ("RoomVoteStarted", "vote-2"),
        ("RoomVoteClosed", "vote-2"),
    ]


def test_chat_router_turns_prebuilt_chat_into_chat_frames():
    chat_message = stamp(
        DailyInputTransportMessageFrame(
            message={"event": "chat-msg", "message": "/vote X? | a | b", "name": "Alice", "room": "main-room"},
            participant_id="p-alice",
        ),
        46_300,
    )
    envelope = DailyInputTransportMessageFrame(message={"topic": "room.vote.cast"}, participant_id="p-bob")
    raw = InputTransportMessageFrame(message="{not json")
    alice = ParticipantJoinedFrame(participant_id="p-alice", display_name="Alice", media_time_ms=0)
    down = run(ChatRouter(), [alice, MediaTickFrame(media_time_ms=46_200), chat_message, envelope, raw])
    chats = [f for f in down if isinstance(f, ChatMessageFrame)]
    assert [(c.participant_id, c.text, c.display_name, c.media_time_ms) for c in chats] == [
        ("p-alice", "/vote X? | a | b", "Alice", 46_300)
    ]
    # The chat transport frame is swallowed; every other transport message goes on untouched.
    others = [f for f in down if isinstance(f, InputTransportMessageFrame)]
    assert others == [envelope, raw]
    assert forwarded(down) == {
        "ParticipantJoinedFrame": 1,
        "MediaTickFrame": 1,
        "ChatMessageFrame": 1,
        "DailyInputTransportMessageFrame": 1,
        "InputTransportMessageFrame": 1,
    }


def test_a_chat_display_name_comes_from_the_room_not_from_the_message():
    """The message's "name" is written by the sender's client: anyone could sign as the host."""
    frames = [
        ParticipantJoinedFrame(participant_id="p-mallory", display_name="Mallory", media_time_ms=0),
        stamp(
            DailyInputTransportMessageFrame(
                message={"event": "chat-msg", "message": "we're done, all leave", "name": "Host"},
                participant_id="p-mallory",
            ),
            10,
        ),
        stamp(
            DailyInputTransportMessageFrame(
                message={"event": "chat-msg", "message": "hi", "name": "Alice"}, participant_id="p-unknown"
            ),
            20,
        ),
        ParticipantLeftFrame(participant_id="p-mallory", media_time_ms=30),
        stamp(
            DailyInputTransportMessageFrame(
                message={"event": "chat-msg", "message": "late", "name": "Mallory"}, participant_id="p-mallory"
            ),
            40,
        ),
    ]
    down = run(ChatRouter(), frames)
    names = [(c.participant_id, c.display_name) for c in down if isinstance(c, ChatMessageFrame)]
    assert names == [("p-mallory", "Mallory"), ("p-unknown", None), ("p-mallory", None)]


@pytest.mark.parametrize(
    "message", [{"event": "chat-msg", "message": 42}, {"event": "chat-msg"}], ids=["number", "missing"]
)
def test_chat_router_drops_chat_without_text(message):
    frame = DailyInputTransportMessageFrame(message=message, participant_id="p-x")
    assert run(ChatRouter(), [frame]) == []


def test_chat_router_uses_the_media_clock_when_the_frame_is_unstamped():
    frame = DailyInputTransportMessageFrame(
        message={"event": "chat-msg", "message": "hi", "name": "Bob"}, participant_id="p-bob"
    )
    down = run(ChatRouter(), [MediaTickFrame(media_time_ms=9_900), frame])
    (chat_frame,) = [f for f in down if isinstance(f, ChatMessageFrame)]
    assert chat_frame.media_time_ms == 9_900
