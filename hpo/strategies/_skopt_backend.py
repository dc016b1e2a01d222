"""scikit-optimize's ``Optimizer`` (a GP by default) behind ``bayes``.

skopt has no conditional parameters: every parameter gets a dimension, and those inactive in a
suggestion are dropped when it is decoded (the model then sees them at their drawn value, which
does not affect the objective). Numeric parameters are optimised in the space's unit encoding
(log scales included), categoricals as choice indices, so that skopt's own transforms see a
plain box.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from search_spaces import Categorical, SearchSpace


class SkoptBackend:
    """A ``skopt.Optimizer`` over the space; pending points enter by constant liar (cl_min)."""

    def __init__(self, space: SearchSpace, seed: int, n_initial: int) -> None:
        from skopt import Optimizer
        from skopt.space import Categorical as SkCat
        from skopt.space import Real

        self.space = space
        dims: list[Any] = []
        self._cats: list[int | None] = []
        for name in space.encoded_names:
            param = space.params[name]
            if isinstance(param, Categorical):
                dims.append(SkCat(list(range(len(param.choices))), transform="onehot"))
                self._cats.append(len(param.choices))
            else:
                dims.append(Real(0.0, 1.0))
                self._cats.append(None)
        self.opt = Optimizer(
            dims, base_estimator="GP", n_initial_points=n_initial, random_state=seed % 2**31
        )

    def _to_point(self, config: Mapping[str, Any]) -> list[Any]:
        u = self.space.encode(config)
        point: list[Any] = []
        for j, k in enumerate(self._cats):
            x = u[j]
            if k is None:
                point.append(0.5 if np.isnan(x) else float(x))
            else:
                point.append(0 if np.isnan(x) else min(int(x * k), k - 1))
        return point

    def _to_config(self, point: list[Any]) -> dict[str, Any]:
        u = [float(x) if k is None else (int(x) + 0.5) / k for x, k in zip(point, self._cats)]
        return self.space.decode_list(u)

    def ask(self, pending: list[Mapping[str, Any]]) -> dict[str, Any]:
        """The next configuration, with ``pending`` configurations told at the best value so
        far (skopt's own ``cl_min`` lie) on a copy of the optimiser."""
        opt = self.opt
        if pending and opt.yi:
            opt = opt.copy(random_state=opt.rng)
            lie = float(np.min(opt.yi))
            opt.tell([self._to_point(c) for c in pending], [lie] * len(pending))
        return self._to_config(opt.ask())

    def tell(self, config: Mapping[str, Any], loss: float) -> None:
        """Record a finished configuration's loss."""
        self.opt.tell(self._to_point(config), float(loss))
