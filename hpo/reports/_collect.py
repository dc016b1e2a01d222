"""Everything a sweep report shows, read from the store once, with bounded work.

A sweep may have 100,000 trials: the trials are read once (one query), the step series only
for the best few, and the plots take a sample (:func:`plot_sample`) so that the page stays a
few megabytes whatever the sweep's size.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo.reports._rank import rank
from search_spaces import SearchSpace, SearchSpaceError
from trackers import Goal, MetricPoint, Store, SweepRecord, TrialRecord, TrialState

#: Trials whose step series are drawn as learning curves (the best ones).
MAX_CURVES = 50
#: Failed trials listed with their errors (the latest ones).
MAX_FAILED = 50
FAILED_STATES = (TrialState.FAILED, TrialState.TIMED_OUT)


@dataclass(frozen=True)
class SweepData:
    """One sweep as recorded: its trials by number, the same trials ranked, and the step
    series of the best ``MAX_CURVES`` trials that reported any."""

    sweep: SweepRecord
    counts: Mapping[TrialState, int]
    trials: Sequence[TrialRecord]
    ranked: Sequence[TrialRecord]
    space: SearchSpace | None
    series: Mapping[int, Mapping[str, Sequence[MetricPoint]]]
    environment: Mapping[str, Any] | None

    @property
    def total(self) -> int:
        return len(self.trials)

    @property
    def completed(self) -> list[TrialRecord]:
        """Completed trials with a finite value, by number."""
        return [
            t
            for t in self.trials
            if t.state is TrialState.COMPLETED and t.value is not None and math.isfinite(t.value)
        ]

    @property
    def failed(self) -> list[TrialRecord]:
        """Failed and timed-out trials, by number."""
        return [t for t in self.trials if t.state in FAILED_STATES]

    def param_names(self) -> list[str]:
        """Parameters in the space's order, then any recorded that the space lacks."""
        names = list(self.space.names) if self.space is not None else []
        for t in self.trials:
            names.extend(k for k in t.params if k not in names)
        return names


def collect(store: Store, sweep_ref: int | str) -> SweepData:
    """Read sweep ``sweep_ref`` (name or id) for a report."""
    sw = store.get_sweep(sweep_ref)
    trials = store.trials(sw.id)
    ranked = rank(trials, sw.goal)
    series: dict[int, dict[str, list[MetricPoint]]] = {}
    for t in ranked:
        if len(series) >= MAX_CURVES or t.state is not TrialState.COMPLETED:
            break
        got = store.metric_series(t.stored_ids()[0])
        if got:
            series[t.number] = got
    env = None
    if sw.environment_id is not None:
        env = store.get_environment(sw.environment_id)
    counts: dict[TrialState, int] = {}
    for t in trials:
        counts[t.state] = counts.get(t.state, 0) + 1
    return SweepData(
        sweep=sw,
        counts=counts,
        trials=trials,
        ranked=ranked,
        space=_space(sw),
        series=series,
        environment=env,
    )


def _space(sw: SweepRecord) -> SearchSpace | None:
    try:
        return SearchSpace.from_json(sw.space)
    except (SearchSpaceError, TypeError, KeyError):
        return None  # an old or hand-made record: the plots infer from the values


def plot_sample(
    trials: Sequence[TrialRecord], k: int, goal: Goal, *, seed: int = 0
) -> list[TrialRecord]:
    """At most ``k`` of ``trials`` (completed ones) for a plot: the best fifth of ``k`` always,
    the rest a seeded uniform sample, returned by trial number. All of them when they fit."""
    if len(trials) <= k:
        return list(trials)
    ordered = rank(trials, goal)
    keep = ordered[: k // 5]
    rest = ordered[k // 5 :]
    pick = np.random.default_rng(seed).choice(len(rest), k - len(keep), replace=False)
    chosen = keep + [rest[i] for i in pick]
    return sorted(chosen, key=lambda t: t.number)
