"""Enforcement of a ConversationPolicy on media time: plain classes, no asyncio, no Pipecat.

- :class:`RoomPolicy`: what participants do (turns, talk share, transcripts, chat), for the
  ``PolicyEnforcer`` processor, placed before anything that publishes or forwards their text.
- :class:`BotOutputGate`: what the bot says (content guard on its own output, its message bucket
  and turns per minute), for the ``PolicyOutputGate`` processor right before the sink.
- :class:`ToolGate`: which facilitator tools the LLM may call, and how often.
- :class:`InboundRateLimiter`: the ``rate_limiter`` hook of ``InboundValidator``.

Every violation is a ``ConversationPolicyViolation`` naming the rule, never the offending text.
Violations a participant causes are aggregated per participant and rule
(:class:`bot.events.noise.NoiseAggregator`): the first 3 in a window are reported (with their
interrupt requests, if any), the rest of the window as one violation with ``count``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, cast

from bot.events.noise import WINDOW_MS, NoiseAggregator
from bot.generated import ConversationPolicyViolation, FacilitatorMessage, RoomInterruptRequest
from bot.policy.buckets import SlidingWindow, TokenBucket
from bot.policy.guard import GuardResult
from bot.policy.links import LINKS_RULE
from bot.policy.model import Action, Severity
from bot.policy.snapshot import LoadedPolicy

if TYPE_CHECKING:  # imported where a room's policy is built: the session's policy step needs only the limiter
    from bot.analytics.dominance import MonologueDetector

__all__ = [
    "SEVERITY",
    "BotOutputGate",
    "InboundRateLimiter",
    "RoomPolicy",
    "TextDecision",
    "ToolDecision",
    "ToolGate",
    "ViolationKind",
    "ViolationNoise",
    "nudge_text",
    "violation",
]

ViolationKind = Literal["turn_limit", "rate_limit", "content", "tool_denied"]
"""The kinds of ``conversation.policy.violation``."""

SEVERITY: dict[str, Severity] = {
    "turns.maxTurnMs": "medium",
    "turns.maxShare": "low",
    "turns.maxBotTurnsPerMinute": "low",
    "rates.botMessages": "low",
    "rates.inboundMessages": "medium",
    "rates.chatMessages": "low",
    "tools.unknown": "medium",
    "tools.deny": "medium",
    "tools.allow": "medium",
    "tools.rates": "low",
}
"""Severity of the built-in rules (content rules carry their own)."""


def violation(
    loaded: LoadedPolicy,
    rule: str,
    kind: ViolationKind,
    action: Action,
    media_time_ms: int | None,
    participant_id: str | None = None,
    severity: Severity | None = None,
    *,
    count: int | None = None,
    window_ms: int | None = None,
) -> ConversationPolicyViolation:
    """A violation payload; the severity defaults to :data:`SEVERITY` of the rule's family.

    ``count`` and ``window_ms``: an aggregate of that many violations over that window."""
    family = rule if rule in SEVERITY else rule.rsplit(".", 1)[0]
    return ConversationPolicyViolation(
        policy_version=loaded.version,
        rule=rule[:128],
        kind=kind,
        participant_id=participant_id[:128] if participant_id else None,
        action=action,
        severity=(severity or SEVERITY.get(family, "medium")),
        media_time_ms=None if media_time_ms is None else max(0, int(media_time_ms)),
        count=count,
        window_ms=window_ms if count is not None else None,
    )


class ViolationNoise:
    """Per participant and rule, the first violation of a window passes and the rest are counted;
    :meth:`due` gives the aggregate violations (``count``, ``windowMs``) of windows that ended.

    Violations without a participant (the bot's own, tools) pass unchanged.
    """

    def __init__(self, loaded: LoadedPolicy, window_ms: int = WINDOW_MS) -> None:
        self.loaded = loaded
        self.noise = NoiseAggregator(window_ms)

    def admit(self, item: ConversationPolicyViolation, media_time_ms: int) -> bool:
        if item.participant_id is None:
            return True
        key = (item.participant_id, item.rule, item.kind, item.action, item.severity)
        return self.noise.admit(key, media_time_ms)

    def due(self, media_time_ms: int, *, final: bool = False) -> list[ConversationPolicyViolation]:
        out = []
        for summary in self.noise.due(media_time_ms, final=final):
            pid, rule, kind, action, severity = cast(tuple[str, str, ViolationKind, Action, Severity], summary.key)
            out.append(
                violation(
                    self.loaded,
                    rule,
                    kind,
                    action,
                    media_time_ms,
                    pid,
                    severity,
                    count=summary.count,
                    window_ms=summary.window_ms,
                )
            )
        return out


def nudge_text(style: str, share: float) -> str:
    """The nudge a participant over ``turns.maxShare`` receives (no quotes of anything said)."""
    if style == "direct":
        return f"You have had {round(share * 100)}% of the talk time so far. Please pause and let others speak."
    return "Thanks for all your input! Let's give the others a chance to share their thoughts too."


@dataclass
class TextDecision:
    """What to do with a transcript or chat message: ``text`` None = drop it; ``events`` to push."""

    text: str | None
    events: list[Any] = field(default_factory=list)


@dataclass
class _Talk:
    closed_ms: int = 0
    open_since: int | None = None
    present: bool = True


class RoomPolicy:
    """The participant side of a policy: turn limits, share nudges, content guard, chat rate.

    Example::

        room = RoomPolicy(load_policy(None))
        room.speaking(0, "p-alice", True)
        events = room.tick(90_000)     # [ConversationPolicyViolation(turn_limit), RoomInterruptRequest(policy)]
    """

    def __init__(self, loaded: LoadedPolicy, *, bot_id: str | None = None) -> None:
        """Args:
        loaded: the verified policy.
        bot_id: the bot's own participant id (its chat commands are not rate limited).
        """
        self.loaded = loaded
        self.policy = loaded.policy
        self.bot_id = bot_id
        self.guard = loaded.guard
        turns = self.policy.turns
        from bot.analytics.dominance import MonologueDetector, MonologueParams

        self._turns: MonologueDetector | None = (
            MonologueDetector(MonologueParams(monologue_ms=turns.max_turn_ms, repeat_ms=turns.turn_repeat_ms))
            if turns.max_turn_ms is not None
            else None
        )
        self._talk: dict[str, _Talk] = {}
        self._last_nudge: dict[str, int] = {}
        self._chat_buckets: dict[str, TokenBucket] = {}
        self.stats: Counter[str] = Counter()
        self.noise = ViolationNoise(loaded)

    # -- presence and speech ----------------------------------------------------------------

    def joined(self, media_time_ms: int, participant_id: str) -> None:
        if participant_id:
            self._talk.setdefault(participant_id, _Talk()).present = True

    def left(self, media_time_ms: int, participant_id: str) -> None:
        talk = self._talk.get(participant_id)
        if talk is not None:
            self._close(talk, media_time_ms)
            talk.present = False
        if self._turns is not None:
            self._turns.leave(media_time_ms, participant_id)

    def speaking(self, media_time_ms: int, participant_id: str, speaking: bool, duration_ms: int = 0) -> None:
        if not participant_id:
            return
        talk = self._talk.setdefault(participant_id, _Talk())
        if speaking:
            if talk.open_since is None:
                talk.open_since = media_time_ms
        elif talk.open_since is not None:
            self._close(talk, media_time_ms)
        elif talk.closed_ms == 0 and duration_ms > 0:  # joined mid-segment: trust its length
            talk.closed_ms += duration_ms
        if self._turns is not None:
            self._turns.speaking(media_time_ms, participant_id, speaking, duration_ms)

    @staticmethod
    def _close(talk: _Talk, media_time_ms: int) -> None:
        if talk.open_since is not None:
            talk.closed_ms += max(0, media_time_ms - talk.open_since)
            talk.open_since = None

    def talk_ms(self, participant_id: str, now_ms: int) -> int:
        talk = self._talk.get(participant_id)
        if talk is None:
            return 0
        return talk.closed_ms + (max(0, now_ms - talk.open_since) if talk.open_since is not None else 0)

    # -- time-driven rules ------------------------------------------------------------------

    def tick(self, media_time_ms: int) -> list[Any]:
        """Turn limits and share nudges that fell due at ``media_time_ms``."""
        out: list[Any] = []
        if self._turns is not None:
            for request in self._turns.tick(media_time_ms):
                pid = request.target_participant_id
                out.append(violation(self.loaded, "turns.maxTurnMs", "turn_limit", "interrupt", media_time_ms, pid))
                out.append(
                    RoomInterruptRequest(
                        target_participant_id=pid,
                        reason="policy",
                        monologue_ms=request.monologue_ms,
                        media_time_ms=media_time_ms,
                    )
                )
                self.stats["turns.maxTurnMs"] += 1
        out.extend(self._share_nudges(media_time_ms))
        out.extend(self.noise.due(media_time_ms))
        return out

    def close(self, media_time_ms: int) -> list[Any]:
        """The end of the room: the aggregates of every open window."""
        return list(self.noise.due(media_time_ms, final=True))

    def _share_nudges(self, now: int) -> list[Any]:
        turns = self.policy.turns
        if turns.max_share is None or len(self._talk) < 2:
            return []
        talk = {pid: self.talk_ms(pid, now) for pid in self._talk}
        total = sum(talk.values())
        if total <= 0 or total < turns.share_min_talk_ms:
            return []
        out: list[Any] = []
        for pid, ms in talk.items():
            share = ms / total
            if share <= turns.max_share or not self._talk[pid].present or pid == self.bot_id:
                continue
            last = self._last_nudge.get(pid)
            if last is not None and now - last < max(1, turns.nudge_cooldown_ms):
                continue
            self._last_nudge[pid] = now
            self.stats["turns.maxShare"] += 1
            out.append(violation(self.loaded, "turns.maxShare", "turn_limit", "warn", now, pid))
            style = self.policy.facilitation.nudge_style
            if style != "silent":
                out.append(
                    FacilitatorMessage(
                        text=nudge_text(style, share), audience="participant", participant_id=pid, reason="nudge"
                    )
                )
        return out

    # -- text -------------------------------------------------------------------------------

    def transcript(self, media_time_ms: int, participant_id: str, text: str) -> TextDecision:
        """A final transcript: the content guard (channel ``transcript``)."""
        return self._guarded(media_time_ms, participant_id, self.guard.check(text, "transcript"))

    def interim(self, participant_id: str, text: str) -> str | None:
        """An interim transcript: guarded the same way, but reported only when final."""
        return self.guard.check(text, "transcript").text

    def chat(self, media_time_ms: int, participant_id: str, text: str) -> TextDecision:
        """A chat message: the chat bucket of its sender, then the content guard (channel ``chat``)."""
        spec = self.policy.rates.chat_messages
        if spec is not None and participant_id != self.bot_id:
            bucket = self._chat_buckets.setdefault(participant_id, TokenBucket(spec))
            if not bucket.take(media_time_ms):
                self.stats["rates.chatMessages"] += 1
                item = violation(
                    self.loaded, "rates.chatMessages", "rate_limit", "block", media_time_ms, participant_id
                )
                return TextDecision(None, [item] if self.noise.admit(item, media_time_ms) else [])
        return self._guarded(media_time_ms, participant_id, self.guard.check(text, "chat"))

    def _guarded(self, media_time_ms: int, participant_id: str, result: GuardResult) -> TextDecision:
        events: list[Any] = []
        interrupt_reported = False
        for match in result.matches:
            rule = match.rule
            self.stats[match.rule_id] += 1
            item = violation(
                self.loaded, match.rule_id, "content", rule.action, media_time_ms, participant_id or None, rule.severity
            )
            if self.noise.admit(item, media_time_ms):
                events.append(item)
                interrupt_reported |= rule.action == "interrupt"
        if result.interrupt and participant_id and interrupt_reported:  # one request per violation reported
            talk = self._talk.get(participant_id)
            open_ms = max(0, media_time_ms - talk.open_since) if talk and talk.open_since is not None else 0
            events.append(
                RoomInterruptRequest(
                    target_participant_id=participant_id,
                    reason="policy",
                    monologue_ms=open_ms,
                    media_time_ms=media_time_ms,
                )
            )
        return TextDecision(result.text, events)


class BotOutputGate:
    """The bot side: every facilitator message passes the content guard (channel ``bot``), the
    bot's turns per minute and its message bucket, in that order; a refused message consumes
    nothing.

    Example::

        gate = BotOutputGate(load_policy(None))
        message, violations = gate.message(31_000, FacilitatorMessage(text="Hi", audience="room", reason="x"))
    """

    def __init__(self, loaded: LoadedPolicy) -> None:
        self.loaded = loaded
        policy = loaded.policy
        self.guard = loaded.guard
        self.links = loaded.links
        limit = policy.turns.max_bot_turns_per_minute
        self._window = SlidingWindow(limit, 60_000) if limit is not None else None
        self._bucket = TokenBucket(policy.rates.bot_messages) if policy.rates.bot_messages is not None else None
        self.stats: Counter[str] = Counter()

    def message(
        self, media_time_ms: int, message: FacilitatorMessage
    ) -> tuple[FacilitatorMessage | None, list[ConversationPolicyViolation]]:
        """The message to send (possibly redacted) or None, and the violations it caused."""
        result = self.guard.check(message.text, "bot")
        out: list[ConversationPolicyViolation] = []
        for match in result.matches:
            self.stats[match.rule_id] += 1
            action = "block" if match.rule.action == "interrupt" else match.rule.action  # nobody to interrupt
            out.append(
                violation(self.loaded, match.rule_id, "content", action, media_time_ms, None, match.rule.severity)
            )
        if result.text is not None:  # links only to the hosts the policy allows (bot.policy.links)
            links = self.links.check(result.text)
            if links.refused:
                self.stats[LINKS_RULE] += links.refused
                out.append(violation(self.loaded, LINKS_RULE, "content", "redact", media_time_ms, None, "high"))
                result = GuardResult(text=links.text, matches=result.matches, action=result.action)
        if result.text is None or not result.text.strip():
            return None, out
        if self._window is not None and self._window.full(media_time_ms):
            self.stats["turns.maxBotTurnsPerMinute"] += 1
            return None, [
                *out,
                violation(self.loaded, "turns.maxBotTurnsPerMinute", "rate_limit", "block", media_time_ms),
            ]
        if self._bucket is not None and not self._bucket.take(media_time_ms):
            self.stats["rates.botMessages"] += 1
            return None, [*out, violation(self.loaded, "rates.botMessages", "rate_limit", "block", media_time_ms)]
        if self._window is not None:
            self._window.add(media_time_ms)
        if result.text != message.text:
            message = FacilitatorMessage(
                text=result.text,
                audience=message.audience,
                participant_id=message.participant_id,
                reason=message.reason,
            )
        return message, out


@dataclass(frozen=True)
class ToolDecision:
    allowed: bool
    violation: ConversationPolicyViolation | None = None


class ToolGate:
    """Tool allow/deny lists (deny wins) and per-tool buckets, checked before any tool runs.

    Example::

        gate = ToolGate(load_policy(None), known=["start_vote", "close_vote"])
        gate.check(12_000, "start_vote").allowed
    """

    def __init__(self, loaded: LoadedPolicy, known: Iterable[str]) -> None:
        self.loaded = loaded
        self.rules = loaded.policy.tools
        self.known = tuple(known)
        self._buckets = {name: TokenBucket(spec) for name, spec in self.rules.rates.items()}
        self.stats: Counter[str] = Counter()

    def offered(self) -> list[str]:
        """The known tools the policy permits: the only ones advertised to the LLM."""
        return [name for name in self.known if self.rules.permits(name)]

    def check(self, media_time_ms: int, name: str) -> ToolDecision:
        """May the LLM's call of ``name`` run now? A refusal carries its violation."""
        kind: ViolationKind
        if name not in self.known:
            rule, kind = "tools.unknown", "tool_denied"  # never echo a name the LLM made up
        elif name in self.rules.deny:
            rule, kind = f"tools.deny.{name}", "tool_denied"
        elif self.rules.allow is not None and name not in self.rules.allow:
            rule, kind = "tools.allow", "tool_denied"
        elif name in self._buckets and not self._buckets[name].take(media_time_ms):
            rule, kind = f"tools.rates.{name}", "rate_limit"
        else:
            return ToolDecision(True)
        self.stats[rule] += 1
        return ToolDecision(False, violation(self.loaded, rule, kind, "block", media_time_ms))


class InboundRateLimiter:
    """Per-participant token bucket for browser app messages: ``InboundValidator(rate_limiter=...)``.

    Called as ``limiter(sender_id)`` (the validator's hook) or ``limiter(sender_id,
    media_time_ms)``. Without a media time it uses ``clock()``, else the last media time given to
    :meth:`observe`. A refusal returns False (the validator then publishes
    ``events.inbound.rejected`` with reason ``rate_limited``) and reports a
    ``conversation.policy.violation`` (kind ``rate_limit``) through ``on_violation``.

    Example::

        limiter = InboundRateLimiter(loaded, on_violation=lambda v: bus.publish(v, media_time_ms=v.media_time_ms))
        runtime.inbound.rate_limiter = limiter
    """

    def __init__(
        self,
        loaded: LoadedPolicy,
        *,
        on_violation: Callable[[ConversationPolicyViolation], Any] | None = None,
        clock: Callable[[], int] | None = None,
    ) -> None:
        self.loaded = loaded
        self.spec = loaded.policy.rates.inbound_messages
        self.on_violation = on_violation
        self.clock = clock
        self._now = 0
        self._buckets: dict[str, TokenBucket] = {}
        self.rejected: Counter[str] = Counter()
        self.noise = ViolationNoise(loaded)

    def observe(self, media_time_ms: int, *, final: bool = False) -> None:
        """The media clock advanced (fallback time when neither a media time nor a clock is given):
        report the aggregate violations of windows that ended (all of them when ``final``)."""
        self._now = max(self._now, int(media_time_ms))
        for item in self.noise.due(self._now, final=final):
            if self.on_violation is not None:
                self.on_violation(item)

    def __call__(self, sender_id: str, media_time_ms: int | None = None) -> bool:
        if self.spec is None:
            return True
        now = media_time_ms if media_time_ms is not None else (self.clock() if self.clock else self._now)
        bucket = self._buckets.setdefault(sender_id, TokenBucket(self.spec))
        if bucket.take(int(now)):
            return True
        self.rejected[sender_id] += 1
        item = violation(self.loaded, "rates.inboundMessages", "rate_limit", "block", now, sender_id)
        if self.on_violation is not None and self.noise.admit(item, int(now)):
            self.on_violation(item)
        return False
