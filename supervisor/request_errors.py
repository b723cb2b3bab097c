"""Pydantic's validation errors in the API's own words.

``POST /rooms`` answered ``speeed: Extra inputs are not permitted`` and ``roomUrl: Value error, must
be an http(s) URL``: pydantic's phrasing, not the API's. Here an unknown field says it is not a
field of the request and suggests the closest real one (``speeed`` → ``speed``), a missing one says
it is required, and "Input should be ..." becomes "must be ...". Values are never echoed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["api_message"]

_SHOULD = re.compile(r"^(Input|String|List|Value|Dictionary|Object|Array) should\b")


def api_message(error: Mapping[str, Any], fields: Collection[str]) -> str:
    """One of pydantic's ``errors()`` entries as the API says it; ``fields`` are the body's field names."""
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        loc = error.get("loc", ())
        name = str(loc[-1]) if loc else ""
        close = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else f" (fields: {', '.join(sorted(fields))})"
        return f"is not a field of this request{hint}"
    if kind == "missing":
        return "is required"
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    message = _SHOULD.sub("must", message)
    return message[:1].lower() + message[1:]
