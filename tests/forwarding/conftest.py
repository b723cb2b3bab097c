"""Fixtures for the forwarding tests."""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bot.events import EventBus, SessionContext, SpecRegistry  # noqa: E402


@pytest.fixture(scope="session")
def raw_registry() -> dict[str, Any]:
    return SpecRegistry.load().raw


@pytest.fixture
def registry(raw_registry: dict[str, Any]) -> SpecRegistry:
    return SpecRegistry(copy.deepcopy(raw_registry))


@pytest.fixture
def bus(registry: SpecRegistry) -> EventBus:
    return EventBus(registry=registry, context=SessionContext(session_id="sess-1", assistant_id="asst-1", tenant_id="tenant-1", room_id="room-1"))
