"""All settings of the bot, in one place: flags, environment and ``.env`` read the same fields.

``python -m bot --help``, ``.env.example`` and the settings table of docs/deploy.md are rendered
from this class (``python -m bot.config.settings --env-example`` rewrites ``.env.example``,
``--write-docs`` the table; tests check both are fresh). Secrets are ``SecretStr`` so they never
print by accident.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from bot.config import flags as cli_settings
from bot.config import secrets
from bot.config.flags import VariableNamedSettings
from bot.config.flags import env_alias as _env
from bot.config.identity import DEFAULT_ASSISTANT_ID, DEFAULT_TENANT_ID, IDENTITY_MAX, id_problem
from bot.rooms.urls import http_url_problem


class Settings(VariableNamedSettings):
    """Configuration of one bot process (one room session)."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # --- room
    room_url: str | None = Field(
        default=None,
        validation_alias=_env("ROOM_URL"),
        description="Daily room URL to join. Without it the bot plays a simulated room (the bundled demo, or --simulate).",
    )
    token: SecretStr | None = Field(
        default=None, validation_alias=_env("DAILY_TOKEN"), description="Daily meeting token for the room (secret)."
    )
    daily_api_key: SecretStr | None = Field(
        default=None, validation_alias=_env("DAILY_API_KEY"), description="Daily REST API key (secret)."
    )
    simulate: Path | None = Field(
        default=None,
        validation_alias=_env("BOT_SIMULATE"),
        description="Scenario file to play as a simulated room (JSON; see docs/simulated-room.md). Default: the bundled demo.",
    )
    tracks: list[Path] | None = Field(
        default=None,
        validation_alias=_env("BOT_TRACKS"),
        description="Analyse a per-participant recording: one audio file per participant (WAV/FLAC/Opus/WebM), each named after its file. Plays at --speed 0 unless given.",
    )
    speed: float = Field(
        default=1.0,
        ge=0,
        le=1000,
        allow_inf_nan=False,
        validation_alias=_env("BOT_SPEED"),
        description="Simulated-room playback speed: 1 real time, N times real time, 0 as fast as possible.",
    )
    stdin_messages: bool = Field(
        default=False,
        validation_alias=_env("BOT_STDIN_MESSAGES"),
        description='Simulated room: read browser app messages from stdin, one JSON line each ({"senderId", "message"}); the supervisor sets it to pass dashboard votes on.',
    )
    bot_name: str = Field(
        default="Prism Facilitator",
        min_length=1,
        max_length=64,
        validation_alias=_env("BOT_NAME"),
        description="The bot's name in the Daily room.",
    )
    transcription: bool = Field(
        default=False,
        validation_alias=_env("BOT_TRANSCRIPTION"),
        description="Start Daily transcription for every participant (the token must allow it); transcripts feed pacing.",
    )
    join_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        validation_alias=_env("BOT_JOIN_ATTEMPTS"),
        description="Attempts to join the Daily room, with exponential backoff and jitter between them.",
    )
    join_budget_secs: float = Field(
        default=45.0,
        gt=0,
        le=600,
        validation_alias=_env("BOT_JOIN_BUDGET_SECS"),
        description="Total time allowed for all join attempts and the waits between them.",
    )
    empty_timeout_secs: float | None = Field(
        default=120.0,
        gt=0,
        validation_alias=_env("BOT_EMPTY_TIMEOUT_SECS"),
        description="End the session (reason room_empty) after the Daily room has been empty this long.",
    )
    # --- assistant context
    mesh_url: str | None = Field(
        default=None,
        validation_alias=_env("MESH_URL"),
        description="Prism Mesh GraphQL endpoint the assistant context is fetched from.",
    )
    mesh_api_token: SecretStr | None = Field(
        default=None, validation_alias=_env("MESH_API_TOKEN"), description="Bearer token for Prism Mesh (secret)."
    )
    mesh_rest_url: str | None = Field(
        default=None,
        validation_alias=_env("MESH_REST_URL"),
        description="REST fallback base for the context (default: MESH_URL without /graphql).",
    )
    assistant_file: Path | None = Field(
        default=None,
        validation_alias=_env("BOT_ASSISTANT_FILE"),
        description="Local assistant context (JSON) used when MESH_URL is not set; without either, built-in defaults apply.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("OPENAI_API_KEY"),
        description="OpenAI-compatible API key for the LLM facilitator (secret); setting it turns the facilitator on.",
    )
    openai_base_url: str | None = Field(
        default=None,
        validation_alias=_env("OPENAI_BASE_URL"),
        description="Base URL of the OpenAI-compatible API (e.g. http://127.0.0.1:11434/v1 for a local server). Default: OpenAI.",
    )
    openai_model: str = Field(
        default="gpt-4.1-mini",
        min_length=1,
        max_length=128,
        validation_alias=_env("OPENAI_MODEL"),
        description="Model of the LLM facilitator.",
    )
    llm: bool = Field(
        default=False,
        validation_alias=_env("BOT_LLM"),
        description="Turn the LLM facilitator on without OPENAI_API_KEY (a local server that needs no key).",
    )
    llm_timeout_secs: float = Field(
        default=10.0,
        gt=0,
        le=120,
        validation_alias=_env("BOT_LLM_TIMEOUT_SECS"),
        description="Timeout of one LLM request; a failed request is logged and retried later, never ends the room.",
    )
    # --- voice
    voice: bool = Field(
        default=False,
        validation_alias=_env("BOT_VOICE"),
        description="Give the facilitator a voice: it speaks prompts and interrupt requests in the room's silences and yields when someone starts (what it may say: the policy's facilitation.voice).",
    )
    voice_tts: str = Field(
        default="openai",
        min_length=1,
        max_length=200,
        validation_alias=_env("BOT_VOICE_TTS"),
        description="The voice's Pipecat TTS service: openai (OPENAI_API_KEY, OPENAI_BASE_URL) or an import path package.module:ClassName of another Pipecat TTSService.",
    )
    voice_tts_options: str | None = Field(
        default=None,
        max_length=4000,
        validation_alias=_env("BOT_VOICE_TTS_OPTIONS"),
        description="JSON object of keyword arguments for the TTS service class (a non-openai BOT_VOICE_TTS), e.g. its api_key and voice_id.",
    )
    voice_model: str = Field(
        default="gpt-4o-mini-tts",
        min_length=1,
        max_length=128,
        validation_alias=_env("BOT_VOICE_MODEL"),
        description="OpenAI TTS model of the voice.",
    )
    voice_name: str = Field(
        default="alloy",
        min_length=1,
        max_length=64,
        validation_alias=_env("BOT_VOICE_NAME"),
        description="OpenAI TTS voice (alloy, ash, coral, echo, nova, sage, shimmer, ...).",
    )
    voice_gap_ms: int = Field(
        default=700,
        ge=200,
        le=10_000,
        validation_alias=_env("BOT_VOICE_GAP_MS"),
        description="The room must have been silent this long (media time) before the bot speaks.",
    )
    voice_interrupt_gap_ms: int = Field(
        default=500,
        ge=200,
        le=10_000,
        validation_alias=_env("BOT_VOICE_INTERRUPT_GAP_MS"),
        description="To carry out an interrupt request, the interrupted speaker's own pause this long is enough (longer than the pauses between their sentences).",
    )
    voice_timeout_secs: float = Field(
        default=5.0,
        gt=0,
        le=60,
        validation_alias=_env("BOT_VOICE_TIMEOUT_SECS"),
        description="Timeout of one TTS request; a failed utterance is counted and skipped, never ends the room.",
    )
    bot_audio: Path | None = Field(
        default=None,
        validation_alias=_env("BOT_AUDIO_PATH"),
        description="Simulated rooms: write the bot's voice as WAV here, aligned to the room's media time, and the room mixed with it beside it (*.mix.wav). Default with --voice: ./<room>-bot.wav.",
    )
    # --- policy
    policy: Path | None = Field(
        default=None,
        validation_alias=_env("BOT_POLICY_PATH"),
        description="ConversationPolicy snapshot to enforce (python -m bot.policy compose LAYER... -o FILE; docs/policy.md), or a JSON list of layers. Without it the documented safe default applies.",
    )
    # --- identity
    assistant_id: str = Field(
        default=DEFAULT_ASSISTANT_ID,
        min_length=1,
        max_length=IDENTITY_MAX,
        validation_alias=_env("ASSISTANT_ID"),
        description="Assistant id put on every envelope.",
    )
    tenant_id: str = Field(
        default=DEFAULT_TENANT_ID,
        min_length=1,
        max_length=IDENTITY_MAX,
        validation_alias=_env("TENANT_ID"),
        description="Tenant id put on every envelope.",
    )
    # --- events
    heartbeat_secs: float = Field(
        default=15.0,
        gt=0,
        le=3600,
        validation_alias=_env("BOT_HEARTBEAT_SECS"),
        description="Seconds between bot.health.heartbeat envelopes.",
    )
    pii_salt: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=_env("PRISM_PII_SALT"),
        description="Salt of the SHA-256 pseudonyms the spec's `hash` redactions produce; keep it secret and stable.",
    )
    expect_spec_version: str | None = Field(
        default=None,
        pattern=r"^sha256:[0-9a-f]{64}$",
        validation_alias=_env("BOT_EXPECT_SPEC_VERSION"),
        description="Spec version the operator expects; a different one publishes events.runtime.version.mismatch.",
    )
    refuse_forward_on_spec_mismatch: bool = Field(
        default=False,
        validation_alias=_env("BOT_REFUSE_FORWARD_ON_SPEC_MISMATCH"),
        description="When the boot spec check fails, stop forwarding app messages (stdout always carries everything).",
    )
    # --- forwarding
    forward: Literal["stdout", "stdout+eventbridge", "eventbridge"] = Field(
        default="stdout",
        validation_alias=_env("BOT_FORWARD"),
        description="stdout: envelopes on stdout only (a supervisor forwards); stdout+eventbridge: the bot also forwards eventbridge topics itself; eventbridge: the bot forwards them itself and writes no envelopes to stdout (Pipecat Cloud, where stdout is the container log).",
    )
    stdout_pii_max_level: int | None = Field(
        default=None,
        ge=0,
        le=3,
        validation_alias=_env("BOT_STDOUT_PII_MAX_LEVEL"),
        description="Highest PII level envelopes on stdout may carry (spec/config/pii.json: 0 none, 1 pseudonymous ids, 2 names, 3 content); fields above it are dropped. Default: the spec's (3); on Pipecat Cloud 0, as stdout is the container log there.",
    )
    eventbridge_bus: str | None = Field(
        default=None,
        validation_alias=_env("EVENTBRIDGE_BUS"),
        description="EventBridge bus name or ARN for direct forwarding (default: the account's default bus).",
    )
    eventbridge_source: str = Field(
        default="prism.room-bot",
        min_length=1,
        max_length=256,
        validation_alias=_env("EVENTBRIDGE_SOURCE"),
        description="Source of every PutEvents entry.",
    )
    eventbridge_region: str | None = Field(
        default=None,
        validation_alias=_env("EVENTBRIDGE_REGION"),
        description="AWS region for direct forwarding (default: the AWS chain).",
    )
    eventbridge_endpoint_url: str | None = Field(
        default=None,
        validation_alias=_env("EVENTBRIDGE_ENDPOINT_URL"),
        description="EventBridge endpoint override (a local moto server).",
    )
    forward_dry_run_path: Path | None = Field(
        default=None,
        validation_alias=_env("BOT_FORWARD_DRY_RUN_PATH"),
        description="With BOT_FORWARD=stdout+eventbridge or eventbridge: write the PutEvents requests to this JSON-lines file instead of calling AWS ('-' = stderr).",
    )
    # --- speech detection
    vad_model_gain_db: float = Field(
        default=15.0,
        ge=0,
        le=24,
        allow_inf_nan=False,
        validation_alias=_env("BOT_VAD_MODEL_GAIN_DB"),
        description="Raise a quiet participant's voice by up to this many dB for the speech model only, towards a normal speaking level (0: off). Finds quiet and telephone-band participants' words sooner; on by default since the ninth round (docs/vad.md).",
    )
    # --- session limits
    idle_timeout_secs: float | None = Field(
        default=300.0,
        gt=0,
        validation_alias=_env("BOT_IDLE_TIMEOUT_SECS"),
        description="End the session after this long with no speech, transcript, chat or inbound message.",
    )
    max_duration_secs: float | None = Field(
        default=None,
        gt=0,
        validation_alias=_env("BOT_MAX_DURATION_SECS"),
        description="End the session after this many seconds.",
    )
    # --- output
    view: Literal["auto", "live", "off"] = Field(
        default="auto",
        validation_alias=_env("BOT_VIEW"),
        description="Live room view on stderr: auto = when stdout and stderr are terminals, live = always, off = never. Envelopes go to stdout unless it is a terminal.",
    )
    verbose: bool = Field(
        default=False,
        validation_alias=_env("BOT_VERBOSE"),
        description="Log more (INFO) and print each outbound app message on stderr.",
    )
    debug: bool = Field(
        default=False,
        validation_alias=_env("BOT_DEBUG"),
        description="Log everything (DEBUG) and show tracebacks on errors.",
    )

    @model_validator(mode="after")
    def _voice_has_a_tts_service(self) -> Settings:
        """--voice with the OpenAI TTS needs a key or a local server: fail before any join."""
        if self.voice and self.voice_tts == "openai" and self.openai_api_key is None and self.openai_base_url is None:
            raise ValueError(
                "--voice: the openai TTS service needs OPENAI_API_KEY, or OPENAI_BASE_URL for a local"
                " OpenAI-compatible server (or set BOT_VOICE_TTS to another Pipecat TTS service)"
            )
        return self

    @field_validator("voice_tts_options")
    @classmethod
    def _json_object(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        import json

        try:
            parsed = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"must be a JSON object: {exc}") from None
        if not isinstance(parsed, dict):
            raise ValueError('must be a JSON object such as {"voice_id": "..."}')
        return value

    @field_validator("speed")
    @classmethod
    def _speed_is_usable(cls, value: float) -> float:
        if 0 < value < 0.05:
            raise ValueError("must be 0 (as fast as possible) or at least 0.05 (20× slower than real time)")
        return value

    @property
    def forwards_to_eventbridge(self) -> bool:
        """The bot runs the EventBridge forwarder itself (``BOT_FORWARD`` names ``eventbridge``)."""
        return "eventbridge" in self.forward

    @property
    def stdout_envelopes(self) -> bool:
        """Envelopes go to stdout (all modes but ``BOT_FORWARD=eventbridge``)."""
        return self.forward != "eventbridge"

    @field_validator("simulate", "assistant_file", "policy", "forward_dry_run_path", "bot_audio", mode="before")
    @classmethod
    def _empty_path_is_unset(cls, value: object) -> object:
        """``BOT_SIMULATE=`` means "not set", as an empty URL does (not the current directory)."""
        return None if value == "" else value

    @model_validator(mode="after")
    def _tracks_play_alone(self) -> Settings:
        """``--tracks`` is its own room: not with a room URL or a scenario; as fast as possible
        unless a speed was given (a recording is analysed, not watched)."""
        if self.tracks:
            if self.room_url or self.simulate:
                raise ValueError("--tracks cannot be combined with a room URL or --simulate")
            if "speed" not in self.model_fields_set:
                self.speed = 0.0
        return self

    @field_validator("assistant_id", "tenant_id")
    @classmethod
    def _usable_id(cls, value: str) -> str:
        problem = id_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("room_url", "mesh_url", "mesh_rest_url", "openai_base_url", "eventbridge_endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None, info: ValidationInfo) -> str | None:
        """An http(s) URL with a host; the error never repeats the value (it may hold a token).

        An empty room URL is an error, not "no room": ``ROOM_URL=`` left empty by a deployment
        would otherwise play the bundled demo and publish its made-up events as the room's.
        Leave the variable out for the simulated room. Other empty URLs mean "not set"."""
        if value == "" and info.field_name == "room_url":
            raise ValueError("is empty; leave it out to play the simulated room")
        if value is None or value == "":
            return None
        problem = http_url_problem(value)
        if problem is not None:
            example = (
                " such as https://your-domain.daily.co/room"
                if info.field_name == "room_url" and "host" in problem
                else ""
            )
            raise ValueError(problem + example)
        return value


SECRET_FIELDS = secrets.SECRET_FIELDS


def secret_values(settings: Settings) -> list[Any]:
    """The values of the secret settings (some unset): what the scrubber must mask."""
    return [getattr(settings, name, None) for name in SECRET_FIELDS]


def env_name(field_name: str) -> str:
    """The environment variable of a setting: ``speed`` → ``BOT_SPEED``."""
    return cli_settings.env_name(Settings, field_name)


def render_env_example() -> str:
    """The ``.env.example`` file: every setting, its variable, its doc and its default."""
    lines = [
        "# Prism Room Bot settings. Copy to .env and fill in what you need.",
        "# Rendered from bot/config/settings.py by `python -m bot.config.settings --env-example`.",
        "",
    ]
    lines += _env_entries(Settings, env_name)
    # the supervisor reads the same .env (docs/supervisor.md); its own settings follow the bot's
    from importlib import import_module

    supervisor = import_module("supervisor.settings")
    listed = {env_name(name) for name in Settings.model_fields}
    lines += ["# ---- the supervisor (python -m supervisor); shared names are listed above", ""]
    lines += _env_entries(supervisor.SupervisorSettings, supervisor.env_name, skip=listed)
    return "\n".join(lines)


_REPO = Path(__file__).resolve().parents[2]
"""The folder holding the ``bot`` package (a checkout, or site-packages)."""


def _env_entries(settings_class: Any, name_of: Any, skip: Collection[str] = ()) -> list[str]:
    """``# doc`` / ``# VARIABLE=default`` / blank, for each field of ``settings_class``."""
    lines: list[str] = []
    for name, field in settings_class.model_fields.items():
        if name_of(name) in skip:
            continue
        default = field.default
        if isinstance(default, SecretStr):
            default = default.get_secret_value()
        if isinstance(default, Path) and default.is_relative_to(_REPO):
            default = default.relative_to(_REPO)  # the checkout's own folder: the same on every machine
        shown = "" if default is None else str(default).lower() if isinstance(default, bool) else str(default)
        lines.append(f"# {field.description}")
        lines.append(f"# {name_of(name)}={shown}")
        lines.append("")
    return lines


DOCS_TABLE_START = "<!-- settings-table:start -->"
DOCS_TABLE_END = "<!-- settings-table:end -->"
DOCS_PAGE = Path("docs/deploy.md")
"""The page holding the table, relative to the repository (where ``python -m bot.config.settings`` runs)."""


def render_settings_table() -> str:
    """The Markdown table of every setting: variable, flag, default (never a secret's) and doc."""
    lines = ["| variable | flag | default | what it does |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        doc = (field.description or "").replace("|", "\\|")
        lines.append(
            f"| `{env_name(name)}` | `{cli_settings.flag_name(name)}` | {_table_default(name, field.default)} | {doc} |"
        )
    return "\n".join(lines)


def _table_default(name: str, default: object) -> str:
    if name in SECRET_FIELDS:
        return "*secret*"
    if default is None:
        return "—"
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, float):
        return f"`{default:g}`"
    return f"`{default}`"


def with_settings_table(page: str) -> str:
    """``page`` with the text between the settings-table markers replaced by :func:`render_settings_table`.

    Raises:
        ValueError: the page lacks the markers (or has them out of order).
    """
    start, end = page.find(DOCS_TABLE_START), page.find(DOCS_TABLE_END)
    if start < 0 or end < start:
        raise ValueError(f"no {DOCS_TABLE_START} ... {DOCS_TABLE_END} block")
    head = page[: start + len(DOCS_TABLE_START)]
    return f"{head}\n{render_settings_table()}\n{page[end:]}"


USAGE = """usage: python -m bot.config.settings --env-example | --docs-table | --write-docs
  --env-example  rewrite .env.example
  --docs-table   print the settings table (Markdown) on stdout
  --write-docs   rewrite the table between the settings-table markers of docs/deploy.md"""


def main(argv: list[str]) -> int:
    """``python -m bot.config.settings``: render the files made from this class (run from the repository)."""
    if argv == ["--env-example"]:
        Path(".env.example").write_text(render_env_example(), encoding="utf-8")
    elif argv == ["--docs-table"]:
        print(render_settings_table())
    elif argv == ["--write-docs"]:
        DOCS_PAGE.write_text(with_settings_table(DOCS_PAGE.read_text(encoding="utf-8")), encoding="utf-8")
    else:
        print(USAGE, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
