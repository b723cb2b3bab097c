"""Running the forwarder inside the bot process (Pipecat Cloud, containers without a supervisor).

The bus calls sync subscribers; ``Forwarder.submit`` is one (non-blocking). ``attach`` subscribes it
and replays what the bus published before (``assistant.session.started`` goes out before the event
loop and boto3 exist). ``BotForwarding`` is the whole wiring for a session: build, attach, start,
and close after ``assistant.session.ended``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.events.bus import EventBus
from bot.events.governance import Redactor, Sampler
from bot.forwarding.entries import DEFAULT_MAX_BYTES, DEFAULT_SOURCE
from bot.forwarding.forwarder import Forwarder, ForwarderConfig
from bot.forwarding.sinks import DryRunSink, EventBridgeSink, Sink

_warned_unsalted = False


def warn_if_unsalted(redactor: Redactor) -> bool:
    """Warn once per process when direct forwarding would hash ids without a salt; returns whether it warned.

    The participant ids that go to EventBridge hashed are Daily session ids and the like: without
    a secret salt anyone can hash a guessed id and match it, so the pseudonym protects little."""
    global _warned_unsalted
    if redactor.salted or _warned_unsalted:
        return False
    _warned_unsalted = True
    from bot.events._log import logger

    logger().warning(
        "PRISM_PII_SALT is empty: the participant ids forwarded to EventBridge are hashed without a salt,"
        " so anyone who can guess an id can recompute its hash; set PRISM_PII_SALT to a long random secret"
    )
    return True


def attach(bus: EventBus, forwarder: Forwarder, *, replay: bool = True) -> Callable[[], None]:
    """Subscribe ``forwarder`` to every topic of ``bus``; returns the unsubscribe function.

    With ``replay``, envelopes already in the bus's ring buffer are submitted first (the forwarder
    drops an id it has seen, so an envelope racing the subscription is not sent twice).
    """
    upto = bus.last_seq
    unsubscribe = bus.subscribe("*", forwarder.submit)
    if replay:
        for envelope in bus.recent():
            if envelope["meta"]["seq"] <= upto:
                forwarder.submit(envelope)
    return unsubscribe


def make_sink(
    *,
    dry_run_path: str | Path | None,
    region: str | None = None,
    endpoint_url: str | None = None,
    size_limit: int = DEFAULT_MAX_BYTES,
) -> Sink:
    """A dry-run sink when ``dry_run_path`` is given (``-`` = stderr), else the real EventBridge sink."""
    if dry_run_path is not None and str(dry_run_path) != "":
        return DryRunSink(dry_run_path, size_limit=size_limit)
    return EventBridgeSink(region=region, endpoint_url=endpoint_url)


@dataclass
class BotForwarding:
    """Direct forwarding of one bot session to EventBridge (or its dry-run log)."""

    forwarder: Forwarder
    detach: Callable[[], None]

    @classmethod
    def create(
        cls,
        bus: EventBus,
        *,
        redactor: Redactor,
        sampler: Sampler,
        bus_name: str | None = None,
        source: str = DEFAULT_SOURCE,
        region: str | None = None,
        endpoint_url: str | None = None,
        dry_run_path: str | Path | None = None,
        config: ForwarderConfig | None = None,
        sink: Sink | None = None,
    ) -> BotForwarding:
        """Build the forwarder for ``bus`` and attach it (replaying what was published already).

        Losses are counted on the bus (``bus.dropped``; reason ``sampled`` or ``eventbridge_<reason>``)
        and reported there as ``forwarding.delivery.deferred``, so they show on stdout too.
        """
        from bot.generated import ForwardingDeliveryDeferred  # noqa: F401  (fail now, not at the first loss)

        warn_if_unsalted(redactor)
        base = config or ForwarderConfig()
        if bus_name is not None or source != base.source:
            from dataclasses import replace

            base = replace(base, bus_name=bus_name if bus_name is not None else base.bus_name, source=source)

        def on_drop(reason: str, _topic: str, n: int) -> None:
            if reason in ("duplicate",):
                return
            bus.count_drop("sampled" if reason == "sampled" else f"eventbridge_{reason}", n)

        forwarder = Forwarder(
            bus.registry,
            sink or make_sink(dry_run_path=dry_run_path, region=region, endpoint_url=endpoint_url),
            config=base,
            redactor=redactor,
            sampler=sampler,
            on_deferred=lambda model: bus.publish(model),
            on_drop=on_drop,
        )
        return cls(forwarder=forwarder, detach=attach(bus, forwarder))

    async def start(self) -> None:
        await self.forwarder.start()

    # Why the noqa: ``timeout`` is Forwarder.close's sending budget, after which losses are still counted and
    # logged; a caller's asyncio.timeout would cancel that accounting.
    async def aclose(self, timeout: float | None = None, *, publish_losses: bool = False) -> dict[str, Any]:  # noqa: ASYNC109
        """Send what is left (bounded by ``timeout``), detach; returns the forwarder's stats.

        Called after ``assistant.session.ended``, which is the session's last envelope: losses found
        while closing are logged (and counted on the bus) rather than published after it, unless
        ``publish_losses``.
        """
        if not publish_losses:
            from bot.events._log import logger

            def log_loss(model: Any) -> None:
                logger().warning(
                    f"eventbridge: {model.count} {model.topic or ''} envelope(s) not delivered at shutdown ({model.reason})"
                )

            self.forwarder.on_deferred = log_loss
        await self.forwarder.close(timeout)
        self.detach()
        return self.forwarder.stats.as_dict()
