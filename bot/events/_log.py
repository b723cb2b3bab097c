"""Loguru, imported on first use: the event runtime only logs on error paths, and importing
loguru costs ~10 ms on the start-up path before the first envelope."""

from __future__ import annotations

from typing import Any


def logger() -> Any:
    from loguru import logger as _logger

    return _logger
