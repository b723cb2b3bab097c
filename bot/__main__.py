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
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # imported lazily below: pydantic loads only after the start is published
    from bot.settings import Settings

START = time.monotonic()


def build_parser() -> argparse.ArgumentParser:
    """Flags rendered from ``bot.settings.Settings``: one flag per setting, same docs as the env."""
    from bot.cli_settings import settings_parser
    from bot.settings import Settings

    return settings_parser(
        Settings,
        prog="python -m bot",
        description="Prism Room Bot: an AI facilitator for Daily rooms that publishes typed room events.",
        epilog="Every flag can also be set through the environment variable shown, or a .env file. "
        "Envelopes go to stdout as JSON lines; logs go to stderr.",
    )


def load_settings(argv: Sequence[str] | None) -> Settings:
    """Parse flags over environment and .env; a bad value is a one-line ``ConfigError``, exit 2."""
    from bot.cli_settings import settings_from_flags
    from bot.settings import Settings

    return settings_from_flags(Settings, build_parser().parse_args(argv))


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
