"""Parameter importance by fANOVA, through Optuna's evaluator.

hpo's completed trials are copied into an in-memory Optuna study (``optuna.create_trial`` with
distributions built from the sweep's search space) and handed to
``optuna.importance.FanovaImportanceEvaluator``: a random forest (scikit-learn) fitted on the
trials, and the share of the objective's variance each parameter explains. Optuna and
scikit-learn are the ``report`` extra; without them the report says so instead of failing.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from search_spaces import Categorical, Constant, Float, Int, SearchSpace
from trackers import Goal, TrialRecord, TrialState

#: fANOVA fits a forest on every trial given; past this many it takes a seeded sample.
MAX_TRIALS = 1000
#: The forest. Optuna's default (64 fully grown trees) took 12 s on 500 trials and 59 s on
#: 2,000 here; 32 trees of depth 8 took 1.3 s and 5.7 s and rated the same parameters within
#: 0.01 of it (benchmarks/report_scale.py's space).
N_TREES = 32
MAX_DEPTH = 8
#: Fewer completed trials than this give no meaningful variance decomposition.
MIN_TRIALS = 8
MISSING = 'parameter importance needs Optuna and scikit-learn: pip install "hpo[report]"'


@dataclass(frozen=True)
class Importance:
    """Each rated parameter's share of the metric's variance (summing to 1, largest first), or
    why there is none. ``notes`` say what was left out and why."""

    scores: Mapping[str, float] = field(default_factory=dict)
    method: str = ""
    trials_used: int = 0
    unavailable: str | None = None
    notes: tuple[str, ...] = ()


def param_importance(
    trials: Sequence[TrialRecord], space: SearchSpace | None, goal: Goal, *, seed: int = 0
) -> Importance:
    """fANOVA importance of the parameters over the completed ``trials``.

    Conditional parameters (those with a ``when``) are not rated: they are missing from the
    trials where they are inactive, and fANOVA needs every parameter in every trial.
    """
    try:
        import optuna
        import sklearn  # noqa: F401  (fANOVA's forest; fail here rather than halfway)
        from optuna.importance import FanovaImportanceEvaluator, get_param_importances
    except ImportError:
        return Importance(unavailable=MISSING)
    done = [
        t for t in trials if t.state is TrialState.COMPLETED and t.value is not None and t.params
    ]
    if len(done) < MIN_TRIALS:
        return Importance(
            unavailable=f"{len(done)} completed trials: importance needs at least {MIN_TRIALS}"
        )
    distributions, notes = _distributions(done, space)
    if not distributions:
        return Importance(
            unavailable="no parameter to rate (every one is constant or conditional)",
            notes=tuple(notes),
        )
    if len(done) > MAX_TRIALS:
        pick = np.random.default_rng(seed).choice(len(done), MAX_TRIALS, replace=False)
        done = [done[i] for i in sorted(pick)]
        notes.append(f"fitted on a random sample of {MAX_TRIALS:,} completed trials")
    frozen = []
    skipped = 0
    for t in done:
        params = {k: t.params[k] for k in distributions if k in t.params}
        if len(params) != len(distributions) or t.value is None:  # (completed: never None)
            skipped += 1
            continue
        try:
            frozen.append(
                optuna.trial.create_trial(
                    params=params,
                    distributions={k: distributions[k] for k in params},
                    value=float(t.value),
                )
            )
        except ValueError:  # a recorded value outside the space (e.g. the space was edited)
            skipped += 1
    if skipped:
        notes.append(f"{skipped} trials left out: a parameter missing or outside its range")
    if len(frozen) < MIN_TRIALS:
        return Importance(
            unavailable=f"{len(frozen)} usable trials: importance needs at least {MIN_TRIALS}",
            notes=tuple(notes),
        )
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(logging.WARNING)  # no "A new study created" line on stderr
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            study = optuna.create_study(
                direction="minimize" if goal is Goal.MINIMIZE else "maximize"
            )
            study.add_trials(frozen)
            scores = get_param_importances(
                study,
                evaluator=FanovaImportanceEvaluator(
                    n_trees=N_TREES, max_depth=MAX_DEPTH, seed=seed
                ),
                params=list(distributions),
                normalize=True,
            )
    finally:
        optuna.logging.set_verbosity(level)
    return Importance(
        scores={k: float(v) for k, v in scores.items() if math.isfinite(v)},
        method=f"fANOVA (Optuna's evaluator, {N_TREES} trees of depth {MAX_DEPTH})",
        trials_used=len(frozen),
        notes=tuple(notes),
    )


def _distributions(
    trials: Sequence[TrialRecord], space: SearchSpace | None
) -> tuple[dict[str, Any], list[str]]:
    """Optuna distributions of the parameters to rate, and notes on those left out."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    notes: list[str] = []
    conditional: list[str] = []
    if space is None:
        return _inferred(trials), notes
    for p in space:
        if isinstance(p, Constant):
            continue
        if p.when:  # an unconditional parameter has an empty when
            conditional.append(p.name)
            continue
        if isinstance(p, Categorical):
            if len(p.choices) > 1:
                out[p.name] = CategoricalDistribution(list(p.choices))
        elif isinstance(p, Float):
            # Optuna allows a step or a log scale, not both; the scale matters more here.
            step = None if p.log else p.step
            out[p.name] = _or_plain(FloatDistribution, p.low, p.high, log=p.log, step=step)
        elif isinstance(p, Int):
            step = 1 if p.log else p.step
            out[p.name] = _or_plain(IntDistribution, p.low, p.high, log=p.log, step=step)
    if conditional:
        notes.append(
            "not rated, being conditional (absent where inactive): " + ", ".join(conditional)
        )
    return out, notes


def _or_plain(kind: Any, low: Any, high: Any, *, log: bool, step: Any) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Optuna warns when high - low is not whole steps
            return kind(low, high, log=log, step=step)
    except ValueError:
        return kind(low, high)


def _inferred(trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """Distributions from the recorded values alone, for a sweep whose space can't be read:
    numbers span what was seen, anything else is a category; params not in every trial are
    left out."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    names = set(trials[0].params)
    for t in trials[1:]:
        names &= set(t.params)
    out: dict[str, Any] = {}
    for name in sorted(names):
        values = [t.params[name] for t in trials]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and min(values) < max(values):
            out[name] = FloatDistribution(float(min(values)), float(max(values)))
        elif not numeric:
            choices = list(dict.fromkeys(values))
            if len(choices) > 1 and all(isinstance(c, (str, int, float, bool)) for c in choices):
                out[name] = CategoricalDistribution(choices)
    return out
