"""SessionControl's hand-over of SIGTERM/SIGINT at the end of a session."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import pytest

from bot.config.secrets import SecretScrubber
from bot.events import EventBus, SessionContext, SpecRegistry
from bot.session.control import SIGNALS, SessionControl


def _control() -> SessionControl:
    context = SessionContext(session_id="s-1", assistant_id="a", tenant_id="t", room_id="r")
    bus = EventBus(context=context, registry=SpecRegistry.load())
    return SessionControl(bus, SecretScrubber(), handle_signals=True)


def test_releasing_the_signals_never_passes_through_the_default_action(monkeypatch: pytest.MonkeyPatch) -> None:
    """A SIGTERM just after the end is out must be ignored, never kill the process (exit -15
    instead of the session's own code): the disposition goes from the loop's handler to SIG_IGN
    without the SIG_DFL that ``loop.remove_signal_handler`` installs, even for an instant."""
    saved = {sig: signal.getsignal(sig) for sig in SIGNALS}
    dispositions: list[tuple[int, Any]] = []
    real_signal = signal.signal

    def recording(sig: int, handler: Any) -> Any:
        if sig in SIGNALS:
            dispositions.append((sig, handler))
        return real_signal(sig, handler)

    async def session() -> None:
        control = _control()
        control.install_signals()
        monkeypatch.setattr(signal, "signal", recording)
        control.release_signals()

    try:
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(asyncio.wait_for(session(), 10))
        finally:
            loop.close()  # closing the loop must not reset them either
        assert dispositions, "release_signals set no disposition"
        assert all(handler is signal.SIG_IGN for _, handler in dispositions), dispositions
        assert all(signal.getsignal(sig) is signal.SIG_IGN for sig in SIGNALS)
    finally:
        monkeypatch.undo()
        for sig, handler in saved.items():
            signal.signal(sig, handler)
