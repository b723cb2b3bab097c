"""Keep secrets out of every line the bot writes: a string scrubber and loguru hooks built on it.

``SecretScrubber`` replaces each configured secret value (Daily token, API keys, Mesh token) and
anything that looks like a credential (``Authorization: Bearer …``, ``token=…``, a JWT, an
``sk-…`` key) with ``***``. Install :func:`log_patcher` on loguru once and every sink is covered;
:func:`scrubbing_sink` also covers formatted tracebacks. Both also escape control, bidi and
surrogate characters (``bot.core.text.printable``): a display name or a chat line in a log can
neither drive the operator's terminal (OSC 52, ``ESC[2J``) nor reorder the line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from loguru import Record

from bot.core.text import printable

__all__ = [
    "MASK",
    "SECRET_ENV_VARS",
    "SECRET_FIELDS",
    "SECRET_FLAGS",
    "SecretScrubber",
    "log_patcher",
    "scrubber_from_env",
    "scrubbing_sink",
    "secrets_given",
]

MASK = "***"

SECRET_FIELDS = ("token", "daily_api_key", "pii_salt", "mesh_api_token", "openai_api_key")
"""The bot settings (``bot.config.settings.Settings``) that hold secrets; a test checks they are exactly
its ``SecretStr`` fields."""

SECRET_FLAGS = tuple("--" + name.replace("_", "-") for name in SECRET_FIELDS)
"""Their flags (``bot.config.flags.flag_name``)."""

SECRET_ENV_VARS = (
    # the variables of bot.config.settings.SECRET_FIELDS, in that order
    "DAILY_TOKEN",
    "DAILY_API_KEY",
    "PRISM_PII_SALT",
    "MESH_API_TOKEN",
    "OPENAI_API_KEY",
    # not bot settings, but in a bot's environment all the same
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "SUPERVISOR_TOKEN",
)
"""Environment variables whose values are secrets wherever they appear.

Written out rather than derived from ``bot.config.settings``: this module is the last-resort scrubber of
``python -m bot``'s error handler and of ``bot.cloud``, so it must load when the settings cannot
(a broken or missing pydantic-settings still ends in one scrubbed line and a published
``assistant.session.failed``). tests/config/test_secrets.py checks it against the settings.
"""

MIN_SECRET_LENGTH = 4
"""Shorter values are not scrubbed literally (masking ``"a"`` everywhere would wreck every line)."""

_KEY = r"[a-z0-9_]*?(?:token|api[_-]?key|apikey|password|passwd|secret)"

_BARE_KEYS = frozenset({"token", "password", "passwd", "secret"})
_CREDENTIAL_LIKE = re.compile(r"[^A-Za-z]|.{12,}")


def _colon_value(match: re.Match[str]) -> str:
    key, sep, value = match.group(1), match.group(2), match.group(3)
    if key.lower() in _BARE_KEYS and not _CREDENTIAL_LIKE.search(value):
        return match.group(0)  # a word after a word: prose, not a credential
    return key + sep + MASK


# Credential shapes, scrubbed even when the value was never configured.
_PATTERNS: tuple[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]], ...] = (
    # Authorization: Bearer abc / Authorization: Basic abc / "Bearer abc"
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]+"), r"\1\2" + MASK),
    # token=abc, access_token=abc, api_key=abc, apikey=abc, password=abc, secret=abc (query strings,
    # env lines): any value.
    (
        re.compile(rf"(?i)\b({_KEY})(\s*=\s*)(?![*]{{3}})([^\s&\"',;}}]+)"),
        r"\1\2" + MASK,
    ),
    # key: value (logs, YAML). A bare word key ("token", "password", "passwd", "secret") is often
    # prose or a path: after it only a value that looks like a credential is masked (a digit or a
    # symbol in it, or 12+ characters), so "/etc/passwd: invalid JSON" and "secret: keep it short"
    # keep their words; a compound key (MESH_API_TOKEN, access_token, api_key) masks any value.
    # A key that is the last segment of a path ("/etc/passwd: ...") is a file name, not a key.
    (re.compile(rf"(?i)(?<![/\\])\b({_KEY})(\s*:\s*)(?![*]{{3}})([^\s&\"',;}}]+)"), _colon_value),
    # JSON form: "token": "abc", "apiKey": "abc"
    (
        re.compile(r'(?i)("(?:[a-z_]*token|api[_-]?key|apikey|password|secret|authorization)"\s*:\s*")([^"]+)(")'),
        r"\1" + MASK + r"\3",
    ),
    # Daily room URL with the meeting token in the query: ?t=abc / &t=abc
    (re.compile(r"([?&]t=)([^&#\s\"']+)"), r"\1" + MASK),
    # JWTs (Daily meeting tokens are JWTs)
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]+"), MASK),
    # OpenAI-style keys
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), MASK),
    # userinfo in URLs: https://user:pass@host
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + MASK + "@"),
)


def _plain(value: Any) -> str | None:
    """The string inside ``value`` (``SecretStr`` aware), or ``None``."""
    if value is None:
        return None
    getter = getattr(value, "get_secret_value", None)
    if callable(getter):
        value = getter()
    if not isinstance(value, str):
        return None
    return value


class SecretScrubber:
    """Masks secret values and credential-shaped substrings in text.

    Args:
        secrets: values to mask wherever they appear (``str``, ``SecretStr`` or ``None``,
            which is skipped). Values shorter than 4 characters are ignored.
        patterns: also mask credential shapes (bearer headers, ``token=``, JWTs, keys).

    Example::

        scrub = SecretScrubber([settings.token, os.environ.get("MESH_API_TOKEN")])
        print(scrub("joining with token=abc"))  # joining with token=***
    """

    def __init__(self, secrets: Iterable[Any] = (), *, patterns: bool = True) -> None:
        self._secrets: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        self._patterns = patterns
        self.add(*secrets)

    def add(self, *values: Any) -> None:
        """Register more secret values (``None`` and short values are skipped)."""
        changed = False
        for value in values:
            text = _plain(value)
            if text is None:
                continue
            text = text.strip()
            if len(text) >= MIN_SECRET_LENGTH and text not in self._secrets:
                self._secrets.add(text)
                changed = True
        if changed:
            self._compile()

    def discard(self, *values: Any) -> None:
        """Forget secret values no longer in use (a room's token once the room is over)."""
        before = len(self._secrets)
        for value in values:
            text = _plain(value)
            if text is not None:
                self._secrets.discard(text.strip())
        if len(self._secrets) != before:
            self._compile()

    def _compile(self) -> None:
        # Longest first so a secret that contains another is masked whole.
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._regex = re.compile("|".join(re.escape(s) for s in ordered)) if ordered else None

    @property
    def count(self) -> int:
        """How many literal secret values are registered."""
        return len(self._secrets)

    def __call__(self, text: Any) -> str:
        return self.scrub(text)

    def scrub(self, text: Any) -> str:
        """``text`` (made a string) with every secret and credential shape replaced by ``***``."""
        out = text if isinstance(text, str) else str(text)
        if self._regex is not None:
            out = self._regex.sub(MASK, out)
        if self._patterns:
            for pattern, repl in _PATTERNS:
                out = pattern.sub(repl, out)
        return out

    def scrub_obj(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string scrubbed (for app messages, events)."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {k: self.scrub_obj(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.scrub_obj(v) for v in value]
        return value

    def contains_secret(self, text: str) -> bool:
        """Whether ``text`` still holds a registered secret value (for tests and asserts)."""
        return self._regex is not None and self._regex.search(text) is not None


def scrubber_from_env(environ: Mapping[str, str] | None = None, *extra: Any) -> SecretScrubber:
    """A scrubber for :data:`SECRET_ENV_VARS` found in ``environ`` (default ``os.environ``) plus ``extra``.

    Names match without regard to case, as the settings read them (``daily_token`` is the Daily
    token too). Pass the ``SecretStr`` settings as well (``settings.token``, …): values read from
    ``.env`` or flags are not in the environment; :func:`secrets_given` finds them when the
    settings could not be read.
    """
    env = os.environ if environ is None else environ
    return SecretScrubber([value for name, value in env.items() if name.upper() in SECRET_ENV_VARS] + list(extra))


def secrets_given(argv: Sequence[str], env_file: str | os.PathLike[str] = ".env") -> list[str]:
    """Secret values on the command line (``--token X``, ``--token=X``) and in ``.env``.

    For the error path of a start whose settings failed to validate: the settings' ``SecretStr``
    values are not there to scrub with, but these are.
    """
    found: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        flag, has_value, value = arg.partition("=")
        if flag in SECRET_FLAGS:
            if has_value:
                found.append(value)
            elif i + 1 < len(args):
                found.append(args[i + 1])
    if os.path.isfile(env_file):
        try:
            from bot.config.dotenv_check import quiet_dotenv_values as dotenv_values

            found += [
                v for k, v in dotenv_values(env_file, encoding="utf-8").items() if v and k.upper() in SECRET_ENV_VARS
            ]
        except (OSError, ValueError):
            pass
    return found


def log_patcher(scrubber: SecretScrubber) -> Callable[[Record], None]:
    """A loguru patcher that scrubs each record's message and string ``extra`` values.

    Install it once for every sink, present and future::

        logger.configure(patcher=log_patcher(scrubber))

    Exception text in formatted tracebacks is not part of ``record["message"]``; use
    :func:`scrubbing_sink` for sinks that print tracebacks (``--debug``).
    """

    def patch(record: Record) -> None:
        record["message"] = printable(scrubber.scrub(record["message"]))
        extra = record.get("extra")
        if extra:
            for key, value in list(extra.items()):
                if isinstance(value, str):
                    extra[key] = printable(scrubber.scrub(value))

    return patch


def scrubbing_sink(stream: TextIO, scrubber: SecretScrubber) -> Callable[[Any], None]:
    """A loguru sink writing the fully formatted line (traceback included) to ``stream``, scrubbed.

    Example::

        logger.add(scrubbing_sink(sys.stderr, scrubber), level="INFO", colorize=False)
    """

    def write(message: Any) -> None:
        stream.write(printable(scrubber.scrub(str(message))))
        stream.flush()

    return write
