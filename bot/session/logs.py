"""Logging for a session: loguru to stderr only, every line scrubbed of secrets.

The CLI owns the process's logging (``configure_logging``); Pipecat Cloud's base image owns its
own sinks, where the session only adds the scrubbing patcher (``scrub_logs``).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from loguru import logger

from bot.config.secrets import SecretScrubber, log_patcher, scrubbing_sink

if TYPE_CHECKING:
    from bot.config.settings import Settings

__all__ = ["configure_logging", "scrub_logs"]


def configure_logging(settings: Settings, scrub: SecretScrubber, *, live_view: bool) -> None:
    """Loguru to stderr only, every line scrubbed of secrets; quiet under the live view."""
    logger.remove()
    level = "DEBUG" if settings.debug else "INFO" if settings.verbose else "WARNING"
    if live_view and not settings.debug:
        level = "ERROR"
    logger.configure(patcher=log_patcher(scrub))
    logger.add(
        scrubbing_sink(sys.stderr, scrub),
        level=level,
        format="{time:HH:mm:ss.SSS} {level: <7} {name}: {message}",
        backtrace=settings.debug,
        diagnose=False,
    )


def scrub_logs(scrub: SecretScrubber) -> None:
    """Every sink's lines scrubbed of the session's secrets, leaving the sinks as the host set them."""
    logger.configure(patcher=log_patcher(scrub))
