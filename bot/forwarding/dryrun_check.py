"""Checks a dry-run log (one PutEvents request per line) against the PutEvents rules.

Usage::

    python -m bot.forwarding.dryrun_check forward.jsonl [--limit 262144]

Per line: 1..10 entries; each with non-empty ``Source`` and ``DetailType`` (≤ 128 characters) and
a ``Detail`` that is a JSON *object* string (nesting ≤ 1000, integers within int64);
``EventBusName`` matching AWS's pattern (≤ 1600); ``Resources`` items ≤ 2048; ``TraceHeader``
1..500; ``Time`` RFC 3339; no unknown keys; the recorded sizes equal AWS's formula, and the
request's total is under the limit. Exit 0 when every line passes, 1 otherwise (one line per
problem), 2 for a bad invocation.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from bot.forwarding.entries import (
    DEFAULT_MAX_BYTES,
    MAX_DETAIL_TYPE_CHARS,
    MAX_ENTRIES,
    MAX_RESOURCE_CHARS,
    check_bus_name,
    entry_size,
)

ENTRY_KEYS = frozenset({"Time", "Source", "Resources", "DetailType", "Detail", "EventBusName", "TraceHeader"})
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
INT64 = (-(2**63), 2**63 - 1)
MAX_NESTING = 1000


@dataclass(frozen=True)
class Problem:
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.where}: {self.message}" if self.where else f"line {self.line}: {self.message}"


def _depth_and_ints(value: Any) -> tuple[int, str | None]:
    """Max nesting depth of ``value`` and the first integer outside int64 (iteratively)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            deepest = max(deepest, depth)
            stack.extend((v, depth + 1) for v in node)
        elif isinstance(node, int) and not isinstance(node, bool) and not INT64[0] <= node <= INT64[1]:
            return deepest, str(node)
    return deepest, None


def check_entry(entry: Any, where: str) -> list[tuple[str, str]]:
    """Problems of one entry as ``(where, message)``."""
    if not isinstance(entry, dict):
        return [(where, "an entry must be an object")]
    out: list[tuple[str, str]] = []
    for key in sorted(set(entry) - ENTRY_KEYS):
        out.append((f"{where}.{key}", "unknown field"))
    for key in ("Source", "DetailType", "Detail"):
        if not isinstance(entry.get(key), str) or not entry[key]:
            out.append((f"{where}.{key}", "required, a non-empty string"))
    detail_type = entry.get("DetailType")
    if isinstance(detail_type, str) and len(detail_type) > MAX_DETAIL_TYPE_CHARS:
        out.append((f"{where}.DetailType", f"{len(detail_type)} characters, at most {MAX_DETAIL_TYPE_CHARS}"))
    detail = entry.get("Detail")
    if isinstance(detail, str) and detail:
        try:
            parsed = orjson.loads(detail)
        except orjson.JSONDecodeError:
            try:  # orjson refuses integers beyond 64 bits; json reads them, so the int64 check can name them
                import json

                parsed = json.loads(detail)
            except ValueError as exc:
                parsed = None
                out.append((f"{where}.Detail", f"not JSON ({exc})"))
        if parsed is not None:
            if not isinstance(parsed, dict):
                out.append((f"{where}.Detail", f"must be a JSON object, not {type(parsed).__name__}"))
            depth, big = _depth_and_ints(parsed)
            if depth > MAX_NESTING:
                out.append((f"{where}.Detail", f"nested {depth} levels, at most {MAX_NESTING}"))
            if big is not None:
                out.append((f"{where}.Detail", f"integer {big} is outside int64"))
    if "EventBusName" in entry:
        bus = entry["EventBusName"]
        why = check_bus_name(bus) if isinstance(bus, str) else "must be a string"
        if why:
            out.append((f"{where}.EventBusName", why))
    if "Resources" in entry:
        resources = entry["Resources"]
        if not isinstance(resources, list):
            out.append((f"{where}.Resources", "must be a list of ARNs"))
        else:
            for i, arn in enumerate(resources):
                if not isinstance(arn, str) or not arn or len(arn) > MAX_RESOURCE_CHARS:
                    out.append((f"{where}.Resources[{i}]", f"must be a string of 1..{MAX_RESOURCE_CHARS} characters"))
    if "TraceHeader" in entry:
        trace = entry["TraceHeader"]
        if not isinstance(trace, str) or not 1 <= len(trace) <= 500:
            out.append((f"{where}.TraceHeader", "must be a string of 1..500 characters"))
    if "Time" in entry:
        stamp = entry["Time"]
        if not isinstance(stamp, str) or not RFC3339.match(stamp):
            out.append((f"{where}.Time", "must be an RFC 3339 timestamp"))
    return out


def check_record(record: Any, *, limit: int = DEFAULT_MAX_BYTES) -> list[tuple[str, str]]:
    """Problems of one dry-run record (a parsed line)."""
    if not isinstance(record, dict):
        return [("", "a line must be a JSON object")]
    request = record.get("request")
    if not isinstance(request, dict):
        return [("request", "required, an object holding Entries")]
    out: list[tuple[str, str]] = []
    unknown = set(request) - {"Entries", "EndpointId"}
    if unknown:
        out.append(("request", f"unknown PutEvents parameter(s): {', '.join(sorted(unknown))}"))
    entries = request.get("Entries")
    if not isinstance(entries, list) or not 1 <= len(entries) <= MAX_ENTRIES:
        count = len(entries) if isinstance(entries, list) else "no"
        return [*out, ("request.Entries", f"{count} entries; a request takes 1..{MAX_ENTRIES}")]
    sizes = []
    for i, entry in enumerate(entries):
        out.extend(check_entry(entry, f"Entries[{i}]"))
        sizes.append(entry_size(entry) if isinstance(entry, dict) else 0)
    total = sum(sizes)
    if total >= limit:
        out.append(("request.Entries", f"total entry size {total} bytes is not under the {limit}-byte limit"))
    recorded = record.get("entrySizes")
    if recorded is not None and recorded != sizes:
        out.append(("entrySizes", f"recorded {recorded}, AWS's formula gives {sizes}"))
    if record.get("totalSize") is not None and record["totalSize"] != total:
        out.append(("totalSize", f"recorded {record['totalSize']}, AWS's formula gives {total}"))
    return out


def check_lines(lines: Iterable[bytes | str], *, limit: int = DEFAULT_MAX_BYTES) -> tuple[int, int, list[Problem]]:
    """``(requests, entries, problems)`` over a dry-run log's lines (blank lines are skipped)."""
    problems: list[Problem] = []
    requests = entries = 0
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(Problem(n, "", f"not JSON ({exc})"))
            continue
        requests += 1
        found = check_record(record, limit=limit)
        if (
            isinstance(record, dict)
            and isinstance(record.get("request"), dict)
            and isinstance(record["request"].get("Entries"), list)
        ):
            entries += len(record["request"]["Entries"])
        problems.extend(Problem(n, where, message) for where, message in found)
    return requests, entries, problems


def check_file(path: str | Path, *, limit: int = DEFAULT_MAX_BYTES) -> tuple[int, int, list[Problem]]:
    with open(path, "rb") as fh:
        return check_lines(fh, limit=limit)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bot.forwarding.dryrun_check",
        description="Validate a forwarding dry-run log against the PutEvents rules.",
    )
    parser.add_argument("file", type=Path, help="the dry-run JSON-lines file")
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_MAX_BYTES,
        help=f"request size limit in bytes (default {DEFAULT_MAX_BYTES})",
    )
    args = parser.parse_args(argv)
    if not args.file.is_file():
        print(f"error: {args.file}: no such file", file=sys.stderr)
        return 2
    requests, entries, problems = check_file(args.file, limit=args.limit)
    for problem in problems:
        print(problem)
    print(f"{requests} requests, {entries} entries, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
