"""Wiring of the event runtime for one session: bus, stdout, app messages, inbound validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from bot.events.app_messages import AppMessageForwarder
from bot.events.bus import EventBus
from bot.events.envelope import SessionContext
from bot.events.governance import Redactor, Sampler
from bot.events.inbound import InboundValidator
from bot.events.registry import SpecRegistry
from bot.events.spec_check import SpecCheck, check_spec
from bot.events.stdout import StdoutEmitter
from bot.generated import EventsRuntimeVersionMismatch


@dataclass
class EventRuntime:
    """Everything that turns payload models into envelopes and envelopes into output."""

    bus: EventBus
    redactor: Redactor
    sampler: Sampler
    stdout: StdoutEmitter | None
    app_messages: AppMessageForwarder
    inbound: InboundValidator
    spec_check: SpecCheck | None = None

    def verify_spec(self, *, spec_dir: Path | None = None, refuse_on_mismatch: bool = False) -> SpecCheck:
        """Run the boot spec check; publish a mismatch and optionally stop external forwarding."""
        result = check_spec(self.bus.registry, spec_dir)
        self.spec_check = result
        if not result.ok and result.remote:
            self.bus.publish(
                EventsRuntimeVersionMismatch(
                    runtime="bot", local_spec_version=result.generated, remote_spec_version=result.remote, source="boot"
                )
            )
            if refuse_on_mismatch:
                self.app_messages.enabled = False
        return result

    def expect_version(self, expected: str) -> bool:
        """Operator-pinned spec version (``--expect-spec-version``): publish a mismatch, go on."""
        if expected == self.bus.spec_version:
            return True
        self.bus.publish(
            EventsRuntimeVersionMismatch(
                runtime="bot", local_spec_version=self.bus.spec_version, remote_spec_version=expected, source="pinned"
            )
        )
        return False


def create_runtime(
    context: SessionContext,
    *,
    registry: SpecRegistry | None = None,
    salt: str = "",
    stdout: BinaryIO | None = None,
    claim_stdout: bool = False,
    on_stdout_closed: Callable[[], None] | None = None,
    ring_size: int = 2048,
    sample_seed: int | None = None,
    stdout_pii_max_level: int | None = None,
    stdout_envelopes: bool = True,
) -> EventRuntime:
    """Build the runtime. ``claim_stdout`` takes the process's fd 1 (the CLI); ``stdout`` writes to a stream.

    stdout is governed like every destination: ``stdout_pii_max_level`` lowers its PII ceiling
    below the spec's (fields above it are redacted there), and ``stdout_envelopes=False`` writes no
    envelopes at all (``BOT_FORWARD=eventbridge``: the bot forwards itself, stdout is a log)."""
    registry = registry or SpecRegistry.load()
    bus = EventBus(registry=registry, context=context, ring_size=ring_size)
    redactor = Redactor(registry, salt)
    sampler = Sampler(registry, seed=sample_seed)
    stdout_registry = registry.with_pii_ceiling("stdout", stdout_pii_max_level)
    stdout_redactor = redactor if stdout_registry is registry else Redactor(stdout_registry, salt)
    emitter: StdoutEmitter | None = None
    if claim_stdout:
        emitter = StdoutEmitter.claim_process_stdout(stdout_registry, stdout_redactor, on_closed=on_stdout_closed)
    elif stdout is not None:
        emitter = StdoutEmitter(stdout_registry, stdout_redactor, stream=stdout, on_closed=on_stdout_closed)
    if emitter is not None and stdout_envelopes:
        bus.subscribe("*", emitter)
    return EventRuntime(
        bus=bus,
        redactor=redactor,
        sampler=sampler,
        stdout=emitter,
        app_messages=AppMessageForwarder(bus, redactor, sampler),
        inbound=InboundValidator(bus),
    )
