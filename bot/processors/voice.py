"""The facilitator's voice in the pipeline: thin adapters of a ``VoiceDirector`` around a Pipecat TTS service.

::

    ... PolicyOutputGate → VoiceInput → (Pipecat TTS service) → VoiceOutput → EnvelopeSink → room.output()

``VoiceInput`` feeds the director what the room does (speaking state, joins, the events on their
way to the sink, which have passed the policy) and sends the director's text to the TTS service
as ``TTSSpeakFrame``. ``VoiceOutput`` takes the service's audio into the director, consumes every
TTS frame, and on each media tick pushes the bot's audio for the next 100 ms as
``OutputAudioRawFrame`` stamped with its media time (the transport's audio output sends it; a
simulated room records it), plus the voice's events. Both sit after every analytic, so the bot's
own audio is never analysed as a participant and never reaches the VAD.

Import this module only when the voice is on: it imports Pipecat's TTS services.
"""

from __future__ import annotations

import time
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    AggregatedTextFrame,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    InterruptionFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    MetricsFrame,
    OutputAudioRawFrame,
    ServiceMetadataFrame,
    TTSAudioRawFrame,
    TTSSpeakFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService

from bot.core.frames import (
    BotAudioCutFrame,
    EnvelopeFrame,
    MediaTickFrame,
    ParticipantJoinedFrame,
    ParticipantLeftFrame,
    RoomEndedFrame,
    SpeakingStateFrame,
    SpeechOnsetFrame,
)
from bot.core.media import stamp
from bot.processors.safety import internal_error
from bot.voice.director import Audio, Cut, VoiceDirector

__all__ = ["TTS_FRAMES", "VoiceInput", "VoiceOutput", "build_voice"]

TTS_FRAMES = (
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    AggregatedTextFrame,
    LLMFullResponseStartFrame,
    LLMFullResponseEndFrame,
    ServiceMetadataFrame,
    MetricsFrame,
)
"""What a TTS service emits; consumed by ``VoiceOutput`` (the director re-times the audio)."""

LEAD_MS = 100
"""Audio is sent this far ahead of the media clock (one tick), so the transport never runs dry."""


class VoiceInput(FrameProcessor):
    """Feeds the director and sends its text to the TTS service placed right after it.

    Reads (downstream) ``ParticipantJoined/LeftFrame``, ``SpeakingStateFrame`` and
    ``SpeechOnsetFrame`` (the provisional onset: the bot yields on it), ``EnvelopeFrame``
    (wrap-up, time box, topic shift, nudges, interrupt requests, LLM messages: after the
    ``PolicyOutputGate``) and ``MediaTickFrame``; every downstream frame is forwarded. Upstream it
    consumes the TTS service's ``ErrorFrame`` (the director counts it; the room goes on). A
    synthesis that gives no sign of life for ``timeout_secs`` (wall clock) is given up.

    Frames pushed: ``TTSSpeakFrame`` (to the service).

    Example::

        VoiceInput(director=director, tts=tts)
    """

    def __init__(self, *, director: VoiceDirector, tts: TTSService, timeout_secs: float = 10.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.director = director
        self.tts = tts
        self.timeout_secs = timeout_secs
        self._since: float | None = None

    def alive(self) -> None:
        """The service produced something for the synthesis in flight (called by ``VoiceOutput``)."""
        if self._since is not None:
            self._since = time.monotonic()

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.UPSTREAM:
            if isinstance(frame, ErrorFrame) and frame.processor is self.tts:
                logger.warning(f"voice: TTS failed: {frame.error}")
                self.director.tts_failed(str(frame.error))
                self._since = None
                return
            await self.push_frame(frame, direction)
            return
        if isinstance(frame, (EndFrame, CancelFrame)):
            await self.push_frame(frame, direction)
            return
        try:
            self._observe(frame)
        except Exception as exc:  # the voice is optional: a bug here must not end the room
            internal_error(f"voice {type(frame).__name__}", exc)
        await self.push_frame(frame, direction)
        await self._synthesize()

    def _observe(self, frame: Frame) -> None:
        d = self.director
        if isinstance(frame, SpeechOnsetFrame):
            d.speech_pending(frame.media_time_ms, frame.participant_id, frame.decided_at_ms)
        elif isinstance(frame, SpeakingStateFrame):
            if frame.speaking:
                d.speaking_started(frame.media_time_ms, frame.participant_id, frame.decided_at_ms)
            else:
                d.speaking_stopped(frame.media_time_ms, frame.participant_id, frame.duration_ms)
        elif isinstance(frame, EnvelopeFrame):
            d.event(frame.media_time_ms, frame.payload)
        elif isinstance(frame, MediaTickFrame):
            d.now = max(d.now, frame.media_time_ms)
            if d.synthesizing is not None and self._since is not None:
                if time.monotonic() - self._since > self.timeout_secs:
                    logger.warning(f"voice: no audio from the TTS service for {self.timeout_secs:g}s; giving up")
                    d.tts_failed("timeout")
                    self._since = None
        elif isinstance(frame, ParticipantJoinedFrame):
            d.joined(frame.media_time_ms, frame.participant_id, frame.display_name)
        elif isinstance(frame, ParticipantLeftFrame):
            d.left(frame.media_time_ms, frame.participant_id)

    async def _synthesize(self) -> None:
        utterance = self.director.next_synthesis()
        if utterance is not None:
            self._since = time.monotonic()
            await self.push_frame(TTSSpeakFrame(text=utterance.text, append_to_context=False))


class VoiceOutput(FrameProcessor):
    """Takes the TTS service's audio into the director; pushes the bot's media-timed audio and events.

    Reads ``TTSAudioRawFrame`` / ``TTSStoppedFrame`` / a downstream ``ErrorFrame`` (the service's
    audio, end, failure; every TTS frame is consumed), ``MediaTickFrame`` (playback runs on the
    room's media clock), ``SpeakingStateFrame`` (a barge-in's cut goes out at once) and
    ``RoomEndedFrame`` / ``EndFrame`` (stop speaking). Every other frame is forwarded.

    Frames pushed: ``OutputAudioRawFrame`` (stamped with its media time), ``EnvelopeFrame`` with
    ``FacilitatorSpeechStarted`` / ``FacilitatorSpeechStopped`` / ``RoomInterruptExecuted``, and on a
    cut ``BotAudioCutFrame`` + ``InterruptionFrame`` (the transport drops audio it still holds).

    Example::

        VoiceOutput(director=director, voice_input=voice_input)
    """

    def __init__(self, *, director: VoiceDirector, voice_input: VoiceInput | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.director = director
        self.voice_input = voice_input
        self._now = 0

    async def process_frame(self, frame: Frame, direction: FrameDirection) -> None:
        await super().process_frame(frame, direction)
        if direction is FrameDirection.DOWNSTREAM and isinstance(frame, (*TTS_FRAMES, ErrorFrame)):
            self._from_tts(frame)
            return
        if direction is FrameDirection.UPSTREAM or isinstance(frame, CancelFrame):
            await self.push_frame(frame, direction)
            return
        out: list[Any] = []
        try:
            if isinstance(frame, MediaTickFrame):
                self._now = max(self._now, frame.media_time_ms)
                out = self.director.advance(self._now, self._now + LEAD_MS)
            elif isinstance(frame, (SpeakingStateFrame, SpeechOnsetFrame)):
                out = self.director.drain()
            elif isinstance(frame, (RoomEndedFrame, EndFrame)) and not self.director.ended:
                at = max(self._now, getattr(frame, "media_time_ms", 0) or 0)
                out = self.director.finish(at)
        except Exception as exc:  # never let the voice end the room
            internal_error(f"voice {type(frame).__name__}", exc)
        if isinstance(frame, EndFrame):
            await self._push_out(out)
            await self.push_frame(frame, direction)
            return
        await self.push_frame(frame, direction)
        await self._push_out(out)

    async def cleanup(self) -> None:
        """Report what the voice did, failures included (a synthesis may fail after the room's end)."""
        await super().cleanup()  # type: ignore[no-untyped-call]  # Pipecat's method is unannotated
        failed = self.director.stats.get("tts_errors", 0) > 0
        (logger.warning if failed else logger.info)(f"voice: {self.director.summary()}")

    def _from_tts(self, frame: Frame) -> None:
        d = self.director
        if self.voice_input is not None:
            self.voice_input.alive()
        if isinstance(frame, TTSAudioRawFrame):
            d.tts_audio(frame.audio, frame.sample_rate)
        elif isinstance(frame, TTSStoppedFrame):
            d.tts_done()
        elif isinstance(frame, ErrorFrame):
            logger.warning(f"voice: TTS failed: {frame.error}")
            d.tts_failed(str(frame.error))

    async def _push_out(self, out: list[Any]) -> None:
        for item in out:
            if isinstance(item, Audio):
                audio = OutputAudioRawFrame(audio=item.pcm, sample_rate=item.sample_rate, num_channels=1)
                await self.push_frame(stamp(audio, item.media_time_ms))
            elif isinstance(item, Cut):
                await self.push_frame(BotAudioCutFrame(media_time_ms=item.media_time_ms))
                await self.push_frame(InterruptionFrame())
            else:
                at = getattr(item, "media_time_ms", None)
                await self.push_frame(EnvelopeFrame(payload=item, media_time_ms=self._now if at is None else at))


def build_voice(director: VoiceDirector, tts: TTSService, *, timeout_secs: float = 10.0) -> list[FrameProcessor]:
    """The three processors to place between ``PolicyOutputGate`` and ``EnvelopeSink``, in order."""
    voice_input = VoiceInput(director=director, tts=tts, timeout_secs=timeout_secs)
    return [voice_input, tts, VoiceOutput(director=director, voice_input=voice_input)]
