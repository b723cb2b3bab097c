"""Check a ``.env`` file before the settings read it: bad bytes, lines dotenv skips, misspelled names.

pydantic-settings reads ``.env`` with python-dotenv, which ignores what it cannot use without
naming the file: a misspelled ``ROOMURL`` plays the bundled demo room, a garbage line only logs
``could not parse statement starting at line 114``, bytes that are not UTF-8 end in an unexpected
``UnicodeDecodeError``. This module says each of those once, naming ``.env:LINE``, and never
prints a value (it may be a secret). Imports: stdlib, python-dotenv and ``bot.core.errors``.
"""

from __future__ import annotations

import difflib
import io
import logging
import os
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager

from dotenv import dotenv_values
from dotenv.parser import Original, parse_stream

from bot.core.errors import ConfigError

__all__ = [
    "PROGRAM_PREFIXES",
    "dotenv_problems",
    "dotenv_warnings_silenced",
    "quiet_dotenv_values",
]

PROGRAM_PREFIXES = ("BOT_", "SUPERVISOR_", "PRISM_", "MESH_")
"""Prefixes only this project uses: an unknown key with one of them is a mistake, not another
program's variable. ``DAILY_``, ``OPENAI_`` and ``EVENTBRIDGE_`` are not among them: Pipecat reads
``DAILY_API_URL``, the OpenAI SDK ``OPENAI_ORG_ID``, the supervisor ``EVENTBRIDGE_MAX_BYTES``;
misspellings there are still caught by their likeness to a setting. A prefix counts for a program
only when one of the names it knows has it (the bot knows no ``SUPERVISOR_`` name, so it leaves
those to the supervisor in a shared ``.env``)."""

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
"""What a variable name looks like. python-dotenv reads a line without ``=`` (``DAILY_API_KEY:s3cr3t``)
as one long key: such a "key" may hold a value and is never printed."""

CLOSE = 0.8
"""How alike (``difflib`` ratio) an unknown key and a setting must be to call the key a misspelling.
A one-letter slip in a name of six or more letters scores above it; other programs' usual names
(``DEBUG``, ``REDIS_URL``, ``LOG_LEVEL``) and the two programs' names to each other score below."""

SUGGEST = 0.7
"""Looser likeness for the suggestion once a prefix has already marked the key as a mistake."""

_DOTENV_LOGGER = "dotenv.main"
_NEWLINE = re.compile(r"\r\n|\r|\n")  # what dotenv's parser counts as a line break
_NEWLINE_BYTES = re.compile(rb"\r\n|\r|\n")


def dotenv_problems(
    path: str | os.PathLike[str],
    known: Collection[str],
    *,
    also_known: Collection[str] = (),
    prefixes: Collection[str] = PROGRAM_PREFIXES,
    encoding: str = "utf-8",
) -> list[str]:
    """The warnings about ``path`` (``.env:12: ROOMURL is not a setting (did you mean ROOM_URL?)``).

    Args:
        path: the ``.env`` file as the settings name it; a missing one, or one that is not a
            regular file (a FIFO reads only once: the settings must get it), has no problems.
        known: the variables of the program's settings.
        also_known: variables that belong in the same ``.env`` without being settings of this
            program (the bot's, in the supervisor's): never warned about, but suggested.
        prefixes: the project's prefixes; see :data:`PROGRAM_PREFIXES`.
        encoding: the file's encoding, as the settings read it.

    Raises:
        ConfigError: the file cannot be read, or is not valid in ``encoding``
            (``.env:3: not valid UTF-8``): the settings could not read it either.

    Names match without regard to case, as the settings match them. Each unknown key is named
    once, at its first line. Values are never part of a warning.
    """
    name = os.fspath(path)
    if not os.path.isfile(name):
        return []
    text = _read_text(name, encoding)
    candidates = {variable.upper(): variable for variable in (*known, *also_known)}
    own_prefixes = tuple(p for p in prefixes if any(variable.startswith(p) for variable in candidates))
    warnings: list[str] = []
    named: set[str] = set()
    for binding in parse_stream(io.StringIO(text)):
        where = f"{name}:{_first_line(binding.original)}"
        if binding.error:
            warnings.append(f"{where}: not a NAME=value line; it is ignored")
            continue
        key = binding.key
        if key is not None and not _NAME.match(key):
            warnings.append(f"{where}: not a NAME=value line; it is ignored")
            continue
        if key is None or key.upper() in candidates or key.upper() in named:
            continue
        close = difflib.get_close_matches(key.upper(), candidates, n=1, cutoff=CLOSE)
        if not close and not key.upper().startswith(own_prefixes):
            continue  # another program's variable: a .env may serve several
        named.add(key.upper())
        suggestion = close or difflib.get_close_matches(key.upper(), candidates, n=1, cutoff=SUGGEST)
        hint = f" (did you mean {candidates[suggestion[0]]}?)" if suggestion else ""
        warnings.append(f"{where}: {key} is not a setting{hint}")
    return warnings


def _read_text(name: str, encoding: str) -> str:
    """The file's text; a read error or undecodable bytes are a ``ConfigError`` naming the line."""
    try:
        with open(name, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read it ({exc.strerror or exc})") from None
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = len(_NEWLINE_BYTES.findall(data, 0, exc.start)) + 1
        shown = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
        raise ConfigError(f"{name}:{line}: not valid {shown} (save the file as {shown})") from None


def _first_line(original: Original) -> int:
    """The line the statement starts on. dotenv counts from the blank lines before it (its own
    warning says line 2 for garbage on line 4 after two blank lines); the person wants line 4."""
    blank = original.string[: len(original.string) - len(original.string.lstrip())]
    return original.line + len(_NEWLINE.findall(blank))


def _not_a_parse_warning(record: logging.LogRecord) -> bool:
    """A logging filter: python-dotenv's "could not parse statement" line (it names no file) is dropped."""
    return not str(record.msg).startswith("python-dotenv could not parse")


@contextmanager
def dotenv_warnings_silenced() -> Iterator[None]:
    """Within the block, python-dotenv does not log the lines it cannot parse.

    For reads of a ``.env`` that :func:`dotenv_problems` checks: it names those lines once, with
    the file; dotenv's own warning would repeat each, without it. Other dotenv logs still pass.
    """
    logger = logging.getLogger(_DOTENV_LOGGER)
    logger.addFilter(_not_a_parse_warning)
    try:
        yield
    finally:
        logger.removeFilter(_not_a_parse_warning)


def quiet_dotenv_values(dotenv_path: str | os.PathLike[str], encoding: str | None = "utf-8") -> dict[str, str | None]:
    """``dotenv.dotenv_values`` without its parse warnings: for the other readers of a checked ``.env``."""
    with dotenv_warnings_silenced():
        return dotenv_values(dotenv_path, encoding=encoding)
