"""Small pure helpers of supervisor/rooms.py."""

from __future__ import annotations

from supervisor.rooms import _iso, public_url


def test_room_urls_shown_by_the_api_carry_no_credentials_or_token() -> None:
    assert public_url("https://user:pw@acme.daily.co/standup?t=SECRET#x") == "https://acme.daily.co/standup"


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    assert _iso(1795679207.943) == "2026-11-26T07:46:47.943Z"
    assert _iso(None) is None
