"""Write the bundled scenario rooms (demo.json, rooms/*.json) from clips/manifest.json.

Run from the repo root after make_clips.py: ``python bot/scenarios/tools/build_rooms.py``.
Rooms are laid out relative to the clips' measured voiced extents (gaps, backchannel offsets,
interruption points), so re-synthesized clips of different length keep the designed timing.
Stdlib only; check the result with ``python -m bot.scenarios.tools.truth FILE``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = json.loads((ROOT / "clips" / "manifest.json").read_text())["clips"]
SPEC_ZERO = "sha256:" + "0" * 64
NAMES = {
    "alice": "Alice",
    "bob": "Bob",
    "carol": "Carol",
    "dan": "Dan",
    "erin": "Erin",
    "frank": "Frank",
    "grace": "Grace",
    "hank": "Hank",
}


class Room:
    """Event builder. Times in ms; ``cursor`` = latest voiced end of any speech placed so far."""

    def __init__(self, name: str, path: Path, people: list[str], agenda: list[tuple[str, int]]):
        self.name, self.path = name, path
        self.people = people
        self.agenda = agenda
        self.events: list[dict[str, Any]] = []
        self.cursor = 0
        self.clip_prefix = "clips/" if path.parent == ROOT else "../clips/"

    # --- speech ---------------------------------------------------------------------------
    def _speech(self, who: str, clip: str, at: int, label: str | None = None) -> dict[str, Any]:
        c = MANIFEST[clip]
        ev = {
            "atMs": int(at),
            "type": "speech",
            "participant": f"p-{who}",
            "audio": f"{self.clip_prefix}{c['file']}",
            "text": c["text"],
        }
        if label:
            ev["label"] = label
        self.events.append(ev)
        utt: dict[str, Any] = {"at": int(at), "voiced": [[at + s, at + e] for s, e in c["voiced"]]}
        utt["start"], utt["end"] = utt["voiced"][0][0], utt["voiced"][-1][1]
        self.cursor = max(self.cursor, utt["end"])
        return utt

    def say(self, who: str, clip: str, gap: int = 700) -> dict[str, Any]:
        """Next turn: voiced onset ``gap`` ms after the latest voiced end in the room."""
        return self._speech(who, clip, self.cursor + gap - MANIFEST[clip]["voiced"][0][0])

    def say_at(self, who: str, clip: str, at: int) -> dict[str, Any]:
        return self._speech(who, clip, at)

    def backchannel(self, who: str, clip: str, holder: dict[str, Any], interval: int, offset: int) -> dict[str, Any]:
        """Backchannel ``offset`` ms into the holder's voiced interval number ``interval``."""
        at = holder["voiced"][interval][0] + offset - MANIFEST[clip]["voiced"][0][0]
        return self._speech(who, clip, at, "backchannel")

    def interrupt(self, who: str, clip: str, holder: dict[str, Any], before_end: int = 500) -> dict[str, Any]:
        """B's onset ``before_end`` ms before the (cut-off) holder stops."""
        at = holder["end"] - before_end - MANIFEST[clip]["voiced"][0][0]
        return self._speech(who, clip, at, "interruption")

    def overlap(self, who: str, clip: str, holder: dict[str, Any], before_end: int) -> dict[str, Any]:
        """Plain (unlabelled) overlap: B's onset ``before_end`` ms before the holder stops."""
        at = holder["end"] - before_end - MANIFEST[clip]["voiced"][0][0]
        return self._speech(who, clip, at)

    # --- other events ---------------------------------------------------------------------
    def add(self, at: int, etype: str, who: str, **fields: Any) -> None:
        self.events.append({"atMs": int(at), "type": etype, "participant": f"p-{who}", **fields})

    def noise(self, who: str, at: int, dur: int, kind: str, **extra: Any) -> None:
        self.add(at, "noise", who, durationMs=dur, kind=kind, **extra)

    def chat(self, who: str, at: int, text: str) -> None:
        self.add(at, "chat", who, text=text)

    def vote(self, who: str, at: int, vote_id: str, option: Any) -> None:
        self.add(
            at,
            "app_message",
            who,
            envelope={"topic": "room.vote.cast", "payload": {"voteId": vote_id, "option": option}},
        )

    def write(self, duration: int) -> None:
        order = {"join": 0, "leave": 2}
        events = sorted(self.events, key=lambda e: (e["atMs"], order.get(e["type"], 1)))
        doc: dict[str, Any] = {
            "name": self.name,
            "sampleRate": 16000,
            "durationMs": int(duration),
            "participants": [{"id": f"p-{p}", "name": NAMES[p]} for p in self.people],
            "agenda": [{"title": t, "timeboxMs": ms} for t, ms in self.agenda],
            "events": events,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)

        def block(key: str) -> str:
            rows = ",\n    ".join(json.dumps(x, ensure_ascii=False) for x in doc[key])
            return f'  "{key}": [\n    {rows}\n  ]'

        head = ",\n".join(f"  {json.dumps(k)}: {json.dumps(doc[k])}" for k in ("name", "sampleRate", "durationMs"))
        body = ",\n".join(block(k) for k in ("participants", "agenda", "events"))
        self.path.write_text("{\n" + head + ",\n" + body + "\n}\n")
        json.loads(self.path.read_text())  # sanity


def browser_envelope(n: int, sender: str, topic: str, payload: Any, spec: str = SPEC_ZERO) -> dict[str, Any]:
    return {
        "id": f"0190a6e4-0000-7000-8000-{n:012d}",
        "ts": 1720000000000 + n,
        "topic": topic,
        "specVersion": spec,
        "runtime": "browser",
        "sessionId": f"browser-{sender}",
        "payload": payload,
        "meta": {"seq": n},
    }


def demo() -> None:
    r = Room(
        "demo",
        ROOT / "demo.json",
        ["alice", "bob", "carol", "dan"],
        [("Release status", 27000), ("Risks", 17000), ("Decision", 12000)],
    )
    for p in ("alice", "bob", "carol"):
        r.add(0, "join", p)
    r.add(2500, "join", "dan")  # late joiner; Dan never speaks (noise only), chats and votes
    r.say_at("alice", "alice-1", 500)
    r.say("bob", "bob-1")
    mono = r.say("alice", "alice-monologue")  # >= 15 s monologue
    r.backchannel("bob", "bob-yeah", mono, 1, 1200)
    r.backchannel("carol", "carol-right", mono, 3, 1200)
    r.noise("dan", mono["start"] + 4000, 2000, "white")  # Dan is otherwise silent
    c1 = r.say("carol", "carol-1")
    r.overlap("bob", "bob-short", c1, 250)  # terminal overlap, plain
    c3 = r.say("carol", "carol-3", gap=1000)
    r.backchannel("alice", "alice-mmhm", c3, 0, 900)
    cut = r.say("bob", "bob-cut")
    r.interrupt("carol", "carol-interject", cut, 500)  # Carol cuts Bob off
    a2 = r.say("alice", "alice-2")
    r.noise("dan", a2["start"] - 200, 1500, "tone", freqHz=440)
    r.chat("alice", a2["end"] + 300, "/vote Ship on Friday? | yes | no | later")
    c2 = r.say("carol", "carol-2")
    r.vote("bob", a2["end"] + 1500, "vote-1", "yes")
    r.vote("carol", a2["end"] + 2100, "vote-1", "later")
    r.add(a2["end"] + 2600, "app_message", "dan", message="{not json")
    r.vote("dan", a2["end"] + 3000, "vote-1", "yes")
    r.chat("bob", c2["end"] - 500, "link to the rollback plan?")
    r.add(c2["end"] + 1200, "leave", "carol")
    b2 = r.say("bob", "bob-2")
    r.chat("alice", b2["end"] + 600, "/endvote")
    r.write(b2["end"] + 2000)


def balanced() -> None:
    r = Room(
        "balanced",
        ROOT / "rooms" / "balanced.json",
        ["bob", "carol", "dan"],
        [("Round one", 19000), ("Round two", 19000)],
    )
    for p in ("bob", "carol", "dan"):
        r.add(0, "join", p)
    turns = [
        ("bob", "bob-1"),
        ("carol", "carol-1"),
        ("dan", "dan-1"),
        ("bob", "bob-2"),
        ("carol", "carol-2"),
        ("dan", "dan-2"),
        ("bob", "bob-interject"),
        ("carol", "carol-3"),
        ("dan", "dan-3"),
    ]
    gaps = [800, 700, 750, 800, 650, 750, 700, 800, 700]  # 600..800 ms: clear, no overlap
    for (who, clip), gap in zip(turns, gaps, strict=True):
        if r.cursor == 0:
            r.say_at(who, clip, 800)
        else:
            r.say(who, clip, gap)
    r.write(r.cursor + 2500)


def dominant() -> None:
    r = Room(
        "dominant",
        ROOT / "rooms" / "dominant.json",
        ["alice", "bob", "carol", "dan"],
        [("Release status", 30000), ("Migration", 17000)],
    )
    for p in ("alice", "bob", "carol", "dan"):
        r.add(0, "join", p)
    r.say_at("alice", "alice-1", 500)
    r.say("carol", "carol-1")
    mono = r.say("alice", "alice-monologue")
    r.backchannel("bob", "bob-yeah", mono, 1, 1100)
    r.backchannel("carol", "carol-right", mono, 2, 1300)
    r.backchannel("dan", "dan-okay", mono, 4, 1200)
    r.say("bob", "bob-1")
    cut = r.say("alice", "alice-cut")
    r.interrupt("bob", "bob-interject", cut, 500)  # the one interruption
    r.say("alice", "alice-2")
    r.say("dan", "dan-1")
    r.write(r.cursor + 2000)


def noisy() -> None:
    r = Room(
        "noisy", ROOT / "rooms" / "noisy.json", ["erin", "frank", "grace"], [("Latency", 20000), ("Holiday fix", 17000)]
    )
    for p in ("erin", "frank", "grace"):
        r.add(0, "join", p)
    e1 = r.say_at("erin", "erin-1", 600)
    r.noise("grace", e1["start"] + 900, 2000, "white")  # silent participant, during speech
    r.say("frank", "frank-1", 800)
    f1_end = r.cursor
    e2 = r.say("erin", "erin-2", 800)
    r.noise("frank", f1_end + 1100, 1500, "pink")  # Frank between his utterances
    r.noise("grace", e2["end"] + 400, 1500, "tone", freqHz=440)  # nobody speaks
    f2 = r.say("frank", "frank-2", 2700)  # long silent gap with noise
    r.noise("erin", f2["start"] + 300, 1000, "tone", freqHz=1000, level=0.2)  # Erin between utterances
    r.chat("erin", f2["end"] - 1500, "/vote Fix before the holidays? | yes | no")
    r.say("erin", "erin-3", 800)
    # --- bad inbound batch (vote-1 is open: a leaked cast would change the tally) ---------
    t = f2["end"] + 300
    bad = [
        ("frank", "{not json"),
        (
            "grace",
            browser_envelope(1, "grace", "room.vote.cast", {"voteId": "vote-1", "option": "no", "note": "x" * 5000}),
        ),
        ("frank", browser_envelope(2, "frank", "room.teleport", {"to": "mars"})),
        (
            "grace",
            browser_envelope(
                3,
                "grace",
                "room.dominance.score",
                {
                    "windowMs": 60000,
                    "participants": [{"participantId": "p-grace", "talkTimeMs": 60000, "share": 1.0}],
                    "gini": 0.0,
                    "dominantParticipantId": "p-grace",
                },
            ),
        ),
        ("frank", browser_envelope(4, "frank", "room.vote.cast", {"voteId": "vote-1", "option": 42})),
        ("grace", browser_envelope(5, "grace", "room.vote.cast", {"voteId": 7})),  # wrong version + invalid
        ("frank", [browser_envelope(6, "frank", "room.vote.cast", {"voteId": "vote-1", "option": "no"})]),
        ("grace", _nested(100)),
        (
            "frank",
            browser_envelope(7, "frank", "room.vote.cast", {"voteId": "vote-1", "option": "no", "voterId": "p-grace"}),
        ),
    ]
    for i, (who, msg) in enumerate(bad):
        r.add(t + 300 * i, "app_message", who, message=msg)
    t += 300 * len(bad)
    # the same three checks with the live spec version (the player wraps "envelope" forms)
    r.add(
        t,
        "app_message",
        "grace",
        envelope={
            "topic": "room.dominance.score",
            "payload": {
                "windowMs": 60000,
                "participants": [{"participantId": "p-grace", "talkTimeMs": 60000, "share": 1.0}],
                "gini": 0.0,
                "dominantParticipantId": "p-grace",
            },
        },
    )
    r.vote("frank", t + 300, "vote-1", 42)
    r.add(
        t + 600,
        "app_message",
        "frank",
        envelope={"topic": "room.vote.cast", "payload": {"voteId": "vote-1", "option": "no", "voterId": "p-grace"}},
    )
    g1 = r.say("grace", "grace-1", 800)
    r.vote("frank", g1["start"] + 500, "vote-1", "yes")  # valid casts after the junk
    r.vote("grace", g1["end"] + 400, "vote-1", "yes")
    f3 = r.say("frank", "frank-3", 800)
    r.noise("grace", f3["end"] + 700, 2000, "pink", level=0.5)  # Grace between utterances, silence
    g2 = r.say("grace", "grace-2", 3400)
    r.chat("erin", g2["end"] + 500, "/endvote")
    r.noise("frank", g2["end"] + 800, 2500, "white", level=0.1)  # quiet fan on Frank's mic, silence
    r.write(g2["end"] + 4000)


def _nested(depth: int) -> object:
    node: object = 1
    for _ in range(depth):
        node = {"n": node}
    return node  # ``depth`` nested objects around a scalar


def eight() -> None:
    people = ["alice", "bob", "carol", "dan", "erin", "frank", "grace", "hank"]
    r = Room("eight", ROOT / "rooms" / "eight.json", people, [("Updates", 40000), ("Open questions", 20000)])
    for p in people[:-1]:
        r.add(0, "join", p)
    r.add(4000, "join", "hank")  # late joiner
    r.say_at("alice", "alice-1", 500)
    for who, clip in [
        ("bob", "bob-1"),
        ("carol", "carol-1"),
        ("dan", "dan-1"),
        ("erin", "erin-1"),
        ("frank", "frank-1"),
    ]:
        r.say(who, clip)
    g1 = r.say("grace", "grace-1")
    r.overlap("bob", "bob-short", g1, 250)  # terminal overlap; Bob stops soon after Grace
    r.say("hank", "hank-1", 1000)
    for who, clip in [
        ("alice", "alice-2"),
        ("bob", "bob-3"),
        ("carol", "carol-3"),
        ("dan", "dan-3"),
        ("frank", "frank-2"),
    ]:
        r.say(who, clip)
    h2 = r.say("hank", "hank-2")
    r.overlap("grace", "grace-2", h2, 2000)  # parallel talk: Hank goes on 2 s, no cut-off
    r.say("erin", "erin-2", 800)
    r.write(r.cursor + 2000)


def long() -> None:
    """Longer than a minute (~84 s), so rules on minutes of talk fire: Alice holds ~85 % of the
    talk, and once the room has 60 s of talk in all the default policy's share nudge (max share
    0.6 after shareMinTalkMs 60 s) warns her. Dan never speaks. Clean turns, no overlaps."""
    r = Room(
        "long",
        ROOT / "rooms" / "long.json",
        ["alice", "bob", "carol", "dan"],
        [("Status", 40000), ("Risks", 25000), ("Next steps", 15000)],
    )
    for p in ("alice", "bob", "carol", "dan"):
        r.add(0, "join", p)
    r.say_at("alice", "alice-1", 500)
    turns = [
        ("bob", "bob-1"),
        ("alice", "alice-monologue"),
        ("carol", "carol-1"),
        ("alice", "alice-2"),
        ("alice", "alice-monologue"),
        ("bob", "bob-2"),
        ("alice", "alice-1"),
        ("carol", "carol-2"),
        ("alice", "alice-monologue"),
    ]
    for who, clip in turns:
        r.say(who, clip, 800)
    r.write(r.cursor + 2000)


def main() -> int:
    for build in (demo, balanced, dominant, noisy, eight, long):
        build()
    print("wrote demo.json and rooms/{balanced,dominant,noisy,eight,long}.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
