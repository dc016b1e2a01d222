"""``strategy: bayes`` — Bayesian optimisation over any search space of the core.

Backends: ``gp`` (our own Gaussian process on numpy/scipy, see ``_gp.py``), ``tpe`` (Optuna's
TPESampler through ask/tell), ``skopt`` (scikit-optimize's Optimizer, when installed), and
``auto`` (the default), which picks per space by the rule in :func:`resolve_backend`, set from
benchmarks/sample_efficiency.py (see docs/bayes.md for the evidence).

What every backend shares lives here: losses from the goal, failed/pruned trial policies,
pending (asked, not told) trials, no duplicate configurations, seeding, restore from history,
and the fallback to random search when a model fails.
"""

from __future__ import annotations

import enum
import secrets
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from hpo._errors import StrategyError
from hpo.strategies._base import Observation, Strategy, Suggestion
from hpo.strategies._features import Features, config_key
from search_spaces import SearchSpace, as_space
from trackers._states import Goal, TrialState

#: Tries at drawing a random configuration that is neither observed nor pending before
#: accepting a repeat (a finite space may simply be exhausted).
_UNIQUE_TRIES = 200
#: Suggestions the Optuna backend may repeat before the strategy draws a random new one.
_OPTUNA_RETRIES = 5


class Backend(str, enum.Enum):
    """The model behind ``bayes``."""

    AUTO = "auto"
    GP = "gp"
    TPE = "tpe"
    SKOPT = "skopt"


class FailedPolicy(str, enum.Enum):
    """What a FAILED or TIMED_OUT trial (or a non-finite value) tells the model."""

    WORST = "worst"  # the worst loss observed so far: steers away without distorting the scale
    IGNORE = "ignore"  # nothing (the point may be suggested near again)


class PrunedPolicy(str, enum.Enum):
    """What a PRUNED trial tells the model."""

    VALUE = "value"  # its last reported value (a pessimistic guess of its final one)
    WORST = "worst"
    IGNORE = "ignore"


def _choice(option: str, value: Any, kind: type[enum.Enum]) -> Any:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in kind)
        raise StrategyError(
            f"option {option!r} of strategy 'bayes' must be one of {allowed}; not {value!r}"
        ) from None


def default_initial(dims: int) -> int:
    """Quasi-random points before the model is used: enough to fit lengthscales, few enough
    to leave most of a 50-trial budget to the model."""
    return max(4, min(10, dims + 2))


def resolve_backend(features: Features) -> Backend:
    """The ``auto`` rule, set by what the benchmark shows (docs/bayes.md).

    At budgets of tens of trials the own GP did at least as well as TPE on every problem
    measured: low-dimensional continuous ones, 20 and 30 dimensions, ints with a categorical
    (one-hot) and a conditional space. So ``auto`` is the GP. An earlier rule switched to TPE
    above 24 model columns; on the 30-dimensional problem that doubled the regret.
    """
    del features  # the space's shape decides nothing yet: no measured case favours TPE
    return Backend.GP


@dataclass(slots=True)
class _Told:
    params: Mapping[str, Any]
    loss: float | None  # None: no value (failed, or pruned/failed under "ignore")
    failed: bool  # impute the worst loss (policy "worst")


class BayesStrategy(Strategy):
    """Bayesian optimisation; see the module docstring and docs/bayes.md.

    Options: ``backend`` ("auto", "gp", "tpe", "skopt"); ``initial`` (quasi-random points before
    the model, default by dimension); ``failed`` ("worst" or "ignore"); ``pruned`` ("value",
    "worst" or "ignore").
    """

    name: ClassVar[str] = "bayes"

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        goal: Goal = Goal.MINIMIZE,
        seed: int | None = None,
        backend: Backend | str = Backend.AUTO,
        initial: int | None = None,
        failed: FailedPolicy | str = FailedPolicy.WORST,
        pruned: PrunedPolicy | str = PrunedPolicy.VALUE,
    ) -> None:
        super().__init__(as_space(space), goal=goal, seed=seed)
        self.backend: Backend = _choice("backend", backend, Backend)
        self.failed: FailedPolicy = _choice("failed", failed, FailedPolicy)
        self.pruned: PrunedPolicy = _choice("pruned", pruned, PrunedPolicy)
        if initial is not None and (
            isinstance(initial, bool) or not isinstance(initial, int) or initial < 1
        ):
            raise StrategyError(
                f"option 'initial' of strategy 'bayes' must be a positive integer (the number "
                f"of quasi-random trials before the model); not {initial!r}"
            )
        self.initial = initial
        self._features = Features(self.space)
        self._n_initial = initial if initial is not None else default_initial(self.space.dims)
        # Every random draw derives from this one number, so a seeded run repeats exactly.
        self._seed = int(seed) % 2**32 if seed is not None else secrets.randbits(32)
        self.resolved: Backend = (
            resolve_backend(self._features) if self.backend is Backend.AUTO else self.backend
        )
        if self.resolved is Backend.SKOPT:
            try:
                import skopt  # noqa: F401
            except ImportError:
                raise StrategyError(
                    "backend 'skopt' of strategy 'bayes' needs scikit-optimize: "
                    "pip install scikit-optimize, or use backend 'gp'"
                ) from None
        self._warned: set[str] = set()
        self._reset()

    # -- state ---------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._told: list[_Told] = []
        self._pending: list[tuple[tuple[Any, ...], Mapping[str, Any]]] = []
        self._seen: dict[tuple[Any, ...], int] = {}  # key -> times observed or pending
        self._n_asked = 0
        self._optuna: Any = None
        self._skopt: Any = None
        self._trials: dict[tuple[Any, ...], list[Any]] = {}
        if self.resolved is Backend.TPE:
            from hpo.strategies._optuna_backend import OptunaBackend

            self._optuna = OptunaBackend(self.space, "tpe", self._seed, self._n_initial)
        elif self.resolved is Backend.SKOPT:
            from hpo.strategies._skopt_backend import SkoptBackend

            self._skopt = SkoptBackend(self.space, self._seed, self._n_initial)
        self._sobol: np.ndarray | None = None

    def _rng(self) -> np.random.Generator:
        # A generator per ask, from (seed, ask number): a suggestion depends only on the
        # history and the seed, which is what lets restore() skip replaying the fits.
        return np.random.default_rng([self._seed, self._n_asked])

    def _warn(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(message, RuntimeWarning, stacklevel=3)

    # -- ask -----------------------------------------------------------------------------------

    def ask(self) -> Suggestion:
        """The next configuration: distinct from every observed and pending one while the
        space has any left. Never raises for a model failure (it warns and draws randomly)."""
        params: Mapping[str, Any] | None = None
        if self.space.dims == 0:
            params = self.space.sample(self._rng())
        else:
            try:
                params = self._ask_model()
            except Exception as exc:
                self._warn(
                    "model",
                    f"strategy 'bayes' (backend {self.resolved.value!r}) could not make a "
                    f"suggestion ({type(exc).__name__}: {exc}); using random search for this "
                    "trial and trying the model again on the next",
                )
                params = None
        if params is None:
            params = self._random_unique()
            if self._optuna is not None:
                trial, params = self._optuna.ask(fixed=params)
                self._trials.setdefault(config_key(params), []).append(trial)
        key = config_key(params)
        self._pending.append((key, params))
        self._seen[key] = self._seen.get(key, 0) + 1
        self._n_asked += 1
        return Suggestion(params=params)

    def _ask_model(self) -> Mapping[str, Any] | None:
        if self._optuna is not None:
            return self._ask_optuna()
        if self._skopt is not None:
            return self._skopt.ask([p for _, p in self._pending])
        losses, configs = self._training_data()
        if self._n_asked < self._n_initial or len(losses) < 2:
            return self._initial_point()
        from hpo.strategies._gp_backend import GPBackend

        pending = self._features.encode_all([p for _, p in self._pending])
        return GPBackend(self._features).suggest(
            self._features.encode_all(configs), np.asarray(losses), pending, self._rng(), self._seen
        )

    def _ask_optuna(self) -> Mapping[str, Any] | None:
        for _ in range(_OPTUNA_RETRIES):
            trial, params = self._optuna.ask()
            key = config_key(params)
            if key not in self._seen:
                self._trials.setdefault(key, []).append(trial)
                return params
            self._optuna.tell(trial, None)  # a repeat: drop it (FAIL is invisible to TPE)
        return None

    def _initial_point(self) -> Mapping[str, Any] | None:
        if self._sobol is None:
            from scipy.stats import qmc

            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=UserWarning)
                engine = qmc.Sobol(self.space.dims, scramble=True, rng=self._seed)
                self._sobol = engine.random(64)
        if self._n_asked >= len(self._sobol):
            return None
        params = self.space.decode(self._sobol[self._n_asked])
        return None if config_key(params) in self._seen else params

    def _random_unique(self) -> Mapping[str, Any]:
        rng = self._rng()
        for _ in range(_UNIQUE_TRIES):
            params = self.space.sample(rng)
            if config_key(params) not in self._seen:
                return params
        self._warn(
            "exhausted",
            "strategy 'bayes' found no configuration that was not already tried or running "
            "(the space may be exhausted); repeating one",
        )
        return params

    def _training_data(self) -> tuple[list[float], list[Mapping[str, Any]]]:
        done = [t.loss for t in self._told if t.loss is not None]
        worst = max(done) if done else None
        losses: list[float] = []
        configs: list[Mapping[str, Any]] = []
        for t in self._told:
            loss = t.loss if t.loss is not None else worst if t.failed else None
            if loss is not None:
                losses.append(loss)
                configs.append(t.params)
        return losses, configs

    # -- tell ----------------------------------------------------------------------------------

    def _loss(self, obs: Observation) -> tuple[float | None, bool]:
        """(loss, impute-worst) for an observation under the goal and the policies."""
        value = obs.value
        # None unless the value is a finite number
        loss = self.goal.sign() * float(value) if value is not None and np.isfinite(value) else None
        if obs.state is TrialState.COMPLETED and loss is not None:
            return loss, False
        if obs.state is TrialState.PRUNED:
            if self.pruned is PrunedPolicy.IGNORE:
                return None, False
            if self.pruned is PrunedPolicy.VALUE and loss is not None:
                return loss, False
            return None, True
        if obs.state in (TrialState.FAILED, TrialState.TIMED_OUT, TrialState.COMPLETED):
            return None, self.failed is FailedPolicy.WORST
        return None, False  # INTERRUPTED: not the trial's fault, and not informative

    def tell(self, observation: Observation) -> None:
        """Learn from a finished trial (its params need not come from this strategy)."""
        params = observation.params
        key = config_key(params)
        for i, (k, _) in enumerate(self._pending):
            if k == key:
                del self._pending[i]
                break
        else:
            self._seen[key] = self._seen.get(key, 0) + 1
        loss, failed = self._loss(observation)
        if observation.state is TrialState.INTERRUPTED:
            # Its params may run again on resume: no longer count them as taken.
            self._seen[key] -= 1
            if not self._seen[key]:
                del self._seen[key]
        self._told.append(_Told(params, loss, failed))
        if self._optuna is not None:
            self._tell_optuna(key, params, loss, failed, observation)
        elif self._skopt is not None:
            imputed = loss if loss is not None else self._worst() if failed else None
            if imputed is not None:
                self._skopt.tell(params, imputed)

    def _worst(self) -> float | None:
        done = [t.loss for t in self._told if t.loss is not None]
        return max(done) if done else None

    def _tell_optuna(
        self,
        key: tuple[Any, ...],
        params: Mapping[str, Any],
        loss: float | None,
        failed: bool,
        obs: Observation,
    ) -> None:
        trials = self._trials.get(key)
        if trials:
            trial = trials.pop(0)
        else:
            trial, _ = self._optuna.ask(fixed=params)
        if obs.state is TrialState.PRUNED and loss is not None:
            self._optuna.tell(trial, None, pruned_value=loss)
            return
        if loss is None and failed:
            loss = self._worst()
        self._optuna.tell(trial, loss)

    # -- restore -------------------------------------------------------------------------------

    def restore(self, history: Sequence[Observation]) -> None:
        """Rebuild from the trials a sweep already ran, so it continues the same search.

        The GP backend's suggestions depend only on (history, seed, ask number), so the history
        is loaded as is. Optuna's and skopt's samplers carry generator state, so their searches
        are replayed: one ask per recorded trial (a recorded config that differs from the
        replayed one replaces it) and a tell for each finished one.
        """
        self._reset()
        ordered = sorted(history, key=lambda o: o.number)
        if self.resolved is Backend.GP:
            for obs in ordered:
                key = config_key(obs.params)
                self._pending.append((key, obs.params))
                self._seen[key] = self._seen.get(key, 0) + 1
                self._n_asked += 1
                if obs.state.is_finished:
                    self.tell(obs)
            return
        for obs in ordered:
            replayed = self.ask().params
            key, want = config_key(replayed), config_key(obs.params)
            if key != want:
                self._pending.pop()
                self._seen[key] -= 1
                if not self._seen[key]:
                    del self._seen[key]
                if self._optuna is not None:
                    self._optuna.tell(self._trials[key].pop(), None)
                    trial, _ = self._optuna.ask(fixed=obs.params)
                    self._trials.setdefault(want, []).append(trial)
                self._pending.append((want, obs.params))
                self._seen[want] = self._seen.get(want, 0) + 1
            if obs.state.is_finished:
                self.tell(obs)

    def options(self) -> Mapping[str, Any]:
        return {
            "backend": self.backend.value,
            "initial": self.initial,
            "failed": self.failed.value,
            "pruned": self.pruned.value,
        }
