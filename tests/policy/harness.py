"""Play a policy test room in-process, through the bot's own room pipeline
(``bot.pipelines.room.build_room_pipeline``) with the policy, its limiter and, optionally, the
LLM facilitator pointed at a local server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.facilitator.brain import BOT_ID
from bot.policy import InboundRateLimiter, LoadedPolicy, compose_snapshot, load_layer, parse_layer, parse_snapshot
from tests.pipeline_harness import run_async

REPO = Path(__file__).resolve().parents[2]
POLICY_ROOMS = REPO / "bot" / "scenarios" / "policy"


def policy_of(**sections: Any) -> LoadedPolicy:
    """A loaded policy from one platform layer with these sections (camelCase, as in a file)."""
    data = {"kind": "prism.policy.layer", "schemaVersion": 1, "name": "t", "level": "platform", **sections}
    return LoadedPolicy.of(compose_snapshot([parse_layer(data)]), "<test>")


def room_layers(room: str) -> list[Path]:
    scenario = json.loads((POLICY_ROOMS / f"{room}.json").read_text())
    return [POLICY_ROOMS / p for p in scenario["x-policy-layers"]]


def composed(room: str) -> LoadedPolicy:
    snapshot = compose_snapshot([load_layer(p) for p in room_layers(room)])
    return LoadedPolicy.of(parse_snapshot(snapshot.model_dump(mode="json", by_alias=True)), f"<{room}>")


async def _play(room_name: str | Path, policy: LoadedPolicy, llm_base_url: str | None) -> dict[str, Any]:
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    from bot.events import SessionContext, create_runtime
    from bot.pipelines.room import build_room_pipeline
    from bot.rooms.simulated import SimulatedRoom

    runtime = create_runtime(
        SessionContext(session_id="s-policy", assistant_id="a-1", tenant_id="t-1", room_id=Path(room_name).stem)
    )
    seen: list[dict[str, Any]] = []
    runtime.bus.subscribe("*", seen.append)
    runtime.bus.publish(policy.loaded_event())
    limiter = InboundRateLimiter(policy, on_violation=lambda v: runtime.bus.publish(v, media_time_ms=v.media_time_ms))
    runtime.inbound.rate_limiter = limiter
    path = room_name if isinstance(room_name, Path) else POLICY_ROOMS / f"{room_name}.json"  # a Path: a test's own room
    room = SimulatedRoom(path, speed=0)
    agenda = policy.policy.facilitation.agenda or room.scenario.agenda
    facilitator: list[Any] = []
    if llm_base_url:
        from bot.processors.facilitator import build_facilitator

        facilitator = build_facilitator(
            policy,
            api_key="sk-test",
            base_url=llm_base_url,
            model="scripted-model",
            timeout_secs=5,
            bot_id=BOT_ID,
            agenda=agenda,
        )
    worker = PipelineWorker(
        build_room_pipeline(room, runtime, agenda=agenda, policy=policy, limiter=limiter, facilitator=facilitator),
        params=PipelineParams(audio_in_sample_rate=room.scenario.sample_rate),
        enable_rtvi=False,
        enable_turn_tracking=False,
        idle_timeout_secs=None,
    )
    runner = WorkerRunner(handle_sigint=False, handle_sigterm=False)
    await runner.add_workers(worker)
    await runner.run()
    await runtime.bus.drain()
    return {"envelopes": seen, "sent": list(room.sent_messages), "limiter": limiter}


def play(room_name: str | Path, policy: LoadedPolicy, *, llm_base_url: str | None = None) -> dict[str, Any]:
    return run_async(_play(room_name, policy, llm_base_url))


def payloads(envelopes: list[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in envelopes if e["topic"] == topic]
