"""Prism Room Bot: an AI facilitator for Daily rooms that publishes typed room events.

``python -m bot`` runs one session from the command line. Pipecat Cloud's base image imports this
package and awaits ``bot(args)`` per session, and asks ``readyz()`` for readiness. This module
imports nothing heavy: ``python -m bot`` loads it before anything else.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["__version__", "bot", "readyz"]

__version__ = "0.1.0"
"""The package version (pyproject reads it from here); put on ``assistant.session.started``."""


async def bot(runner_args: Any) -> int:
    """Pipecat Cloud entry point: run one session for ``runner_args`` (see ``bot.cloud``)."""
    from bot.cloud import run_bot

    return await run_bot(runner_args)


def readyz() -> dict[str, Any]:
    """Readiness for Pipecat Cloud's ``/readyz`` (cheap: no import unless a session ever ran)."""
    cloud = sys.modules.get("bot.cloud")
    if cloud is None:
        return {"ready": True, "sessions": 0}
    ready: dict[str, Any] = cloud.readyz()
    return ready
