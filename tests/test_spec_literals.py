"""The Literal types the code names for spec enums say exactly what the generated models accept.

mypy checks that every value the code passes is one the model accepts; this checks the other way
round too, so a value added to the spec shows up here instead of going unnoticed.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest

from bot.analytics.dominance import ScoreTrigger
from bot.analytics.overlaps import OverlapKind
from bot.analytics.pacing import PacingState
from bot.events.inbound import RejectReason
from bot.forwarding.forwarder import DeferredReason
from bot.generated import (
    AssistantSessionEnded,
    AssistantSessionFailed,
    ConversationPolicyViolation,
    EventsInboundRejected,
    FacilitatorSpeechStarted,
    FacilitatorSpeechStopped,
    ForwardingDeliveryDeferred,
    RoomDominanceScore,
    RoomInterruptExecuted,
    RoomOverlapDetected,
    RoomPacingUpdated,
)
from bot.policy.enforce import ViolationKind
from bot.policy.model import Action, Severity
from bot.session.control import EndReason, FailedStage
from bot.voice.director import SkipReason, StopReason, UtteranceKind


@pytest.mark.parametrize(
    ("alias", "model", "field"),
    [
        (PacingState, RoomPacingUpdated, "state"),
        (OverlapKind, RoomOverlapDetected, "kind"),
        (ScoreTrigger, RoomDominanceScore, "trigger"),
        (RejectReason, EventsInboundRejected, "reason"),
        (DeferredReason, ForwardingDeliveryDeferred, "reason"),
        (ViolationKind, ConversationPolicyViolation, "kind"),
        (Action, ConversationPolicyViolation, "action"),
        (Severity, ConversationPolicyViolation, "severity"),
        (FailedStage, AssistantSessionFailed, "stage"),
        (EndReason, AssistantSessionEnded, "reason"),
        (UtteranceKind, FacilitatorSpeechStarted, "kind"),
        (UtteranceKind, FacilitatorSpeechStopped, "kind"),
        (StopReason, FacilitatorSpeechStopped, "reason"),
        (SkipReason, RoomInterruptExecuted, "skip_reason"),
    ],
)
def test_alias_matches_the_generated_field(alias: Any, model: Any, field: str) -> None:
    args = get_args(model.model_fields[field].annotation)
    if type(None) in args:  # an optional field: the Literal inside it
        (inner,) = [a for a in args if a is not type(None)]
        args = get_args(inner)
    assert set(get_args(alias)) == set(args)


def test_no_topic_id_is_typed_by_hand_in_code() -> None:
    """Python names a topic only through the generated ``Topic`` enum (a renamed topic then fails
    type checks, not silently at run time). Scenario-authoring tools write test data as JSON and
    are exempt, as is the generated code itself."""
    import ast
    from pathlib import Path

    from bot.generated.topics import Topic

    repo = Path(__file__).resolve().parents[1]
    ids = {t.value for t in Topic}
    exempt = (repo / "bot" / "generated", repo / "bot" / "scenarios" / "tools")
    found = []
    for folder in ("bot", "supervisor", "benchmarks", "codegen"):
        for path in sorted((repo / folder).rglob("*.py")):
            if any(path.is_relative_to(e) for e in exempt):
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in ids:
                    found.append(f"{path.relative_to(repo)}:{node.lineno}: {node.value}")
    assert found == [], "use bot.generated.topics.Topic:\n" + "\n".join(found)
