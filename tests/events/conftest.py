"""Shared fixtures for the event runtime tests."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the repo is not installed; make `bot` importable
    sys.path.insert(0, str(REPO))

from bot.events import EventBus, SessionContext, SpecRegistry  # noqa: E402


@pytest.fixture(scope="session")
def raw_registry() -> dict[str, Any]:
    """The committed registry.json as a dict (copy it before changing it)."""
    return SpecRegistry.load().raw


@pytest.fixture
def registry(raw_registry: dict[str, Any]) -> SpecRegistry:
    return SpecRegistry(copy.deepcopy(raw_registry))


@pytest.fixture
def context() -> SessionContext:
    return SessionContext(session_id="sess-1", assistant_id="asst-1", tenant_id="tenant-1", room_id="room-1")


@pytest.fixture
def bus(registry: SpecRegistry, context: SessionContext) -> EventBus:
    return EventBus(registry=registry, context=context)


@pytest.fixture
def collect(bus: EventBus) -> Callable[[str], list[dict[str, Any]]]:
    """``collect(pattern)`` subscribes a list to the bus and returns it."""

    def subscribe(pattern: str = "*") -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        bus.subscribe(pattern, seen.append)
        return seen

    return subscribe
