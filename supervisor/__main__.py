"""``python -m supervisor``: run the room supervisor and its HTTP API until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.config.environment_check import require_project_python

if __name__ == "__main__":  # before the imports below, which need the project's packages
    require_project_python("python -m supervisor")

from bot.config import settings as bot_settings
from bot.config.flags import settings_from_flags, settings_parser
from bot.core.errors import ConfigError
from bot.core.text import printable
from supervisor.settings import ENV_ONLY, SupervisorSettings, env_name


def build_parser() -> argparse.ArgumentParser:
    """One flag per setting (secrets excepted), with the setting's doc and variable."""
    env_only = " and ".join(env_name(name) for name in SupervisorSettings.model_fields if name in ENV_ONLY)
    return settings_parser(
        SupervisorSettings,
        prog="python -m supervisor",
        description="Prism room supervisor: runs one bot per room, validates their envelopes, forwards them to EventBridge (or a dry-run log).",
        epilog="Every flag can also be set through the environment variable shown, or a .env file. "
        f"{env_only} are environment-only. Logs go to stderr.",
        env_only=ENV_ONLY,
    )


def load_settings(argv: Sequence[str] | None) -> SupervisorSettings:
    """Parse flags over environment and .env; a bad value or an unservable API is a one-line ``ConfigError``."""
    settings = settings_from_flags(
        SupervisorSettings, build_parser().parse_args(argv), dotenv_also_known=bot_variables()
    )
    problem = settings.auth_problem()
    if problem:
        raise ConfigError(problem)
    return settings


def bot_variables() -> list[str]:
    """The bot's variables: at home in the supervisor's ``.env`` (it passes the bots' secrets and
    endpoints on from there, and a checkout's one ``.env`` often serves both programs), so its
    check does not call them misspelled, and suggests them for near misses (``OPENAI_API_KYE``)."""
    return [bot_settings.env_name(name) for name in bot_settings.Settings.model_fields]


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        settings = load_settings(args)
    except ConfigError as exc:
        print(f"error: {printable(str(exc))}", file=sys.stderr)
        return exc.exit_code
    from supervisor.app import configure_logging, serve

    configure_logging("DEBUG" if settings.debug else settings.log_level, settings.token, settings.pii_salt)
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the port is taken, the host does not exist, the dry-run path is unwritable
        if settings.debug:
            raise
        print(f"error: {os_error_line(exc, settings)}", file=sys.stderr)
        return 2


def os_error_line(exc: OSError, settings: SupervisorSettings) -> str:
    """``No such file or directory (/proc/nope)``, named after the setting when the file is one's:
    ``SUPERVISOR_DRY_RUN_PATH (--dry-run-path): /proc/nope/x.jsonl: cannot write: No such file or directory (/proc/nope)``."""
    line = f"{exc.strerror or exc}{f' ({exc.filename})' if getattr(exc, 'filename', None) else ''}"
    filename = getattr(exc, "filename", None)
    path = settings.dry_run_path
    if filename is not None and path is not None and Path(filename) in (path, *path.parents[:1]):
        line = f"{env_name('dry_run_path')} (--dry-run-path): {path}: cannot write: {line}"
    return line


if __name__ == "__main__":
    sys.exit(main())
