"""Grid search: every point of the space's grid, once, in order or shuffled by the seed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from hpo._errors import StrategyError
from hpo.strategies._base import Observation, Strategy, Suggestion
from search_spaces import SearchSpace, as_space
from trackers._states import Goal

#: Larger grids are refused: enumerating them would take longer than any sweep could run.
MAX_GRID_POINTS = 10_000_000

_ParamsKey = frozenset[tuple[str, tuple[bool, Any]]]


def _params_key(params: Mapping[str, Any]) -> _ParamsKey:
    # True and 1 are different grid values; 1 and 1.0 (an int read back as a float) are not.
    return frozenset((name, (value.__class__ is bool, value)) for name, value in params.items())


class GridStrategy(Strategy):
    """Runs each point of ``space.grid(points)`` once, then reports ``done``.

    ``points`` is the number of values per numeric parameter (a parameter's own
    ``grid_points`` wins); ``shuffle`` visits the points in an order drawn from ``seed``.
    """

    name: ClassVar[str] = "grid"

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        goal: Goal = Goal.MINIMIZE,
        seed: int | None = None,
        points: int = 5,
        shuffle: bool = False,
    ) -> None:
        super().__init__(as_space(space), goal=goal, seed=seed)
        if isinstance(points, bool) or not isinstance(points, int) or points < 1:
            raise StrategyError(
                f"option 'points' of strategy 'grid' must be a positive integer, not {points!r}"
            )
        if not isinstance(shuffle, bool):
            raise StrategyError(
                f"option 'shuffle' of strategy 'grid' must be true or false, not {shuffle!r}"
            )
        self.points = points
        self.shuffle = shuffle
        #: The number of points in the whole grid (before any restore).
        self.size = self.space.grid_size(points)
        if self.size > MAX_GRID_POINTS:
            raise StrategyError(
                f"the grid has {self.size:,} points, more than the {MAX_GRID_POINTS:,} allowed: "
                "lower 'points', set grid_points on the widest parameters, or use the random "
                "strategy"
            )
        self._skip: set[_ParamsKey] = set()
        self._points = self._iterate()
        self._next: dict[str, Any] | None = None
        self._exhausted = False

    def _iterate(self) -> Iterator[dict[str, Any]]:
        if not self.shuffle:
            yield from self.space.grid(self.points)
            return
        grid = list(self.space.grid(self.points))
        for i in np.random.default_rng(self.seed).permutation(len(grid)).tolist():
            yield grid[i]

    def _peek(self) -> dict[str, Any] | None:
        # One point of look-ahead, so that `done` turns True as soon as the last point is out.
        if self._next is None and not self._exhausted:
            for params in self._points:
                if not self._skip or _params_key(params) not in self._skip:
                    self._next = params
                    break
            else:
                self._exhausted = True
        return self._next

    def ask(self) -> Suggestion | None:
        """The next grid point, or None once every point has been asked."""
        params = self._peek()
        if params is None:
            return None
        self._next = None
        return Suggestion(params=params)

    @property
    def done(self) -> bool:
        return self._peek() is None

    def restore(self, history: Sequence[Observation]) -> None:
        """Start over, skipping every point the history has already suggested.

        Interrupted trials are not suggested again here: the engine reruns them itself (same
        params, same seed, linked to the original) when the sweep resumes. Matching is by
        params, so it does not depend on the order the points were run in, and costs one set
        lookup per point.
        """
        self._skip = {_params_key(o.params) for o in history}
        self._points = self._iterate()
        self._next = None
        self._exhausted = False

    def options(self) -> Mapping[str, Any]:
        return {"points": self.points, "shuffle": self.shuffle}
