"""Bundled simulated-room scenarios (demo.json, rooms/*.json) and their speech clips."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEMO", "ROOMS", "SCENARIOS_DIR", "all_scenarios"]

SCENARIOS_DIR = Path(__file__).resolve().parent
DEMO = SCENARIOS_DIR / "demo.json"
ROOMS = {p.stem: p for p in sorted((SCENARIOS_DIR / "rooms").glob("*.json"))}


def all_scenarios() -> list[Path]:
    """The demo and every room, demo first."""
    return [DEMO, *ROOMS.values()]
