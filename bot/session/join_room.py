"""The join step: into a Daily room with retries, or into a simulated room by loading its scenario.

Each publishes ``assistant.room.join.requested`` then ``join.succeeded`` or ``join.failed``
(per attempt) and raises on failure; the lifecycle reports the stage. The room object is handed
to ``on_room`` as soon as it exists, so a stop asked for during the join finds it. A simulated
room's object is built apart from its join (``open_simulated_room``): the join is the scenario's
load, which the lifecycle runs before the context and the policy.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bot.config.identity import DEMO_SCENARIO
from bot.config.secrets import SecretScrubber
from bot.events import EventBus
from bot.generated import AssistantRoomJoinFailed, AssistantRoomJoinRequested, AssistantRoomJoinSucceeded

if TYPE_CHECKING:
    from bot.config.settings import Settings
    from bot.rooms.daily import DailyRoom
    from bot.rooms.scenario import Scenario
    from bot.rooms.simulated import SimulatedRoom
    from bot.session.join import JoinResult

__all__ = ["join_daily", "join_daily_attempts", "join_simulated", "open_simulated_room"]


async def join_daily(
    settings: Settings, bus: EventBus, scrub: SecretScrubber, *, on_room: Callable[[Any], None]
) -> DailyRoom:
    """Join the Daily room with retries (``--join-attempts`` within ``--join-budget-secs``).

    Raises ``JoinFailed`` after the last attempt."""
    from bot.rooms.daily import DailyRoom

    room = DailyRoom(
        settings.room_url or "",
        token=settings.token.get_secret_value() if settings.token else None,
        bot_name=settings.bot_name,
        transcription=settings.transcription,
        voice=settings.voice,
        scrubber=scrub,
    )
    on_room(room)  # the lifecycle closes it, joined or not
    await join_daily_attempts(room, room.join, settings, bus, scrub, what="join")
    return room


async def join_simulated(
    settings: Settings,
    bus: EventBus,
    scrub: SecretScrubber,
    *,
    room_id: str,
    on_joined: Callable[[], None],
) -> Scenario:
    """Load the scenario (``--tracks`` files, ``--simulate`` or the bundled demo): its errors are join failures.

    The scenario *is* the simulated room: reading and checking it (its clips decoded) is the join.
    ``on_joined`` runs right after ``join.succeeded`` (the first heartbeat). The room that plays
    it is built later, by :func:`open_simulated_room`, once the context and the policy are in
    (``bot.session.lifecycle`` says why this join comes first). Raises ``ScenarioError``."""
    from bot.core.errors import ScenarioError

    bus.publish(AssistantRoomJoinRequested(room_id=room_id, attempt=1, max_attempts=1))
    started = time.monotonic()
    from bot.rooms.tracks import session_scenario  # numpy and the clips: after the request is out

    try:
        scenario = await asyncio.to_thread(session_scenario, settings.simulate, settings.tracks, DEMO_SCENARIO)
    except ScenarioError as exc:
        error = scrub(str(exc))[:500]
        bus.publish(AssistantRoomJoinFailed(room_id=room_id, attempt=1, error=error, will_retry=False, retry_in_ms=0))
        raise
    latency_ms = int((time.monotonic() - started) * 1000)
    bus.publish(AssistantRoomJoinSucceeded(room_id=room_id, attempt=1, join_latency_ms=latency_ms, participant_count=0))
    on_joined()
    return scenario


def open_simulated_room(settings: Settings, scenario: Scenario, *, on_room: Callable[[Any], None]) -> SimulatedRoom:
    """The room that plays a joined scenario; this is where Pipecat's imports come in (a few hundred ms)."""
    from bot.rooms.simulated import SimulatedRoom
    from bot.rooms.stdin_messages import StdinMessages
    from bot.session.voice import bot_audio_path

    audio = bot_audio_path(settings, scenario.path)
    inbound = StdinMessages() if settings.stdin_messages else None  # votes from dashboards, via the supervisor
    room = SimulatedRoom(scenario, speed=settings.speed, verbose=settings.verbose, bot_audio=audio, inbound=inbound)
    on_room(room)
    return room


async def join_daily_attempts(
    room: Any,
    attempt: Callable[[int], Awaitable[int]],
    settings: Settings,
    bus: EventBus,
    scrub: SecretScrubber,
    *,
    what: str,
) -> JoinResult:
    """``attempt`` (the room's ``join`` or ``rejoin``) with retries and backoff, each attempt
    published as ``assistant.room.join.requested`` → ``succeeded | failed``. Raises ``JoinFailed``."""
    from bot.session.join import join_with_retries

    return await join_with_retries(
        attempt,
        attempts=settings.join_attempts,
        budget_s=settings.join_budget_secs,
        describe_error=lambda e: scrub(str(e)),
        on_requested=lambda a, m: bus.publish(
            AssistantRoomJoinRequested(room_id=room.room_id, attempt=a, max_attempts=m)
        ),
        on_failed=lambda a, err, will, ms: bus.publish(
            AssistantRoomJoinFailed(
                room_id=room.room_id, attempt=a, error=(err or f"{what} failed")[:500], will_retry=will, retry_in_ms=ms
            )
        ),
        on_succeeded=lambda a, lat, n: bus.publish(
            AssistantRoomJoinSucceeded(
                room_id=room.room_id,
                attempt=a,
                join_latency_ms=lat,
                participant_count=n,
                transcription=room.transcription_status,
            )
        ),
    )
