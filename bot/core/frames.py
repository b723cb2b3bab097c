"""Frames that Prism processors exchange inside the Pipecat pipeline.

Every frame here is a ``SystemFrame`` (except chat) so that an ``InterruptionFrame`` from an
LLM/TTS branch can never flush an event out of the pipeline, and every frame carries the room
media time it describes, so analytics never depend on the order frames arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pipecat.frames.frames import DataFrame, SystemFrame, UserAudioRawFrame

from bot.core.text import clean, clean_optional


@dataclass
class EnvelopeFrame(SystemFrame):
    """A generated payload model on its way to the ``EnvelopeSink``, the pipeline's one egress.

    Parameters:
        payload: an instance of a generated topic model (``bot.generated``).
        media_time_ms: the room media time the event describes, copied into ``meta.mediaTimeMs``.
        recipient: Daily participant id for an app message to one participant; ``None`` = everyone.
    """

    payload: Any = None
    media_time_ms: int | None = None
    recipient: str | None = None


@dataclass
class ParticipantJoinedFrame(SystemFrame):
    """A participant joined (or was already in the room when the bot joined)."""

    participant_id: str = ""
    display_name: str | None = None
    media_time_ms: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]  # Pipecat's Frame is untyped
        self.participant_id = clean(self.participant_id)  # well-formed at the edge (bot.core.text)
        self.display_name = clean_optional(self.display_name)


@dataclass
class ParticipantLeftFrame(SystemFrame):
    """A participant left the room."""

    participant_id: str = ""
    media_time_ms: int = 0
    reason: str = "left"

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]  # Pipecat's Frame is untyped
        self.participant_id = clean(self.participant_id)


@dataclass
class ChatMessageFrame(DataFrame):
    """Chat typed in the room (Daily Prebuilt chat arrives as an app message and becomes this)."""

    participant_id: str = ""
    text: str = ""
    display_name: str | None = None
    media_time_ms: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]  # Pipecat's Frame is untyped
        self.participant_id = clean(self.participant_id)
        self.text = clean(self.text)
        self.display_name = clean_optional(self.display_name)


@dataclass
class SpeakingStateFrame(SystemFrame):
    """Per-participant speaking state from ``ParticipantVAD``, on media time.

    ``media_time_ms`` is the corrected onset for a start and the end for a stop;
    ``duration_ms`` is the segment length on a stop; ``decided_at_ms`` is the media time the
    VAD decided it (the onset is traced back; the facilitator's voice yields from here).
    """

    participant_id: str = ""
    speaking: bool = False
    media_time_ms: int = 0
    duration_ms: int = 0
    decided_at_ms: int | None = None


@dataclass
class SpeechOnsetFrame(SystemFrame):
    """A participant may be starting to speak: the VAD entered speech, not yet confirmed.

    Provisional and early (one or two 32 ms windows after the onset, ~100 ms before the
    ``SpeakingStateFrame``); only the facilitator's voice reads it (to yield at once), so it is
    pushed only when ``ParticipantVAD(report_onsets=True)``. Analytics use ``SpeakingStateFrame``.
    """

    participant_id: str = ""
    media_time_ms: int = 0
    decided_at_ms: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]  # Pipecat's Frame is untyped
        self.participant_id = clean(self.participant_id)


@dataclass
class RoomAudioFrame(SystemFrame):
    """Every participant's audio chunk of one 20 ms step, in one frame.

    A room connector that has the whole room's audio of a step at once (the simulated room)
    pushes this instead of one ``UserAudioRawFrame`` per participant: each frame costs the same
    per-processor queue hops, observer calls and log formatting whatever it carries, and those
    per-frame costs, paid 8 times per step for an 8-person room, were a quarter of a real-time
    room's CPU. ``ParticipantVAD`` consumes it (and scores the windows the step completes in one
    batched Silero run); nothing after it sees audio.

    Parameters:
        frames: the chunks, in the order a per-participant connector would push them (at most
            one per participant), each a stamped ``UserAudioRawFrame`` exactly as it would have
            been pushed on its own.
        media_time_ms: the step's media time (each chunk also carries its own stamp).
    """

    frames: list[UserAudioRawFrame] = field(default_factory=list)
    media_time_ms: int = 0

    def __str__(self) -> str:
        # Pipecat formats every pushed frame into a trace-level f-string, logged or not: keep it cheap.
        return self.name


@dataclass
class MediaTickFrame(SystemFrame):
    """The room's media clock advanced (every 100 ms of media time).

    Time-driven analytics (periodic dominance, time boxes, vote deadlines) run on these ticks, so a
    simulated room played at any speed gives the same events.
    """

    media_time_ms: int = 0


@dataclass
class InboundEnvelopeFrame(SystemFrame):
    """A browser's envelope that passed inbound validation; the sender is Daily's, never the payload's."""

    topic: str = ""
    payload: Any = None
    sender_id: str = ""
    media_time_ms: int = 0
    envelope: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()  # type: ignore[no-untyped-call]  # Pipecat's Frame is untyped
        self.sender_id = clean(self.sender_id)


@dataclass
class RoomEndedFrame(SystemFrame):
    """The room session is ending (scenario finished, room empty, signal): emit session totals now."""

    media_time_ms: int = 0
    reason: str = "completed"


@dataclass
class BotAudioCutFrame(SystemFrame):
    """The bot's voice stopped at ``media_time_ms`` (barge-in, room end): audio sent for later is void.

    A live transport flushes its queue on the ``InterruptionFrame`` pushed with it; a simulated
    room's recorder truncates the bot's track here.
    """

    media_time_ms: int = 0
