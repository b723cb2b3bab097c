"""PutEvents entries: fields, AWS's size formula, timestamps, names."""

from __future__ import annotations

import json

import pytest

from bot.forwarding.entries import build_entry, check_bus_name, check_source, entry_size, normalize_bus_name, rfc3339_ms


def test_the_size_formula_counts_utf8_bytes_and_14_for_time() -> None:
    entry = {
        "Source": "prism.room-bot",
        "DetailType": "room.x",
        "Detail": '{"name":"Zoë"}',
        "Resources": ["arn:aws:x"],
        "Time": "2026-01-01T00:00:00.000Z",
        "EventBusName": "not-counted",
    }
    assert (
        entry_size(entry)
        == len("prism.room-bot") + len("room.x") + len('{"name":"Zoë"}'.encode()) + len("arn:aws:x") + 14
    )
    assert entry_size({k: v for k, v in entry.items() if k != "Time"}) == entry_size(entry) - 14


def test_build_entry_size_matches_the_formula() -> None:
    envelope = {
        "id": "x",
        "ts": 1795679207943,
        "topic": "room.vote.started",
        "payload": {"question": "Pizza ou sushi ? 🍕"},
        "meta": {"seq": 1},
    }
    entry, size = build_entry(envelope, source="prism.room-bot", bus_name="prism")
    assert size == entry_size(entry)
    assert json.loads(entry["Detail"]) == envelope
    assert entry["Time"] == "2026-11-26T07:46:47.943Z"


@pytest.mark.parametrize(
    ("ts", "text"),
    [(0, "1970-01-01T00:00:00.000Z"), (1_700_000_000_007, "2023-11-14T22:13:20.007Z")],
    ids=["epoch", "ms"],
)
def test_rfc3339_in_utc_with_milliseconds(ts: int, text: str) -> None:
    assert rfc3339_ms(ts) == text


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("prism-events", True),
        ("a.b_c-1", True),
        ("arn:aws:events:us-east-1:123456789012:event-bus/prism", True),
        ("bad bus", False),
        ("", False),
        ("x" * 1601, False),
    ],
    ids=["name", "chars", "arn", "space", "empty", "too-long"],
)
def test_bus_names(name: str, ok: bool) -> None:
    assert (check_bus_name(name) is None) is ok


def test_default_bus_and_sources() -> None:
    assert normalize_bus_name("default") is None and normalize_bus_name("") is None and normalize_bus_name("x") == "x"
    assert check_source("prism.room-bot") is None
    assert check_source("aws.events") is not None and check_source("") is not None
