"""A live view of the room for a person watching ``python -m bot`` in a terminal.

It is a bus subscriber like any other consumer: it reads envelopes and redraws a small panel on
stderr (who is speaking, talk-time shares as bars, the agenda, the vote, the last events) at most
ten times a second. It never writes to stdout.
"""

from __future__ import annotations

import re
import shutil
import time
from collections import deque
from typing import Any, TextIO

from bot.events import EventBus
from bot.generated import Topic

BAR_WIDTH = 28
RECENT = 8


def _seconds(ms: int | float | None) -> str:
    return f"{(ms or 0) / 1000:6.1f}s"


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` visible characters (ANSI colour codes don't count)."""
    visible = _ANSI.sub("", line)
    if len(visible) <= width:
        return line
    return visible[: width - 1] + "…"


class LiveView:
    """Draws the room state on a terminal stream from the envelopes on the bus."""

    def __init__(self, bus: EventBus, *, stream: TextIO, scenario_name: str = "", min_interval_s: float = 0.1) -> None:
        self._stream = stream
        self._title = scenario_name
        self._min_interval = min_interval_s
        self._last_draw = 0.0
        self._lines_drawn = 0
        self.names: dict[str, str] = {}
        self.present: list[str] = []
        self.speaking: set[str] = set()
        self.shares: dict[str, float] = {}
        self.talk_ms: dict[str, int] = {}
        self.gini: float | None = None
        self.dominant: str | None = None
        self.media_ms = 0
        self.recent: deque[str] = deque(maxlen=RECENT)
        self.vote: str = ""
        self.agenda: str = ""
        self.published = 0
        self._unsubscribe = bus.subscribe("*", self.on_envelope)

    def name(self, pid: str | None) -> str:
        if not pid:
            return "-"
        return self.names.get(pid, pid)

    def on_envelope(self, env: dict[str, Any]) -> None:
        self.published += 1
        topic, p = env["topic"], env["payload"]
        self.media_ms = max(self.media_ms, env["meta"].get("mediaTimeMs") or p.get("mediaTimeMs") or 0)
        line = self._describe(topic, p)
        if line:
            self.recent.append(f"{_seconds(self.media_ms)}  {line}")
        self.draw()

    def _describe(self, topic: str, p: dict[str, Any]) -> str | None:
        if topic == Topic.ROOM_PARTICIPANT_JOINED:
            self.names[p["participantId"]] = p.get("displayName") or p["participantId"]
            if p["participantId"] not in self.present:
                self.present.append(p["participantId"])
            return f"+ {self.name(p['participantId'])} joined"
        if topic == Topic.ROOM_PARTICIPANT_LEFT:
            pid = p["participantId"]
            if pid in self.present:
                self.present.remove(pid)
            self.speaking.discard(pid)
            return f"- {self.name(pid)} left after {p['talkTimeMs'] / 1000:.1f}s of talk"
        if topic == Topic.ROOM_SPEAKING_STARTED:
            self.speaking.add(p["participantId"])
            return None
        if topic == Topic.ROOM_SPEAKING_STOPPED:
            self.speaking.discard(p["participantId"])
            return None
        if topic == Topic.ROOM_DOMINANCE_SCORE:
            self.shares = {x["participantId"]: x["share"] for x in p["participants"]}
            self.talk_ms = {x["participantId"]: x["talkTimeMs"] for x in p["participants"]}
            self.gini, self.dominant = p["gini"], p["dominantParticipantId"]
            if p["trigger"] == "final":
                return f"final shares, Gini {p['gini']:.2f}"
            return None
        if topic == Topic.ROOM_OVERLAP_DETECTED:
            return f"{p['kind']}: {self.name(p['overlapperId'])} over {self.name(p['speakerId'])} ({p['overlapMs']} ms)"
        if topic == Topic.ROOM_INTERRUPT_REQUEST:
            return f"! interrupt requested: {self.name(p['targetParticipantId'])} ({p['reason']}, {p['monologueMs'] / 1000:.0f}s)"
        if topic == Topic.ROOM_PACING_UPDATED:
            return f"pace {self.name(p['participantId'])}: {p['wordsPerMinute']:.0f} wpm ({p['state']})"
        if topic == Topic.ROOM_TOPIC_SHIFT_SUGGESTED:
            self.agenda = f"{p['currentItem']} → {p['nextItem'] or 'end'}"
            return f"agenda: '{p['currentItem']}' is over its time box; next '{p['nextItem'] or '—'}'"
        if topic == Topic.ROOM_WRAPUP_PROMPT:
            return f"wrap-up: {p['message']}"
        if topic == Topic.ROOM_VOTE_STARTED:
            self.vote = f"{p['question']} [{' / '.join(p['options'])}]"
            return f"vote opened: {p['question']}"
        if topic == Topic.ROOM_VOTE_CLOSED:
            tally = ", ".join(f"{k} {v}" for k, v in p["tally"].items())
            self.vote = f"closed: {tally} (winner {p.get('winner') or '—'})"
            return f"vote closed: {tally}"
        if topic == Topic.EVENTS_INBOUND_REJECTED:
            return f"rejected inbound message from {self.name(p['senderId'])}: {p['reason']}"
        if topic == Topic.FORWARDING_DELIVERY_DEFERRED:
            return f"not delivered to {p['destination']}: {p['reason']}"
        if topic in (
            Topic.ASSISTANT_SESSION_STARTED,
            Topic.ASSISTANT_ROOM_JOIN_SUCCEEDED,
            Topic.ASSISTANT_SESSION_ENDED,
        ):
            return topic.split(".", 1)[1].replace(".", " ")
        if topic == Topic.EVENTS_RUNTIME_VERSION_MISMATCH:
            return f"spec version mismatch ({p['source']})"
        return None

    def render(self) -> list[str]:
        title = f" Prism Room Bot — {self._title} " if self._title else " Prism Room Bot "
        lines = [f"\x1b[1m{title}\x1b[0m  media {_seconds(self.media_ms)}   events {self.published}"]
        people = list(dict.fromkeys(self.present + list(self.shares)))
        for pid in people:
            share = self.shares.get(pid, 0.0)
            filled = round(share * BAR_WIDTH)
            bar = "█" * filled + "·" * (BAR_WIDTH - filled)
            mic = "\x1b[32m● speaking\x1b[0m" if pid in self.speaking else "          "
            mark = " ◀ dominant" if pid == self.dominant else ""
            gone = "" if pid in self.present else " (left)"
            lines.append(f"  {self.name(pid)[:14]:<14} {bar} {share * 100:5.1f}%  {mic}{mark}{gone}")
        extras = []
        if self.gini is not None:
            extras.append(f"Gini {self.gini:.2f}")
        if self.agenda:
            extras.append(f"agenda {self.agenda}")
        if self.vote:
            extras.append(f"vote {self.vote}")
        if extras:
            lines.append("  " + "   ".join(extras))
        lines.append("  ─ recent " + "─" * 40)
        lines.extend(f"  {line}" for line in self.recent)
        return lines

    def draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        width = max(20, shutil.get_terminal_size((100, 24)).columns - 1)
        lines = [_fit(line, width) for line in self.render()]  # a wrapped line would break the redraw
        out = []
        if self._lines_drawn:
            out.append(f"\x1b[{self._lines_drawn}F\x1b[J")
        out.append("\n".join(lines) + "\n")
        self._stream.write("".join(out))
        self._stream.flush()
        self._lines_drawn = len(lines)

    def close(self) -> None:
        self.draw(force=True)
        self._unsubscribe()
