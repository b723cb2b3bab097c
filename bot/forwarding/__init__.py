"""Forwarding envelopes to AWS EventBridge: governance, batching, retries, a dry-run log.

Imports no Pipecat (nor boto3 until the real sink sends), so both the supervisor and the bot
process can run it. See docs/supervisor.md.
"""

from bot.forwarding.attach import BotForwarding, attach, make_sink
from bot.forwarding.buffer import Item, PriorityBuffer
from bot.forwarding.entries import (
    DEFAULT_MAX_BYTES,
    DEFAULT_SOURCE,
    MAX_ENTRIES,
    RETRYABLE_CODES,
    build_entry,
    entry_size,
    rfc3339_ms,
)
from bot.forwarding.forwarder import Forwarder, ForwarderConfig, ForwarderStats
from bot.forwarding.sinks import DryRunSink, EventBridgeSink, SendFailed, Sink

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_SOURCE",
    "MAX_ENTRIES",
    "RETRYABLE_CODES",
    "BotForwarding",
    "DryRunSink",
    "EventBridgeSink",
    "Forwarder",
    "ForwarderConfig",
    "ForwarderStats",
    "Item",
    "PriorityBuffer",
    "SendFailed",
    "Sink",
    "attach",
    "build_entry",
    "entry_size",
    "make_sink",
    "rfc3339_ms",
]
