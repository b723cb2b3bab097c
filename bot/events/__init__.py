"""The event runtime: envelopes, bus, governance, emitters, inbound validation.

Imports no Pipecat, Daily or OpenAI code. Names load on first use, so ``bot.events.framing`` (all
``bot.session.boot`` needs for the first envelope) does not pull pydantic in (ARCHITECTURE principle 7).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Accepted": "inbound",
    "AppMessageForwarder": "app_messages",
    "Envelope": "envelope",
    "EventBus": "bus",
    "EventRuntime": "runtime",
    "InboundValidator": "inbound",
    "Redactor": "governance",
    "Rejected": "inbound",
    "Sampler": "governance",
    "SessionContext": "framing",
    "SpecCheck": "spec_check",
    "SpecRegistry": "registry",
    "StdoutEmitter": "stdout",
    "TopicRule": "registry",
    "check_spec": "spec_check",
    "create_runtime": "runtime",
    "uuid7_ms": "envelope",
}

# Spelled out (not sorted(_WHERE)) so linters and type checkers see the re-exports; a test keeps the two in step.
__all__ = [
    "Accepted",
    "AppMessageForwarder",
    "Envelope",
    "EventBus",
    "EventRuntime",
    "InboundValidator",
    "Redactor",
    "Rejected",
    "Sampler",
    "SessionContext",
    "SpecCheck",
    "SpecRegistry",
    "StdoutEmitter",
    "TopicRule",
    "check_spec",
    "create_runtime",
    "uuid7_ms",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'bot.events' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"bot.events.{module}"), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from bot.events.app_messages import AppMessageForwarder
    from bot.events.bus import EventBus
    from bot.events.envelope import Envelope, uuid7_ms
    from bot.events.framing import SessionContext
    from bot.events.governance import Redactor, Sampler
    from bot.events.inbound import Accepted, InboundValidator, Rejected
    from bot.events.registry import SpecRegistry, TopicRule
    from bot.events.runtime import EventRuntime, create_runtime
    from bot.events.spec_check import SpecCheck, check_spec
    from bot.events.stdout import StdoutEmitter
