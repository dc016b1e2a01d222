"""Early-stopping rules (``early_terminate`` in a sweep config): stop a running trial whose
reported learning curve is already worse than its peers', with any strategy.

A rule sees every report of the sweep metric with a step (``hpo.report(step=..., metric=...)``)
and answers whether that trial should stop; the engine then asks the trial to stop
(``trial.should_stop()``, or the stop file of a command) and records it as pruned at the step
and value where it stopped. Rules are rebuilt from the store's metric series on resume.

- ``median`` (Golovin et al., 2017; Optuna's MedianPruner): stop when the trial's best value so
  far is worse than the median of completed trials' values at the same step.
- ``hyperband`` (the W&B convention; asynchronous successive halving as a stopping rule, like
  Ray Tune's ASHAScheduler): at milestones ``min_iter * eta**k`` (or ``max_iter / eta**k`` for
  ``k = 1..s``), stop when the trial's best value so far is outside the best ``1/eta`` of the
  values earlier trials had at that milestone.
"""

from __future__ import annotations

import bisect
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from hpo._errors import ConfigError
from trackers._states import Goal, TrialState

__all__ = ["HyperbandStopping", "MedianStopping", "StopRuleKind", "StoppingRule", "make_rule"]

StopRuleKind = Literal["median", "hyperband"]


class StoppingRule(ABC):
    """Base of the rules: keeps each running trial's best-so-far, in the goal's direction."""

    kind: StopRuleKind

    def __init__(self, goal: Goal) -> None:
        self.goal = Goal(goal)
        self._sign = self.goal.sign()  # losses: smaller is better
        self._best: dict[int, float] = {}  # trial -> best loss reported so far

    def report(self, number: int, step: int, value: float) -> str | None:
        """Trial ``number`` reported ``value`` at ``step``: None to go on, else why it stops."""
        loss = self._sign * value if math.isfinite(value) else math.inf
        best = min(self._best.get(number, math.inf), loss)
        self._best[number] = best
        return self._judge(number, step, loss, best)

    @abstractmethod
    def _judge(self, number: int, step: int, loss: float, best: float) -> str | None: ...

    def finished(self, number: int, state: TrialState) -> None:
        """Trial ``number`` ended in ``state``."""
        self._best.pop(number, None)

    def restore(
        self, series: Mapping[int, list[tuple[int, float]]], states: Mapping[int, TrialState]
    ) -> None:
        """Replay the sweep's recorded curves (trial -> [(step, value)]) and final states."""
        for number in sorted(series):
            for step, value in series[number]:
                self.report(number, step, value)
            state = states.get(number)
            if state is not None and state.is_finished:
                self.finished(number, state)

    def _fmt(self, loss: float) -> str:
        return f"{self._sign * loss:.6g}"

    @abstractmethod
    def options(self) -> dict[str, Any]:
        """The rule as recorded with the sweep (the config's ``early_terminate``)."""


class MedianStopping(StoppingRule):
    """Stop when the best value so far is worse than the median, at the same step, of the
    completed trials that reported that step; only after ``min_trials`` such trials and from
    step ``warmup_steps`` on."""

    kind: StopRuleKind = "median"

    def __init__(self, goal: Goal, *, min_trials: int = 5, warmup_steps: int = 0) -> None:
        super().__init__(goal)
        self.min_trials = min_trials
        self.warmup_steps = warmup_steps
        self._curves: dict[int, dict[int, float]] = {}  # running trial -> step -> loss
        self._done: dict[int, list[float]] = {}  # step -> sorted losses of completed trials

    def report(self, number: int, step: int, value: float) -> str | None:
        loss = self._sign * value if math.isfinite(value) else math.inf
        self._curves.setdefault(number, {})[step] = loss
        return super().report(number, step, value)

    def _judge(self, number: int, step: int, loss: float, best: float) -> str | None:
        if step < self.warmup_steps:
            return None
        done = self._done.get(step)
        if done is None or len(done) < self.min_trials:
            return None
        median = float(np.median(done))
        if best > median:
            return (
                f"best value so far {self._fmt(best)} is worse than the median "
                f"{self._fmt(median)} of {len(done)} completed trials at step {step}"
            )
        return None

    def finished(self, number: int, state: TrialState) -> None:
        super().finished(number, state)
        curve = self._curves.pop(number, None)
        if curve and state is TrialState.COMPLETED:
            for step, loss in curve.items():
                if math.isfinite(loss):
                    bisect.insort(self._done.setdefault(step, []), loss)

    def options(self) -> dict[str, Any]:
        return {"type": "median", "min_trials": self.min_trials, "warmup_steps": self.warmup_steps}


class HyperbandStopping(StoppingRule):
    """Asynchronous successive halving as a stopping rule, at fixed milestones."""

    kind: StopRuleKind = "hyperband"

    def __init__(self, goal: Goal, *, milestones: list[int], eta: float = 3) -> None:
        super().__init__(goal)
        self.milestones = sorted(set(milestones))
        self.eta = eta
        self._passed: dict[int, int] = {}  # trial -> milestones it has been judged at
        self._recorded: list[list[float]] = [[] for _ in self.milestones]

    def _judge(self, number: int, step: int, loss: float, best: float) -> str | None:
        done = self._passed.get(number, 0)
        reason = None
        while done < len(self.milestones) and step >= self.milestones[done]:
            recorded = self._recorded[done]
            if recorded and reason is None:
                cutoff = float(np.quantile(recorded, 1.0 / self.eta))
                if best > cutoff:
                    reason = (
                        f"best value so far {self._fmt(best)} at milestone "
                        f"{self.milestones[done]} is outside the best 1/{self.eta:g} of "
                        f"{len(recorded)} trials (cutoff {self._fmt(cutoff)})"
                    )
            bisect.insort(recorded, best)
            done += 1
        self._passed[number] = done
        return reason

    def finished(self, number: int, state: TrialState) -> None:
        super().finished(number, state)
        self._passed.pop(number, None)

    def options(self) -> dict[str, Any]:
        return {"type": "hyperband", "milestones": self.milestones, "eta": self.eta}


def _int(spec: Mapping[str, Any], key: str, default: int, minimum: int) -> int:
    """``spec[key]`` (``default`` when absent): a whole number >= ``minimum``."""
    value = _optional_int(spec, key, minimum)
    if value is not None:
        return value
    if key in spec:  # written as null: the rule needs a number here, and has no "none"
        raise ConfigError(
            f"must be a whole number >= {minimum}, got null; leave {key} out for the default "
            f"({default})",
            path=("early_terminate", key),
        )
    return default


def _optional_int(spec: Mapping[str, Any], key: str, minimum: int) -> int | None:
    """``spec[key]`` as a whole number >= ``minimum``, or None when absent or null."""
    value = spec.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(
            f"must be a whole number >= {minimum}, got {value!r}",
            path=("early_terminate", key),
        )
    return value


def make_rule(spec: Mapping[str, Any] | str, goal: Goal) -> StoppingRule:
    """The rule a config's ``early_terminate`` describes: ``{type: median, min_trials,
    warmup_steps}`` or ``{type: hyperband, eta, min_iter | max_iter [, s]}`` (W&B's keys)."""
    if isinstance(spec, str):
        spec = {"type": spec}
    kind = spec.get("type")
    allowed = {
        "median": {"type", "min_trials", "warmup_steps"},
        "hyperband": {"type", "eta", "min_iter", "max_iter", "s", "milestones"},
    }
    if kind not in allowed:
        raise ConfigError(
            f"must be 'median' or 'hyperband', got {kind!r}",
            path=("early_terminate", "type"),
        )
    extra = sorted(set(spec) - allowed[kind])
    if extra:
        raise ConfigError(
            f"type {kind!r} takes {', '.join(sorted(allowed[kind] - {'type'}))}"
            f"; unknown: {', '.join(map(str, extra))}",
            path=("early_terminate", str(extra[0])),
        )
    if kind == "median":
        return MedianStopping(
            goal,
            min_trials=_int(spec, "min_trials", 5, 1),
            warmup_steps=_int(spec, "warmup_steps", 0, 0),
        )
    eta = spec.get("eta", 3)
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not eta >= 2:
        raise ConfigError(f"must be a number >= 2, got {eta!r}", path=("early_terminate", "eta"))
    if "milestones" in spec:
        ms = spec["milestones"]
        if (
            not isinstance(ms, list)
            or not ms
            or not all(isinstance(m, int) and not isinstance(m, bool) and m >= 1 for m in ms)
        ):
            raise ConfigError(
                f"must be a list of whole numbers >= 1, got {ms!r}",
                path=("early_terminate", "milestones"),
            )
        return HyperbandStopping(goal, milestones=list(ms), eta=eta)
    min_iter = _optional_int(spec, "min_iter", 1)
    max_iter = _optional_int(spec, "max_iter", 1)
    milestones: list[int] = []
    if min_iter is not None:
        top = max_iter if max_iter is not None else 10**6
        m = float(min_iter)
        while m < top and len(milestones) < 60:
            milestones.append(round(m))
            m *= eta
    elif max_iter is not None:
        s = _int(spec, "s", 3, 1)
        milestones = [round(max_iter / eta**k) for k in range(s, 0, -1)]
        milestones = [m for m in milestones if m >= 1]
    else:
        raise ConfigError(
            "type 'hyperband' needs min_iter (first milestone) or max_iter "
            "(with s, the number of brackets), e.g. {type: hyperband, min_iter: 3, eta: 3}",
            path=("early_terminate",),
        )
    return HyperbandStopping(goal, milestones=milestones, eta=eta)
