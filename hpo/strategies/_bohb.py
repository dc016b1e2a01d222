"""BOHB (Falkner et al., 2018): Hyperband whose new configurations come from a density model.

Brackets, rungs and promotions are Hyperband's. A new configuration is random with
probability ``random_fraction`` (exploration, and a guarantee of Hyperband's worst case);
otherwise it maximises ``l(x) / g(x)`` of the KDE pair (:mod:`hpo.strategies._kde`) fitted to
the results at the largest budget that has enough of them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from hpo._errors import StrategyError
from hpo.strategies._hyperband import HyperbandStrategy
from hpo.strategies._kde import DensityModel
from search_spaces import SearchSpace
from trackers._states import Goal

__all__ = ["BohbStrategy"]


def _fraction(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise StrategyError(
            f"option {name!r} of strategy 'bohb' must be a number in [{low:g}, {high:g}], "
            f"got {value!r}"
        )
    return float(value)


class BohbStrategy(HyperbandStrategy):
    """``strategy: bohb``: Hyperband's options plus the model's: ``random_fraction`` (1/3),
    ``top_n_percent`` (15), ``num_samples`` (64), ``bandwidth_factor`` (3),
    ``min_bandwidth`` (0.001) and ``min_points_in_model`` (dimensions + 1)."""

    name: ClassVar[str] = "bohb"

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
        random_fraction: float = 1 / 3,
        top_n_percent: float = 15,
        num_samples: int = 64,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        min_points_in_model: int | None = None,
    ) -> None:
        super().__init__(
            space,
            goal=goal,
            seed=seed,
            min_budget=min_budget,
            max_budget=max_budget,
            eta=eta,
            brackets=brackets,
            resource=resource,
        )
        self.random_fraction = _fraction("random_fraction", random_fraction, 0, 1)
        self.top_n_percent = _fraction("top_n_percent", top_n_percent, 1, 99)
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise StrategyError(
                f"option 'num_samples' of strategy 'bohb' must be a whole number >= 1, "
                f"got {num_samples!r}"
            )
        self.num_samples = num_samples
        self.bandwidth_factor = _fraction("bandwidth_factor", bandwidth_factor, 1e-6, 1e6)
        self.min_bandwidth = _fraction("min_bandwidth", min_bandwidth, 1e-12, 1)
        if min_points_in_model is not None and (
            isinstance(min_points_in_model, bool)
            or not isinstance(min_points_in_model, int)
            or min_points_in_model < 1
        ):
            raise StrategyError(
                "option 'min_points_in_model' of strategy 'bohb' must be a whole number >= 1, "
                f"got {min_points_in_model!r}"
            )
        self.min_points_in_model = min_points_in_model
        self.model = DensityModel(
            self.space,
            top_n_percent=self.top_n_percent,
            num_samples=num_samples,
            bandwidth_factor=self.bandwidth_factor,
            min_bandwidth=self.min_bandwidth,
            min_points=min_points_in_model,
        )
        self._encoded: dict[int, np.ndarray] = {}

    def _by_budget(self) -> dict[float, list[tuple[int, float]]]:
        out: dict[float, list[tuple[int, float]]] = defaultdict(list)
        for bracket in self._brackets:
            for rung in bracket.rungs:
                for number, loss in rung.results.items():
                    if math.isfinite(loss):
                        out[rung.budget].append((number, loss))
        return out

    def _new_params(self, k: int) -> dict[str, Any]:
        # A random configuration is Hyperband's own k-th one: until the model has data, and
        # in its random fraction after, bohb draws exactly what hyperband would with this seed.
        rng = np.random.default_rng([self._entropy, k, 1])
        if self.space.dims == 0 or rng.uniform() < self.random_fraction:
            return super()._new_params(k)
        results = self._by_budget()
        usable = [b for b, rows in results.items() if self.model.enough(len(rows))]
        if not usable:
            return super()._new_params(k)
        rows = results[max(usable)]
        u = np.stack([self._encoding(n) for n, _ in rows])
        losses = np.array([loss for _, loss in rows])
        point = self.model.suggest(u, losses, rng)
        if point is None:
            return super()._new_params(k)
        return self.space.decode(point)

    def _encoding(self, number: int) -> np.ndarray:
        u = self._encoded.get(number)
        if u is None:
            u = self._encoded[number] = self.space.encode(self._params[number])
        return u

    def options(self) -> Mapping[str, Any]:
        return {
            **super().options(),
            "random_fraction": self.random_fraction,
            "top_n_percent": self.top_n_percent,
            "num_samples": self.num_samples,
            "bandwidth_factor": self.bandwidth_factor,
            "min_bandwidth": self.min_bandwidth,
            "min_points_in_model": self.min_points_in_model,
        }
