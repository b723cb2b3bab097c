"""The dry-run checker: every rule of a PutEvents request, and the sink's own output passes it."""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.forwarding import DryRunSink
from bot.forwarding.dryrun_check import check_lines, check_record
from tests.pipeline_harness import run_async

REPO = Path(__file__).resolve().parents[2]


def good_record() -> dict[str, Any]:
    entries = [
        {
            "Time": "2026-11-24T03:46:47.943Z",
            "Source": "prism.room-bot",
            "DetailType": "room.vote.started",
            "Detail": json.dumps({"id": str(i), "n": 1}),
            "EventBusName": "prism",
        }
        for i in range(3)
    ]
    return json.loads(DryRunSink(io.BytesIO()).line(entries))


def mutate(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    record = good_record()
    fn(record)
    return record


def entry0(record: dict[str, Any]) -> dict[str, Any]:
    return record["request"]["Entries"][0]


BROKEN = [
    ("no-entries", lambda r: r["request"].__setitem__("Entries", []), "request.Entries", "1..10"),
    (
        "eleven-entries",
        lambda r: r["request"].__setitem__("Entries", r["request"]["Entries"] * 4),
        "request.Entries",
        "1..10",
    ),
    ("no-source", lambda r: entry0(r).pop("Source"), "Entries[0].Source", "required"),
    ("empty-detail-type", lambda r: entry0(r).__setitem__("DetailType", ""), "Entries[0].DetailType", "required"),
    (
        "long-detail-type",
        lambda r: entry0(r).__setitem__("DetailType", "x" * 129),
        "Entries[0].DetailType",
        "at most 128",
    ),
    ("detail-not-json", lambda r: entry0(r).__setitem__("Detail", "{nope"), "Entries[0].Detail", "not JSON"),
    ("detail-a-list", lambda r: entry0(r).__setitem__("Detail", "[1, 2]"), "Entries[0].Detail", "JSON object"),
    (
        "detail-too-deep",
        lambda r: entry0(r).__setitem__("Detail", '{"a":' * 1001 + "1" + "}" * 1001),
        "Entries[0].Detail",
        "nested",
    ),
    (
        "detail-big-int",
        lambda r: entry0(r).__setitem__("Detail", '{"a": 9223372036854775808}'),
        "Entries[0].Detail",
        "int64",
    ),
    ("bad-bus", lambda r: entry0(r).__setitem__("EventBusName", "no spaces"), "Entries[0].EventBusName", "bus name"),
    ("bad-time", lambda r: entry0(r).__setitem__("Time", "yesterday"), "Entries[0].Time", "RFC 3339"),
    ("long-resource", lambda r: entry0(r).__setitem__("Resources", ["a" * 2049]), "Entries[0].Resources[0]", "2048"),
    ("bad-trace", lambda r: entry0(r).__setitem__("TraceHeader", ""), "Entries[0].TraceHeader", "1..500"),
    ("unknown-field", lambda r: entry0(r).__setitem__("Colour", "red"), "Entries[0].Colour", "unknown"),
    ("wrong-sizes", lambda r: r.__setitem__("entrySizes", [1, 2, 3]), "entrySizes", "formula"),
    ("wrong-total", lambda r: r.__setitem__("totalSize", 5), "totalSize", "formula"),
    (
        "too-big",
        lambda r: entry0(r).__setitem__("Detail", json.dumps({"x": "y" * 262_144})),
        "request.Entries",
        "not under",
    ),
    ("no-request", lambda r: r.pop("request"), "request", "required"),
]


@pytest.mark.parametrize(("fn", "where", "says"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_put_events_rule_is_checked(fn: Callable[[dict[str, Any]], None], where: str, says: str) -> None:
    problems = check_record(mutate(fn))
    assert any(w == where and says in m for w, m in problems), problems


def test_a_good_request_passes() -> None:
    assert check_record(good_record()) == []


def test_the_dry_run_sink_writes_lines_the_checker_accepts() -> None:
    buf = io.BytesIO()
    sink = DryRunSink(buf)
    entries = copy.deepcopy(good_record()["request"]["Entries"])
    run_async(sink.send(entries))
    run_async(sink.send(entries[:1]))
    requests, count, problems = check_lines(buf.getvalue().splitlines())
    assert (requests, count, problems) == (2, 4, [])


def test_the_cli_exits_1_and_names_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(good_record()) + "\n" + json.dumps(mutate(lambda r: entry0(r).pop("Detail"))) + "\n")
    proc = subprocess.run(
        [sys.executable, "-m", "bot.forwarding.dryrun_check", str(path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[0] == "line 2: Entries[0].Detail: required, a non-empty string"
    assert all(line.startswith("line 2: ") for line in proc.stdout.splitlines())
    assert "2 requests, 6 entries, 3 problems" in proc.stderr
