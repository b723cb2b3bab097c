"""Sending one app message through Pipecat's Daily client and knowing what became of it.

Pipecat 1.14's ``DailyTransportClient.send_message`` returns ``None`` (as if sent) when the call
is not connected: while daily-core reconnects the signalling that carries app messages
(``_CallState.INTERRUPTED``) and after the call ended (``LEFT``). It awaits daily-core's
completion with no limit, and its ``DailyOutputTransport`` turns only the first failed completion
of a streak into an ``ErrorFrame``. So the room's output sends through :class:`AppMessageDelivery`
instead: it checks the call state first, bounds the send by a timeout, and reports each outcome
(``sent``, ``failed``, ``timed_out``, ``not_connected``) to a callback (the session's
``AppMessageForwarder.record``, which counts and publishes the losses).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

__all__ = ["AppMessageDelivery", "OnOutcome"]

OnOutcome = Callable[[str, "str | None", "str | None"], None]
"""``(outcome, topic, error)``."""

_NOT_CONNECTED = ("interrupted", "left")
"""Values of Pipecat 1.14's private ``_CallState`` in which a send is dropped silently."""


class AppMessageDelivery:
    """Sends app messages through a ``DailyTransportClient``; every send ends in one reported outcome.

    Args:
        timeout_s: limit of one send (daily-core's completion); past it the send counts as
            ``timed_out`` (daily-core may still deliver it; the bot no longer waits).
        on_outcome: called once per send with ``(outcome, topic, error)``; ``None`` until the
            session connects it (``DailyRoom.report_app_messages_to``).
        on_finished: called when the output stops (``AppMessageForwarder.flush``).
    """

    def __init__(
        self,
        *,
        timeout_s: float = 5.0,
        on_outcome: OnOutcome | None = None,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        if timeout_s <= 0:
            raise ValueError("timeout_s must be > 0")
        self.timeout_s = timeout_s
        self.on_outcome = on_outcome
        self.on_finished = on_finished

    def finished(self) -> None:
        """The output has stopped: no more sends (the losses not reported yet are reported now)."""
        if self.on_finished is not None:
            self.on_finished()

    async def send(self, client: Any, frame: Any) -> str:
        """Send ``frame`` (an ``OutputTransportMessage[Urgent]Frame``) through ``client``; return the outcome."""
        topic = _topic_of(getattr(frame, "message", None))
        state = getattr(getattr(client, "_call_state", None), "value", None)
        error: str | None = None
        if state in _NOT_CONNECTED:
            outcome = "not_connected"
            error = "signalling interrupted" if state == "interrupted" else "the call has ended"
        else:
            try:
                answer = await asyncio.wait_for(client.send_message(frame), timeout=self.timeout_s)
            except TimeoutError:
                outcome, error = "timed_out", f"no answer from Daily within {self.timeout_s:g}s"
            except Exception as exc:  # a send must never take the output transport down
                outcome, error = "failed", f"{type(exc).__name__}: {exc}"
            else:
                outcome, error = ("failed", str(answer)) if answer else ("sent", None)
        if self.on_outcome is not None:
            self.on_outcome(outcome, topic, error)
        return outcome


def _topic_of(message: Any) -> str | None:
    if isinstance(message, dict):
        topic = message.get("topic")
        return str(topic)[:128] if topic else None
    return None
