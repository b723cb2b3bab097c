"""The facilitator's voice for a session: from settings and policy to the pipeline's processors.

Kept out of ``lifecycle.py`` so the lifecycle calls it in a line: ``voice_processors`` builds the
``VoiceInput → TTS service → VoiceOutput`` trio when ``--voice`` is on (none otherwise, and nothing
of the voice is imported), ``bot_audio_path`` says where a simulated room writes the bot's track.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.config.settings import Settings
from bot.policy.snapshot import LoadedPolicy

__all__ = ["bot_audio_path", "voice_processors"]


def bot_audio_path(settings: Settings, scenario_path: Path | None) -> Path | None:
    """Where a simulated room writes the bot's voice: ``--bot-audio``, or with ``--voice``
    ``./<room>-bot.wav``; ``None`` when the voice is off and no path was asked for."""
    if settings.bot_audio is not None:
        return settings.bot_audio
    if not settings.voice:
        return None
    stem = scenario_path.stem if scenario_path is not None else "room"
    return Path.cwd() / f"{stem}-bot.wav"


def voice_processors(settings: Settings, policy: LoadedPolicy, *, llm: bool) -> list[Any]:
    """The voice's processors (to place after ``PolicyOutputGate``), or none when it is off."""
    if not settings.voice:
        return []
    from bot.processors.voice import build_voice
    from bot.voice.director import VoiceDirector, VoiceParams
    from bot.voice.tts import build_tts

    options = json.loads(settings.voice_tts_options) if settings.voice_tts_options else None
    tts = build_tts(
        settings.voice_tts,
        api_key=settings.openai_api_key.get_secret_value() if settings.openai_api_key else None,
        base_url=settings.openai_base_url,
        model=settings.voice_model,
        voice=settings.voice_name,
        timeout_secs=settings.voice_timeout_secs,
        options=options,
    )
    params = VoiceParams.from_policy(
        policy,
        gap_ms=settings.voice_gap_ms,
        interrupt_gap_ms=settings.voice_interrupt_gap_ms,
        llm_phrasing=llm,
    )
    director = VoiceDirector(policy, params)
    return build_voice(director, tts, timeout_secs=settings.voice_timeout_secs + 1.0)
