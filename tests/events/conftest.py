"""Fixtures for the event runtime tests (registry, context and bus come from tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.events import EventBus


@pytest.fixture
def collect(bus: EventBus) -> Callable[[str], list[dict[str, Any]]]:
    """``collect(pattern)`` subscribes a list to the bus and returns it."""

    def subscribe(pattern: str = "*") -> list[dict[str, Any]]:
        seen: list[dict[str, Any]] = []
        bus.subscribe(pattern, seen.append)
        return seen

    return subscribe
