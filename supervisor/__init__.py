"""The supervisor: one bot process per room, their stdout read and validated, eventbridge-destined
envelopes forwarded (or logged as a dry run), an authenticated HTTP API. See docs/supervisor.md.

``Supervisor`` and ``SupervisorSettings`` are imported on first use, so ``python -m supervisor``
reports a bad setting before aiohttp and the spec models load.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Supervisor", "SupervisorSettings"]

_LAZY = {"Supervisor": "supervisor.app", "SupervisorSettings": "supervisor.settings"}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
