"""The event runtime: envelopes, bus, governance, emitters, inbound validation.

Imports no Pipecat, Daily or OpenAI code, so the first envelope leaves within milliseconds of
spawn while the heavy imports load (ARCHITECTURE principle 7).
"""

from bot.events.app_messages import AppMessageForwarder
from bot.events.bus import EventBus
from bot.events.envelope import Envelope, SessionContext, uuid7_ms
from bot.events.governance import Redactor, Sampler
from bot.events.inbound import Accepted, InboundValidator, Rejected
from bot.events.registry import SpecRegistry, TopicRule
from bot.events.runtime import EventRuntime, create_runtime
from bot.events.spec_check import SpecCheck, check_spec
from bot.events.stdout import StdoutEmitter

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
