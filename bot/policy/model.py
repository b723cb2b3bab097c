"""The ConversationPolicy model: turn, rate, content, tool and facilitation rules, versioned.

A policy is plain data (pydantic, camelCase on the wire, unknown keys rejected). The model's
defaults are the documented safe default that applies when no policy is configured
(docs/policy.md, "The safe default"). :func:`rule_ids` lists the rules in force: the ids a
``conversation.policy.violation`` can carry.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.alias_generators import to_camel

from bot.policy.links import LINKS_RULE
from bot.policy.regex import PatternError, compile_pattern

__all__ = [
    "ACTIONS",
    "SCHEMA_VERSION",
    "Action",
    "AgendaItemSpec",
    "Channel",
    "ContentRule",
    "ContentRules",
    "ConversationPolicy",
    "Facilitation",
    "NudgeStyle",
    "RateRules",
    "Severity",
    "TokenBucketSpec",
    "ToolRules",
    "TurnRules",
    "VoiceMode",
    "rule_ids",
    "strip_accents",
]

SCHEMA_VERSION: Final = 1
"""Version of the policy document format; a change that old readers would misread bumps it."""

Action = Literal["warn", "redact", "block", "interrupt"]
"""What the bot does about a content match, from mildest to strictest (see :data:`ACTIONS`)."""
ACTIONS: tuple[str, ...] = ("warn", "redact", "block", "interrupt")
"""Strictness order of actions: warn < redact < block < interrupt (= block + interrupt request)."""
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
Channel = Literal["transcript", "chat", "bot"]
CHANNELS: tuple[Channel, ...] = ("transcript", "chat", "bot")
NudgeStyle = Literal["gentle", "direct", "silent"]
VoiceMode = Literal["off", "prompts", "prompts_and_interrupts"]
"""What the facilitator's voice may say when the deployment turns it on (``--voice``)."""

RULE_ID = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
TOOL_NAME = r"^[a-z][a-z0-9_]{0,63}$"


class PolicyModel(BaseModel):
    """Base of every policy model: camelCase aliases, no unknown keys, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True, validate_default=True
    )


def strip_accents(text: str) -> str:
    """NFKD, then drop combining marks (``é`` → ``e``, ``ﬁ`` → ``fi``); case is kept."""
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


# --------------------------------------------------------------------------------------------
# Building blocks
# --------------------------------------------------------------------------------------------


class TokenBucketSpec(PolicyModel):
    """A token bucket on media time (Envoy's ``TokenBucket``: FACILITATION_METRICS §5).

    ``capacity`` tokens at most, and the bucket starts full (the burst); ``refillTokens`` are
    added every ``refillEveryMs`` (the sustained rate is their ratio). Each message takes one.
    """

    capacity: int = Field(ge=1, le=10_000, description="Burst: most tokens the bucket holds; it starts full.")
    refill_tokens: int = Field(default=1, ge=1, le=10_000, description="Tokens added at each refill.")
    refill_every_ms: int = Field(ge=1, le=86_400_000, description="Media time between refills.")

    def slower_than(self, other: TokenBucketSpec) -> bool:
        """True when this bucket's sustained rate is lower than ``other``'s (exact, integers)."""
        return self.refill_tokens * other.refill_every_ms < other.refill_tokens * self.refill_every_ms


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("entries must be unique")
    return values


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


class TurnRules(PolicyModel):
    """How long and how much people (and the bot) may hold the floor."""

    max_turn_ms: int | None = Field(
        default=90_000,
        ge=1_000,
        le=3_600_000,
        description="Longest continuous turn of one participant; past it: violation turn_limit and an "
        "interrupt request (reason policy). Null = no limit.",
    )
    turn_repeat_ms: int = Field(
        default=30_000,
        ge=0,
        le=3_600_000,
        description="If the turn goes on, enforce again every this much longer; 0 = once per turn.",
    )
    max_share: float | None = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="Largest share of the room's talk time before the participant is nudged (violation "
        "turn_limit, action warn). Null = no limit.",
    )
    share_min_talk_ms: int = Field(
        default=60_000,
        ge=0,
        le=86_400_000,
        description="No share nudge before the room has this much talk time in total.",
    )
    nudge_cooldown_ms: int = Field(
        default=120_000,
        ge=0,
        le=86_400_000,
        description="At most one share nudge per participant per this much media time.",
    )
    max_bot_turns_per_minute: int | None = Field(
        default=4, ge=0, le=60, description="Facilitator messages in any 60 s of media time. Null = no limit."
    )


class RateRules(PolicyModel):
    """Token buckets for the bot's messages and for what participants send."""

    bot_messages: TokenBucketSpec | None = Field(
        default=TokenBucketSpec(capacity=3, refill_tokens=1, refill_every_ms=20_000),
        description="Facilitator messages (room and direct). Null = no limit.",
    )
    inbound_messages: TokenBucketSpec | None = Field(
        default=TokenBucketSpec(capacity=20, refill_tokens=5, refill_every_ms=1_000),
        description="App messages (browser envelopes) per participant. Null = no limit.",
    )
    chat_messages: TokenBucketSpec | None = Field(
        default=TokenBucketSpec(capacity=5, refill_tokens=1, refill_every_ms=2_000),
        description="Chat messages per participant. Null = no limit.",
    )


def _check_pattern(pattern: str) -> str:
    """The guard's own compiler (RE2): a pattern it cannot run in linear time never gets in."""
    try:
        compile_pattern(strip_accents(pattern))
    except PatternError as exc:
        raise ValueError(str(exc)) from None
    return pattern


def _check_phrase(phrase: str) -> str:
    if not strip_accents(phrase).split():
        raise ValueError("is empty once accents and spaces are removed")
    return phrase


Phrase = Annotated[str, Field(min_length=1, max_length=200), AfterValidator(_check_phrase)]
LinkHost = Annotated[
    str, Field(min_length=1, max_length=253, pattern=r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
]
Pattern = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_check_pattern)]


class ContentRule(PolicyModel):
    """Phrases and regular expressions to catch, where, and what to do about a match.

    Matching is case- and accent-insensitive: the text is NFKD-normalized, combining marks are
    dropped and it is casefolded before matching. A phrase matches whole words (``ass`` does not
    match ``class``), its spaces match any run of whitespace. A pattern is an RE2 regular
    expression (Python syntax without look-around or backreferences, which RE2 rejects),
    matched case-insensitively against that normalized text (write it without accents). RE2 runs
    in time linear in the text whatever the pattern, so a tenant's pattern cannot stall a room.
    """

    id: str = Field(
        pattern=RULE_ID, description="Rule id; violations carry content.<id>. Never put the phrase itself in the id."
    )
    phrases: list[Phrase] = Field(default_factory=list, max_length=500, description="Phrases, matched as whole words.")
    patterns: list[Pattern] = Field(
        default_factory=list, max_length=100, description="Regular expressions on the normalized text."
    )
    action: Action = Field(
        description="warn: pass on, report; redact: replace the match; block: drop the message; interrupt: drop it and ask to interrupt the speaker."
    )
    severity: Severity = Field(default="medium", description="Severity carried by the violation.")
    applies_to: list[Channel] = Field(
        default_factory=lambda: list(CHANNELS),
        min_length=1,
        description="Where the rule applies: transcript, chat, bot (the bot's own messages).",
    )

    @field_validator("applies_to")
    @classmethod
    def _unique_channels(cls, channels: list[str]) -> list[str]:
        return _unique(channels)

    @model_validator(mode="after")
    def _something_to_match(self) -> ContentRule:
        if not self.phrases and not self.patterns:
            raise ValueError("a content rule needs at least one phrase or pattern")
        return self


MAX_TOTAL_PATTERNS = 128
"""Patterns in a whole policy (every rule, after composition): each is one RE2 pass per text."""
MAX_TOTAL_PHRASES = 2_000
"""Phrases in a whole policy."""
MAX_TOTAL_PHRASE_CHARS = 50_000
"""Characters of all phrases together: phrases compile to RE2 alternations of about 1,000
characters each (:data:`bot.policy.regex.PHRASE_CHUNK_CHARS`), so this bounds their number."""


class ContentRules(PolicyModel):
    """The content guard: rules applied to transcripts, chat and the bot's own output.

    Bounded work per text: at most :data:`MAX_TOTAL_PATTERNS` patterns,
    :data:`MAX_TOTAL_PHRASES` phrases and :data:`MAX_TOTAL_PHRASE_CHARS` characters of phrases in
    the whole (composed) policy.
    """

    rules: list[ContentRule] = Field(default_factory=list, max_length=200, description="Content rules; ids are unique.")
    replacement: str = Field(
        default="[redacted]", min_length=1, max_length=32, description="What a redacted match is replaced with."
    )
    allowed_link_hosts: list[LinkHost] | None = Field(
        default_factory=list,
        max_length=100,
        description="Hosts the bot may link to in its own messages (docs.acme.com, or *.acme.com for its "
        "subdomains); any other link is replaced and reported as content.links. Empty (the default) = the "
        "bot sends no links; null = any host. Later layers can only narrow it (intersection).",
    )

    @field_validator("rules")
    @classmethod
    def _unique_ids(cls, rules: list[ContentRule]) -> list[ContentRule]:
        _unique([r.id for r in rules])
        patterns = sum(len(r.patterns) for r in rules)
        if patterns > MAX_TOTAL_PATTERNS:
            raise ValueError(f"at most {MAX_TOTAL_PATTERNS} patterns in all rules together, got {patterns}")
        phrases = sum(len(r.phrases) for r in rules)
        if phrases > MAX_TOTAL_PHRASES:
            raise ValueError(f"at most {MAX_TOTAL_PHRASES} phrases in all rules together, got {phrases}")
        chars = sum(len(p) for r in rules for p in r.phrases)
        if chars > MAX_TOTAL_PHRASE_CHARS:
            raise ValueError(
                f"at most {MAX_TOTAL_PHRASE_CHARS} characters of phrases in all rules together, got {chars}"
            )
        return rules


ToolName = Annotated[str, Field(pattern=TOOL_NAME)]


class ToolRules(PolicyModel):
    """Which facilitator tools the LLM may call, and how often. A name in ``deny`` is denied even if allowed."""

    allow: list[ToolName] | None = Field(
        default=None, max_length=64, description="Tools the LLM may call; null = every facilitator tool."
    )
    deny: list[ToolName] = Field(
        default_factory=list, max_length=64, description="Tools the LLM may never call (deny wins over allow)."
    )
    rates: dict[ToolName, TokenBucketSpec] = Field(
        default_factory=lambda: {
            "start_vote": TokenBucketSpec(capacity=1, refill_tokens=1, refill_every_ms=120_000),
            "nudge_participant": TokenBucketSpec(capacity=2, refill_tokens=1, refill_every_ms=60_000),
        },
        description="Per-tool token bucket on media time.",
    )

    @field_validator("allow", "deny")
    @classmethod
    def _unique_names(cls, names: list[str] | None) -> list[str] | None:
        return names if names is None else _unique(names)

    def permits(self, tool: str) -> bool:
        """Allowed and not denied (deny wins)."""
        return tool not in self.deny and (self.allow is None or tool in self.allow)


class AgendaItemSpec(PolicyModel):
    title: str = Field(min_length=1, max_length=200)
    timebox_ms: int = Field(ge=1_000, le=86_400_000)


class Facilitation(PolicyModel):
    """How the facilitator behaves (settings: a later layer replaces them)."""

    agenda: list[AgendaItemSpec] = Field(
        default_factory=list,
        max_length=50,
        description="Agenda with time boxes; empty = the assistant's or scenario's agenda.",
    )
    wrap_up_lead_ms: int | None = Field(
        default=None,
        ge=0,
        le=86_400_000,
        description="Prompt the wrap-up this long before the end; null = the Agenda default (2 min, or 20 % of a short meeting).",
    )
    nudge_style: NudgeStyle = Field(
        default="gentle", description="gentle or direct nudge wording; silent = report the violation, send no nudge."
    )
    summary_every_ms: int = Field(
        default=30_000,
        ge=5_000,
        le=3_600_000,
        description="The LLM gets a room summary at least this often (media time) while the room is active.",
    )
    min_gap_ms: int = Field(
        default=10_000,
        ge=0,
        le=3_600_000,
        description="At least this much media time between two LLM requests, whatever triggers them.",
    )
    max_transcript_lines: int = Field(
        default=12, ge=0, le=100, description="Recent (guarded) transcript and chat lines in the summary."
    )
    voice: VoiceMode = Field(
        default="prompts_and_interrupts",
        description="What the bot may say aloud when the deployment turns its voice on (--voice): off, prompts "
        "(wrap-up, time box, topic shift, nudges, LLM messages) or prompts_and_interrupts (also interrupt requests).",
    )
    voice_max_share: float = Field(
        default=0.2,
        gt=0.0,
        le=1.0,
        description="The bot's spoken share of all talk time (participants' and its own) may not pass this; "
        "an utterance that would pass it is not spoken.",
    )
    voice_min_gap_ms: int = Field(
        default=15_000,
        ge=0,
        le=3_600_000,
        description="At least this much media time from the end of one spoken utterance to the start of the next.",
    )

    @model_serializer(mode="wrap")
    def _omit_default_voice(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Leave the voice settings out while they are the defaults, so every policy written before
        the voice existed keeps its ``policyVersion`` hash (and stored snapshots still verify)."""
        data: dict[str, Any] = handler(self)
        for name, alias in _VOICE_FIELDS:
            if getattr(self, name) == Facilitation.model_fields[name].default:
                data.pop(alias, None)
                data.pop(name, None)
        return data


_VOICE_FIELDS: tuple[tuple[str, str], ...] = (
    ("voice", "voice"),
    ("voice_max_share", "voiceMaxShare"),
    ("voice_min_gap_ms", "voiceMinGapMs"),
)


class ConversationPolicy(PolicyModel):
    """The effective policy of one room: what a composed snapshot carries."""

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Policy format version.")
    turns: TurnRules = Field(default_factory=TurnRules)
    rates: RateRules = Field(default_factory=RateRules)
    content: ContentRules = Field(default_factory=ContentRules)
    tools: ToolRules = Field(default_factory=ToolRules)
    facilitation: Facilitation = Field(default_factory=Facilitation)


SECTIONS: dict[str, type[PolicyModel]] = {
    "turns": TurnRules,
    "rates": RateRules,
    "content": ContentRules,
    "tools": ToolRules,
    "facilitation": Facilitation,
}
"""The policy's sections, by Python name."""


def rule_ids(policy: ConversationPolicy) -> list[str]:
    """Ids of the rules in force, in a stable order: what a violation's ``rule`` can be.

    Limits set to null and empty lists add nothing; ``tools.unknown`` (a call to a tool the
    facilitator does not have) is always in force.
    """
    t, r = policy.turns, policy.rates
    ids: list[str] = []
    if t.max_turn_ms is not None:
        ids.append("turns.maxTurnMs")
    if t.max_share is not None:
        ids.append("turns.maxShare")
    if t.max_bot_turns_per_minute is not None:
        ids.append("turns.maxBotTurnsPerMinute")
    for name in ("bot_messages", "inbound_messages", "chat_messages"):
        if getattr(r, name) is not None:
            ids.append(f"rates.{to_camel(name)}")
    ids.extend(f"content.{rule.id}" for rule in policy.content.rules)
    if policy.content.allowed_link_hosts is not None:
        ids.append(LINKS_RULE)
    if policy.tools.allow is not None:
        ids.append("tools.allow")
    ids.extend(f"tools.deny.{name}" for name in policy.tools.deny)
    ids.extend(f"tools.rates.{name}" for name in sorted(policy.tools.rates))
    ids.append("tools.unknown")
    return ids
