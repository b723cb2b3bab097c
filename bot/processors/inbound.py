"""Inbound app messages from browsers, validated at the edge before anything uses them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipecat.frames.frames import CancelFrame, EndFrame, Frame, InputTransportMessageFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from bot.core.frames import InboundEnvelopeFrame, MediaTickFrame
from bot.core.media import media_time_of
from bot.core.text import clean
from bot.events import Accepted, InboundValidator
from bot.processors.safety import internal_error


class InboundMessages(FrameProcessor):
    """Validates every inbound transport message as a browser envelope.

    A valid one continues as ``InboundEnvelopeFrame`` (with Daily's sender as the only identity);
    anything else is rejected by the validator, which publishes ``events.inbound.rejected`` and
    counts it. Transport message frames never pass this processor, so no later processor can
    act on unvalidated input. Place it after ``ChatRouter``, which takes chat out first.

    Frames pushed: ``InboundEnvelopeFrame``. Consumes ``InputTransportMessageFrame`` (and the
    Daily subclass); forwards everything else. On ``MediaTickFrame`` it has the validator publish
    the summaries of rejection windows that ended (``count``), and every open one at the end.

    Example::

        InboundMessages(validator=runtime.inbound)

    ``on_activity`` (with ``activity_frames``): called for every frame of those types that passes
    here, including the ``InboundEnvelopeFrame``s this processor makes. The session's idle watch
    (bot/session/idle.py) uses it: this is the last processor that makes room-activity frames
    (speaking state, transcripts, chat, inbound envelopes) and the first one every such frame
    passes before a later processor may drop it (the policy refusing a chat line, Votes taking
    a vote), so one ``isinstance`` per frame here replaces an observer on every processor.
    """

    def __init__(
        self,
        *,
        validator: InboundValidator,
        on_activity: Callable[[], None] | None = None,
        activity_frames: tuple[type[Frame], ...] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._validator = validator
        self._on_activity = on_activity
        self._activity_frames = activity_frames if on_activity is not None else ()
        self._envelopes_active = on_activity is not None and InboundEnvelopeFrame in activity_frames

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, InputTransportMessageFrame):
            if isinstance(frame, self._activity_frames) and self._on_activity is not None:
                self._on_activity()
            if isinstance(frame, MediaTickFrame):
                self._validator.flush(frame.media_time_ms)
            elif isinstance(frame, (EndFrame, CancelFrame)):
                self._validator.flush(0, final=True)
            await self.push_frame(frame, direction)
            return
        sender = clean(str(getattr(frame, "participant_id", "") or "unknown"))
        media_ms = media_time_of(frame)
        try:
            result = self._validator.check(frame.message, sender, media_time_ms=media_ms)
        except Exception as exc:  # check never raises on bad input; a bug is counted, the message dropped
            internal_error("inbound", exc)
            return
        if isinstance(result, Accepted):
            if self._envelopes_active and self._on_activity is not None:
                self._on_activity()
            await self.push_frame(
                InboundEnvelopeFrame(
                    topic=result.topic.value,
                    payload=result.payload,
                    sender_id=result.sender_id,
                    media_time_ms=media_ms or 0,
                    envelope=result.envelope,
                )
            )
