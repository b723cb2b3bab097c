"""Command lines over a pydantic-settings class: one flag per field, one-line errors naming the source.

``python -m bot`` and ``python -m supervisor`` both read their settings from flags, the environment
and ``.env``; this module is the plumbing they share, so the two command lines behave alike.
"""

from __future__ import annotations

import argparse
import difflib
import locale
import os
import re
import sys
import typing
from collections.abc import Collection, Mapping
from typing import Any, Literal, NoReturn, TextIO, TypeVar, get_args, get_origin

from pydantic import AliasChoices, BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from bot.config.dotenv_check import dotenv_problems, dotenv_warnings_silenced
from bot.core.errors import ConfigError

__all__ = [
    "OneLineErrorParser",
    "VariableNamedSettings",
    "check_env_files",
    "env_alias",
    "env_name",
    "flag_name",
    "settings_from_flags",
    "settings_parser",
    "validation_error_line",
]

SettingsT = TypeVar("SettingsT", bound=BaseModel)


def env_alias(variable: str) -> AliasChoices:
    """A field's one environment variable, as its ``validation_alias`` (:func:`env_name` reads it back)."""
    return AliasChoices(variable)


def env_name(settings_class: type[BaseModel], field_name: str) -> str:
    """The environment variable ``field_name`` is read from: the one name given to :func:`env_alias`."""
    alias = settings_class.model_fields[field_name].validation_alias
    if not isinstance(alias, AliasChoices):
        raise TypeError(f"{settings_class.__name__}.{field_name} has no env_alias(...) validation_alias")
    return str(alias.choices[0])


class VariableNamedSettings(BaseSettings):
    """Settings read from the environment and ``.env`` under their documented variable only.

    pydantic-settings also matches a field's own name when fields may be given by name
    (``populate_by_name``): ``speed`` would be read from ``SPEED``, ``token`` from ``TOKEN``,
    ``debug`` from ``DEBUG``, generic variables any container may carry. Here only the
    :func:`env_alias` counts. Code still passes fields by name (``Settings(speed=0)``); the
    constructor renames them to their variables first.
    """

    def __init__(self, **values: Any) -> None:
        fields = type(self).model_fields
        super().__init__(
            **{env_name(type(self), key) if key in fields else key: value for key, value in values.items()}
        )


def flag_name(field_name: str) -> str:
    """The command-line flag of a field: ``join_budget_secs`` → ``--join-budget-secs``."""
    return "--" + field_name.replace("_", "-")


class OneLineErrorParser(argparse.ArgumentParser):
    """A bad command line is a ``ConfigError``: one line (``error: ...``) and exit 2, like every other user error.

    Plain argparse prints the whole usage and exits by itself; raising instead lets the program's
    one error handler print the line (and the bot publish ``assistant.session.failed``).
    """

    def error(self, message: str) -> NoReturn:
        line = _without_values(message)
        hint = did_you_mean(line, [opt for opt in self._option_string_actions if opt.startswith("--")])
        raise ConfigError(f"{line}{hint} (see --help)")


def did_you_mean(line: str, flags: Collection[str]) -> str:
    """``; did you mean --speed?`` for the first unknown flag in ``unrecognized arguments: --sped``
    that is close to a real one (the same closeness the .env check uses), else ``""``."""
    prefix = "unrecognized arguments: "
    if not line.startswith(prefix):
        return ""
    for word in line[len(prefix) :].split():
        close = difflib.get_close_matches(word, list(flags), n=1, cutoff=0.75)
        if close:
            return f"; did you mean {close[0]}?"
    return ""


_FLAG_SHAPE = re.compile(r"^--[a-z0-9][a-z0-9-]*$")


def _without_values(message: str) -> str:
    """argparse's message without the values the user typed: a mistyped flag's value may be a
    secret, and this line reaches stderr and the bot's ``session.failed`` on stdout.

    ``unrecognized arguments: --tokn s3cr3t`` names the flag-shaped words only;
    ``invalid choice: 's3cr3t' (choose from ...)`` keeps the choices; ``ignored explicit
    argument 's3cr3t'`` (a value given to a switch) says the switch takes none.
    """
    prefix = "unrecognized arguments: "
    if message.startswith(prefix):
        flags = [word.split("=", 1)[0] for word in message[len(prefix) :].split()]
        named = [flag for flag in flags if _FLAG_SHAPE.match(flag)]
        return prefix + (" ".join(named) if named else "values without a flag")
    # "argument --token: expected one argument" reads as a credential ("token: expected") to the
    # scrubber, which masked the word; say it without the colon
    message = re.sub(r"^argument (\S+): expected one argument$", r"\1 needs a value", message)
    message = re.sub(r"invalid choice: '.*?'(?= \(choose from)", "invalid choice", message)
    return re.sub(r"ignored explicit argument '.*'$", "a switch takes no value", message)


def settings_parser(
    settings_class: type[BaseModel],
    *,
    prog: str,
    description: str,
    epilog: str,
    env_only: Collection[str] = (),
) -> OneLineErrorParser:
    """A parser with one flag per field of ``settings_class``, its help the field's doc and variable.

    Args:
        settings_class: the settings; each field has an :func:`env_alias` and a description.
        prog, description, epilog: as for ``argparse.ArgumentParser``.
        env_only: fields that get no flag (a secret on a command line shows in ``ps``).

    Every flag defaults to ``None`` (not given), so the environment and ``.env`` fill what the
    command line leaves out: :func:`settings_from_flags` passes only the flags given.
    """
    parser = OneLineErrorParser(
        prog=prog,
        allow_abbrev=False,  # a prefix of a flag is not the flag: new flags never change old command lines
        description=description,
        epilog=epilog,
    )
    for name, field in settings_class.model_fields.items():
        if name in env_only:
            continue
        help_text = _help_text(field, env_name(settings_class, name))
        if field.annotation is bool:
            if field.default is True:  # on unless turned off: the flag turns it off
                off = "--no-" + flag_name(name)[2:]
                parser.add_argument(off, dest=name, action="store_false", default=None, help=help_text)
                continue
            parser.add_argument(flag_name(name), dest=name, action="store_true", default=None, help=help_text)
            continue
        choices = _literal_choices(field.annotation)
        metavar = None if choices else name.upper()
        nargs = "+" if _is_list(field.annotation) else None  # --tracks a.wav b.wav
        parser.add_argument(
            flag_name(name), dest=name, default=None, metavar=metavar, choices=choices, nargs=nargs, help=help_text
        )
    return parser


def _is_list(annotation: Any) -> bool:
    """``list[X]`` or ``list[X] | None``."""
    if typing.get_origin(annotation) is list:
        return True
    return any(typing.get_origin(arg) is list for arg in typing.get_args(annotation))


def settings_from_flags(
    settings_class: type[SettingsT],
    args: argparse.Namespace,
    *,
    dotenv_also_known: Collection[str] = (),
    already_read: Mapping[str, Any] | None = None,
) -> SettingsT:
    """The settings from the flags given, over the environment and ``.env``; a bad value is a ``ConfigError``.

    The ``.env`` is checked first (:func:`check_env_files`): its misspelled names and lines dotenv
    skips are warnings on stderr, bytes it cannot decode a ``ConfigError``. ``dotenv_also_known``
    are variables that belong in the same ``.env`` though they are not settings of this class.
    ``already_read`` are settings another reader already took from the same sources with the
    same precedence (the bot's early identity): given, they are not read again.
    """
    flags = {name: value for name, value in vars(args).items() if value is not None}
    given = {**(already_read or {}), **flags}
    check_env_files(settings_class, also_known=dotenv_also_known)
    try:
        with dotenv_warnings_silenced():  # check_env_files named those lines, with the file
            return settings_class(**given)
    except ValidationError as exc:
        raise ConfigError(validation_error_line(exc, settings_class, flags)) from None


def check_env_files(
    settings_class: type[BaseModel], *, also_known: Collection[str] = (), stream: TextIO | None = None
) -> None:
    """Warn on ``stream`` (stderr) about the ``.env`` files ``settings_class`` reads (``model_config["env_file"]``).

    Here rather than in each program's ``load_settings``: this is where pydantic-settings reads
    them, so the check and the read see the same files, with the same encoding, and both
    programs get it. Raises ``ConfigError`` for a file the settings could not decode.
    """
    config: Mapping[str, Any] = settings_class.model_config
    env_files = config.get("env_file")
    if env_files is None:
        return
    encoding = config.get("env_file_encoding") or locale.getpreferredencoding(False)  # as open() reads it
    known = [env_name(settings_class, name) for name in settings_class.model_fields]
    for env_file in [env_files] if isinstance(env_files, (str, os.PathLike)) else env_files:
        for warning in dotenv_problems(env_file, known, also_known=also_known, encoding=encoding):
            print(f"warning: {warning}", file=stream or sys.stderr)


def validation_error_line(exc: ValidationError, settings_class: type[BaseModel], given: Collection[str]) -> str:
    """``--speed: Input should be ...`` or ``BOT_SPEED: ...``: where the user put the bad value, and why.

    The flag when the value came from a flag (``given``), else the environment variable (the
    environment or ``.env``), else ``settings`` for a rule across fields. The input is never
    repeated: it may be a secret.
    """
    error = exc.errors(include_url=False, include_input=False)[0]
    loc = error.get("loc") or ()
    key = str(loc[0]) if loc else ""
    field = next((f for f in settings_class.model_fields if key in (f, env_name(settings_class, f))), None)
    if field is None:
        where = "settings"
    elif field in given:
        where = flag_name(field)
    else:
        where = env_name(settings_class, field)
    return f"{where}: {str(error['msg']).removeprefix('Value error, ')}"


def _help_text(field: FieldInfo, variable: str) -> str:
    default = _shown_default(field)
    shown = "" if default is None else f" (default: {default})"
    return f"{field.description or ''}{shown} [env {variable}]".replace("%", "%%")  # argparse formats help with %


def _shown_default(field: FieldInfo) -> Any:
    """The default worth printing in ``--help``: none for secrets, unset, empty or off values."""
    default = field.default
    if (
        _is_secret(field.annotation)
        or default is PydanticUndefined
        or default is None
        or default is False
        or default == ""
    ):
        return None
    return default


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or SecretStr in get_args(annotation)


def _literal_choices(annotation: Any) -> tuple[Any, ...] | None:
    return get_args(annotation) if get_origin(annotation) is Literal else None
