"""ChatRouter: Daily Prebuilt chat app messages become ``ChatMessageFrame``s."""

from __future__ import annotations

from typing import Any

from loguru import logger
from pipecat.frames.frames import Frame, InputTransportMessageFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.core.frames import ChatMessageFrame, MediaTickFrame, ParticipantJoinedFrame, ParticipantLeftFrame
from bot.core.media import media_time_of
from bot.processors.safety import safely

CHAT_EVENT = "chat-msg"
"""The ``event`` of a Daily Prebuilt chat app message (``{"event": "chat-msg", "message", "name", ...}``;
``name`` is what the sender's client wrote, so it is not trusted)."""


class ChatRouter(FrameProcessor):
    """Takes chat out of the transport message stream before inbound envelope validation.

    A downstream ``InputTransportMessageFrame`` (or ``DailyInputTransportMessageFrame``) whose
    ``message`` is a dict with ``"event": "chat-msg"`` is consumed and replaced by a
    ``ChatMessageFrame`` (sender = the Daily ``participant_id``, set by daily-core, text =
    ``message["message"]``, display name = the sender's name as the room announced it in their
    ``ParticipantJoinedFrame``, from Daily's participant info, never the message's own ``name``,
    which the sender controls and could set to anyone's; media time stamped on the frame or,
    failing that, the last ``MediaTickFrame``). A chat message whose text is not a string is dropped (logged at debug).
    Every other frame, other transport messages included, is forwarded unchanged.

    Frames pushed: ``ChatMessageFrame``.

    Example::

        Pipeline([room.input(), ParticipantVAD(), ChatRouter(), InboundMessages(validator=v), ...])
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._last_ms = 0
        self._names: dict[str, str | None] = {}

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, MediaTickFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
            elif isinstance(frame, ParticipantJoinedFrame):
                self._names[frame.participant_id] = frame.display_name
            elif isinstance(frame, ParticipantLeftFrame):
                self._names.pop(frame.participant_id, None)
            elif isinstance(frame, InputTransportMessageFrame) and _is_chat(frame.message):
                chat = safely("chat", lambda: self._chat_frame(frame), None)
                if chat is not None:
                    await self.push_frame(chat)
                return
        await self.push_frame(frame, direction)

    def _chat_frame(self, frame: InputTransportMessageFrame) -> ChatMessageFrame | None:
        message = frame.message
        text = message.get("message")
        if not isinstance(text, str):
            logger.debug("chat: chat-msg without a text message dropped")
            return None
        sender = str(getattr(frame, "participant_id", None) or "")
        return ChatMessageFrame(
            participant_id=sender,
            text=text,
            display_name=self._names.get(sender),
            media_time_ms=media_time_of(frame, default=self._last_ms) or 0,
        )


def _is_chat(message: Any) -> bool:
    return isinstance(message, dict) and message.get("event") == CHAT_EVENT
