"""The one log budget the forwarder and the supervisor share."""

from __future__ import annotations

from bot.core.log_budget import LogBudget


def test_the_first_burst_then_one_per_every_saying_how_many_were_left_out() -> None:
    budget = LogBudget(burst=3, every=5)
    taken = [budget.take() for _ in range(18)]
    logged = [(i + 1, skipped) for i, (log, skipped) in enumerate(taken) if log]
    assert logged == [(1, 0), (2, 0), (3, 0), (8, 4), (13, 4), (18, 4)]
    assert LogBudget.suffix(4) == " (4 more like it not logged)"
    assert LogBudget.suffix(0) == ""


def test_the_supervisor_and_the_forwarder_use_the_same_budget() -> None:
    import bot.forwarding.forwarder as forwarder
    import supervisor.logbudget as supervisor_budget

    assert supervisor_budget.LogBudget is LogBudget
    assert forwarder.LogBudget is LogBudget
