"""Which scenario files a ``POST /rooms`` may play: only those in the scenarios folder.

A request names a scenario by a bundled room's name (``dominant``) or by a path relative to the
folder (``rooms/dominant.json``). The path is resolved (symlinks included) and must stay inside the
folder, be a regular ``.json``/``.yaml``/``.yml`` file, and every clip its events name (``audio``,
relative to the file) must resolve inside the folder too: the bot reads those, and a request must
not make it read anything else on the host.

Every refusal is one :class:`ScenarioRefused` with the field and the rule, never the file's content.
A name that does not exist and a name outside the folder get the same answer, so the API cannot be
used to learn which files exist on the host.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Any

import orjson

BUNDLED_SCENARIOS = Path(__file__).resolve().parent.parent / "bot" / "scenarios"
"""The default scenarios folder: the bundled rooms (``demo``, ``rooms/*.json``) and their clips."""
SUFFIXES = (".json", ".yaml", ".yml")
MAX_SCENARIO_BYTES = 4 * 1024 * 1024
"""A scenario file the supervisor reads to check its clip paths (the bundled ones are < 16 KB)."""
NOT_IN_FOLDER = (
    "must name a scenario file in the scenarios folder (SUPERVISOR_SCENARIOS_DIR): a bundled room's name "
    "(demo, balanced, dominant, eight, noisy) or a path relative to the folder such as rooms/dominant.json"
)


class ScenarioRefused(ValueError):
    """A scenario the supervisor will not play; ``field`` is the request field it names."""

    def __init__(self, message: str, field: str = "scenario") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def resolve_scenario(value: str, root: Path = BUNDLED_SCENARIOS) -> Path:
    """The resolved scenario file ``value`` names inside ``root`` (default: the bundled rooms); raises
    :class:`ScenarioRefused`."""
    folder = root.resolve()
    if "\\" in value or "\x00" in value:
        raise ScenarioRefused(NOT_IN_FOLDER)
    pure = PurePosixPath(value)
    if pure.is_absolute() or ".." in pure.parts or value.startswith("~"):
        raise ScenarioRefused(f"must be relative to the scenarios folder, without '..' ({NOT_IN_FOLDER})")
    if "/" in value or pure.suffix.lower() in SUFFIXES:
        candidates = [folder / pure]
    else:
        candidates = [folder / "rooms" / f"{value}.json", folder / f"{value}.json"]
    for candidate in candidates:
        path = _inside(candidate, folder)
        if path is not None and path.suffix.lower() in SUFFIXES and path.is_file():
            check_clips(path, folder)
            return path
    raise ScenarioRefused(NOT_IN_FOLDER)


def _inside(path: Path, folder: Path) -> Path | None:
    """``path`` resolved (every symlink followed) when it is inside ``folder``, else ``None``."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop
        return None
    return resolved if resolved.is_relative_to(folder) else None


def check_clips(path: Path, folder: Path) -> None:
    """Every ``events[i].audio`` of the scenario at ``path`` resolves inside ``folder``.

    Only the clip paths are looked at; the bot validates the rest. What is wrong is named by
    position (``scenario.events.3.audio``), never by value.
    """
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_SCENARIO_BYTES + 1)
    except OSError:
        raise ScenarioRefused(NOT_IN_FOLDER) from None
    if len(raw) > MAX_SCENARIO_BYTES:
        raise ScenarioRefused(f"the file is over {MAX_SCENARIO_BYTES} bytes")
    data = _parse(raw, path.suffix.lower())
    events = data.get("events") if isinstance(data, dict) else None
    if not isinstance(events, list):
        return  # the bot names what is missing
    for index, event in enumerate(events):
        audio = event.get("audio") if isinstance(event, dict) else None
        if audio is None:
            continue
        where = f"scenario.events.{index}.audio"
        if not isinstance(audio, str) or not audio or "\x00" in audio:
            raise ScenarioRefused("must be a clip path relative to the scenario file", where)
        clip = Path(audio) if os.path.isabs(audio) else path.parent / audio
        if _inside(clip, folder) is None:
            raise ScenarioRefused("must be a clip inside the scenarios folder", where)


def _parse(raw: bytes, suffix: str) -> Any:
    try:
        if suffix == ".json":
            return orjson.loads(raw)
        try:
            import yaml
        except ImportError:
            raise ScenarioRefused("YAML scenarios need PyYAML on the supervisor's host") from None
        return yaml.safe_load(raw)
    except ScenarioRefused:
        raise
    except Exception:  # orjson, yaml, UnicodeDecodeError: the rule only, never where the text went wrong
        raise ScenarioRefused(f"is not a valid {'JSON' if suffix == '.json' else 'YAML'} scenario file") from None
