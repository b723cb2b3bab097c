"""The first moments of a session: the event runtime up and ``assistant.session.started`` out.

On the command line ``bot.session.boot`` has usually written the start already, before pydantic was
imported; ``begin`` then adopts that envelope into the bus (which continues its sequence) after
checking that the validated settings name the same session. Otherwise (Pipecat Cloud, the live
view, an identity only the settings can judge) ``begin`` publishes the start itself. Either way
nothing here loads Pipecat, Daily, numpy, loguru or the scenario's audio (ARCHITECTURE
principle 7; ``benchmarks/startup_bench.py`` measures it).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uuid_utils

from bot.config.early_identity import wants_live_view
from bot.config.identity import DEMO_SCENARIO, Identity, InvalidIdentity, identity_of
from bot.core.errors import ConfigError
from bot.events import EventRuntime, create_runtime
from bot.generated import AssistantSessionEnded, AssistantSessionStarted
from bot.session.boot import Booted

if TYPE_CHECKING:
    from bot.config.settings import Settings
    from bot.events import EventBus
    from bot.session.control import EndReason

__all__ = ["DEMO_SCENARIO", "Started", "begin", "identity_from_settings", "wants_live_view"]


def _stdout_is_terminal() -> bool:
    return sys.stdout is not None and sys.stdout.isatty()


def identity_from_settings(settings: Settings) -> Identity:
    """The session's identity as the validated settings give it.

    Raises:
        ConfigError: the settings are valid one by one but name no session (a Daily room without
            an assistant or tenant id): one line, exit 2, nothing published.
    """
    try:
        return _identity_of(settings)
    except InvalidIdentity as exc:
        raise ConfigError(str(exc)) from None


def _identity_of(settings: Settings) -> Identity:
    return identity_of(
        room_url=settings.room_url,
        simulate=settings.simulate,
        assistant_id=settings.assistant_id,
        tenant_id=settings.tenant_id,
    )


@dataclass
class Started:
    """A session whose start is published: what the rest of the lifecycle needs."""

    runtime: EventRuntime
    room_id: str
    room_url: str
    transport: str
    view: Any = None
    on_stdout_closed: Callable[[], None] | None = None


def begin(
    settings: Settings,
    *,
    claim_stdout: bool,
    live_view: bool,
    session_id: str | None = None,
    booted: Booted | None = None,
) -> Started:
    """Build the runtime, publish (or adopt) ``assistant.session.started``, run the spec checks."""
    identity = identity_from_settings(settings)
    if booted is not None and booted.identity != identity:
        raise RuntimeError(f"bug: bot.session.boot published {booted.identity} but the settings say {identity}")
    started: Started | None = None  # built once the runtime exists, below

    def on_closed() -> None:  # the session installs its handler later
        if started is not None and started.on_stdout_closed is not None:
            started.on_stdout_closed()

    runtime = create_runtime(
        identity.context(booted.session_id if booted else session_id or str(uuid_utils.uuid4())),
        salt=settings.pii_salt.get_secret_value(),
        # the live view draws on the terminal; envelopes still go to a stdout that is not one
        claim_stdout=claim_stdout and not (live_view and _stdout_is_terminal()),
        stdout=None if claim_stdout or live_view else sys.stdout.buffer,
        on_stdout_closed=on_closed,
        stdout_pii_max_level=settings.stdout_pii_max_level,
        stdout_envelopes=settings.stdout_envelopes,
    )
    started = Started(
        runtime=runtime, room_id=identity.room_id, room_url=identity.room_url, transport=identity.transport
    )
    if live_view:
        from bot.cli.live_view import LiveView

        started.view = LiveView(runtime.bus, stream=sys.stderr, scenario_name=identity.room_id)
    if booted is None:
        runtime.bus.publish(AssistantSessionStarted.model_validate(identity.started_payload()))
    else:
        adopt_boot_envelope(runtime, booted)
    check = runtime.verify_spec(refuse_on_mismatch=settings.refuse_forward_on_spec_mismatch)
    if not check.ok:  # on stdout as an event; a person running the bot should see it too
        print(f"warning: spec version mismatch: {check.detail}; run `python -m codegen`", file=sys.stderr)
    if settings.expect_spec_version and not runtime.expect_version(settings.expect_spec_version):
        print(
            f"warning: expected spec {settings.expect_spec_version}, this bot speaks {runtime.bus.spec_version}",
            file=sys.stderr,
        )
    return started


def adopt_boot_envelope(runtime: EventRuntime, booted: Booted) -> None:
    """Take the envelope ``bot.session.boot`` wrote into the bus, after proving it is what the typed path
    would have written: the generated model accepts the payload unchanged, and the stdout emitter
    renders the same bytes. A difference is a bug in ``bot.session.boot`` (it could only come from a spec
    change that ``bot.session.boot`` does not know about), so it fails loudly instead of going on."""
    payload = booted.envelope["payload"]
    if AssistantSessionStarted.model_validate(payload).to_wire() != payload:
        raise RuntimeError(
            "bug: bot.session.boot wrote an assistant.session.started payload the generated model changes"
        )
    if runtime.stdout is not None and runtime.stdout.render(booted.envelope) != booted.line:
        raise RuntimeError("bug: bot.session.boot wrote a line the stdout emitter would write differently")
    runtime.bus.adopt(booted.envelope)


def session_ended(bus: EventBus, reason: EndReason, *, started_at: float) -> AssistantSessionEnded:
    """The session's last envelope: why it ended, how long it ran, what it published and dropped.

    ``started_at`` is ``time.monotonic()`` at spawn."""
    return AssistantSessionEnded(
        reason=reason,
        duration_ms=int((time.monotonic() - started_at) * 1000),
        published=bus.published,
        dropped=bus.dropped,
    )
