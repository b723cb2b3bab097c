"""Is this Python the project's? Checked by ``python -m bot``, ``-m codegen`` and ``-m supervisor``
before they import anything outside the standard library.

Run with a Python that lacks the project's dependencies (``python3 -m bot`` without the virtualenv
active), they used to stop with a traceback or ``unexpected ModuleNotFoundError``. This module
imports only the standard library (so do ``bot/__init__.py`` and ``bot/config/__init__.py``), finds the dependencies without
importing them, and says in one line what to do instead.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable

__all__ = ["DEPENDENCIES", "missing_dependencies", "require_project_python"]

DEPENDENCIES = (
    "pydantic",
    "pydantic_settings",
    "orjson",
    "rfc8785",
    "uuid_utils",
    "jsonschema",
    "loguru",
    "numpy",
    "aiohttp",
    "boto3",
    "openai",
    "pipecat",
    "daily",
    "prometheus_client",
)
"""Import names of the packages pyproject.toml installs (one missing means the set-up is not this one)."""


def missing_dependencies(names: Iterable[str] = DEPENDENCIES) -> list[str]:
    """The import names among ``names`` this Python cannot find (found, not imported)."""
    missing = []
    for name in names:
        try:
            if importlib.util.find_spec(name) is None:
                missing.append(name)
        except (ImportError, ValueError):
            missing.append(name)
    return missing


def require_project_python(command: str, names: Iterable[str] = DEPENDENCIES) -> None:
    """Exit 2 with one line when this Python lacks the project's dependencies (``names``)."""
    missing = missing_dependencies(names)
    if missing:
        print(
            f"error: `{command}` needs the project's Python packages ({', '.join(missing[:3])}"
            f"{', ...' if len(missing) > 3 else ''} not found for {sys.executable}): use ./run"
            " (./test for the tests), which sets up .venv, or activate it first: . .venv/bin/activate",
            file=sys.stderr,
        )
        raise SystemExit(2)
