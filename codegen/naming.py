"""Names derived from topic ids, shared by the Python and TypeScript writers."""

from __future__ import annotations

import re


def pascal(text: str) -> str:
    """``room.dominance.score`` -> ``RoomDominanceScore``; ``participant_id`` -> ``ParticipantId``."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._\-\s]+", text) if part)


def class_name(topic_id: str) -> str:
    """Model / interface name of a topic's payload."""
    return pascal(topic_id)


def const_name(topic_id: str) -> str:
    """Enum member name of a topic: ``room.dominance.score`` -> ``ROOM_DOMINANCE_SCORE``."""
    return re.sub(r"[^A-Za-z0-9]+", "_", topic_id).upper()


def snake(name: str) -> str:
    """camelCase wire name -> snake_case Python attribute: ``talkTimeMs`` -> ``talk_time_ms``."""
    s = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name)
    s = re.sub(r"(?<=[A-Z])([A-Z][a-z])", r"_\1", s)
    return s.lower()


def singular(name: str) -> str:
    """A rough singular for naming array item types: ``participants`` -> ``Participant``."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name + "Item"
