"""The first envelope, before anything heavy: ``assistant.session.started`` from the identity alone.

Why this exists: a supervisor learns that a bot process is alive, and its session id, from the
first line on stdout. The full configuration costs pydantic-settings, which alone takes longer to
import than pydantic itself (benchmarks/startup_bench.py). The first envelope needs only the
session's identity, which ``bot.config.early_identity`` reads by hand (its docstring says why a
second reader, and why it cannot disagree with ``Settings``); this module frames the envelope
with the bus's own framing and writes it to fd 1.

``bot.session.startup.begin`` then checks that the identity the validated settings give is the
one published here (the bus continues the sequence). When the reader is unsure of anything it
publishes nothing and the ordinary path publishes the start after validation. ``--view`` only
decides whether to publish here; a bad view is reported by the settings after the start like any
other bad setting.

Imports: stdlib, ``uuid_utils`` and, only when a ``.env`` file exists, python-dotenv.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import uuid_utils

from bot.config.early_identity import VIEWS, identity_from, read_identity_settings, wants_live_view
from bot.config.identity import Identity
from bot.events.framing import frame
from bot.generated.topics import SPEC_VERSION, Topic


@dataclass(frozen=True)
class Booted:
    """The start as published by :func:`publish_started`: the ordinary path adopts it."""

    identity: Identity
    session_id: str
    envelope: dict[str, Any]
    line: bytes
    values: dict[str, str] = field(default_factory=dict)
    """The identity settings as read (``room_url``, ``simulate``, ``assistant_id``, ``tenant_id``,
    those given): ``Settings`` takes them as given values, so the identity is read once."""


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
        read = {name: value for name, value in values.items() if value is not None}
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
    return Booted(identity=identity, session_id=session_id, envelope=envelope, line=line, values=read)


def _write_all(fd: int, line: bytes) -> None:
    """Write the line; a reader that is already gone is found again, and handled, by the emitter."""
    view = memoryview(line)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except OSError as exc:
        if exc.errno not in (errno.EPIPE, errno.EBADF):
            raise
