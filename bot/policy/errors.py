"""Pydantic validation errors as one-line :class:`bot.core.errors.PolicyError`s naming file and field."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from bot.core.errors import PolicyError

__all__ = ["field_path", "from_validation_error", "read_json"]


def field_path(loc: Iterable[Any], prefix: str = "") -> str:
    """``("turns", "maxTurnMs")`` → ``turns.maxTurnMs``; list indexes as ``rules[2]``."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def _shown(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return ""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f" (got {text})" if len(text) <= 60 else ""


def from_validation_error(source: str | os.PathLike[str], exc: ValidationError, prefix: str = "") -> PolicyError:
    """The first error of ``exc`` as ``file: "field" what was expected (got value)``."""
    err = exc.errors(include_url=False)[0]
    # a validator's message may quote the input too (a bad regex): strip Pydantic's prefix only
    loc = [p for p in err.get("loc", ()) if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))]
    msg = str(err.get("msg", "is invalid"))
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, ") :]
    if err.get("type") == "extra_forbidden":
        msg = "is not a known field here"
    elif err.get("type") == "missing":
        msg = "is required"
    shown = ""
    if err.get("type") not in ("extra_forbidden", "missing"):
        msg = msg[:1].lower() + msg[1:]
        if "input" in err:
            shown = _shown(err["input"])
    error = PolicyError(source, field_path(loc, prefix) or None, msg + shown)
    error.without_value = msg  # for callers that must not echo input (an HTTP API)
    return error


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read and parse a JSON file; a missing, unreadable or malformed file is a ``PolicyError``."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise PolicyError(path, None, "file not found") from None
    except IsADirectoryError:
        raise PolicyError(path, None, "is a directory, not a policy file") from None
    except OSError as exc:
        raise PolicyError(path, None, f"cannot read: {exc.strerror or exc}") from None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise PolicyError(path, None, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise PolicyError(path, None, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
