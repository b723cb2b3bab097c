"""``python -m bot``: run one room session.

With no room URL it plays the bundled demo scenario as a simulated room (the embedded default);
``--simulate FILE`` plays any scenario. Stdout carries envelopes only (JSON lines); when stdout is
a terminal, a live view of the room is drawn on stderr instead.

Start-up order matters: ``bot.boot`` writes ``assistant.session.started`` from the session's
identity before even pydantic loads; then the full settings are validated (a bad one publishes
``assistant.session.failed`` with stage ``config``), and only then do the heavy imports load.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, Sequence

START = time.monotonic()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class _OneLineErrors(argparse.ArgumentParser):
    """A bad flag is a ``ConfigError``: one line (``error: ...``) and exit 2, like every other user error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        from bot.errors import ConfigError

        raise ConfigError(f"{message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    """Flags rendered from ``bot.settings.Settings``: one flag per setting, same docs as the env."""
    from bot.settings import Settings, env_name

    parser = _OneLineErrors(
        prog="python -m bot",
        allow_abbrev=False,  # a prefix of a flag is not the flag: new flags never change old command lines
        description="Prism Room Bot: an AI facilitator for Daily rooms that publishes typed room events.",
        epilog="Every flag can also be set through the environment variable shown, or a .env file. "
        "Envelopes go to stdout as JSON lines; logs go to stderr.",
    )
    for name, field in Settings.model_fields.items():
        default = field.default.get_secret_value() if hasattr(field.default, "get_secret_value") else field.default
        shown = "" if default in (None, "", False) or name in ("token", "pii_salt") else f" (default: {default})"
        help_text = f"{field.description}{shown} [env {env_name(name)}]"
        choices = getattr(field.annotation, "__args__", None) if str(field.annotation).startswith("typing.Literal") else None
        if field.annotation is bool:
            parser.add_argument(_flag(name), dest=name, action="store_true", default=None, help=help_text)
        else:
            metavar = name.upper()
            parser.add_argument(_flag(name), dest=name, default=None, metavar=None if choices else metavar, choices=choices, help=help_text)
    return parser


def load_settings(argv: Sequence[str] | None) -> Any:
    """Parse flags over environment and .env; a bad value is a one-line error, exit 2."""
    from pydantic import ValidationError

    from bot.errors import ConfigError
    from bot.settings import Settings, env_name

    args = build_parser().parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        name = str(err["loc"][0]) if err.get("loc") else ""
        field_name = next((f for f in Settings.model_fields if f == name or env_name(f) == name), name)
        where = _flag(field_name) if field_name in given else (env_name(field_name) if field_name in Settings.model_fields else name)
        raise ConfigError(f"{where}: {str(err['msg']).removeprefix('Value error, ')}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    from bot.boot import publish_started

    booted = publish_started(args)  # the first envelope, before pydantic (bot/boot.py says why)
    settings = None
    started = None
    try:
        settings = load_settings(args)
        debug = debug or settings.debug
        from bot.startup import begin, wants_live_view

        started = begin(settings, claim_stdout=True, live_view=wants_live_view(settings.view), booted=booted)
        from bot.app import run

        return run(settings, started_at=START, started=started)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the one place a user-caused error becomes one line
        from bot.errors import PrismError
        from bot.secrets import scrubber_from_env

        secrets = []
        if settings is not None:  # flag and .env secrets too, not only the environment's
            from bot.app import secret_values

            secrets = secret_values(settings)
        scrub = scrubber_from_env(None, *secrets)
        if isinstance(exc, PrismError):
            line = scrub(str(exc))
            code = exc.exit_code
        else:
            line = f"unexpected {type(exc).__name__}: {scrub(str(exc))}"
            code = 1
        if booted is not None and started is None:
            _publish_config_failure(booted, line)
        if debug:
            raise
        print(f"error: {line}" if code != 1 else f"error: {line} (run with --debug for the traceback)", file=sys.stderr)
        return code


def _publish_config_failure(booted: Any, error: str) -> None:
    """The start is out but the session never began: say why on stdout too (stage ``config``)."""
    try:
        from bot.events import SessionContext, create_runtime
        from bot.generated import AssistantSessionFailed
        from bot.startup import adopt_boot_envelope

        identity = booted.identity
        runtime = create_runtime(
            SessionContext(session_id=booted.session_id, assistant_id=identity.assistant_id, tenant_id=identity.tenant_id, room_id=identity.room_id),
            claim_stdout=True,
        )
        adopt_boot_envelope(runtime, booted)
        runtime.bus.publish(AssistantSessionFailed(stage="config", error=error[:500], retryable=False))
    except Exception as exc:  # the error line on stderr still tells the person; never hide it
        print(f"warning: could not publish assistant.session.failed: {exc!r}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
