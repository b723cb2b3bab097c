"""Scoring a room's envelopes against its ground truth (shared by the accuracy tests and report).

Stdlib and the generated Topic enum only. ``envelopes`` are the parsed JSON lines that
``python -m bot`` wrote for the room.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.generated.topics import Topic

FRAME_MS = 10
"""Resolution of the frame-level precision/recall: 10 ms, finer than one Silero window (32 ms)."""


def payloads(envelopes: Iterable[dict[str, Any]], topic: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in envelopes if e["topic"] == topic]


def detected_intervals(envelopes: Iterable[dict[str, Any]], participant_id: str) -> list[tuple[int, int]]:
    """Speech segments the bot reported for one participant, from ``room.speaking.stopped``."""
    out = []
    for p in payloads(envelopes, Topic.ROOM_SPEAKING_STOPPED):
        if p["participantId"] == participant_id:
            out.append((p["mediaTimeMs"] - p["durationMs"], p["mediaTimeMs"]))
    return out


def frames(intervals: Iterable[Any], duration_ms: int) -> set[int]:
    """Indices of the FRAME_MS frames the intervals cover."""
    marked: set[int] = set()
    for start, end in intervals:
        marked.update(range(max(0, int(start)) // FRAME_MS, min(duration_ms, int(end)) // FRAME_MS))
    return marked


def score_room(truth: dict[str, Any], envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    """Share error, frame precision/recall, overlap classification and noise for one room."""
    duration = truth["durationMs"]
    tp = fp = fn = 0
    for pid, p in truth["participants"].items():
        want = frames(p["intervals"], duration)
        got = frames(detected_intervals(envelopes, pid), duration)
        tp, fp, fn = tp + len(want & got), fp + len(got - want), fn + len(want - got)
    finals = [s for s in payloads(envelopes, Topic.ROOM_DOMINANCE_SCORE) if s["trigger"] == "final"]
    measured = {x["participantId"]: x["share"] for x in finals[-1]["participants"]} if finals else {}
    share_errors = {pid: abs(measured.get(pid, 0.0) - share) for pid, share in truth["shares"].items()}

    reported = payloads(envelopes, Topic.ROOM_OVERLAP_DETECTED)

    def near(o: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            r
            for r in reported
            if r["speakerId"] == o["holder"]
            and r["overlapperId"] == o["overlapper"]
            and abs(r["mediaTimeMs"] - o["startMs"]) <= 600
        ]

    scripted_interruptions = [o for o in truth["overlaps"] if o["label"] == "interruption"]
    scripted_backchannels = [o for o in truth["overlaps"] if o["label"] == "backchannel"]
    noise_frames = 0
    for n in truth["noise"]:
        speech = frames(truth["participants"][n["participant"]]["intervals"], duration)
        noise_only = frames([(n["startMs"], n["endMs"])], duration) - speech
        noise_frames += len(noise_only & frames(detected_intervals(envelopes, n["participant"]), duration))
    return {
        "precision": tp / max(1, tp + fp),
        "recall": tp / max(1, tp + fn),
        "maxShareErrorPoints": 100 * max(share_errors.values(), default=0.0),
        "shareErrors": share_errors,
        "interruptionsScripted": len(scripted_interruptions),
        "interruptionsDetected": sum(
            1 for o in scripted_interruptions if any(r["kind"] == "interruption" for r in near(o))
        ),
        "interruptionsReported": sum(1 for r in reported if r["kind"] == "interruption"),
        "backchannelsScripted": len(scripted_backchannels),
        "backchannelsAsInterruption": sum(
            1 for o in scripted_backchannels if any(r["kind"] == "interruption" for r in near(o))
        ),
        "backchannelsDetected": sum(
            1 for o in scripted_backchannels if any(r["kind"] == "backchannel" for r in near(o))
        ),
        "noiseFramesCounted": noise_frames,
        "inboundRejected": len(payloads(envelopes, Topic.EVENTS_INBOUND_REJECTED)),
    }
