"""Votes: ``/vote`` and ``/endvote`` from chat, ``room.vote.cast`` from browsers, tallies."""

from __future__ import annotations

from typing import Any

from loguru import logger
from pipecat.frames.frames import CancelFrame, EndFrame, Frame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pydantic import ValidationError

from bot.analytics.votes import VoteBook, VoteParams
from bot.core.frames import ChatMessageFrame, EnvelopeFrame, InboundEnvelopeFrame, MediaTickFrame, RoomEndedFrame
from bot.generated import RoomVoteCast
from bot.generated.topics import Topic
from bot.processors.safety import no_events, safely


class Votes(FrameProcessor):
    """Feeds a :class:`VoteBook` and pushes vote openings and results.

    Reads ``ChatMessageFrame`` (commands; every chat frame is forwarded, commands included, so a
    facilitator downstream sees them), ``InboundEnvelopeFrame`` with topic ``room.vote.cast``
    (consumed: the ballot is counted here; other inbound envelopes are forwarded),
    ``MediaTickFrame`` (deadlines) and ``RoomEndedFrame`` / ``EndFrame`` (close the open vote).
    Refused commands and ignored casts are logged at debug (reason and vote id, never who) and
    counted in ``book.ignored``.

    Frames pushed: ``EnvelopeFrame(RoomVoteStarted)`` and ``EnvelopeFrame(RoomVoteClosed)``.

    Example::

        Votes(params=VoteParams(duration_ms=60_000, host_ids=frozenset({"p-alice"})))
    """

    def __init__(self, *, params: VoteParams | None = None, book: VoteBook | None = None, **kwargs: Any) -> None:
        """Args:
        params: vote rules; ``VoteParams()`` by default.
        book: a ready book (tests); overrides ``params``.
        """
        super().__init__(**kwargs)
        self.book = book or VoteBook(params)
        self._last_ms = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        events, forward = safely("votes", lambda: self._observe(frame, direction), (no_events(), True))
        for payload in events:
            await self.push_frame(EnvelopeFrame(payload=payload, media_time_ms=self._media_time(frame)))
        if forward:
            await self.push_frame(frame, direction)

    def _observe(self, frame: Frame, direction: FrameDirection) -> tuple[list[Any], bool]:
        events: list[Any] = []
        forward = True
        if isinstance(frame, CancelFrame):
            pass
        elif isinstance(frame, EndFrame):
            events = self.book.finish(self._last_ms)
        elif direction is FrameDirection.DOWNSTREAM:
            if isinstance(frame, MediaTickFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
                events = self.book.tick(frame.media_time_ms)
            elif isinstance(frame, ChatMessageFrame):
                result = self.book.chat(frame.media_time_ms, frame.participant_id, frame.text)
                if result.error:
                    logger.debug(f"votes: command refused: {result.error}")
                events = list(result.events)
            elif isinstance(frame, InboundEnvelopeFrame) and frame.topic == Topic.ROOM_VOTE_CAST:
                forward = False
                self._cast(frame)
            elif isinstance(frame, RoomEndedFrame):
                self._last_ms = max(self._last_ms, frame.media_time_ms)
                events = self.book.finish(frame.media_time_ms)
        return list(events), forward

    def _cast(self, frame: InboundEnvelopeFrame) -> None:
        payload = frame.payload
        if not isinstance(payload, RoomVoteCast):
            try:
                payload = RoomVoteCast.model_validate(payload)
            except ValidationError:
                self.book.ignored["invalid"] += 1
                logger.debug("votes: cast with an invalid payload ignored")
                return
        reason = self.book.cast(frame.media_time_ms, frame.sender_id, payload.vote_id, payload.option)
        if reason:
            logger.debug(f"votes: cast for {payload.vote_id} {reason}")

    def _media_time(self, frame: Frame) -> int:
        at = getattr(frame, "media_time_ms", None)
        return self._last_ms if at is None else int(at)
