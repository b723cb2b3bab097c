"""The voice's TTS service: Pipecat's own, chosen by a setting.

``BOT_VOICE_TTS=openai`` (the default) is Pipecat's ``OpenAITTSService`` on the ``openai`` client the
LLM facilitator already uses (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``: any OpenAI-compatible
``/v1/audio/speech``), with a bounded client. Any other Pipecat TTS service is named by its import
path, ``package.module:ClassName``, and built with the JSON object in ``BOT_VOICE_TTS_OPTIONS`` as
keyword arguments (its API key among them, or from its own environment variable).

Import this module only when the voice is on: it imports Pipecat's OpenAI service.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from openai import AsyncOpenAI
from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.openai.tts import OpenAITTSService
from pipecat.services.tts_service import TTSService

from bot.core.errors import ConfigError

__all__ = ["OPENAI_TTS_SAMPLE_RATE", "RoomOpenAITTSService", "build_tts"]

OPENAI_TTS_SAMPLE_RATE = 24_000
"""OpenAI's ``pcm`` response format: 24 kHz, 16-bit signed little-endian, mono."""


class RoomOpenAITTSService(OpenAITTSService):
    """Pipecat's ``OpenAITTSService`` with a bounded client and every failure as an ``ErrorFrame``.

    - The client gets ``timeout_secs`` per request and no retries: a hung server costs one
      utterance, not the SDK's default 10 minutes, and the room never waits on it.
    - Pipecat's service turns only ``BadRequestError`` into an ``ErrorFrame``; a timeout, a refused
      connection or a 5xx would escape ``run_tts``. Here each becomes an ``ErrorFrame`` the voice
      counts, and the room goes on.
    """

    def __init__(
        self, *, api_key: str | None = None, base_url: str | None = None, timeout_secs: float = 5.0, **kwargs: Any
    ) -> None:
        super().__init__(api_key=api_key, base_url=base_url, sample_rate=OPENAI_TTS_SAMPLE_RATE, **kwargs)
        self._client = AsyncOpenAI(api_key=api_key, base_url=base_url, timeout=timeout_secs, max_retries=0)

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        try:
            async for frame in super().run_tts(text, context_id):
                yield frame
        except Exception as exc:  # timeouts, connection errors, 5xx: one failed utterance
            yield ErrorFrame(error=f"TTS request failed: {type(exc).__name__}: {exc}")


def build_tts(
    service: str = "openai",
    *,
    api_key: str | None = None,
    base_url: str | None = None,
    model: str = "gpt-4o-mini-tts",
    voice: str = "alloy",
    timeout_secs: float = 5.0,
    options: Mapping[str, Any] | None = None,
) -> TTSService:
    """The TTS service named by ``service``: ``openai`` or ``package.module:ClassName``.

    Raises:
        ConfigError: the class cannot be imported, is not a Pipecat ``TTSService``, or refuses
            the options.
    """
    options = dict(options or {})
    if service == "openai":
        settings = RoomOpenAITTSService.Settings(model=model, voice=voice)
        return RoomOpenAITTSService(
            api_key=api_key or "not-needed", base_url=base_url, timeout_secs=timeout_secs, settings=settings, **options
        )
    module_name, _, class_name = service.partition(":")
    if not module_name or not class_name:
        raise ConfigError(f"BOT_VOICE_TTS: expected 'openai' or 'package.module:ClassName', got {service!r}")
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"BOT_VOICE_TTS: cannot import {service!r}: {exc}") from None
    if not (isinstance(cls, type) and issubclass(cls, TTSService)):
        raise ConfigError(f"BOT_VOICE_TTS: {service!r} is not a Pipecat TTSService")
    try:
        return cls(**options)
    except Exception as exc:  # the class's own validation: say which setting, not a traceback
        raise ConfigError(f"BOT_VOICE_TTS: {service} refused BOT_VOICE_TTS_OPTIONS: {exc}") from None
