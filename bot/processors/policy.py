"""The ConversationPolicy in the pipeline: participants' side (PolicyEnforcer) and the bot's side
(PolicyOutputGate). Thin adapters around ``bot.policy.enforce``."""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import CancelFrame, EndFrame, Frame, InterimTranscriptionFrame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.core.frames import (
    ChatMessageFrame,
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    SpeakingStateFrame,
)
from bot.core.media import media_time_of
from bot.generated import ConversationPolicyViolation, FacilitatorMessage
from bot.policy.enforce import BotOutputGate, InboundRateLimiter, RoomPolicy
from bot.policy.snapshot import LoadedPolicy
from bot.processors.safety import internal_error, no_events, safely

__all__ = ["PolicyEnforcer", "PolicyOutputGate", "envelope"]


def envelope(payload: Any, media_time_ms: int) -> EnvelopeFrame:
    """An ``EnvelopeFrame`` for ``payload``; a facilitator message to one participant, and a
    violation a participant caused, go to that participant only (not the whole room)."""
    recipient = None
    if isinstance(payload, FacilitatorMessage) and payload.audience == "participant":
        recipient = payload.participant_id
    elif isinstance(payload, ConversationPolicyViolation) and payload.participant_id:
        recipient = payload.participant_id
    at = getattr(payload, "media_time_ms", None)
    return EnvelopeFrame(payload=payload, media_time_ms=media_time_ms if at is None else at, recipient=recipient)


class PolicyEnforcer(FrameProcessor):
    """Applies the policy to what participants do, before anything forwards or publishes their text.

    Reads ``SpeakingStateFrame`` and ``MediaTickFrame`` (turn limits and share nudges, on ticks),
    ``ParticipantJoinedFrame`` / ``ParticipantLeftFrame``, ``TranscriptionFrame`` /
    ``InterimTranscriptionFrame`` and ``ChatMessageFrame`` (content guard; chat bucket). A redacted
    text is replaced in the frame itself; a blocked one (block, interrupt, chat over its bucket) is
    not forwarded, so no processor after this one (votes, the LLM facilitator, the sink) sees it.
    Every other frame is forwarded unchanged; events go out ahead of the frame that caused them.

    Frames pushed: ``EnvelopeFrame`` with ``ConversationPolicyViolation`` (never the text),
    ``RoomInterruptRequest(reason="policy")`` and ``FacilitatorMessage(reason="nudge")`` (to the
    participant). Place it before ``Votes`` (which publishes chat text) and the facilitator.

    Example::

        PolicyEnforcer(policy=load_policy(settings.policy), limiter=limiter)
    """

    def __init__(
        self,
        *,
        policy: LoadedPolicy,
        room: RoomPolicy | None = None,
        limiter: InboundRateLimiter | None = None,
        bot_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        """Args:
        policy: the verified policy.
        room: a ready ``RoomPolicy`` (tests); overrides ``policy``/``bot_id``.
        limiter: the validator's inbound rate limiter, told the media time on every tick (its
            fallback clock when the validator passes none).
        bot_id: the bot's participant id (its chat commands are not rate limited).
        """
        super().__init__(**kwargs)
        self.room = room or RoomPolicy(policy, bot_id=bot_id)
        self.limiter = limiter
        self._last_ms = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if isinstance(frame, CancelFrame) or direction is not FrameDirection.DOWNSTREAM:
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, EndFrame):  # the aggregates of open windows go out before the end
            for payload in safely("policy", lambda: self._close(), no_events()):
                await self.push_frame(envelope(payload, self._last_ms))
        # a policy bug must not end the room: counted, logged (never the text), the frame goes on
        events, forward = safely("policy", lambda: self._observe(frame), (no_events(), True))
        for payload in events:
            await self.push_frame(envelope(payload, self._last_ms))
        if forward:
            await self.push_frame(frame, direction)

    def _close(self) -> list[Any]:
        if self.limiter is not None:
            self.limiter.observe(self._last_ms, final=True)
        return self.room.close(self._last_ms)

    def _observe(self, frame: Frame) -> tuple[list[Any], bool]:
        room = self.room
        if isinstance(frame, SpeakingStateFrame):
            room.speaking(frame.media_time_ms, frame.participant_id, frame.speaking, frame.duration_ms)
        elif isinstance(frame, MediaTickFrame):
            self._last_ms = max(self._last_ms, frame.media_time_ms)
            if self.limiter is not None:
                self.limiter.observe(frame.media_time_ms)
            return room.tick(frame.media_time_ms), True
        elif isinstance(frame, ParticipantJoinedFrame):
            room.joined(frame.media_time_ms, frame.participant_id)
        elif isinstance(frame, ParticipantLeftFrame):
            room.left(frame.media_time_ms, frame.participant_id)
        elif isinstance(frame, TranscriptionFrame):
            at = media_time_of(frame, default=self._last_ms) or 0
            decision = room.transcript(at, frame.user_id, frame.text or "")
            if decision.text is not None:
                frame.text = decision.text
            return decision.events, decision.text is not None
        elif isinstance(frame, InterimTranscriptionFrame):
            text = room.interim(frame.user_id, frame.text or "")
            if text is not None:
                frame.text = text
            return [], text is not None
        elif isinstance(frame, ChatMessageFrame):
            decision = room.chat(frame.media_time_ms, frame.participant_id, frame.text)
            if decision.text is not None:
                frame.text = decision.text
            return decision.events, decision.text is not None
        return [], True


class PolicyOutputGate(FrameProcessor):
    """Applies the policy to what the bot says: every ``EnvelopeFrame(FacilitatorMessage)`` passes
    the content guard (channel ``bot``), ``turns.maxBotTurnsPerMinute`` and ``rates.botMessages``.

    A redacted message goes on with the new text; a refused one is dropped. Place it right before
    ``EnvelopeSink``, after every processor that speaks for the bot (PolicyEnforcer's nudges, the
    facilitator), so one bucket counts them all. Other frames are forwarded unchanged.

    Frames pushed: ``EnvelopeFrame(ConversationPolicyViolation)``.

    Example::

        PolicyOutputGate(policy=loaded)
    """

    def __init__(self, *, policy: LoadedPolicy, gate: BotOutputGate | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = gate or BotOutputGate(policy)
        self._last_ms = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, MediaTickFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
            elif isinstance(frame, EnvelopeFrame) and isinstance(frame.payload, FacilitatorMessage):
                at = self._last_ms if frame.media_time_ms is None else frame.media_time_ms
                try:
                    message, violations = self.gate.message(at, frame.payload)
                except Exception as exc:  # never let a gate bug end the room; unchecked text never goes out
                    internal_error("policy output gate", exc)
                    return
                for payload in violations:
                    await self.push_frame(envelope(payload, at))
                if message is None:
                    return
                frame.payload = message
        await self.push_frame(frame, direction)
