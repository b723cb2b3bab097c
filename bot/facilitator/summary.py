"""RoomSummary: the compact picture of the room the LLM facilitator receives.

Built from what the pipeline already derived (participants, talk shares, pacing, votes, agenda
events, monologue and policy alerts) and the recent transcript and chat lines *after* the content
guard. Never audio, never a policy violation's details beyond its rule. No asyncio, no Pipecat.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["RoomSummary"]

LINE_CHARS = 240
"""A transcript or chat line is cut to this many characters in the summary."""


@dataclass
class _Person:
    name: str
    present: bool = True
    share: float | None = None
    talk_ms: int | None = None
    pace: str | None = None


def _title(item: Any) -> str:
    """An agenda item's title: policy ``AgendaItemSpec``, analytics ``AgendaItem`` or a dict."""
    return str(item["title"] if isinstance(item, dict) else item.title)


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class RoomSummary:
    """Accumulates room state; :meth:`render` returns a small JSON-able dict.

    Example::

        s = RoomSummary(max_lines=8)
        s.joined(0, "p-alice", "Alice"); s.said(4_000, "p-alice", "Let's start.")
        s.render(30_000)["recent"]    # [{"atS": 4.0, "who": "Alice", "says": "Let's start."}]
    """

    def __init__(self, *, max_lines: int = 12, agenda: Iterable[Any] = ()) -> None:
        self.max_lines = max_lines
        self.people: dict[str, _Person] = {}
        self.lines: deque[dict[str, Any]] = deque(maxlen=max(1, max_lines))
        self.alerts: deque[tuple[int, str]] = deque(maxlen=8)
        self.bot_lines: deque[str] = deque(maxlen=3)
        self.agenda = [_title(item) for item in agenda]
        self.agenda_index = 0
        self.dominant: str | None = None
        self.open_vote: dict[str, Any] | None = None
        self.last_vote_result: dict[str, Any] | None = None

    # -- observations -------------------------------------------------------------------------

    def joined(self, media_time_ms: int, participant_id: str, name: str | None = None) -> None:
        person = self.people.setdefault(participant_id, _Person(name or participant_id))
        person.present = True
        if name:
            person.name = name

    def left(self, media_time_ms: int, participant_id: str) -> None:
        if participant_id in self.people:
            self.people[participant_id].present = False

    def name_of(self, participant_id: str) -> str:
        person = self.people.get(participant_id)
        return person.name if person else participant_id

    def is_present(self, participant_id: str) -> bool:
        person = self.people.get(participant_id)
        return bool(person and person.present)

    def said(self, media_time_ms: int, participant_id: str, text: str) -> None:
        """A (guarded) transcript line."""
        if self.max_lines and text.strip():
            self.lines.append(
                {
                    "atS": round(media_time_ms / 1000, 1),
                    "who": self.name_of(participant_id),
                    "says": _clip(text, LINE_CHARS),
                }
            )

    def chatted(self, media_time_ms: int, participant_id: str, text: str) -> None:
        """A (guarded) chat line."""
        if self.max_lines and text.strip():
            self.lines.append(
                {
                    "atS": round(media_time_ms / 1000, 1),
                    "who": self.name_of(participant_id),
                    "chats": _clip(text, LINE_CHARS),
                }
            )

    def bot_said(self, text: str) -> None:
        self.bot_lines.append(_clip(text, LINE_CHARS))

    def alert(self, media_time_ms: int, text: str) -> None:
        self.alerts.append((media_time_ms, text))

    def event(self, media_time_ms: int, payload: Any) -> str | None:
        """An analytics event passing by; returns a trigger reason for the facilitator, if any."""
        kind = type(payload).__name__
        if kind == "RoomDominanceScore":
            for share in payload.participants:
                person = self.people.setdefault(share.participant_id, _Person(share.participant_id))
                person.share, person.talk_ms = round(share.share, 3), share.talk_time_ms
            self.dominant = payload.dominant_participant_id
        elif kind == "RoomPacingUpdated":
            person = self.people.setdefault(payload.participant_id, _Person(payload.participant_id))
            person.pace = getattr(payload, "state", None) or person.pace
        elif kind == "RoomParticipantJoined":
            self.joined(media_time_ms, payload.participant_id, getattr(payload, "display_name", None))
        elif kind == "RoomParticipantLeft":
            self.left(media_time_ms, payload.participant_id)
        elif kind == "RoomInterruptRequest":
            seconds = round(payload.monologue_ms / 1000)
            self.alert(
                media_time_ms,
                f"{payload.reason}: {self.name_of(payload.target_participant_id)} ({payload.target_participant_id}) has held the floor {seconds} s",
            )
            return str(payload.reason)
        elif kind == "RoomTopicShiftSuggested":
            self.agenda_index += 1
            nxt = f", next: {payload.next_item}" if payload.next_item else ", last item"
            self.alert(media_time_ms, f"time box over: {payload.current_item}{nxt}")
            return "time_box"
        elif kind == "RoomWrapupPrompt":
            self.alert(media_time_ms, f"wrap up: {round(payload.remaining_ms / 1000)} s left")
            return "wrapup"
        elif kind == "RoomVoteStarted":
            self.open_vote = {"voteId": payload.vote_id, "question": payload.question, "options": list(payload.options)}
        elif kind == "RoomVoteClosed":
            if self.open_vote and self.open_vote["voteId"] == payload.vote_id:
                self.open_vote = None
            self.last_vote_result = {"voteId": payload.vote_id, "tally": dict(payload.tally), "winner": payload.winner}
            return "vote_closed"
        elif kind == "ConversationPolicyViolation":
            who = f" by {self.name_of(payload.participant_id)}" if payload.participant_id else ""
            self.alert(media_time_ms, f"policy {payload.kind} ({payload.rule}){who}: {payload.action}")
        return None

    # -- output -------------------------------------------------------------------------------

    def render(self, media_time_ms: int, *, since_ms: int | None = None) -> dict[str, Any]:
        """The summary at ``media_time_ms``; alerts newer than ``since_ms`` only (all if None)."""
        people = [
            {
                k: v
                for k, v in {"id": pid, "name": p.name, "present": p.present, "share": p.share, "pace": p.pace}.items()
                if v is not None
            }
            for pid, p in self.people.items()
        ]
        agenda = None
        if self.agenda:
            i = self.agenda_index
            agenda = {"items": self.agenda, "current": self.agenda[i] if i < len(self.agenda) else None}
        out: dict[str, Any] = {
            "mediaTimeS": round(media_time_ms / 1000, 1),
            "participants": people,
            "dominant": self.dominant,
            "agenda": agenda,
            "openVote": self.open_vote,
            "lastVoteResult": self.last_vote_result,
            "recent": list(self.lines),
            "alerts": [text for at, text in self.alerts if since_ms is None or at > since_ms],
            "youSaidRecently": list(self.bot_lines),
        }
        return {k: v for k, v in out.items() if v not in (None, [], {})}
