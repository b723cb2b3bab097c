"""Fixtures shared across the suite: the loaded spec registry and an event bus on it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.events import EventBus, SessionContext, SpecRegistry


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
