"""Errors a user can cause: bad scenario, spec, policy or configuration.

Each type carries where the problem is (file, position, field) and renders as one line, so the CLI
can print ``error: <str(exc)>`` and exit with :attr:`PrismError.exit_code` (2), like ruff and pip.
Anything that is not a ``PrismError`` is a bug and keeps its traceback.
"""

from __future__ import annotations

import os

__all__ = ["ConfigError", "PolicyError", "PrismError", "ScenarioError", "SpecError"]


def _one_line(text: str) -> str:
    """Collapse whitespace runs (including newlines) so a message never spans lines."""
    return " ".join(str(text).split())


def _quoted(field: str | None) -> str:
    return f'"{field}" ' if field else ""


class PrismError(Exception):
    """Base of every user-facing error; ``str()`` is the one line the CLI prints."""

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return _one_line(self.message)


class ScenarioError(PrismError):
    """A scenario file that cannot be played: ``scenario.json event 12: "atMs" must be ≥ 0``.

    Args:
        file: the scenario path as the user gave it.
        message: what is wrong, phrased to follow the field name (``must be ≥ 0``).
        event_index: index into the file's ``events`` list (0-based, as written, before sorting).
        field: the offending field (``atMs``, ``envelope.topic``, ``participants[1].id``).
    """

    def __init__(
        self,
        file: str | os.PathLike[str],
        message: str,
        *,
        event_index: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file = str(file)
        self.event_index = event_index
        self.field = field
        where = self.file if event_index is None else f"{self.file} event {event_index}"
        super().__init__(f"{where}: {_quoted(field)}{message}")
        self.detail = message


class SpecError(PrismError):
    """A spec file that fails validation: ``spec/topics/x.json at /forwarding/sampleRate: ...``.

    Args:
        file: the spec file.
        pointer: JSON pointer to the offending value (``""`` or ``"/"`` for the whole document).
        message: what is wrong.
    """

    def __init__(self, file: str | os.PathLike[str], pointer: str, message: str) -> None:
        self.file = str(file)
        self.pointer = pointer
        where = f"{self.file} at {pointer}" if pointer not in ("", "/") else self.file
        super().__init__(f"{where}: {message}")
        self.detail = message


class PolicyError(PrismError):
    """A ConversationPolicy layer that fails validation: ``policy.json: "maxTurnMs" must be > 0``.

    Args:
        file: the policy file (or source name, for a policy posted in a request body).
        field: the offending field, or ``None`` for the whole document.
        message: what is wrong.

    ``without_value`` is the message without the offending input quoted, when the error came from
    validation: for callers that must not echo input (an HTTP API); None otherwise.
    """

    def __init__(self, file: str | os.PathLike[str], field: str | None, message: str) -> None:
        self.file = str(file)
        self.field = field
        super().__init__(f"{self.file}: {_quoted(field)}{message}")
        self.detail = message
        self.without_value: str | None = None


class ConfigError(PrismError):
    """A bad setting or command-line value: ``--speed must be ≥ 0``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
