"""Scoring a room's envelopes against its ground truth (shared by the accuracy tests and report).

Stdlib and the generated Topic enum only. ``envelopes`` are the parsed JSON lines that
``python -m bot`` wrote for the room.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
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


# --------------------------------------------------------------------------------------------
# The field's conventions: collar scoring, onsets, misses, latency
# --------------------------------------------------------------------------------------------

COLLAR_MS = 250
"""Frames within this of a truth boundary are not scored (NIST-style forgiveness collar)."""
ONSET_MIN_MS = 200
"""Onset error is measured on truth intervals at least this long ..."""
ONSET_QUIET_BEFORE_MS = 300
"""... that follow at least this much of the participant's own silence (else a VAD rightly bridges them).
Offset error is measured the same way, on intervals at least ``ONSET_MIN_MS`` long followed by this
much of the participant's own silence."""
MISS_MIN_MS = 300
MISS_MIN_LEVEL_DB = -45.0


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _levels(truth: dict[str, Any], pid: str) -> list[tuple[list[int], float | None]]:
    """(interval, level dBFS or None) for each truth interval of a participant."""
    out = []
    for u in truth["participants"][pid].get("utterances", []):
        for iv in u["intervals"]:
            out.append((iv, u.get("levelDb")))
    return sorted(out, key=lambda x: x[0][0]) or [(iv, None) for iv in truth["participants"][pid]["intervals"]]


def score_conventions(truth: dict[str, Any], envelopes: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-participant collar precision/recall, talk-share error, onset and offset errors, misses, overlap
    kinds against the scripted labels and detection latency (needs ``x-sinkMediaMs`` on the
    speaking envelopes, as ``bot.scenarios.tools.play`` records)."""
    duration = truth["durationMs"]
    per: dict[str, dict[str, Any]] = {}
    onset_errors: list[int] = []
    offset_errors: list[int] = []
    start_lat: list[int] = []
    stop_lat: list[int] = []
    missed: list[dict[str, Any]] = []
    starts = {
        (e["payload"]["participantId"], e["payload"]["mediaTimeMs"]): e.get("x-sinkMediaMs")
        for e in envelopes
        if e["topic"] == Topic.ROOM_SPEAKING_STARTED
    }
    stops = {
        (e["payload"]["participantId"], e["payload"]["mediaTimeMs"]): e.get("x-sinkMediaMs")
        for e in envelopes
        if e["topic"] == Topic.ROOM_SPEAKING_STOPPED
    }
    detected_total = {}
    for pid, p in truth["participants"].items():
        ivs = [tuple(iv) for iv in p["intervals"]]
        det = sorted(detected_intervals(envelopes, pid))
        detected_total[pid] = sum(b - a for a, b in det)
        want, got = frames(ivs, duration), frames(det, duration)
        collar = frames([(t - COLLAR_MS, t + COLLAR_MS) for iv in ivs for t in iv], duration)
        w, g = want - collar, got - collar
        tp = len(w & g)
        per[pid] = {  # nothing to find and nothing found is perfect, not 0/0
            "precision": tp / len(g) if g else 1.0,
            "recall": tp / len(w) if w else 1.0,
            "detections": len(det),
        }
        prev_end = -(10**9)
        levels = _levels(truth, pid)
        for i, (iv, level) in enumerate(levels):
            a, b = iv
            next_start = min((u[0][0] for u in levels[i + 1 :]), default=10**12)
            hits = [d for d in det if d[0] < b and d[1] > a]
            if not hits:
                if b - a >= MISS_MIN_MS and (level is None or level >= MISS_MIN_LEVEL_DB):
                    missed.append({"participant": pid, "startMs": a, "endMs": b, "levelDb": level})
            elif b - a >= ONSET_MIN_MS and a - prev_end >= ONSET_QUIET_BEFORE_MS:
                first = min(hits)
                if first[0] > prev_end:  # the detection starts this interval (not one bridged from before)
                    onset_errors.append(first[0] - a)
                    decided = starts.get((pid, first[0]))
                    if decided is not None:
                        start_lat.append(decided - a)
            if hits and b - a >= ONSET_MIN_MS and next_start - b >= ONSET_QUIET_BEFORE_MS:
                last = max(hits, key=lambda d: d[1])
                if last[1] < next_start:  # the detection ends this interval (not one bridged into the next)
                    offset_errors.append(last[1] - b)
            prev_end = max(prev_end, b)
        for d in det:  # stop latency: the decision minus the end of the last truth interval inside
            inside = [iv for iv in ivs if iv[0] < d[1] and iv[1] > d[0]]
            decided = stops.get((pid, d[1]))
            if inside and decided is not None:
                stop_lat.append(decided - max(e for _, e in inside))
    total_truth = sum(sum(b - a for a, b in p["intervals"]) for p in truth["participants"].values()) or 1
    total_det = sum(detected_total.values()) or 1
    share_err = max(abs(detected_total[pid] / total_det - truth["shares"][pid]) * 100 for pid in truth["participants"])
    del total_truth
    reported = payloads(envelopes, Topic.ROOM_OVERLAP_DETECTED)
    labelled = [o for o in truth["overlaps"] if o.get("label") in ("backchannel", "interruption")]
    right = []
    for o in labelled:
        near = [
            r
            for r in reported
            if {r["speakerId"], r["overlapperId"]} == {o["holder"], o["overlapper"]}
            and abs(r["mediaTimeMs"] - o["startMs"]) <= 600
        ]
        right.append(any(r["kind"] == o["label"] for r in near))
    return {
        "participants": per,
        "minPrecision": min(p["precision"] for p in per.values()),
        "minRecall": min(p["recall"] for p in per.values()),
        "shareErrorPoints": share_err,
        "onsetErrors": onset_errors,
        "onsetP50": _percentile([abs(x) for x in onset_errors], 50),
        "onsetP95": _percentile([abs(x) for x in onset_errors], 95),
        "onsetMax": max((abs(x) for x in onset_errors), default=None),
        "offsetErrors": offset_errors,
        "offsetP50": _percentile([abs(x) for x in offset_errors], 50),
        "offsetP95": _percentile([abs(x) for x in offset_errors], 95),
        "missed": missed,
        "startLatencyP50": _percentile(start_lat, 50),
        "startLatencyP95": _percentile(start_lat, 95),
        "stopLatencyP50": _percentile(stop_lat, 50),
        "stopLatencyP95": _percentile(stop_lat, 95),
        "scriptedOverlaps": len(labelled),
        "scriptedRight": sum(right),
        "scriptedWrong": [o for o, ok in zip(labelled, right, strict=True) if not ok],
    }
