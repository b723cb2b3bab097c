"""A live view of the room for the meeting host watching ``python -m bot`` in a terminal.

It is a bus subscriber like any other consumer: it reads envelopes and redraws a panel on stderr
at most ten times a second, and never writes to stdout. What a host needs first comes first, and
the panel degrades to the terminal's size instead of scrolling (a redraw that scrolls leaves the
header and the first people off the screen):

1. a header (room, media time) and the agenda: the current item and the time left in it and in
   the meeting;
2. one row per person: share of talk time (a bar when there is room), pace, speaking now;
3. the balance in words ("one voice dominates", not "Gini 0.38"), who has not spoken yet, the vote;
4. the latest events: what the facilitator said, policy events (kind and who, never the offending
   text), joins and leaves, overlaps; repeats collapse ("5 messages from Bob refused: rate
   limit"); a topic this view does not know is shown generically, so a new processor's events
   appear without a change here.

Everything that came from a participant (names, vote text, whatever an unknown topic carries)
goes through :func:`bot.core.text.printable_line`: a display name cannot clear the screen or
write the operator's clipboard.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TextIO

from bot.analytics.agenda import AgendaParams, AgendaTracker
from bot.core.text import printable_line as printable
from bot.events import EventBus
from bot.generated import Topic

RECENT = 30
"""Events kept for the recent list; the terminal's height decides how many are shown."""
NAME_WIDTH = 14
MAX_BAR = 28
MIN_BAR = 6
QUIET_TOPICS = frozenset(
    {
        Topic.BOT_HEALTH_HEARTBEAT,
        Topic.ROOM_SPEAKING_STARTED,
        Topic.ROOM_SPEAKING_STOPPED,
        Topic.ROOM_PACING_UPDATED,
        Topic.CONVERSATION_POLICY_LOADED,
        Topic.ASSISTANT_ROOM_JOIN_REQUESTED,
    }
)
"""Topics shown in the rows or not at all, never as a line in the recent list."""
ACTION_WORDS = {"block": "refused", "redact": "redacted", "warn": "warned", "interrupt": "interrupted"}

_STYLE = re.compile(r"\x1b\[[0-9;]*m")
BOLD, GREEN, DIM, RESET = "\x1b[1m", "\x1b[32m", "\x1b[2m", "\x1b[0m"


def clock(ms: int | float | None) -> str:
    """``0:42``, ``12:05``, ``1:02:03``: media time as a person reads it."""
    seconds = max(0, int((ms or 0) // 1000))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def balance_words(gini: float | None, dominant: str | None, speakers: int) -> str | None:
    """The talk-time balance in words. A dominant participant (the dominance threshold) wins;
    otherwise bands of the Gini coefficient over everyone present, silent people included."""
    if dominant:
        return f"balance: {dominant} dominates"
    if gini is None or speakers < 2:
        return None
    if gini < 0.15:
        return "balance: even"
    if gini < 0.3:
        return "balance: fairly even"
    if gini < 0.5:
        return "balance: uneven, a few voices carry it"
    return "balance: one voice dominates"


def fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` visible characters; the live view's own styles do not count."""
    visible = _STYLE.sub("", line)
    if len(visible) <= width:
        return line
    return visible[: max(0, width - 1)] + "…"


def terminal_size(stream: TextIO) -> os.terminal_size:
    """The size of the terminal ``stream`` draws on (stderr), not of stdout, which usually is a file."""
    try:
        return os.get_terminal_size(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return shutil.get_terminal_size((100, 24))


@dataclass
class Recent:
    """One line of the recent list; ``key`` groups repeats, ``count`` says how many."""

    at_ms: int
    key: tuple[Any, ...] | None
    text: str
    plural: str = ""
    count: int = 1

    def render(self) -> str:
        text = self.plural.format(n=self.count) if self.count > 1 and self.plural else self.text
        if self.count > 1 and not self.plural:
            text = f"{text} (×{self.count})"
        return f"{clock(self.at_ms):>7}  {text}"


class LiveView:
    """Draws the room state on a terminal stream from the envelopes on the bus."""

    def __init__(
        self,
        bus: EventBus,
        *,
        stream: TextIO,
        scenario_name: str = "",
        min_interval_s: float = 0.1,
        size: Any = None,
    ) -> None:
        """Subscribe to every topic on ``bus`` and draw on ``stream``.

        ``size`` returns ``(columns, lines)``; by default the terminal ``stream`` is attached to.
        """
        self._stream = stream
        self._title = printable(scenario_name, 60)
        self._min_interval = min_interval_s
        self._size = size or (lambda: tuple(terminal_size(stream)))
        self._last_draw = 0.0
        self._lines_drawn = 0
        self.names: dict[str, str] = {}
        self.present: list[str] = []
        self.seen: list[str] = []
        self.spoken: set[str] = set()
        self.speaking: set[str] = set()
        self.shares: dict[str, float] = {}
        self.pace: dict[str, str] = {}
        self.gini: float | None = None
        self.dominant: str | None = None
        self.media_ms = 0
        self.recent: deque[Recent] = deque(maxlen=RECENT)
        self.vote = ""
        self.agenda: AgendaTracker | None = None
        self.item_hint = ""  # from topic-shift events when no agenda was given
        self.meeting_end_ms: int | None = None
        self.published = 0
        self._unsubscribe = bus.subscribe("*", self.on_envelope)

    # ---- input
    def set_agenda(self, items: Iterable[Any], *, meeting_duration_ms: int | None = None) -> None:
        """The session's agenda (what the Agenda processor walks), for the time left in each item."""
        items = list(items)
        if not items:
            return
        self.agenda = AgendaTracker(items, AgendaParams(meeting_duration_ms=meeting_duration_ms))
        self.meeting_end_ms = self.agenda.meeting_end_ms
        self.agenda.tick(self.media_ms)

    def name(self, pid: str | None) -> str:
        if not pid:
            return "-"
        return self.names.get(pid) or printable(pid, 32)

    def on_envelope(self, env: Mapping[str, Any]) -> None:
        self.published += 1
        topic, p = env["topic"], env["payload"]
        media = env.get("meta", {}).get("mediaTimeMs")
        if media is None and isinstance(p.get("mediaTimeMs"), int):
            media = p["mediaTimeMs"]
        self.media_ms = max(self.media_ms, media or 0)
        if self.agenda is not None:
            self.agenda.tick(self.media_ms)
        try:
            self._take(topic, p)
        except (KeyError, TypeError, ValueError, AttributeError):  # a payload of another spec version
            self._add(None, f"{printable(topic, 64)} (unreadable payload)")
        self.draw()

    def _add(self, key: tuple[Any, ...] | None, text: str, plural: str = "") -> None:
        last = self.recent[-1] if self.recent else None
        if key is not None and last is not None and last.key == key:
            last.count += 1
            last.at_ms = self.media_ms
            return
        self.recent.append(Recent(self.media_ms, key, text, plural))

    def _take(self, topic: str, p: Mapping[str, Any]) -> None:
        if topic == Topic.ROOM_PARTICIPANT_JOINED:
            pid = p["participantId"]
            self.names[pid] = printable(p.get("displayName") or pid, 32)
            if pid not in self.present:
                self.present.append(pid)
            if pid not in self.seen:
                self.seen.append(pid)
            self._add(("joined", pid), f"+ {self.name(pid)} joined")
        elif topic == Topic.ROOM_PARTICIPANT_LEFT:
            pid = p["participantId"]
            if pid in self.present:
                self.present.remove(pid)
            self.speaking.discard(pid)
            self._add(None, f"- {self.name(pid)} left after {p['talkTimeMs'] / 1000:.0f}s of talk")
        elif topic == Topic.ROOM_SPEAKING_STARTED:
            self.speaking.add(p["participantId"])
            self.spoken.add(p["participantId"])
        elif topic == Topic.ROOM_SPEAKING_STOPPED:
            self.speaking.discard(p["participantId"])
        elif topic == Topic.ROOM_PACING_UPDATED:
            if p["state"] == "no_words":  # the room has no transcripts: no rate to show
                self.pace[p["participantId"]] = "no words"
            else:
                self.pace[p["participantId"]] = f"{p['wordsPerMinute']:.0f} wpm" + (
                    f" {p['state']}" if p["state"] != "normal" else ""
                )
        elif topic == Topic.ROOM_DOMINANCE_SCORE:
            self.shares = {x["participantId"]: x["share"] for x in p["participants"]}
            self.spoken.update(x["participantId"] for x in p["participants"] if x["talkTimeMs"] > 0)
            for pid in self.shares:
                if pid not in self.seen:
                    self.seen.append(pid)
            self.gini, self.dominant = p["gini"], p["dominantParticipantId"]
            if p["trigger"] == "final":
                words = balance_words(self.gini, self.name(self.dominant) if self.dominant else None, len(self.shares))
                self._add(None, f"final shares; {words or 'nobody spoke'}")
        elif topic == Topic.ROOM_OVERLAP_DETECTED:
            self._add(
                ("overlap", p["kind"], p["overlapperId"]),
                f"{p['kind']}: {self.name(p['overlapperId'])} over {self.name(p['speakerId'])}",
                f"{{n}} × {p['kind']}: {self.name(p['overlapperId'])} over others",
            )
        elif topic == Topic.ROOM_INTERRUPT_REQUEST:
            who, reason = self.name(p["targetParticipantId"]), p["reason"]
            extra = f" after {p['monologueMs'] / 1000:.0f}s without a break" if reason == "monologue" else ""
            self._add(None, f"! interrupt {who}: {reason.replace('_', ' ')}{extra}")
        elif topic == Topic.ROOM_INTERRUPT_EXECUTED:
            self._add(None, f"! {self.name(p['targetParticipantId'])} interrupted by {p['method']}")
        elif topic == Topic.ROOM_TOPIC_SHIFT_SUGGESTED:
            nxt = p["nextItem"]
            self.item_hint = printable(nxt, 40) if nxt else "(agenda done)"
            self._add(
                None,
                f"agenda: '{printable(p['currentItem'], 40)}' is over time; next: "
                + (f"'{printable(nxt, 40)}'" if nxt else "wrap up"),
            )
        elif topic == Topic.ROOM_WRAPUP_PROMPT:
            self.meeting_end_ms = self.meeting_end_ms or self.media_ms + p["remainingMs"]
            self._add(None, f"wrap-up: {clock(p['remainingMs'])} left")
        elif topic == Topic.FACILITATOR_MESSAGE:
            to = "room" if p["audience"] == "room" else self.name(p.get("participantId"))
            self._add(None, f"» facilitator to {to}: {printable(p['text'], 200)}")
        elif topic == Topic.CONVERSATION_POLICY_VIOLATION:
            who, kind = self.name(p.get("participantId")), p["kind"].replace("_", " ")
            action = ACTION_WORDS.get(p["action"], p["action"])
            self._add(
                ("violation", p.get("participantId"), p["kind"], p["action"]),
                f"policy: {who} {action}: {kind}",
                f"policy: {{n}} messages from {who} {action}: {kind}",
            )
        elif topic == Topic.EVENTS_INBOUND_REJECTED:
            who, reason = self.name(p["senderId"]), p["reason"].replace("_", " ")
            self._add(
                ("rejected", p["senderId"], p["reason"]),
                f"message from {who} refused: {reason}",
                f"{{n}} messages from {who} refused: {reason}",
            )
        elif topic == Topic.ROOM_VOTE_STARTED:
            self.vote = f"{printable(p['question'], 60)} [{' / '.join(printable(o, 20) for o in p['options'])}]"
            self._add(None, f"vote opened: {printable(p['question'], 80)}")
        elif topic == Topic.ROOM_VOTE_CAST:
            self._add(("cast",), "a vote was cast", "{n} votes cast")
        elif topic == Topic.ROOM_VOTE_CLOSED:
            tally = ", ".join(f"{printable(k, 20)} {v}" for k, v in p["tally"].items())
            winner = printable(p.get("winner"), 20) if p.get("winner") else "no winner"
            self.vote = f"closed: {tally} ({winner})"
            self._add(None, f"vote closed: {tally} ({winner})")
        elif topic == Topic.FORWARDING_DELIVERY_DEFERRED:
            self._add(("deferred", p["destination"]), f"not delivered to {p['destination']}: {p['reason']}")
        elif topic == Topic.EVENTS_RUNTIME_VERSION_MISMATCH:
            self._add(("mismatch",), f"spec version mismatch ({p['source']})")
        elif topic == Topic.ASSISTANT_SESSION_STARTED:
            self._add(None, f"session started ({p['transport']})")
        elif topic == Topic.ASSISTANT_ROOM_JOIN_SUCCEEDED:
            self._add(None, "the bot joined the room")
        elif topic == Topic.ASSISTANT_ROOM_JOIN_FAILED:
            self._add(None, f"join attempt {p['attempt']} failed" + (", retrying" if p["willRetry"] else ""))
        elif topic == Topic.ASSISTANT_SESSION_ENDED:
            self._add(None, f"session ended: {p['reason'].replace('_', ' ')}")
        elif topic == Topic.ASSISTANT_SESSION_FAILED:
            self._add(None, f"session failed at {p['stage']}: {printable(p['error'], 120)}")
        elif topic not in QUIET_TOPICS:
            self._add((topic,), self._generic(topic, p), self._generic(topic, p) + " (×{n})")

    def _generic(self, topic: str, p: Mapping[str, Any]) -> str:
        """A topic this view has no words for: its name, who, and a few short scalar fields."""
        words = printable(topic, 64).replace(".", " ")
        for prefix in ("assistant ", "room "):
            words = words.removeprefix(prefix)
        who = next(
            (p[k] for k in ("participantId", "targetParticipantId", "senderId") if isinstance(p.get(k), str)), None
        )
        fields = [
            f"{printable(k, 24)} {printable(v, 24)}"
            for k, v in p.items()
            if isinstance(v, (int, float, str, bool)) and not k.endswith("Id") and k != "mediaTimeMs"
        ][:3]
        return " ".join([words, *([f"({self.name(who)})"] if who else []), *([", ".join(fields)] if fields else [])])

    # ---- output
    def _status(self) -> str | None:
        parts = []
        item = self.agenda.current_item if self.agenda else None
        if self.agenda is not None and item is not None and self.agenda.current_item_end_ms is not None:
            left = self.agenda.current_item_end_ms - self.media_ms
            parts.append(f"now: {printable(item.title, 40)} ({clock(left)} left)")
        elif self.agenda is not None and self.agenda.items:
            parts.append("agenda done")
        elif self.item_hint:
            parts.append(f"now: {self.item_hint}")
        if self.meeting_end_ms is not None:
            left = self.meeting_end_ms - self.media_ms
            parts.append(f"meeting: {clock(left)} left" if left > 0 else f"meeting: {clock(-left)} over time")
        return "  " + "   ".join(parts) if parts else None

    def _row(self, pid: str, bar_width: int) -> str:
        share = self.shares.get(pid, 0.0)
        cells = [f"  {self.name(pid)[:NAME_WIDTH]:<{NAME_WIDTH}}"]
        if bar_width:
            filled = round(share * bar_width)
            cells.append("█" * filled + "·" * (bar_width - filled))
        cells.append(f"{share * 100:3.0f}%")
        cells.append(f"{self.pace.get(pid, ''):<12}")
        notes = []
        if pid in self.speaking:
            notes.append(f"{GREEN}● speaking{RESET}")
        if pid == self.dominant:
            notes.append("◀ dominant")
        if pid not in self.present:
            notes.append("(left)")
        return " ".join(cells) + " " + " ".join(notes)

    def render(self, columns: int = 100, rows: int = 24) -> list[str]:
        """The panel for a ``columns`` × ``rows`` terminal: at most ``rows - 1`` lines (the cursor
        keeps the last), none wider than ``columns - 1``."""
        width, height = max(20, columns - 1), max(1, rows - 1)
        title = f"Prism Room Bot — {self._title}" if self._title else "Prism Room Bot"
        header = f"{BOLD}{title}{RESET}  {clock(self.media_ms)}  {self.published} events"
        top = [header] + ([s] if (s := self._status()) else [])
        people = list(dict.fromkeys(self.present + self.seen))
        silent = [self.name(pid) for pid in self.present if pid not in self.spoken]
        info = []
        dominant = self.name(self.dominant) if self.dominant else None
        if words := balance_words(self.gini, dominant, len(self.shares)):
            info.append("  " + words)
        if silent:
            info.append("  not spoken yet: " + ", ".join(silent))
        if self.vote:
            info.append("  vote: " + self.vote)

        room = height - len(top)
        # people first (at least one row, "+N more" when cut), then the info lines, then recent
        people_room = max(1, room - len(info) - (3 if room - len(info) > 4 else 0))
        if len(people) > people_room:
            shown = sorted(people, key=lambda pid: (pid not in self.speaking, -self.shares.get(pid, 0.0)))
            shown = shown[: max(0, people_room - 1)]
            more = [f"  … and {len(people) - len(shown)} more"]
        else:
            shown, more = people, []
        bar_width = max(0, min(MAX_BAR, width - (NAME_WIDTH + 2) - 5 - 13 - 22))
        bar_width = bar_width if bar_width >= MIN_BAR else 0
        lines = top + [self._row(pid, bar_width) for pid in people if pid in shown] + more
        for line in info:
            if len(lines) < height:
                lines.append(line)
        if height - len(lines) >= 2 and self.recent:
            lines.append(f"  {DIM}─ recent{RESET} " + "─" * max(0, min(40, width - 12)))
            keep = height - len(lines)
            lines.extend(f"  {item.render()}" for item in list(self.recent)[-keep:])
        return [fit(line, width) for line in lines[:height]]

    def draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < self._min_interval:
            return
        self._last_draw = now
        columns, rows = self._size()
        lines = self.render(columns, rows)
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
