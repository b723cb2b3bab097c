"""Ground truth for a scenario: voiced intervals on the room timeline, talk time, shares, overlaps.

Stdlib only (tests import it without espeak-ng or numpy)::

    from bot.scenarios.tools.truth import load_truth
    t = load_truth("bot/scenarios/demo.json")
    t["participants"]["p-alice"]["talkTimeMs"], t["shares"]["p-alice"], t["overlaps"]

Self-check (prints the table, rule violations and warnings; exit 1 on violations)::

    python -m bot.scenarios.tools.truth bot/scenarios/demo.json bot/scenarios/rooms/*.json

Truth = scenario ``atMs`` + the clip's ``voiced`` intervals from ``clips/manifest.json`` (the
manifest sitting next to each referenced WAV). Noise never counts as speech.

Overlap classes (the rules the analytics implement; A = holder, B = overlapper, times are voiced
speech, "A's stop" = end of A's voiced interval that contains B's onset):
    backchannel:  B's utterance <= 1000 ms, and A still speaks >= 1000 ms after B stops.
    interruption: A started >= 1000 ms before B's onset, A stops 200..1500 ms after B's onset,
                  and B speaks on >= 1500 ms after A stops.
    overlap:      anything else (e.g. B starts in the last few hundred ms of A's utterance).
"""

from __future__ import annotations

import json
import sys
import wave
from itertools import pairwise
from pathlib import Path
from typing import Any

__all__ = ["RULES", "Truth", "check", "classify", "format_table", "load_truth", "markdown_row"]

RULES = {
    "backchannelMaxMs": 1000,
    "backchannelHolderAfterMs": 1000,
    "interruptHolderBeforeMs": 1000,
    "interruptStopMinMs": 200,
    "interruptStopMaxMs": 1500,
    "interruptContinueMs": 1500,
}
MIN_TURN_GAP_MS = 400  # two speakers closer than this without a designed overlap: violation
CLEAR_TURN_GAP_MS = 600  # ... closer than this: warning (VAD on/off latency is ~100-300 ms)
NOISE_CLEARANCE_MS = 600  # noise on a participant this close to their own speech: warning
ROBUST_MARGIN_MS = 300  # a labelled class decided by less than this: warning
LABELS = ("backchannel", "interruption")
NOISE_KINDS = ("white", "pink", "tone")


class Truth(dict[str, Any]):
    """A dict that also allows attribute access (``t.participants`` == ``t["participants"]``)."""

    def __getattr__(self, item: str) -> Any:
        try:
            return self[item]
        except KeyError as exc:
            raise AttributeError(item) from exc


def _load_manifest(path: Path, cache: dict[Path, dict[str, Any]]) -> dict[str, Any]:
    if path not in cache:
        data = json.loads(path.read_text())
        cache[path] = {c["file"]: c for c in data["clips"].values()}
    return cache[path]


def _containing(intervals: list[list[int]], t: int) -> list[int] | None:
    for s, e in intervals:
        if s <= t < e:
            return [s, e]
    return None


def _union_ms(intervals: list[list[int]]) -> int:
    total = 0
    cur: tuple[int, int] | None = None  # the run being merged: (start, end)
    for s, e in sorted(intervals):
        if cur is None or s > cur[1]:
            if cur is not None:
                total += cur[1] - cur[0]
            cur = (s, e)
        else:
            cur = (cur[0], max(cur[1], e))
    if cur is not None:
        total += cur[1] - cur[0]
    return total


def classify(holder_intervals: list[list[int]], b_start: int, b_end: int, onset: int) -> dict[str, Any]:
    """Apply the overlap rules. ``holder_intervals``: all of A's voiced intervals (room time);
    ``b_start``/``b_end``: B's utterance voiced extent; ``onset``: where the overlap begins.

    Returns ``{"kind", "margins"}``; each margin is signed: >= 0 the condition holds (by that many
    ms), < 0 it fails (by that many ms)."""
    r = RULES
    a_iv = _containing(holder_intervals, onset) or [onset, onset]
    a_stop = a_iv[1]
    b_len = b_end - b_start
    bc = {
        "bLenMs<=1000": r["backchannelMaxMs"] - b_len,
        "holderAfterBMs>=1000": (a_stop - b_end) - r["backchannelHolderAfterMs"],
    }
    stop_after = a_stop - onset
    intr = {
        "holderBeforeMs>=1000": (onset - a_iv[0]) - r["interruptHolderBeforeMs"],
        "holderStopAfterOnsetMs in 200..1500": min(
            stop_after - r["interruptStopMinMs"], r["interruptStopMaxMs"] - stop_after
        ),
        "bAfterHolderStopMs>=1500": (b_end - a_stop) - r["interruptContinueMs"],
    }
    if min(bc.values()) >= 0:
        kind, robust = "backchannel", min(bc.values())
    elif min(intr.values()) >= 0:
        kind, robust = "interruption", min(intr.values())
    else:
        kind = "overlap"
        # how clearly it fails each class: the largest failing margin of each, the weaker of two
        robust = min(-min(bc.values()), -min(intr.values()))
    return {
        "kind": kind,
        "robustMs": robust,
        "measures": {
            "bLenMs": b_len,
            "holderStopAfterOnsetMs": stop_after,
            "holderBeforeMs": onset - a_iv[0],
            "holderAfterBMs": a_stop - b_end,
            "bAfterHolderStopMs": b_end - a_stop,
        },
        "margins": {"backchannel": bc, "interruption": intr},
    }


def load_truth(
    scenario: str | Path | dict[str, Any],
    manifest: str | Path | dict[str, Any] | None = None,
    base_dir: str | Path | None = None,
) -> Truth:
    """Ground truth of one scenario.

    Args:
        scenario: path to the scenario JSON (or the parsed dict, then ``base_dir`` resolves audio).
        manifest: optional manifest (path or parsed) to use for every clip; by default the
            ``manifest.json`` in each WAV's folder.
        base_dir: folder the ``audio`` paths are relative to, when ``scenario`` is a dict.

    Returns a :class:`Truth` (a dict) with ``name``, ``durationMs``, ``participants``
    (``{id: {"name", "intervals", "talkTimeMs", "utterances"}}``), ``shares`` (fractions of
    the room's total talk time, summing to 1), ``overlaps``
    (``[{"holder", "overlapper", "startMs", "endMs", "overlapMs", "label", "kind", ...}]``),
    ``noise``, ``votes``, ``appMessages``, ``events`` (parsed) and ``problems`` (files that could
    not be resolved; the full rule check is :func:`check`).
    """
    if isinstance(scenario, dict):
        data, src = scenario, None
        base = Path(base_dir) if base_dir else Path.cwd()
    else:
        src = Path(scenario)
        data = json.loads(src.read_text())
        base = Path(base_dir) if base_dir else src.resolve().parent
    cache: dict[Path, dict[str, Any]] = {}
    fixed_manifest = None
    if manifest is not None:
        m = manifest if isinstance(manifest, dict) else json.loads(Path(manifest).read_text())
        fixed_manifest = {c["file"]: c for c in m["clips"].values()}

    problems: list[str] = []
    participants: dict[str, dict[str, Any]] = {
        p["id"]: {
            "name": p.get("name", p["id"]),
            "intervals": [],
            "talkTimeMs": 0,
            "utterances": [],
            "joinMs": None,
            "leaveMs": None,
        }
        for p in data.get("participants", [])
    }
    events = data.get("events", [])
    noise: list[dict[str, Any]] = []
    app_messages: list[dict[str, Any]] = []
    chats: list[dict[str, Any]] = []
    last_end = 0
    for idx, ev in enumerate(events):
        kind, pid, at = ev.get("type"), ev.get("participant"), int(ev.get("atMs", 0))
        p = participants.get(pid)
        if kind == "speech":
            audio = (base / ev["audio"]).resolve()
            entries = fixed_manifest or (
                _load_manifest(audio.parent / "manifest.json", cache)
                if (audio.parent / "manifest.json").exists()
                else {}
            )
            clip = entries.get(audio.name)
            if clip is None:
                problems.append(f"event {idx}: no manifest entry for {ev['audio']}")
                continue
            ivs = [[at + s, at + e] for s, e in clip["voiced"]]
            utt = {
                "event": idx,
                "participant": pid,
                "atMs": at,
                "audio": ev["audio"],
                "clip": audio.stem,
                "text": ev.get("text", clip.get("text", "")),
                "label": ev.get("label"),
                "spanEndMs": at + clip["durationMs"],
                "startMs": ivs[0][0] if ivs else at,
                "endMs": ivs[-1][1] if ivs else at,
                "intervals": ivs,
                "voicedMs": sum(e - s for s, e in ivs),
                "words": clip.get("words", 0),
                "audioPath": str(audio),
            }
            if p is not None:
                p["utterances"].append(utt)
            last_end = max(last_end, utt["spanEndMs"])
        elif kind == "noise":
            dur = int(ev.get("durationMs", 0))
            noise.append(
                {
                    "event": idx,
                    "participant": pid,
                    "startMs": at,
                    "endMs": at + dur,
                    "kind": ev.get("kind"),
                    "level": ev.get("level", 0.3),
                    "freqHz": ev.get("freqHz", 440 if ev.get("kind") == "tone" else None),
                }
            )
            last_end = max(last_end, at + dur)
        elif kind == "join" and p is not None:
            p["joinMs"] = at if p["joinMs"] is None else p["joinMs"]
        elif kind == "leave" and p is not None:
            p["leaveMs"] = at
        elif kind == "chat":
            chats.append({"event": idx, "participant": pid, "atMs": at, "text": ev.get("text", "")})
        elif kind == "app_message":
            app_messages.append(
                {
                    "event": idx,
                    "participant": pid,
                    "atMs": at,
                    "form": "envelope" if "envelope" in ev else "message",
                    "topic": (ev.get("envelope") or {}).get("topic"),
                    "payload": (ev.get("envelope") or {}).get("payload"),
                    "message": ev.get("message"),
                }
            )
        last_end = max(last_end, at)

    all_utts: list[dict[str, Any]] = []
    for p in participants.values():
        p["utterances"].sort(key=lambda u: u["atMs"])
        p["intervals"] = sorted(iv for u in p["utterances"] for iv in u["intervals"])
        p["talkTimeMs"] = _union_ms(p["intervals"])
        all_utts.extend(p["utterances"])
    total = sum(p["talkTimeMs"] for p in participants.values())
    shares = {pid: (p["talkTimeMs"] / total if total else 0.0) for pid, p in participants.items()}

    overlaps = _overlaps(all_utts, participants)
    votes = _votes(chats, app_messages)
    duration = int(data.get("durationMs") or last_end + 2000)
    return Truth(
        name=data.get("name", src.stem if src else "scenario"),
        source=str(src) if src else None,
        sampleRate=data.get("sampleRate", 16000),
        durationMs=duration,
        participants=participants,
        shares=shares,
        totalTalkTimeMs=total,
        speechUnionMs=_union_ms([iv for p in participants.values() for iv in p["intervals"]]),
        overlaps=overlaps,
        noise=noise,
        votes=votes,
        appMessages=app_messages,
        chats=chats,
        agenda=data.get("agenda", []),
        events=events,
        problems=problems,
    )


def _overlaps(utts: list[dict[str, Any]], participants: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, u in enumerate(utts):
        for v in utts[i + 1 :]:
            if u["participant"] == v["participant"]:
                continue
            regions = [
                [max(a[0], b[0]), min(a[1], b[1])]
                for a in u["intervals"]
                for b in v["intervals"]
                if max(a[0], b[0]) < min(a[1], b[1])
            ]
            if not regions:
                continue
            regions.sort()
            first = regions[0][0]
            # the overlapper is whoever's voiced interval starts the first overlap region
            u_starts = any(s == first for s, _ in u["intervals"])
            v_starts = any(s == first for s, _ in v["intervals"])
            if v_starts and (not u_starts or v["event"] > u["event"]):
                holder, over = u, v
            else:
                holder, over = v, u
            cls = classify(participants[holder["participant"]]["intervals"], over["startMs"], over["endMs"], first)
            out.append(
                {
                    "holder": holder["participant"],
                    "overlapper": over["participant"],
                    "startMs": first,
                    "endMs": regions[-1][1],
                    "overlapMs": sum(e - s for s, e in regions),
                    "label": over["label"],
                    "kind": cls["kind"],
                    "robustMs": cls["robustMs"],
                    "measures": cls["measures"],
                    "margins": cls["margins"],
                    "holderEvent": holder["event"],
                    "overlapperEvent": over["event"],
                }
            )
    out.sort(key=lambda o: o["startMs"])
    return out


def _votes(chats: list[dict[str, Any]], app_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Expected votes: ``/vote Q | a | b`` opens vote-N, ``/endvote`` or 30 s of media closes it.
    Only ``envelope``-form ``room.vote.cast`` with exactly {voteId, option}, a listed option and an
    open vote counts; a participant's last valid cast wins."""
    votes: list[dict[str, Any]] = []
    for c in chats:
        text = c["text"].strip()
        if text.startswith("/vote "):
            parts = [s.strip() for s in text[len("/vote ") :].split("|")]
            votes.append(
                {
                    "voteId": f"vote-{len(votes) + 1}",
                    "question": parts[0],
                    "options": [p for p in parts[1:] if p],
                    "startedBy": c["participant"],
                    "startedAtMs": c["atMs"],
                    "closesAtMs": c["atMs"] + 30000,
                    "closedAtMs": c["atMs"] + 30000,
                    "closedBy": "timeout",
                }
            )
        elif text == "/endvote":
            for v in votes:
                if v["startedAtMs"] <= c["atMs"] < v["closedAtMs"]:
                    v["closedAtMs"], v["closedBy"] = c["atMs"], "endvote"
    for v in votes:
        ballots: dict[str, str] = {}
        for m in app_messages:
            pl = m["payload"]
            if (
                m["form"] == "envelope"
                and m["topic"] == "room.vote.cast"
                and isinstance(pl, dict)
                and set(pl) == {"voteId", "option"}
                and pl["voteId"] == v["voteId"]
                and pl["option"] in v["options"]
                and v["startedAtMs"] <= m["atMs"] < v["closedAtMs"]
            ):
                ballots[m["participant"]] = pl["option"]
        v["ballots"] = ballots
        v["tally"] = {o: sum(1 for b in ballots.values() if b == o) for o in v["options"]}
        v["totalVotes"] = len(ballots)
    return votes


def check(truth: Truth, data: dict[str, Any] | None = None) -> tuple[list[str], list[str]]:
    """Rule check of a scenario's truth. Returns ``(violations, warnings)``."""
    errs: list[str] = list(truth["problems"])
    warns: list[str] = []
    parts = truth["participants"]
    dur = truth["durationMs"]
    if truth["sampleRate"] != 16000:
        errs.append(f"sampleRate {truth['sampleRate']} != 16000")

    for pid, p in parts.items():
        utts = p["utterances"]
        for u in utts:
            path = Path(u["audioPath"])
            if not path.exists():
                errs.append(f"event {u['event']}: missing audio {u['audio']}")
            else:
                with wave.open(str(path), "rb") as w:
                    if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (16000, 1, 2):
                        errs.append(f"{u['audio']}: not 16 kHz mono 16-bit")
                    if abs(w.getnframes() / 16 - (u["spanEndMs"] - u["atMs"])) > 1:
                        errs.append(f"{u['audio']}: WAV length disagrees with manifest")
            if u["spanEndMs"] > dur:
                errs.append(f"event {u['event']}: speech ends at {u['spanEndMs']} > durationMs {dur}")
            if u["label"] is not None and u["label"] not in LABELS:
                errs.append(f"event {u['event']}: unknown label {u['label']!r}")
            if p["joinMs"] is None or u["atMs"] < p["joinMs"]:
                errs.append(f"event {u['event']}: {pid} speaks before joining")
            if p["leaveMs"] is not None and u["spanEndMs"] > p["leaveMs"]:
                errs.append(f"event {u['event']}: {pid} speaks after leaving")
        for a, b in pairwise(utts):
            if b["atMs"] < a["spanEndMs"]:
                errs.append(f"{pid}: events {a['event']} and {b['event']} overlap each other")
            elif b["startMs"] - a["endMs"] < CLEAR_TURN_GAP_MS:
                warns.append(
                    f"{pid}: only {b['startMs'] - a['endMs']} ms between own events {a['event']} and {b['event']}"
                )

    # labelled classes must match the rules, robustly; unlabelled overlaps must be plain
    pairs = set()
    for o in truth["overlaps"]:
        pairs.add(frozenset((o["holderEvent"], o["overlapperEvent"])))
        want = o["label"] or "overlap"
        tag = f"overlap at {o['startMs']} ({o['holder']} <- {o['overlapper']}, event {o['overlapperEvent']})"
        if o["kind"] != want:
            errs.append(f"{tag}: labelled {want} but the rules give {o['kind']} {o['measures']}")
        elif o["robustMs"] < ROBUST_MARGIN_MS:
            warns.append(f"{tag}: {want} decided by only {o['robustMs']} ms {o['measures']}")
    overlapper_events = {o["overlapperEvent"] for o in truth["overlaps"]}
    for p in parts.values():
        for u in p["utterances"]:
            if u["label"] and u["event"] not in overlapper_events:
                errs.append(f"event {u['event']}: labelled {u['label']} but overlaps nobody")

    # accidental near-overlaps between different speakers
    utts = sorted((u for p in parts.values() for u in p["utterances"]), key=lambda u: u["atMs"])
    for i, u in enumerate(utts):
        for v in utts[i + 1 :]:
            if u["participant"] == v["participant"] or frozenset((u["event"], v["event"])) in pairs:
                continue
            for a in u["intervals"]:
                for b in v["intervals"]:
                    gap = max(b[0] - a[1], a[0] - b[1])
                    if gap < 0:
                        pass  # a real overlap, already in truth["overlaps"]
                    elif gap < MIN_TURN_GAP_MS:
                        errs.append(
                            f"events {u['event']}/{v['event']}: {u['participant']} and "
                            f"{v['participant']} only {gap} ms apart"
                        )
                    elif gap < CLEAR_TURN_GAP_MS:
                        warns.append(f"events {u['event']}/{v['event']}: {gap} ms between speakers")

    for n in truth["noise"]:
        tag = f"noise event {n['event']} ({n['participant']})"
        if n["kind"] not in NOISE_KINDS:
            errs.append(f"{tag}: unknown kind {n['kind']!r}")
        if not 0 <= float(n["level"]) <= 1:
            errs.append(f"{tag}: level out of 0..1")
        if n["endMs"] > dur:
            errs.append(f"{tag}: ends after durationMs")
        p = parts.get(n["participant"])
        if p is None:
            errs.append(f"{tag}: unknown participant")
            continue
        for u in p["utterances"]:
            gap = max(u["atMs"] - n["endMs"], n["startMs"] - u["spanEndMs"])
            if gap < 0:
                errs.append(f"{tag}: overlaps the participant's own speech (event {u['event']})")
            elif gap < NOISE_CLEARANCE_MS:
                warns.append(f"{tag}: {gap} ms from own speech (event {u['event']})")

    for ev_idx, ev in enumerate(truth["events"]):
        pid = ev.get("participant")
        if pid not in parts:
            errs.append(f"event {ev_idx}: unknown participant {pid!r}")
            continue
        p, at = parts[pid], int(ev.get("atMs", 0))
        if at < 0 or at > dur:
            errs.append(f"event {ev_idx}: atMs {at} outside 0..{dur}")
        if ev.get("type") in ("chat", "app_message", "noise"):
            if p["joinMs"] is None or at < p["joinMs"] or (p["leaveMs"] is not None and at >= p["leaveMs"]):
                errs.append(f"event {ev_idx}: {pid} not in the room at {at}")
        if ev.get("type") == "app_message" and ("envelope" in ev) == ("message" in ev):
            errs.append(f"event {ev_idx}: app_message needs exactly one of envelope/message")

    agenda = sum(int(a.get("timeboxMs", 0)) for a in truth["agenda"])
    if agenda and abs(agenda - dur) > 0.15 * dur:
        warns.append(f"agenda time boxes sum to {agenda} ms vs durationMs {dur}")
    return errs, warns


def format_table(t: Truth) -> str:
    lines = [
        f"{t['name']}: {t['durationMs'] / 1000:.1f} s, talk {t['totalTalkTimeMs']} ms, "
        f"speech union {t['speechUnionMs']} ms"
    ]
    lines.append(f"  {'participant':<10} {'name':<7} {'talkMs':>7} {'share':>6} {'utts':>4} {'ivs':>4}")
    for pid, p in t["participants"].items():
        lines.append(
            f"  {pid:<10} {p['name']:<7} {p['talkTimeMs']:>7} {100 * t['shares'][pid]:>5.1f}% "
            f"{len(p['utterances']):>4} {len(p['intervals']):>4}"
        )
    for o in t["overlaps"]:
        lines.append(
            f"  overlap @{o['startMs']:>6} {o['holder']} <- {o['overlapper']}: "
            f"{o['overlapMs']} ms, label={o['label'] or '-'}, rules={o['kind']} "
            f"(margin {o['robustMs']} ms) {o['measures']}"
        )
    for n in t["noise"]:
        lines.append(f"  noise {n['kind']:<5} {n['participant']} {n['startMs']}..{n['endMs']} level {n['level']}")
    for v in t["votes"]:
        lines.append(
            f"  {v['voteId']} '{v['question']}' {v['startedAtMs']}..{v['closedAtMs']} "
            f"({v['closedBy']}) tally {v['tally']}"
        )
    if t["appMessages"]:
        n_env = sum(1 for m in t["appMessages"] if m["form"] == "envelope")
        lines.append(
            f"  app messages: {len(t['appMessages'])} ({n_env} envelope form, "
            f"{len(t['appMessages']) - n_env} raw message form)"
        )
    return "\n".join(lines)


def markdown_row(t: Truth, path: str) -> str:
    cells = ", ".join(
        f"{p['name']} {p['talkTimeMs']} ms ({100 * t['shares'][pid]:.1f}%)" for pid, p in t["participants"].items()
    )
    kinds = [o["label"] or "overlap" for o in t["overlaps"]]
    summary = ", ".join(f"{kinds.count(k)} {k}" for k in ("backchannel", "interruption", "overlap") if k in kinds)
    return f"| `{path}` | {t['durationMs'] / 1000:.1f} s | {cells} | {summary or 'none'} |"


def main(argv: list[str]) -> int:
    args = [a for a in argv if not a.startswith("--")]
    if not args:
        print("usage: python -m bot.scenarios.tools.truth [--json|--markdown] SCENARIO...", file=sys.stderr)
        return 2
    bad = 0
    for path in args:
        t = load_truth(path)
        if "--json" in argv:
            slim = {k: v for k, v in t.items() if k != "events"}
            print(json.dumps(slim, indent=1, default=str))
            continue
        if "--markdown" in argv:
            print(markdown_row(t, path))
            continue
        errs, warns = check(t)
        print(format_table(t))
        for w in warns:
            print(f"  warning: {w}")
        for e in errs:
            print(f"  VIOLATION: {e}")
        print(f"  -> {'OK' if not errs else f'{len(errs)} violation(s)'}, {len(warns)} warning(s)\n")
        bad += bool(errs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
