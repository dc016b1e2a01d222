"""Ranking trials by a sweep's goal: the one ordering every report and result uses."""

from __future__ import annotations

from collections.abc import Iterable

from trackers import Goal, TrialRecord, TrialState


def rank(trials: Iterable[TrialRecord], goal: Goal) -> list[TrialRecord]:
    """Completed trials from best to worst (ties by number), then every other trial by number.
    The same order as ``Store.trials(..., ranked=True)``."""
    done: list[TrialRecord] = []
    rest: list[TrialRecord] = []
    for t in trials:
        (done if t.state is TrialState.COMPLETED and t.value is not None else rest).append(t)
    sign = goal.sign()
    done.sort(key=lambda t: (sign * t.value, t.number))  # type: ignore[operator]
    rest.sort(key=lambda t: t.number)
    return done + rest


def best(trials: Iterable[TrialRecord], goal: Goal) -> TrialRecord | None:
    """The best completed trial, or None when none completed."""
    ranked = rank(trials, goal)
    return ranked[0] if ranked and ranked[0].state is TrialState.COMPLETED else None
