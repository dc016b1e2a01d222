"""ASHA: asynchronous successive halving (Li et al., 2020, Algorithm 2).

No rung ever waits to fill. Whenever a worker is free, the strategy looks for a trial to
promote, top rung first: a paused trial among the best ``floor(n / eta)`` of the ``n`` results
its rung holds so far, not yet promoted. If there is none, a new trial starts at the smallest
budget. A trial that is never promoted stays paused (a later, larger rung may still promote
it) and is pruned when the sweep ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from hpo.strategies._base import Suggestion
from hpo.strategies._fidelity import MultiFidelity, Rung
from search_spaces import SearchSpace
from trackers._states import Goal

__all__ = ["AshaStrategy"]


class AshaStrategy(MultiFidelity):
    """``strategy: asha``: options ``min_budget``, ``max_budget``, ``eta`` (3) and
    ``resource``. ``trials`` counts configurations; once they are all started the strategy
    promotes what its rungs allow and the sweep ends."""

    name: ClassVar[str] = "asha"

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
        super().__init__(
            space,
            goal=goal,
            seed=seed,
            min_budget=min_budget,
            max_budget=max_budget,
            eta=eta,
            resource=resource,
        )
        self.rungs = [Rung(b) for b in self.budgets]
        self._level: dict[int, int] = {}  # trial number -> index of its current rung

    def _placed(self, number: int, tag: Any) -> None:
        self.rungs[0].members.append(number)
        self._level[number] = 0

    def _index(self, budget: float) -> int:
        # the rung whose budget is nearest: budgets are a geometric ladder, so this is exact
        # for recorded budgets and sane for any other
        return min(range(len(self.rungs)), key=lambda i: abs(self.rungs[i].budget - budget))

    def _result(self, number: int, budget: float, loss: float) -> None:
        self.rungs[self._index(budget)].results[number] = loss

    def _promoted(self, number: int, budget: float) -> None:
        i = self._index(budget)
        if i > 0:
            self.rungs[i - 1].promoted.add(number)
        if number not in self.rungs[i].members:
            self.rungs[i].members.append(number)
        self._level[number] = i

    def _promotable(self) -> tuple[int, int] | None:
        """(trial, rung to promote it to), top rung first; None when nothing qualifies."""
        for i in range(len(self.rungs) - 2, -1, -1):
            rung = self.rungs[i]
            quota = int(len(rung.results) // self.eta)
            if quota < 1:
                continue
            for number in rung.best(quota):
                if number not in rung.promoted and number in self._paused:
                    return number, i + 1
        return None

    def ask(self) -> Suggestion | None:
        redo = self._redo_next()
        if redo is not None:
            return redo
        found = self._promotable()
        if found is not None:
            number, i = found
            self.rungs[i - 1].promoted.add(number)
            self.rungs[i].members.append(number)
            self._level[number] = i
            return self._continue(number, self.rungs[i].budget)
        return self._new(self.rungs[0].budget, None)

    @property
    def done(self) -> bool:
        return (
            not self._sampling
            and not self._redo
            and not self._running
            and self._promotable() is None
        )
