"""What every multi-fidelity strategy shares: the budget ladder and the bookkeeping of rungs.

A multi-fidelity strategy gives each trial a *budget* (epochs, iterations, samples: the
``resource``) and runs it in legs. A leg that reaches a budget below ``max_budget`` leaves the
trial paused at a *rung*; the strategy later promotes it (``Suggestion.continues``: the same
trial runs on, up to the next rung's budget, from its checkpoint if the objective keeps one)
or gives it up (``take_pruned()``). Rungs are rebuilt from the store's record of legs
(:meth:`MultiFidelity.restore_legs`), so a resumed sweep continues the same decisions.

The budget ladder is Hyperband's (Li et al., 2018): ``max_budget * eta**-k`` for
``k = s_max .. 0`` with ``s_max = floor(log_eta(max_budget / min_budget))``. When both bounds
are integers the budgets are rounded to integers (epochs are whole).
"""

from __future__ import annotations

import math
import secrets
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hpo._errors import StrategyError
from hpo.strategies._base import Observation, Strategy, Suggestion
from search_spaces import SearchSpace, as_space
from trackers._states import Goal, TrialState

__all__ = ["MultiFidelity", "bracket_schedule", "hyperband_schedule", "rung_budgets", "s_max"]

_EPS = 1e-9
_NOTHING = object()  # no new suggestion waits for its trial number (a tag may be None)


def s_max(min_budget: float, max_budget: float, eta: float) -> int:
    """The index of the most aggressive bracket: rungs from ``max_budget * eta**-s_max``."""
    return math.floor(math.log(max_budget / min_budget) / math.log(eta) + _EPS)


def rung_budgets(min_budget: float, max_budget: float, eta: float) -> list[float]:
    """The budgets of the rungs, smallest first, ending at ``max_budget``."""
    top = s_max(min_budget, max_budget, eta)
    budgets = [max_budget * eta ** (k - top) for k in range(top + 1)]
    if _integral(min_budget) and _integral(max_budget):
        budgets = [float(max(round(b), math.ceil(min_budget))) for b in budgets]
    budgets[-1] = float(max_budget)
    return budgets


def bracket_schedule(s: int, top: int, eta: float) -> list[int]:
    """Trials per rung of bracket ``s`` (of ``top + 1`` brackets): ``n_i = floor(n * eta**-i)``
    for ``i = 0..s``, with ``n = ceil((top + 1) / (s + 1) * eta**s)`` (Li et al., Algorithm 1)."""
    n = math.ceil((top + 1) / (s + 1) * eta**s - _EPS)
    return [math.floor(n * eta ** (-i) + _EPS) for i in range(s + 1)]


def hyperband_schedule(
    min_budget: float, max_budget: float, eta: float, brackets: int | None = None
) -> list[list[tuple[int, float]]]:
    """One Hyperband iteration: for each bracket, most aggressive first, its rungs as
    ``(trials, budget)``. ``brackets`` keeps only the most aggressive ones."""
    top = s_max(min_budget, max_budget, eta)
    budgets = rung_budgets(min_budget, max_budget, eta)
    count = top + 1 if brackets is None else min(brackets, top + 1)
    out = []
    for s in range(top, top - count, -1):
        sizes = bracket_schedule(s, top, eta)
        out.append(list(zip(sizes, budgets[top - s :])))
    return out


def _integral(x: float) -> bool:
    return float(x).is_integer()


def _positive(name: str, value: Any, strategy: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise StrategyError(
            f"option {name!r} of strategy {strategy!r} must be a number > 0, got {value!r}"
        )
    if not math.isfinite(value):
        raise StrategyError(f"option {name!r} of strategy {strategy!r} must be finite")
    return float(value)


class Rung:
    """Trials placed at one budget, and the losses of those whose leg to it ended."""

    __slots__ = ("budget", "members", "promoted", "results")

    def __init__(self, budget: float) -> None:
        self.budget = budget
        self.members: list[int] = []  # in the order they entered
        self.results: dict[int, float] = {}  # number -> loss (inf: failed or stopped)
        self.promoted: set[int] = set()

    def best(self, k: int) -> list[int]:
        """The ``k`` best members with a finite loss, best first (ties by number)."""
        done = [(loss, n) for n, loss in self.results.items() if math.isfinite(loss)]
        done.sort()
        return [n for _, n in done[:k]]


class MultiFidelity(Strategy):
    """Base of hyperband, asha and bohb: options, the trials it knows, their legs, reruns of
    interrupted legs, new configurations (random by default: ``_new_params``)."""

    # Never None here, unlike Strategy's: every multi-fidelity strategy has a top budget.
    max_budget: float

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        goal: Goal = Goal.MINIMIZE,
        seed: int | None = None,
        min_budget: float = 1,
        max_budget: float = 81,
        eta: float = 3,
        resource: str = "epochs",
    ) -> None:
        super().__init__(as_space(space), goal=goal, seed=seed)
        name = self.name
        self.min_budget = _positive("min_budget", min_budget, name)
        self.max_budget = _positive("max_budget", max_budget, name)
        self.eta = _positive("eta", eta, name)
        if self.eta < 2:
            raise StrategyError(
                f"option 'eta' of strategy {name!r} must be >= 2 (each rung keeps 1/eta of the "
                f"trials), got {eta!r}"
            )
        if self.max_budget < self.min_budget:
            raise StrategyError(
                f"strategy {name!r}: max_budget ({max_budget!r}) must be >= min_budget "
                f"({min_budget!r})"
            )
        if not isinstance(resource, str) or not resource:
            raise StrategyError(f"option 'resource' of strategy {name!r} must be a name")
        self.resource = resource
        self.budgets = rung_budgets(self.min_budget, self.max_budget, self.eta)
        # Without a seed, 128 fresh bits: what np.random.SeedSequence() would draw.
        self._entropy: int = seed if seed is not None else secrets.randbits(128)
        self._params: dict[int, Mapping[str, Any]] = {}
        self._paused: set[int] = set()
        self._running: set[int] = set()
        self._redo: deque[tuple[int, float]] = deque()  # interrupted legs to run again
        self._pruned: list[int] = []
        self._sampling = True
        self._configs = 0  # new configurations handed out
        self._waiting: Any = _NOTHING  # the tag of the last new suggestion, until started

    # --- hooks for subclasses -------------------------------------------------------------

    def _new_params(self, k: int) -> dict[str, Any]:
        """Configuration number ``k`` (0-based): random, from a generator seeded by (seed, k),
        so a restored strategy draws the same ones without replaying."""
        return self.space.sample(np.random.default_rng([self._entropy, k]))

    def _placed(self, number: int, tag: Any) -> None:
        """New trial ``number`` starts at the rung the subclass chose (``tag`` from
        :meth:`_new`)."""
        raise NotImplementedError

    def _result(self, number: int, budget: float, loss: float) -> None:
        """A leg of trial ``number`` reached ``budget`` with ``loss`` (inf: no usable value)."""
        raise NotImplementedError

    def _promoted(self, number: int, budget: float) -> None:
        """Restoring: trial ``number`` was promoted to ``budget`` (it ran or runs a leg to it)."""
        raise NotImplementedError

    # --- the seam ---------------------------------------------------------------------------

    def _new(self, budget: float, tag: Any) -> Suggestion | None:
        if not self._sampling:
            return None
        self._waiting = tag
        return Suggestion(self._new_params(self._configs), budget)

    def _continue(self, number: int, budget: float) -> Suggestion:
        self._paused.discard(number)
        self._running.add(number)
        return Suggestion(self._params[number], budget, continues=number)

    def started(self, number: int, suggestion: Suggestion) -> None:
        if suggestion.continues is not None:
            return
        tag = self._waiting
        if tag is _NOTHING:
            raise StrategyError(f"strategy {self.name!r} was told of a trial it did not suggest")
        self._waiting = _NOTHING
        self._configs += 1
        self._params[number] = dict(suggestion.params)
        self._running.add(number)
        self._placed(number, tag)

    def tell(self, observation: Observation) -> None:
        number = observation.number
        if number not in self._params:
            return  # not one of ours (a rerun the engine made): nothing to decide on
        self._running.discard(number)
        state = observation.state
        if state is TrialState.INTERRUPTED:
            return  # the sweep is stopping; a resume reruns the leg
        value = observation.value
        ok = state in (TrialState.COMPLETED, TrialState.PAUSED)
        loss = (
            self.goal.sign() * value
            if ok and value is not None and math.isfinite(value)
            else math.inf
        )
        budget = observation.budget if observation.budget is not None else self.budgets[0]
        if state is TrialState.PAUSED:
            self._paused.add(number)
        self._result(number, budget, loss)

    def take_pruned(self) -> list[int]:
        out, self._pruned = self._pruned, []
        return out

    def stop_sampling(self) -> None:
        self._sampling = False

    def _prune(self, number: int) -> None:
        if number in self._paused:
            self._paused.discard(number)
            self._pruned.append(number)

    def _redo_next(self) -> Suggestion | None:
        if not self._redo:
            return None
        number, budget = self._redo.popleft()
        return self._continue(number, budget)

    # --- restore ----------------------------------------------------------------------------

    def restore(self, history: Sequence[Observation]) -> None:
        """Multi-fidelity strategies are restored from legs: see :meth:`restore_legs`."""
        self.restore_legs(history, [])

    def restore_legs(self, trials: Sequence[Observation], legs: Sequence[Observation]) -> None:
        """Rebuild from the store: ``trials`` is every trial's current state (budget: the last
        one it was given), in number order; ``legs`` the ends of its legs, oldest first."""
        for t in sorted(trials, key=lambda t: t.number):
            self._waiting = self._tag_for_restore(t)
            self.started(t.number, Suggestion(t.params, t.budget))
            self._running.discard(t.number)
        reached: dict[int, float] = {}
        for leg in legs:
            if leg.number not in self._params or leg.budget is None:
                continue
            before = reached.get(leg.number)
            if before is not None and leg.budget > before:
                self._promoted(leg.number, leg.budget)
            self.tell(leg)
            self._running.discard(leg.number)
            reached[leg.number] = leg.budget
            self._paused.discard(leg.number)
        for t in trials:
            if t.number not in self._params:
                continue
            last = reached.get(t.number)
            budget = t.budget if t.budget is not None else self.budgets[0]
            if t.state is TrialState.PAUSED:
                self._paused.add(t.number)
            elif t.state in (TrialState.INTERRUPTED, TrialState.RUNNING, TrialState.QUEUED):
                if last is not None and budget > last:
                    self._promoted(t.number, budget)
                self._redo.append((t.number, budget))
        self._after_restore()

    def _tag_for_restore(self, trial: Observation) -> Any:
        """The tag :meth:`_placed` needs for a recorded trial (which bracket, for hyperband)."""
        return None

    def _after_restore(self) -> None:
        """Settle what the restored rungs imply (decisions a crash cut short)."""

    def options(self) -> Mapping[str, Any]:
        return {
            "min_budget": self.min_budget,
            "max_budget": self.max_budget,
            "eta": self.eta,
            "resource": self.resource,
        }
