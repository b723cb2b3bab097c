"""Short, polite sentences the facilitator's voice says when no LLM phrases them.

Every sentence is one breath long (about 2-4 s of speech): a facilitator who talks longer than
that is the monologue it is there to prevent. Names are display names; a participant without one
is addressed without a name rather than by an id.
"""

from __future__ import annotations

__all__ = ["interrupt", "nudge_quiet", "time_box", "topic_shift", "wrapup"]


def _minutes(ms: int) -> str:
    minutes = max(1, round(ms / 60_000))
    return "a minute" if minutes == 1 else f"{minutes} minutes"


def wrapup(remaining_ms: int) -> str:
    """The agenda's wrap-up prompt."""
    if remaining_ms < 45_000:
        return "We're nearly out of time. Let's start wrapping up."
    return f"A quick heads-up: about {_minutes(remaining_ms)} left. Let's start wrapping up."


def time_box(current: str, following: str | None) -> str:
    """An agenda item's time box ran out."""
    if following:
        return f"We're at time for {current}. Shall we move on to {following}?"
    return f"We're at time for {current}, our last item. Let's close it out."


def topic_shift(following: str | None) -> str:
    """The conversation stalled on an item."""
    if following:
        return f"Shall we move on to {following}?"
    return "Shall we move on?"


def nudge_quiet(name: str | None, style: str = "gentle") -> str:
    """Invite a quiet participant in (said to the room, naming them)."""
    if not name:
        return "Let's hear from someone we haven't heard from yet."
    if style == "direct":
        return f"{name}, what's your view?"
    return f"{name}, we haven't heard from you yet. Anything you'd like to add?"


def interrupt(name: str | None, reason: str, next_name: str | None = None) -> str:
    """Carry out an interrupt request: pause the speaker, hand the floor on."""
    who = f", {name}" if name else ""
    if reason == "policy":  # the policy's turn limit
        return f"Thanks{who}, let me pause you there so others can come in."
    if next_name:
        return f"Sorry to cut in{who}. {next_name}, what do you think?"
    return f"Sorry to cut in{who}. Let's hear from someone else too."
