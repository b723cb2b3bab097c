"""Voice settings: off by default, a missing TTS service is a one-line error before any join,
another Pipecat TTS service is named by import path, and the WAV path defaults beside the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.config.settings import Settings
from bot.core.errors import ConfigError
from bot.session.voice import bot_audio_path, voice_processors


def settings(**values: object) -> Settings:
    return Settings.model_validate(values)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "BOT_VOICE", "BOT_VOICE_TTS", "BOT_AUDIO_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's


def test_the_voice_is_off_by_default_and_adds_no_processor() -> None:
    s = settings()
    assert s.voice is False
    from bot.policy import default_policy

    assert voice_processors(s, default_policy(), llm=False) == []
    assert bot_audio_path(s, Path("rooms/dominant.json")) is None


def test_voice_without_a_tts_service_is_refused_before_anything_runs() -> None:
    with pytest.raises(ValidationError, match="OPENAI_API_KEY, or OPENAI_BASE_URL"):
        settings(voice=True)
    assert settings(voice=True, openai_base_url="http://127.0.0.1:9/v1").voice


def test_tts_options_must_be_a_json_object() -> None:
    with pytest.raises(ValidationError, match="JSON object"):
        settings(voice_tts_options="[1, 2]")


def test_another_pipecat_tts_service_is_built_from_its_import_path() -> None:
    from bot.policy import default_policy

    s = settings(
        voice=True,
        voice_tts="pipecat.services.openai.tts:OpenAITTSService",
        voice_tts_options='{"api_key": "sk-test", "base_url": "http://127.0.0.1:9/v1"}',
    )
    processors = voice_processors(s, default_policy(), llm=False)
    assert type(processors[1]).__name__ == "OpenAITTSService"


@pytest.mark.parametrize(
    ("service", "message"),
    [
        ("nope", "expected 'openai' or 'package.module:ClassName'"),
        ("no.such.module:Thing", "cannot import"),
        ("json:JSONDecoder", "is not a Pipecat TTSService"),
    ],
    ids=["not-a-path", "missing-module", "not-a-tts"],
)
def test_a_bad_tts_service_is_a_config_error_naming_the_setting(service: str, message: str) -> None:
    from bot.policy import default_policy

    s = settings(voice=True, voice_tts=service)
    with pytest.raises(ConfigError, match=message) as err:
        voice_processors(s, default_policy(), llm=False)
    assert "BOT_VOICE_TTS" in str(err.value)


def test_with_the_voice_a_simulated_room_writes_its_wav_beside_the_run(tmp_path: Path) -> None:
    s = settings(voice=True, openai_base_url="http://127.0.0.1:9/v1")
    assert bot_audio_path(s, Path("bot/scenarios/rooms/dominant.json")) == tmp_path / "dominant-bot.wav"
    assert bot_audio_path(settings(bot_audio="x/out.wav"), None) == Path("x/out.wav")
