"""A stand-in bot for the browser benchmarks: 8 participants' room events at a fixed rate.

Publishes real envelopes (the bot's own event runtime, to stdout) through a supervisor run with
``SUPERVISOR_ALLOW_COMMAND=1``: joins, then a steady mix of speaking started/stopped, pacing,
dominance scores and overlaps at ``LOAD_RATE`` envelopes/s for ``LOAD_SECS`` seconds, then the end.

    LOAD_RATE=50 LOAD_SECS=20 python benchmarks/load_bot.py > events.jsonl
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.events import SessionContext, create_runtime
from bot.generated import (
    AssistantSessionEnded,
    AssistantSessionStarted,
    DominanceShare,
    RoomDominanceScore,
    RoomOverlapDetected,
    RoomPacingUpdated,
    RoomParticipantJoined,
    RoomSpeakingStarted,
    RoomSpeakingStopped,
)

PEOPLE = [f"p-{name}" for name in ("ada", "ben", "cy", "dee", "eli", "fay", "gus", "hal")]


def main() -> int:
    rate = float(os.environ.get("LOAD_RATE", "50"))
    seconds = float(os.environ.get("LOAD_SECS", "20"))
    rng = random.Random(7)
    ctx = SessionContext(
        session_id=str(uuid.uuid4()),
        assistant_id=os.environ.get("ASSISTANT_ID", "bench"),
        tenant_id=os.environ.get("TENANT_ID", "bench"),
    )
    bus = create_runtime(ctx, stdout=sys.stdout.buffer).bus
    bus.publish(
        AssistantSessionStarted(
            assistant_id="bench",
            tenant_id="bench",
            bot_version="0",
            room_url="simulated://bench",
            transport="simulated",
        )
    )
    for p in PEOPLE:
        bus.publish(RoomParticipantJoined(participant_id=p, display_name=p[2:].title(), media_time_ms=0))
    talk = dict.fromkeys(PEOPLE, 0)
    speaking: dict[str, int] = {}
    t0 = time.monotonic()
    n = 0
    while (elapsed := time.monotonic() - t0) < seconds:
        media = int(elapsed * 1000)
        kind = n % 10
        p = rng.choice(PEOPLE)
        if kind < 4:
            if p in speaking:
                start = speaking.pop(p)
                talk[p] += media - start
                bus.publish(
                    RoomSpeakingStopped(participant_id=p, media_time_ms=media, duration_ms=max(0, media - start))
                )
            else:
                speaking[p] = media
                bus.publish(RoomSpeakingStarted(participant_id=p, media_time_ms=media))
        elif kind < 7:
            bus.publish(
                RoomPacingUpdated(
                    participant_id=p,
                    words_per_minute=rng.uniform(90, 220),
                    state="normal",
                    turn_count=n // 8 + 1,
                    window_ms=60_000,
                )
            )
        elif kind < 9:
            total = sum(talk.values()) or 1
            shares = [DominanceShare(participant_id=q, talk_time_ms=talk[q], share=talk[q] / total) for q in PEOPLE]
            if sum(s.share for s in shares) == 0:
                shares = [DominanceShare(participant_id=q, talk_time_ms=0, share=0.0) for q in PEOPLE]
            bus.publish(
                RoomDominanceScore(
                    window_ms=media or 1,
                    participants=shares,
                    gini=0.3,
                    dominant_participant_id=None,
                    trigger="periodic",
                    media_time_ms=media,
                )
            )
        else:
            other = rng.choice([q for q in PEOPLE if q != p])
            bus.publish(
                RoomOverlapDetected(
                    speaker_id=other,
                    overlapper_id=p,
                    overlap_ms=400,
                    kind=rng.choice(["backchannel", "interruption", "overlap"]),
                    media_time_ms=media,
                )
            )
        n += 1
        next_at = t0 + n / rate
        delay = next_at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    bus.publish(AssistantSessionEnded(reason="completed", duration_ms=int(seconds * 1000), published=n, dropped=0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
