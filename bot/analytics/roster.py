"""Who is in the room: joins and leaves as ``RoomParticipantJoined`` / ``RoomParticipantLeft``.

``Roster`` remembers display names so the leave event can carry one, and drops repeated joins and
leaves (a transport may report a participant already in the room twice). Talk time on leave is the
caller's to supply: it comes from :class:`bot.analytics.dominance.DominanceTracker`. No asyncio,
no Pipecat.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.generated import RoomParticipantJoined, RoomParticipantLeft

__all__ = ["Roster", "RosterEntry"]

MAX_ID = 128
MAX_NAME = 200
"""Schema limits of ``participantId`` and ``displayName``."""


@dataclass
class RosterEntry:
    """One participant: name, when they joined and (once they left) when they left."""

    participant_id: str
    display_name: str | None
    joined_at_ms: int
    left_at_ms: int | None = None


class Roster:
    """The room's participants, present and past.

    Example::

        roster = Roster()
        joined = roster.join(0, "p-alice", "Alice")
        left = roster.leave(30_000, "p-alice", talk_time_ms=12_000)
    """

    def __init__(self) -> None:
        """Create an empty roster."""
        self._entries: dict[str, RosterEntry] = {}

    def join(
        self, media_time_ms: int, participant_id: str, display_name: str | None = None
    ) -> RoomParticipantJoined | None:
        """Record a join; None for a repeated join of someone present or an unusable id."""
        if not participant_id or len(participant_id) > MAX_ID:
            return None
        name = display_name[:MAX_NAME] if display_name else None
        entry = self._entries.get(participant_id)
        if entry is not None and entry.left_at_ms is None:
            if name and not entry.display_name:
                entry.display_name = name
            return None
        self._entries[participant_id] = RosterEntry(participant_id, name, max(0, media_time_ms))
        return RoomParticipantJoined(
            participant_id=participant_id, display_name=name, media_time_ms=max(0, media_time_ms)
        )

    def leave(self, media_time_ms: int, participant_id: str, *, talk_time_ms: int) -> RoomParticipantLeft | None:
        """Record a leave with the participant's session talk time; None if already gone.

        A leave of someone never seen joining (they were there before the bot, and the join was
        missed) is still reported, without a display name.
        """
        if not participant_id or len(participant_id) > MAX_ID:
            return None
        entry = self._entries.get(participant_id)
        if entry is not None and entry.left_at_ms is not None:
            return None
        if entry is None:
            entry = self._entries[participant_id] = RosterEntry(participant_id, None, max(0, media_time_ms))
        entry.left_at_ms = max(0, media_time_ms)
        return RoomParticipantLeft(
            participant_id=participant_id,
            display_name=entry.display_name,
            talk_time_ms=max(0, talk_time_ms),
            media_time_ms=entry.left_at_ms,
        )

    @property
    def present(self) -> list[str]:
        """Ids of the participants in the room now, in join order."""
        return [e.participant_id for e in self._entries.values() if e.left_at_ms is None]

    def display_name(self, participant_id: str) -> str | None:
        """The name a participant joined with, if known."""
        entry = self._entries.get(participant_id)
        return entry.display_name if entry else None
