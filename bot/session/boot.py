"""The first envelope, before anything heavy: ``assistant.session.started`` from the identity alone.

Why this exists: a supervisor learns that a bot process is alive, and its session id, from the
first line on stdout. The full configuration costs pydantic-settings, which alone takes longer to
import than pydantic itself (benchmarks/startup_bench.py). The first envelope needs only the
session's identity: the room (``--room-url`` or the simulated scenario), the assistant and the
tenant. So this module reads just those from the same flags, environment and ``.env``, with the
same precedence (flag > environment > ``.env`` > default, variable names matched without regard
to case, ``.env`` read by python-dotenv as pydantic-settings reads it), frames the envelope with
the bus's own framing and writes it to fd 1.

``bot.config.settings.Settings`` stays the one authority on configuration. ``bot.session.startup.begin`` checks
that what it derives from the validated settings is exactly what was published here (the bus then
continues the sequence), and a property test holds the two readers together over random flags,
environments and ``.env`` files. When this module is unsure of anything (an identity value the
settings would reject, ``--help``, a live view on the terminal, a ``.env`` that is not a regular
file, a value that is not valid UTF-8) it publishes nothing and the ordinary path publishes the
start after validation. ``--view`` only decides whether to publish here; a bad view is reported
by the settings after the start like any other bad setting.

Imports: stdlib, ``uuid_utils`` and, only when a ``.env`` file exists, python-dotenv.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uuid_utils

from bot.config.identity import DEFAULT_ASSISTANT_ID, DEFAULT_TENANT_ID, Identity, identity_of
from bot.events.framing import frame
from bot.generated.topics import SPEC_VERSION, Topic

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

    def error(self, message: str) -> None:  # type: ignore[override]
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


@dataclass(frozen=True)
class Booted:
    """The start as published by :func:`publish_started`: the ordinary path adopts it."""

    identity: Identity
    session_id: str
    envelope: dict[str, Any]
    line: bytes


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


def publish_started(
    argv: Sequence[str],
    *,
    environ: Mapping[str, str] | None = None,
    env_file: str | os.PathLike[str] = ".env",
    fd: int = 1,
) -> Booted | None:
    """Write ``assistant.session.started`` to ``fd`` when the identity is certain; else None."""
    if any(arg in ("-h", "--help") for arg in argv):
        return None
    try:
        values = read_identity_settings(argv, os.environ if environ is None else environ, env_file)
        view = values.pop("view", None) or "auto"
        if view not in VIEWS or wants_live_view(view):
            return None  # the live view draws the start itself; speed does not matter there
        identity = identity_from(values)
        session_id = str(uuid_utils.uuid4())
        envelope = frame(
            Topic.ASSISTANT_SESSION_STARTED.value,
            identity.started_payload(),
            spec_version=SPEC_VERSION,
            context_fields=identity.context(session_id).envelope_fields(),
            seq=1,
        )
        line = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
    except (ValueError, OSError):  # NotSure, InvalidIdentity, UnicodeError (undecodable bytes in a value)
        return None
    _write_all(fd, line)
    return Booted(identity=identity, session_id=session_id, envelope=envelope, line=line)


def _write_all(fd: int, line: bytes) -> None:
    """Write the line; a reader that is already gone is found again, and handled, by the emitter."""
    view = memoryview(line)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EBADF):
            raise
