"""``python -m bot``: run one room session.

With no room URL it plays the bundled demo scenario as a simulated room (the embedded default);
``--simulate FILE`` plays any scenario. Stdout carries envelopes only (JSON lines); when stdout is
a terminal, a live view of the room is drawn on stderr instead.

Start-up order matters: ``bot.session.boot`` writes ``assistant.session.started`` from the session's
identity before even pydantic loads; then the full settings are validated (a bad one publishes
``assistant.session.failed`` with stage ``config``), and only then do the heavy imports load.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily below: pydantic loads only after the start is published
    from bot.config.settings import Settings
    from bot.session.boot import Booted
    from bot.session.startup import Started

START = time.monotonic()


def build_parser() -> argparse.ArgumentParser:
    """Flags rendered from ``bot.config.settings.Settings``: one flag per setting, same docs as the env."""
    from bot.config.flags import settings_parser
    from bot.config.settings import Settings

    return settings_parser(
        Settings,
        prog="python -m bot",
        description="Prism Room Bot: an AI facilitator for Daily rooms that publishes typed room events.",
        epilog="Every flag can also be set through the environment variable shown, or a .env file. "
        "Envelopes go to stdout as JSON lines; logs go to stderr.",
    )


def load_settings(argv: Sequence[str] | None, *, already_read: Mapping[str, str] | None = None) -> Settings:
    """Parse flags over environment and .env; a bad value is a one-line ``ConfigError``, exit 2.

    ``already_read``: the identity settings ``bot.session.boot`` read for the first envelope,
    taken as given so the session's identity is read once (bot/config/early_identity.py)."""
    from bot.config.flags import settings_from_flags
    from bot.config.settings import Settings

    return settings_from_flags(Settings, build_parser().parse_args(argv), already_read=already_read)


STARTUP_SIGNALS = {signal.SIGTERM, signal.SIGINT}
"""Blocked from the first line of ``main`` until the session takes them on its event loop
(``SessionControl.install_signals`` in bot/session/control.py): one that comes during start-up waits, then ends the session like
any other (``assistant.session.ended``, reason ``signal``), after what was published is on
record. Without this, a signal could land between the first envelope going out and the code
that knows it went out, or reach asyncio's own SIGINT handler, which reports ``cancelled``."""


BLAS_THREADS = "OPENBLAS_NUM_THREADS"
"""Read by the OpenBLAS that numpy loads, once, when numpy is first imported."""


def one_blas_thread(environ: MutableMapping[str, str] = os.environ) -> None:
    """One OpenBLAS thread unless the environment says otherwise; before anything imports numpy.

    The bot does no linear algebra that threads would speed up (audio windows of a few hundred
    samples; FFTs are pocketfft's, not BLAS), yet OpenBLAS starts a thread per core when numpy
    loads and keeps them spinning for a while: on the way to a simulated room's join that was
    about 30 ms of CPU taken from the session's own thread on a 2-core machine, and one process
    per room means one such pool per room. Results do not change (vectors this short are summed
    on one thread either way); a value already set (``OPENBLAS_NUM_THREADS=4 python -m bot``) wins.
    """
    environ.setdefault(BLAS_THREADS, "1")


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    signal.pthread_sigmask(signal.SIG_BLOCK, STARTUP_SIGNALS)
    one_blas_thread()
    booted = settings = started = None
    try:
        from bot.session.boot import publish_started

        booted = publish_started(args)  # the first envelope, before pydantic (bot/session/boot.py says why)
        settings = load_settings(args, already_read=booted.values if booted is not None else None)
        debug = debug or settings.debug
        from bot.session.startup import begin, wants_live_view

        started = begin(settings, claim_stdout=True, live_view=wants_live_view(settings.view), booted=booted)
        from bot.session.lifecycle import run

        return run(settings, started_at=START, started=started)  # the session takes the signals, then ignores them
    except KeyboardInterrupt:  # not from a signal (they are the session's): still end what was published
        _ignore_signals_while_exiting()
        if _finish_unended(booted, started, lambda bus: _ended_by_signal(bus)):
            return 0
        return 128 + signal.SIGINT
    except Exception as exc:  # the one place a user-caused error becomes one line
        _ignore_signals_while_exiting()  # ending anyway: no signal cuts the report short
        from bot.config.secrets import scrubber_from_env, secrets_given
        from bot.core.errors import PrismError

        secrets = secrets_given(args)  # flag and .env secrets too, not only the environment's
        if settings is not None:
            from bot.config.settings import secret_values

            secrets += secret_values(settings)
        from bot.core.text import printable

        secrets_only = scrubber_from_env(None, *secrets)

        def scrub(text: str) -> str:  # secrets out, terminal controls escaped (a name, a path, a value)
            return printable(secrets_only(text))

        if isinstance(exc, PrismError):
            from bot.config.where import explain_file_error

            line, code = scrub(explain_file_error(exc, settings)), exc.exit_code
        else:
            line, code = f"unexpected {type(exc).__name__}: {scrub(str(exc))}", 1
        if started is None:
            _finish_unended(booted, None, lambda bus: _failed_config(line))
        if debug:
            import traceback

            print(scrub("".join(traceback.format_exception(exc))), end="", file=sys.stderr)
        print(
            f"error: {line}" if code != 1 or debug else f"error: {line} (run with --debug for the traceback)",
            file=sys.stderr,
        )
        return code


def _ignore_signals_while_exiting() -> None:
    """The end is published (or about to be): a SIGTERM now could only kill the exit itself.
    What ``SessionControl.release_signals`` does after a session; why ignored and not blocked is said there."""
    for sig in STARTUP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STARTUP_SIGNALS)


def _ended_by_signal(bus: Any) -> Any:
    from bot.session.startup import session_ended

    return session_ended(bus, "signal", started_at=START)


def _failed_config(error: str) -> Any:
    from bot.generated import AssistantSessionFailed

    return AssistantSessionFailed(stage="config", error=error[:500], retryable=False)


def _finish_unended(booted: Booted | None, started: Started | None, last: Callable[[Any], Any]) -> bool:
    """A start is out but the session did not end it: publish ``last(bus)`` as its end.

    Covers a bad setting after the fast start (stage ``config``) and a signal before the session
    installed its handlers. Returns whether a session was there to end. Never raises: the line on
    stderr still tells the person what happened.
    """
    try:
        if started is not None:
            bus = started.runtime.bus
        elif booted is not None:
            from bot.events import create_runtime
            from bot.session.startup import adopt_boot_envelope

            runtime = create_runtime(booted.identity.context(booted.session_id), claim_stdout=True)
            adopt_boot_envelope(runtime, booted)
            bus = runtime.bus
        else:
            return False
        from bot.generated import Topic

        if not (bus.per_topic[Topic.ASSISTANT_SESSION_ENDED] or bus.per_topic[Topic.ASSISTANT_SESSION_FAILED]):
            bus.publish(last(bus))
        return True
    except Exception as exc:
        from bot.core.errors import PrismError

        if not isinstance(exc, PrismError):  # a PrismError here (stdout closed) is the one already reported
            print(f"warning: could not publish the end of the session: {exc!r}", file=sys.stderr)
        return booted is not None or started is not None
