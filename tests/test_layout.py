"""The house: arrows point one way between the bot's packages (ARCHITECTURE, "Packages").

The session lifecycle (``bot.session``) and the entries into it (``bot.cli``, ``bot.cloud``) use
everything else; nothing else imports them. ``bot.core`` and ``bot.config`` are the shared
vocabulary and configuration: they import no room, pipeline, processor or session code.
A module-level or function-level import counts alike: a lazy import is still an arrow.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BOT = Path(__file__).resolve().parents[1] / "bot"

ENTRIES = ("bot.session", "bot.cli", "bot.cloud", "bot.__main__")
"""Packages only the entry points (and each other) may import."""

NEVER_IMPORT = {
    "bot.core": ("bot.session", "bot.cli", "bot.cloud", "bot.config", "bot.rooms", "bot.pipelines", "bot.processors"),
    "bot.config": ("bot.session", "bot.cli", "bot.cloud", "bot.pipelines", "bot.processors"),
    "bot.events": ("bot.session", "bot.cli", "bot.cloud", "bot.processors", "bot.pipelines", "bot.rooms"),
    "bot.analytics": ("bot.session", "bot.cli", "bot.cloud", "bot.processors", "bot.pipelines", "bot.rooms"),
    "bot.voice": ("bot.session", "bot.cli", "bot.cloud", "bot.processors", "bot.pipelines", "bot.rooms"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


MODULES = sorted(p for p in BOT.rglob("*.py") if "generated" not in p.parts)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(BOT.parent)))
def test_nothing_below_the_lifecycle_imports_it(path: Path) -> None:
    module = _module_name(path)
    if any(_within(module, entry) for entry in ENTRIES) or module == "bot":
        return
    upward = sorted(name for name in _imports(path) if any(_within(name, entry) for entry in ENTRIES))
    assert not upward, f"{module} imports {upward}: only the entry points may use the session lifecycle"


@pytest.mark.parametrize("package", sorted(NEVER_IMPORT), ids=str)
def test_shared_packages_do_not_reach_up(package: str) -> None:
    folder = BOT / package.split(".")[1]
    offences = []
    for path in sorted(folder.rglob("*.py")):
        for name in _imports(path):
            if any(_within(name, banned) for banned in NEVER_IMPORT[package]):
                offences.append(f"{_module_name(path)} -> {name}")
    assert not offences, f"{package} reaches up: {offences}"


def test_the_bot_root_holds_only_its_entry_points() -> None:
    loose = sorted(p.name for p in BOT.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "cloud.py"], f"loose modules in bot/: {loose}"
