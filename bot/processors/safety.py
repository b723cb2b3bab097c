"""Internal errors in processors: logged, counted, and never a lost frame.

A processor that raises while it builds an event loses the frame that triggered it for every
processor after it (Pipecat logs the exception and stops there): 101 participants once made the
dominance score fail validation and silently dropped the ticks behind it (issue 11). Every
processor runs its analytics through :func:`safely`: on an exception the events of that step are
lost, the error is logged on one line and counted in :data:`INTERNAL_ERRORS` (the heartbeat's
``internalErrors``), and the frame goes on.

The log line never carries the exception's message: a validation error quotes its input, which
can be what a participant typed. It names the exception type, where it was raised and, for a
pydantic error, the failing fields and rules.
"""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from loguru import logger
from pydantic import ValidationError

__all__ = ["INTERNAL_ERRORS", "describe", "internal_error", "internal_errors", "no_events", "safely"]

T = TypeVar("T")

INTERNAL_ERRORS: Counter[str] = Counter()
"""Internal errors of this process by processor (one bot process runs one session)."""
LOG_EVERY = 100
"""After the first error of a kind, one log line per this many (a bug on every tick stays readable)."""


def internal_errors() -> int:
    """All internal errors so far (the heartbeat's ``internalErrors``)."""
    return sum(INTERNAL_ERRORS.values())


def describe(exc: BaseException) -> str:
    """``ValidationError at bot/analytics/dominance.py:273 (participants: too_long)``, never the message."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        parts = Path(last.filename).parts
        short = "/".join(parts[parts.index("bot") :]) if "bot" in parts else Path(last.filename).name
        where = f" at {short}:{last.lineno}"
    detail = ""
    if isinstance(exc, ValidationError):
        errors = exc.errors(include_input=False, include_url=False, include_context=False)[:3]
        detail = " (" + "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '-'}: {e['type']}" for e in errors) + ")"
    return f"{type(exc).__name__}{where}{detail}"


def internal_error(where: str, exc: BaseException) -> None:
    """Count ``exc`` under ``where`` and log it (the first, then every :data:`LOG_EVERY`-th)."""
    INTERNAL_ERRORS[where] += 1
    n = INTERNAL_ERRORS[where]
    if n == 1 or n % LOG_EVERY == 0:
        logger.error(f"{where}: internal error, {describe(exc)}; the frame goes on ({n} so far)")


def safely(where: str, step: Callable[[], T], default: T) -> T:
    """``step()``, or ``default`` when it raises (counted and logged by :func:`internal_error`)."""
    try:
        return step()
    except Exception as exc:
        internal_error(where, exc)
        return default


def no_events() -> list[Any]:
    """A fresh empty list: the default of a step that returns events."""
    return []
