"""Direct forwarding from the bot to EventBridge (``--forward eventbridge`` or ``stdout+eventbridge``), as on Pipecat
Cloud where no supervisor reads stdout. Started before the steps, closed after the end is out."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.config.settings import Settings
    from bot.events import EventRuntime
    from bot.forwarding import BotForwarding

__all__ = ["start_forwarding"]


async def start_forwarding(settings: Settings, runtime: EventRuntime) -> BotForwarding | None:
    """The session's forwarder when direct forwarding is on, started; else None.

    Raises ``ConfigError`` naming the setting when the dry-run file cannot be opened."""
    if not settings.forwards_to_eventbridge:
        return None
    from bot.core.errors import ConfigError

    try:
        return await _started(settings, runtime)
    except OSError as exc:
        where = settings.forward_dry_run_path
        raise ConfigError(
            f"BOT_FORWARD_DRY_RUN_PATH (--forward-dry-run-path): {where}: cannot write: {exc.strerror or exc}"
        ) from None


async def _started(settings: Settings, runtime: EventRuntime) -> BotForwarding:
    from bot.forwarding import BotForwarding

    forwarding = BotForwarding.create(
        runtime.bus,
        redactor=runtime.redactor,
        sampler=runtime.sampler,
        bus_name=settings.eventbridge_bus,
        source=settings.eventbridge_source,
        region=settings.eventbridge_region,
        endpoint_url=settings.eventbridge_endpoint_url,
        dry_run_path=settings.forward_dry_run_path,
    )  # replays assistant.session.started, published before the loop existed
    await forwarding.start()
    return forwarding
