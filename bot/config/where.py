"""Errors about files, said from the user's side: which setting carried the path, where it was looked for.

A missing scenario or policy file says ``error: nope.json: file not found`` deep down (the loaders
know a path, not where it came from). The CLI knows the settings, so before printing the line it
names the setting that carried the path (``BOT_POLICY_PATH (--policy)``) and, for a relative path,
the folder it was looked for in: relative paths are from the current folder, not the repository.
"""

from __future__ import annotations

import os
from typing import Any

from bot.config.flags import env_name, flag_name
from bot.core.errors import PolicyError, PrismError, ScenarioError

__all__ = ["PATH_SETTINGS", "explain_file_error", "setting_label"]

PATH_SETTINGS = ("simulate", "policy", "assistant_file", "forward_dry_run_path")
"""Settings whose value is a path the bot reads or writes."""


def setting_label(settings_class: type[Any], field: str) -> str:
    """``BOT_POLICY_PATH (--policy)``: the variable and the flag of a setting."""
    return f"{env_name(settings_class, field)} ({flag_name(field)})"


def explain_file_error(exc: PrismError, settings: Any | None) -> str:
    """The one line for ``exc``, naming the setting whose path it is about (when one is).

    ``BOT_POLICY_PATH (--policy): nope.json: file not found (looked in /home/me; relative paths are
    from the current folder)``. Other errors come back as they are.
    """
    line = str(exc)
    if settings is None or not isinstance(exc, (PolicyError, ScenarioError)):
        return line
    for field in PATH_SETTINGS:
        value = getattr(settings, field, None)
        if value is not None and str(value) == exc.file:
            line = f"{setting_label(type(settings), field)}: {line}"
            if "file not found" in line and not os.path.isabs(exc.file):
                line += f" (looked in {os.getcwd()}; relative paths are from the current folder)"
            return line
    return line
