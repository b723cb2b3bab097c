"""``python -m supervisor``: run the room supervisor and its HTTP API until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Sequence

from supervisor.settings import ENV_ONLY, SupervisorSettings, env_name


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def build_parser() -> argparse.ArgumentParser:
    """One flag per setting (secrets excepted), with the setting's doc and variable."""
    parser = argparse.ArgumentParser(
        prog="python -m supervisor",
        description="Prism room supervisor: runs one bot per room, validates their envelopes, forwards them to EventBridge (or a dry-run log).",
        epilog="Every flag can also be set through the environment variable shown, or a .env file. "
        "SUPERVISOR_TOKEN and PRISM_PII_SALT are environment-only. Logs go to stderr.",
    )
    for name, field in SupervisorSettings.model_fields.items():
        if name in ENV_ONLY:
            continue
        help_text = f"{field.description} [env {env_name(name)}]"
        choices = getattr(field.annotation, "__args__", None) if str(field.annotation).startswith("typing.Literal") else None
        if field.annotation is bool:
            parser.add_argument(_flag(name), dest=name, action="store_true", default=None, help=help_text)
        else:
            parser.add_argument(_flag(name), dest=name, default=None, metavar=None if choices else name.upper(), choices=choices, help=help_text)
    return parser


class SettingsError(Exception):
    pass


def load_settings(argv: Sequence[str] | None) -> SupervisorSettings:
    from pydantic import ValidationError

    args = build_parser().parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None}
    try:
        settings = SupervisorSettings(**given)
    except ValidationError as exc:
        err = exc.errors(include_url=False, include_input=False)[0]
        loc = err.get("loc") or ()
        name = str(loc[0]) if loc else ""
        field_name = next((f for f in SupervisorSettings.model_fields if f == name or env_name(f) == name), name)
        if field_name in given:
            where = _flag(field_name)
        elif field_name in SupervisorSettings.model_fields:
            where = env_name(field_name)
        else:
            where = "settings"
        raise SettingsError(f"{where}: {err['msg'].removeprefix('Value error, ')}") from None
    problem = settings.auth_problem()
    if problem:
        raise SettingsError(problem)
    return settings


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        settings = load_settings(args)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from supervisor.app import configure_logging, serve

    configure_logging("DEBUG" if settings.debug else settings.log_level)
    try:
        return asyncio.run(serve(settings))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:  # the port is taken, the host does not exist, the dry-run path is unwritable
        if settings.debug:
            raise
        print(f"error: {exc.strerror or exc}{f' ({exc.filename})' if getattr(exc, 'filename', None) else ''}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
