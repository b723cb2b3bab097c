"""The pipeline's one egress: publish events and send the app-message copies to browsers."""

from __future__ import annotations

from typing import Any

from pipecat.frames.frames import Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.daily.transport import DailyOutputTransportMessageUrgentFrame

from bot.core.frames import EnvelopeFrame
from bot.events import EventRuntime
from bot.processors.safety import internal_error


class EnvelopeSink(FrameProcessor):
    """Turns ``EnvelopeFrame``s into envelopes; the only place events leave the pipeline.

    Every payload is published on the bus (stdout, subscribers). Topics whose forwarding includes
    ``app_message`` are redacted, sampled and size-checked for browsers, then pushed downstream as
    an urgent Daily app message (a system frame: it is sent at once and no interruption drops it)
    to everyone or to ``frame.recipient``.

    Frames pushed: ``DailyOutputTransportMessageUrgentFrame`` (downstream). ``EnvelopeFrame``s are
    consumed; every other frame is forwarded.

    Example::

        Pipeline([room.input(), ..., EnvelopeSink(runtime=runtime), room.output()])
    """

    def __init__(self, *, runtime: EventRuntime, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._runtime = runtime

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if not isinstance(frame, EnvelopeFrame):
            await self.push_frame(frame, direction)
            return
        try:
            envelope = self._runtime.bus.publish(frame.payload, media_time_ms=frame.media_time_ms)
            copy = self._runtime.app_messages.prepare(envelope)
        except Exception as exc:  # an event that cannot be published is counted, never the end of the room
            internal_error("sink", exc)
            return
        if copy is not None:
            await self.push_frame(DailyOutputTransportMessageUrgentFrame(message=copy, participant_id=frame.recipient))
