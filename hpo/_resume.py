"""Rebuilding a sweep's search from its recorded trials, and deciding what to run again.

The store is the truth: a resumed sweep continues from the trials it holds. Trials a dead
driver left running are interrupted (not their fault) and run again with the same params and
seed; failed trials run again while their retries last. Every rerun is a new trial, with the
next number, naming the trial it repeats in ``rerun_of``: no number is ever used twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from hpo.strategies._base import Observation, Strategy
from trackers import TrialRecord, TrialState

#: Outcomes a retry can repeat: the trial's own failure, not the driver stopping.
RETRYABLE = frozenset({TrialState.FAILED, TrialState.TIMED_OUT})


@dataclass(frozen=True, slots=True)
class Rerun:
    """A trial to run again: same params, seed and budget as ``of``; ``attempt`` is the
    rerun's own attempt number (2 for the first rerun of a trial)."""

    of: int
    params: dict[str, Any]
    seed: int
    budget: float | None
    attempt: int


@dataclass
class Rebuilt:
    """What a resumed engine starts from."""

    next_number: int = 0
    counted: int = 0  # trials that count against the budget
    reruns: list[Rerun] = field(default_factory=list)


def observation(t: TrialRecord) -> Observation:
    return Observation(
        number=t.number, params=t.params, state=t.state, value=t.value, budget=t.budget
    )


def rebuild_legs(
    history: Sequence[TrialRecord], legs: Sequence[dict[str, Any]], strategy: Strategy
) -> None:
    """Restore a multi-fidelity ``strategy`` from the trials and the ends of their legs (the
    store's event log): its rungs, promotions and pending decisions are the recorded ones. It
    reruns interrupted legs itself (same trial number, same checkpoint directory)."""
    params = {t.number: t.params for t in history}
    strategy.restore_legs(
        [observation(t) for t in sorted(history, key=lambda t: t.number)],
        [
            Observation(
                number=leg["trial"],
                params=params.get(leg["trial"], {}),
                state=leg["state"],
                value=leg["value"],
                budget=leg["budget"],
            )
            for leg in legs
        ],
    )


def attempts_of(trials: Iterable[TrialRecord]) -> dict[int, int]:
    """Attempt number of each trial: 1, or one more than the trial it reruns."""
    out: dict[int, int] = {}
    for t in sorted(trials, key=lambda t: t.number):
        out[t.number] = 1 if t.rerun_of is None else out.get(t.rerun_of, 1) + 1
    return out


def rebuild(
    history: Sequence[TrialRecord],
    strategy: Strategy,
    *,
    retries: int,
    rerun_interrupted: bool,
) -> Rebuilt:
    """Restore ``strategy`` from ``history`` and work out the reruns still owed.

    The strategy replays only the trials it suggested itself (not reruns), in number order,
    so seeded strategies continue exactly where they were; reruns' outcomes are told after.
    """
    ordered = sorted(history, key=lambda t: t.number)
    strategy.restore([observation(t) for t in ordered if t.rerun_of is None])
    for t in ordered:
        if t.rerun_of is not None and t.state.is_finished:
            strategy.tell(observation(t))
    rebuilt = Rebuilt(next_number=(ordered[-1].number + 1) if ordered else 0)
    attempts = attempts_of(ordered)
    covered = {t.rerun_of for t in ordered if t.rerun_of is not None}
    for t in ordered:
        if t.number in covered:
            continue  # a later attempt stands for this one
        owed = (t.state is TrialState.INTERRUPTED and rerun_interrupted) or (
            t.state in RETRYABLE and attempts[t.number] <= retries
        )
        if owed:
            rebuilt.reruns.append(
                Rerun(
                    of=t.number,
                    params=dict(t.params),
                    seed=t.seed or 0,
                    budget=t.budget,
                    attempt=attempts[t.number] + 1,
                )
            )
        elif t.state.is_finished and t.state is not TrialState.INTERRUPTED:
            rebuilt.counted += 1
    return rebuilt
