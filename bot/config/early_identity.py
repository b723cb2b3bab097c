"""The session's identity read by hand, before pydantic: the second reader, and why it exists.

``bot.config.settings.Settings`` (pydantic-settings) is the one authority on configuration: every
setting, its flag, variable, default, validation, ``--help``, ``.env.example`` and the docs table.
This module reads only the five settings the first envelope depends on (the room, the simulated
scenario, the assistant, the tenant, and the view that decides whether to publish at all), with
the same precedence (flag > environment > ``.env`` > default, variable names without regard to
case, ``.env`` parsed by python-dotenv as pydantic-settings parses it).

Why two readers: a supervisor learns that a bot is alive, and its session id, from the first
line on stdout, and the seed bounds that line at twice a bare ``import pydantic``. Building
``Settings`` first costs pydantic plus pydantic-settings plus the settings module, measured at
about 2.6x a bare ``import pydantic`` on the 2-core development machine (pydantic-settings alone
imports slower than pydantic), so a settings model cannot be built first; this reader gets the
first envelope out at about 0.7x (``benchmarks/startup_bench.py``).

Why they cannot disagree: when this reader is sure, ``bot.cli.main`` hands the values it read to
``Settings`` as given values, so the identity of a session is read once, here, and the settings
validate it; when it is unsure (``--help``, a value the settings would reject, a live view, a
``.env`` that is not a regular file, undecodable bytes) nothing is published early and
``Settings`` reads everything itself. A property test (tests/session/test_boot.py) holds the two
readers to the same identity over random flags, environments and ``.env`` files.

Imports: stdlib and, only when a ``.env`` file exists, python-dotenv.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from bot.config.identity import DEFAULT_ASSISTANT_ID, DEFAULT_TENANT_ID, Identity, identity_of

__all__ = [
    "IDENTITY_SETTINGS",
    "VIEWS",
    "NotSure",
    "identity_from",
    "read_identity_settings",
    "wants_live_view",
]

VIEWS = ("auto", "live", "off")

IDENTITY_SETTINGS = {
    "room_url": "ROOM_URL",
    "simulate": "BOT_SIMULATE",
    "assistant_id": "ASSISTANT_ID",
    "tenant_id": "TENANT_ID",
    "view": "BOT_VIEW",
}
"""The settings the first envelope depends on, with their environment variables (a test checks
them against ``Settings``)."""


class NotSure(ValueError):
    """The identity cannot be known without the full settings (they will say what is wrong)."""


def wants_live_view(view: str, *, stdout_tty: bool | None = None, stderr_tty: bool | None = None) -> bool:
    """The live view replaces raw lines when stdout is a terminal (``--view auto``)."""
    if view == "live":
        return True
    if view == "off":
        return False
    if stdout_tty is None:
        stdout_tty = sys.stdout is not None and sys.stdout.isatty()  # None: fd 1 was closed at spawn
    if not stdout_tty:
        return False
    if stderr_tty is None:
        stderr_tty = sys.stderr is not None and sys.stderr.isatty()
    return stderr_tty


class _NeverExits(argparse.ArgumentParser):
    """argparse exits on what it cannot parse (``--tenant-id -x``); here that only means "not sure":
    the full parser reports it properly."""

    def error(self, message: str) -> NoReturn:
        raise NotSure(message)


def read_identity_settings(
    argv: Sequence[str], environ: Mapping[str, str], env_file: str | os.PathLike[str] = ".env"
) -> dict[str, str | None]:
    """The identity settings as given (flag > environment > ``.env``); absent ones are left out."""
    parser = _NeverExits(add_help=False, allow_abbrev=False)
    for name in IDENTITY_SETTINGS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name)
    flags, _ = parser.parse_known_args(list(argv))
    given: dict[str, str | None] = {}
    path = Path(env_file)
    if path.exists():
        if not path.is_file():
            raise NotSure(f"{env_file} is not a regular file (a FIFO can be read only once)")
        from bot.config.dotenv_check import (
            quiet_dotenv_values as dotenv_values,  # the parser pydantic-settings uses; only when there is a .env
        )

        given.update({k.lower(): v for k, v in dotenv_values(path, encoding="utf-8").items()})
    given.update({k.lower(): v for k, v in environ.items()})
    values: dict[str, str | None] = {}
    for name, env in IDENTITY_SETTINGS.items():
        flag = getattr(flags, name)
        if flag is not None:
            values[name] = flag
        elif env.lower() in given:
            values[name] = given[env.lower()]
    return values


def identity_from(values: Mapping[str, str | None]) -> Identity:
    """``identity_of`` over values read by :func:`read_identity_settings`, as Settings reads them."""
    if any(v is None for v in values.values()):
        raise NotSure("a .env entry without a value")  # Settings decides what that means
    return identity_of(
        room_url=values.get("room_url"),  # an empty one is refused, as the settings refuse it
        simulate=values.get("simulate") or None,  # an empty path is "not set", as in the settings
        assistant_id=values.get("assistant_id", DEFAULT_ASSISTANT_ID) or "",
        tenant_id=values.get("tenant_id", DEFAULT_TENANT_ID) or "",
    )
