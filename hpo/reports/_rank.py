"""Ranking trials by a sweep's goal: the one ordering every report and result uses."""

from __future__ import annotations

from collections.abc import Iterable

from trackers import Goal, TrialRecord, TrialState


def rank(trials: Iterable[TrialRecord], goal: Goal) -> list[TrialRecord]:
    """Completed trials from best to worst (ties by number), then every other trial by number.
    The same order as ``Store.trials(..., ranked=True)``."""
    done: list[tuple[float, TrialRecord]] = []
    rest: list[TrialRecord] = []
    for t in trials:
        if t.state is TrialState.COMPLETED and t.value is not None:
            done.append((t.value, t))
        else:
            rest.append(t)
    sign = goal.sign()
    done.sort(key=lambda vt: (sign * vt[0], vt[1].number))
    rest.sort(key=lambda t: t.number)
    return [t for _, t in done] + rest


def best(trials: Iterable[TrialRecord], goal: Goal) -> TrialRecord | None:
    """The best completed trial, or None when none completed."""
    ranked = rank(trials, goal)
    return ranked[0] if ranked and ranked[0].state is TrialState.COMPLETED else None
