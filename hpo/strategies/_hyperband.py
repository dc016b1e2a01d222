"""Hyperband (Li et al., 2018): brackets of synchronous successive halving.

Each bracket starts ``n`` trials at a small budget; when a rung has all its results, the best
``1/eta`` of it are promoted to ``eta`` times the budget and the rest are pruned, until the
last rung runs at ``max_budget``. Brackets trade many cheap trials (aggressive) against few
full ones (conservative): one Hyperband iteration runs every bracket once, most aggressive
first (see :func:`~hpo.strategies._fidelity.hyperband_schedule` for the arithmetic).

With parallel workers no worker waits for a rung to fill: while a rung is incomplete the next
bracket starts, so brackets overlap; decisions stay those of synchronous successive halving.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any, ClassVar

from hpo._errors import StrategyError
from hpo.strategies._base import Observation, Suggestion
from hpo.strategies._fidelity import MultiFidelity, Rung, hyperband_schedule
from search_spaces import SearchSpace
from trackers._states import Goal

__all__ = ["HyperbandStrategy"]


class Bracket:
    """One run of successive halving: its rungs, planned sizes and promotions waiting."""

    __slots__ = ("decided", "index", "queue", "rungs", "sizes")

    def __init__(self, index: int, plan: list[tuple[int, float]]) -> None:
        self.index = index
        self.sizes = [n for n, _ in plan]
        self.rungs = [Rung(budget) for _, budget in plan]
        self.decided = [False] * len(plan)
        self.queue: deque[tuple[int, float]] = deque()  # (number, budget) promoted, not started

    @property
    def open_slots(self) -> int:
        return self.sizes[0] - len(self.rungs[0].members)

    def finished(self) -> bool:
        last = self.rungs[-1]
        return all(self.decided[:-1]) and not self.queue and len(last.results) == len(last.members)


class HyperbandStrategy(MultiFidelity):
    """``strategy: hyperband``: options ``min_budget``, ``max_budget``, ``eta`` (3),
    ``brackets`` (all: ``s_max + 1``) and ``resource`` (the budget's name, for the record).

    ``trials`` counts configurations (one iteration, every bracket once, without it); when it
    is larger, iterations repeat. New configurations are random (``bohb`` draws them from a
    model).
    """

    name: ClassVar[str] = "hyperband"

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        goal: Goal = Goal.MINIMIZE,
        seed: int | None = None,
        min_budget: float = 1,
        max_budget: float = 81,
        eta: float = 3,
        brackets: int | None = None,
        resource: str = "epochs",
    ) -> None:
        super().__init__(
            space,
            goal=goal,
            seed=seed,
            min_budget=min_budget,
            max_budget=max_budget,
            eta=eta,
            resource=resource,
        )
        if brackets is not None and (
            isinstance(brackets, bool) or not isinstance(brackets, int) or brackets < 1
        ):
            raise StrategyError(
                f"option 'brackets' of strategy {self.name!r} must be a whole number >= 1, "
                f"got {brackets!r}"
            )
        self.brackets = brackets
        self.schedule = hyperband_schedule(self.min_budget, self.max_budget, self.eta, brackets)
        self.iteration_size = sum(plan[0][0] for plan in self.schedule)
        self._brackets: list[Bracket] = []
        self._where: dict[int, Bracket] = {}

    # --- rungs ------------------------------------------------------------------------------

    def _open(self) -> Bracket:
        index = len(self._brackets)
        bracket = Bracket(index, self.schedule[index % len(self.schedule)])
        self._brackets.append(bracket)
        return bracket

    def _filling(self) -> Bracket | None:
        """The bracket new configurations go to, opening the next one when the last is full;
        None when the sweep takes no new trials."""
        if not self._sampling:
            return None
        if self._brackets and self._brackets[-1].open_slots > 0:
            return self._brackets[-1]
        return self._open()

    def _placed(self, number: int, tag: Any) -> None:
        bracket: Bracket = tag
        bracket.rungs[0].members.append(number)
        self._where[number] = bracket

    def _tag_for_restore(self, trial: Observation) -> Any:
        # trials were placed in number order, filling brackets one after another
        if self._brackets and self._brackets[-1].open_slots > 0:
            return self._brackets[-1]
        return self._open()

    def _rung_of(self, bracket: Bracket, budget: float) -> int:
        for i, rung in enumerate(bracket.rungs):
            if abs(rung.budget - budget) <= 1e-9 * max(1.0, budget):
                return i
        raise StrategyError(
            f"hyperband: budget {budget!r} is not a rung of bracket {bracket.index} "
            f"({[r.budget for r in bracket.rungs]}); were the strategy's options changed?"
        )

    def _result(self, number: int, budget: float, loss: float) -> None:
        bracket = self._where[number]
        rung = bracket.rungs[self._rung_of(bracket, budget)]
        rung.results[number] = loss

    def _promoted(self, number: int, budget: float) -> None:
        bracket = self._where[number]
        i = self._rung_of(bracket, budget)
        bracket.rungs[i - 1].promoted.add(number)
        if number not in bracket.rungs[i].members:
            bracket.rungs[i].members.append(number)
        # not marked decided: the rung is decided again on restore, and promotes the winners
        # that had not started yet when the driver stopped (the started ones it skips)

    def _decide(self, bracket: Bracket) -> None:
        """Promote the best of every complete rung, prune the rest."""
        for i in range(len(bracket.rungs) - 1):
            if bracket.decided[i]:
                continue
            rung = bracket.rungs[i]
            # closed: no trial will enter this rung any more
            if i == 0:
                closed = len(rung.members) >= bracket.sizes[0] or not self._sampling
            else:
                closed = bracket.decided[i - 1]
            if not closed or len(rung.results) < len(rung.members) or not rung.members:
                return
            # a rung cut short (the sweep's trial budget ran out) keeps its share 1/eta
            planned = len(rung.members) >= bracket.sizes[i]
            keep = bracket.sizes[i + 1] if planned else max(1, int(len(rung.members) // self.eta))
            winners = rung.best(keep)
            bracket.decided[i] = True
            budget = bracket.rungs[i + 1].budget
            for number in winners:
                if number in rung.promoted:
                    continue  # restored: already promoted before the crash
                rung.promoted.add(number)
                bracket.rungs[i + 1].members.append(number)
                bracket.queue.append((number, budget))
            for number in rung.members:
                if number not in rung.promoted:
                    self._prune(number)

    # --- the seam ---------------------------------------------------------------------------

    def ask(self) -> Suggestion | None:
        redo = self._redo_next()
        if redo is not None:
            return redo
        for bracket in self._brackets:
            self._decide(bracket)
            if bracket.queue:
                number, budget = bracket.queue.popleft()
                return self._continue(number, budget)
        filling = self._filling()
        if filling is None:
            return None
        return self._new(filling.rungs[0].budget, filling)

    @property
    def default_trials(self) -> int:
        """A sweep without ``trials`` runs one Hyperband iteration: every bracket once."""
        return self.iteration_size

    def _after_restore(self) -> None:
        for bracket in self._brackets:
            self._decide(bracket)

    @property
    def done(self) -> bool:
        if self._sampling or self._redo or self._running:
            return False
        for bracket in self._brackets:
            self._decide(bracket)
        return all(b.finished() for b in self._brackets)

    def options(self) -> Mapping[str, Any]:
        return {**super().options(), "brackets": self.brackets}
