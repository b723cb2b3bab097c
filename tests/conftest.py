"""Fixtures shared across the suite (the loaded spec registry, an event bus on it) and the
per-test time limit.

Every test gets a ``pytest.mark.timeout`` unless it sets its own: ``TEST_TIMEOUT_S`` for ordinary
tests, ``SLOW_TEST_TIMEOUT_S`` for ``@pytest.mark.slow`` ones. Both are far below pytest's 300 s
(pyproject.toml), so a hung test fails in about a minute with a message saying which limit it hit
and what to do, instead of stalling the run. Async work in tests runs through
``tests.pipeline_harness`` (``run_pipeline``, ``run_async``), whose clean-up cannot block.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bot.events import EventBus, SessionContext, SpecRegistry

TEST_TIMEOUT_S = 60
"""Time limit of an ordinary test (the slowest takes a few seconds alone, ~10 s on a loaded machine)."""
SLOW_TEST_TIMEOUT_S = 180
"""Time limit of a ``@pytest.mark.slow`` test (whole rooms through real Silero, subprocesses)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give every test a time limit; one cannot forget it (an explicit ``timeout`` mark wins)."""
    for item in items:
        if item.get_closest_marker("timeout") is None:
            limit = SLOW_TEST_TIMEOUT_S if item.get_closest_marker("slow") else TEST_TIMEOUT_S
            item.add_marker(pytest.mark.timeout(limit))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Say plainly what a pytest-timeout failure means and where the limit comes from."""
    report = yield
    if report.failed and "from pytest-timeout" in str(report.longrepr):
        marker = item.get_closest_marker("timeout")
        limit = marker.args[0] if marker and marker.args else "?"
        report.sections.append(
            (
                "per-test time limit",
                f"{item.nodeid} ran longer than its {limit} s limit and was stopped: it hangs or waits"
                " on something that never comes (the stacks above show where). Limits are set in"
                " tests/conftest.py; a legitimately long test is marked @pytest.mark.slow or"
                " @pytest.mark.timeout(N).",
            )
        )
    return report


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
