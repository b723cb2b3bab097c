"""The first moments of a session: the event runtime up and ``assistant.session.started`` out.

Everything here is light (pydantic, the generated models, orjson, stdlib) so the supervisor sees
the session start before Pipecat, Daily, numpy, loguru or the scenario's audio are loaded
(ARCHITECTURE principle 7; ``benchmarks/startup_bench.py`` measures it). asyncio is already in
by then: pydantic-settings imports it.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from bot import __version__
from bot.events import EventRuntime, SessionContext, create_runtime
from bot.generated import AssistantSessionStarted
from bot.rooms.urls import room_id_from_url, sanitize_room_url

if TYPE_CHECKING:
    from bot.settings import Settings

DEMO_SCENARIO = Path(__file__).resolve().parent / "scenarios" / "demo.json"


def wants_live_view(settings: "Settings") -> bool:
    """The live view replaces raw lines when stdout is a terminal (``--view auto``)."""
    if settings.view == "live":
        return True
    if settings.view == "off":
        return False
    return sys.stdout.isatty() and sys.stderr.isatty()


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
    settings: "Settings",
    *,
    claim_stdout: bool,
    live_view: bool,
    session_id: str | None = None,
) -> Started:
    """Build the runtime, publish ``assistant.session.started``, run the boot spec checks."""
    if settings.room_url:
        room_url = sanitize_room_url(settings.room_url)
        room_id = room_id_from_url(room_url)
        transport = "daily"
    else:
        room_id = Path(settings.simulate or DEMO_SCENARIO).stem[:128] or "room"
        room_url = f"simulated://{room_id}"
        transport = "simulated"
    started = Started(runtime=None, room_id=room_id, room_url=room_url, transport=transport)  # type: ignore[arg-type]

    def on_closed() -> None:  # the session installs its handler later
        if started.on_stdout_closed is not None:
            started.on_stdout_closed()

    runtime = create_runtime(
        SessionContext(session_id=session_id or str(uuid.uuid4()), assistant_id=settings.assistant_id, tenant_id=settings.tenant_id, room_id=room_id),
        salt=settings.pii_salt.get_secret_value(),
        claim_stdout=claim_stdout and not live_view,
        stdout=None if claim_stdout or live_view else sys.stdout.buffer,
        on_stdout_closed=on_closed,
    )
    started.runtime = runtime
    if live_view:
        from bot.live_view import LiveView

        started.view = LiveView(runtime.bus, stream=sys.stderr, scenario_name=room_id)
    runtime.bus.publish(
        AssistantSessionStarted(
            assistant_id=settings.assistant_id,
            tenant_id=settings.tenant_id,
            bot_version=__version__,
            room_url=room_url,
            transport=transport,  # type: ignore[arg-type]
        )
    )
    check = runtime.verify_spec(refuse_on_mismatch=settings.refuse_forward_on_spec_mismatch)
    if not check.ok:  # on stdout as an event; a person running the bot should see it too
        print(f"warning: spec version mismatch: {check.detail}; run `python -m codegen`", file=sys.stderr)
    if settings.expect_spec_version and not runtime.expect_version(settings.expect_spec_version):
        print(f"warning: expected spec {settings.expect_spec_version}, this bot speaks {runtime.bus.spec_version}", file=sys.stderr)
    return started
