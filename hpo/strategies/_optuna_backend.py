"""Optuna's samplers (TPE; GPSampler where PyTorch is installed) behind ``bayes``, through
``optuna.Study.ask/tell`` on an in-memory storage.

The study is a cache of the engine's store, never the truth: it is rebuilt from the history on
resume. Conditional spaces go through Optuna's define-by-run interface, asking parameters in the
space's parent-first order and only those active under the values drawn so far.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from search_spaces import Categorical, Constant, Float, Int, SearchSpace
from search_spaces._common import compile_when, conditions_hold


class OptunaBackend:
    """One Optuna study driven by ask/tell; ``sampler`` is "tpe" or "gp"."""

    def __init__(self, space: SearchSpace, sampler: str, seed: int, n_startup: int) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space = space
        self._optuna = optuna
        # `group` is marked experimental; the warning would reach every sweep's output.
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        made: optuna.samplers.BaseSampler
        if sampler == "tpe":
            # multivariate + group: a joint density over parameters that co-occur, which is
            # what conditional spaces need; constant_liar keeps parallel suggestions apart.
            made = optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=n_startup,
                multivariate=True,
                group=True,
                constant_liar=True,
            )
        else:
            made = optuna.samplers.GPSampler(seed=seed, n_startup_trials=n_startup)
        self.study = optuna.create_study(
            sampler=made, storage=optuna.storages.InMemoryStorage(), direction="minimize"
        )
        self._plan = [(p, compile_when(p.when) if p.when else None) for p in space]

    def ask(self, fixed: Mapping[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        """A new Optuna trial and its params (``fixed`` params are enqueued and reproduced)."""
        if fixed is not None:
            self.study.enqueue_trial(dict(fixed), skip_if_exists=False)
        trial = self.study.ask()
        out: dict[str, Any] = {}
        for param, conds in self._plan:
            if conds is not None and not conditions_hold(conds, out):
                continue
            out[param.name] = self._suggest(trial, param)
        return trial, out

    def _suggest(self, trial: Any, p: Any) -> Any:
        if isinstance(p, Constant):
            return p.value
        if isinstance(p, Categorical):
            return trial.suggest_categorical(p.name, list(p.choices))
        if isinstance(p, Int):
            if p.log and p.step != 1:
                # Optuna allows no step with log: draw log-uniformly and snap to the step.
                v = trial.suggest_int(p.name, p.low, p.high, log=True)
                k = round((v - p.low) / p.step)
                return min(p.low + k * p.step, p.low + ((p.high - p.low) // p.step) * p.step)
            return trial.suggest_int(p.name, p.low, p.high, step=p.step, log=p.log)
        if isinstance(p, Float):
            if p.log and p.step is not None:
                v = trial.suggest_float(p.name, p.low, p.high, log=True)
                u = (math.log(v) - math.log(p.low)) / (math.log(p.high) - math.log(p.low))
                return p.from_unit(u)
            if p.step is not None:
                # Optuna's stepped float needs high - low to be a multiple of the step.
                top = p.from_unit(1.0)
                return p.normalise(trial.suggest_float(p.name, p.low, top, step=p.step))
            return trial.suggest_float(p.name, p.low, p.high, log=p.log)
        raise TypeError(f"unsupported parameter {p!r}")

    def tell(self, trial: Any, loss: float | None, pruned_value: float | None = None) -> None:
        """Finish ``trial`` with ``loss`` (COMPLETE), as PRUNED at ``pruned_value``, or FAIL."""
        state = self._optuna.trial.TrialState
        if loss is not None:
            self.study.tell(trial, loss)
        elif pruned_value is not None:
            trial.report(pruned_value, step=0)
            self.study.tell(trial, state=state.PRUNED)
        else:
            self.study.tell(trial, state=state.FAIL)
