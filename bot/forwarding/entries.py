"""PutEvents entries from envelopes, and the AWS entry-size formula.

One envelope becomes one entry: ``Source`` (configurable), ``DetailType`` = the topic id,
``Detail`` = the (redacted) envelope as compact JSON, ``Time`` = the envelope's ``ts`` as RFC 3339,
and ``EventBusName`` unless it is the account's default bus. The size of an entry is what AWS
counts (userguide/calculate-putevents-entry-size): the UTF-8 bytes of ``Source``, ``DetailType``,
``Detail`` and each ``Resources`` item, plus 14 for ``Time``.
"""

from __future__ import annotations

import re
import time
from typing import Any

import orjson

MAX_ENTRIES = 10
"""PutEvents takes 1..10 entries per call."""
DEFAULT_MAX_BYTES = 262_144
"""A request's entries must total less than 256 KB (AWS raised it to 1 MB in 2026: configurable)."""
MAX_DETAIL_TYPE_CHARS = 128
MAX_BUS_NAME_CHARS = 1600
MAX_RESOURCE_CHARS = 2048
TIME_BYTES = 14
DEFAULT_SOURCE = "prism.room-bot"

RETRYABLE_CODES = frozenset({"ThrottlingException", "InternalFailure"})
"""Per-entry error codes worth resending (API_PutEventsResultEntry); every other code is final."""

BUS_NAME_PATTERN = re.compile(r"(arn:aws[\w-]*:events:[a-z]{2}-[a-z]+-[\w-]+:[0-9]{12}:event-bus/)?[\.\-_A-Za-z0-9]+")
SOURCE_PATTERN = re.compile(r"[\x20-\x7e]{1,256}")


def rfc3339_ms(ts_ms: int) -> str:
    """``1795679207943`` → ``"2026-11-26T07:46:47.943Z"`` (UTC, millisecond precision)."""
    seconds, ms = divmod(int(ts_ms), 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{ms:03d}Z"


def entry_size(entry: dict[str, Any]) -> int:
    """The entry's size as AWS counts it against the PutEvents limit."""
    size = 0
    for key in ("Source", "DetailType", "Detail"):
        value = entry.get(key)
        if isinstance(value, str):
            size += len(value.encode("utf-8"))
    for resource in entry.get("Resources") or ():
        if isinstance(resource, str):
            size += len(resource.encode("utf-8"))
    if entry.get("Time") is not None:
        size += TIME_BYTES
    return size


def build_entry(envelope: dict[str, Any], *, source: str, bus_name: str | None) -> tuple[dict[str, Any], int]:
    """The PutEvents entry of one (already redacted) envelope, and its size."""
    detail = orjson.dumps(envelope)
    topic = envelope["topic"]
    entry: dict[str, Any] = {
        "Time": rfc3339_ms(envelope["ts"]),
        "Source": source,
        "DetailType": topic,
        "Detail": detail.decode("utf-8"),
    }
    if bus_name:
        entry["EventBusName"] = bus_name
    # len(bytes) of the Detail we already hold; Source and DetailType are ASCII by their patterns
    size = len(detail) + len(source.encode("utf-8")) + len(topic) + TIME_BYTES
    return entry, size


def normalize_bus_name(name: str | None) -> str | None:
    """``None`` for the account's default bus (the entry then omits ``EventBusName``)."""
    if name is None or name == "" or name == "default":
        return None
    return name


def check_bus_name(name: str) -> str | None:
    """Why ``name`` is not a valid ``EventBusName``, or ``None``."""
    if not 1 <= len(name) <= MAX_BUS_NAME_CHARS:
        return f"must be 1..{MAX_BUS_NAME_CHARS} characters"
    if not BUS_NAME_PATTERN.fullmatch(name):
        return "must be a bus name ([.-_A-Za-z0-9]+) or an event-bus ARN"
    return None


def check_source(source: str) -> str | None:
    """Why ``source`` is not a usable ``Source``, or ``None``."""
    if not SOURCE_PATTERN.fullmatch(source):
        return "must be 1..256 printable ASCII characters"
    if source.startswith("aws."):
        return "must not start with 'aws.' (reserved for AWS services)"
    return None
