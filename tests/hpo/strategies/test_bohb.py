"""BOHB: Hyperband's brackets and promotions, with new configurations drawn from the density
model once a budget has enough results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from fidelity_sim import Sim

from hpo.strategies import BohbStrategy, HyperbandStrategy, TrialState, make_strategy

SPACE = {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}}
R9 = {"min_budget": 1, "max_budget": 9, "eta": 3}
OPTIMUM = (0.2, 0.7)


def bowl(params: Mapping[str, Any], budget: float) -> float:
    return (params["x"] - OPTIMUM[0]) ** 2 + (params["y"] - OPTIMUM[1]) ** 2 + 1.0 / budget


def distance(params: Mapping[str, Any]) -> float:
    return float(((params["x"] - OPTIMUM[0]) ** 2 + (params["y"] - OPTIMUM[1]) ** 2) ** 0.5)


def test_brackets_and_promotions_are_hyperbands() -> None:
    bohb = BohbStrategy(SPACE, seed=1, **R9)
    hyperband = HyperbandStrategy(SPACE, seed=1, **R9)
    assert bohb.schedule == hyperband.schedule
    assert bohb.default_trials == hyperband.default_trials == 9 + 5 + 3
    sim = Sim(bohb, bowl, workers=2, trials=bohb.default_trials)
    sim.run()
    expected: Counter[float] = Counter()
    for bracket in bohb.schedule:
        for n, budget in bracket:
            expected[budget] += n
    assert Counter(leg.budget for leg in sim.legs) == expected
    assert sim.count(TrialState.COMPLETED) == 1 + 1 + 3
    assert sim.idle_while_sampling == 0


def test_model_draws_concentrate_near_the_optimum() -> None:
    """After the first iterations, BOHB's new configurations are nearer the optimum than
    Hyperband's random ones (same seed, same budget of trials)."""
    late: dict[str, list[float]] = {}
    for name, options in [("bohb", {"random_fraction": 0.0}), ("hyperband", {})]:
        strategy = make_strategy(name, SPACE, seed=3, options={**R9, **options})
        sim = Sim(strategy, bowl, trials=17 * 4)  # four iterations
        sim.run()
        late[name] = [distance(sim.params[n]) for n in range(34, 68)]
    bohb_mean = sum(late["bohb"]) / len(late["bohb"])
    random_mean = sum(late["hyperband"]) / len(late["hyperband"])
    assert bohb_mean < 0.6 * random_mean


def test_the_same_seed_draws_the_same_configurations() -> None:
    runs = []
    for _ in range(2):
        sim = Sim(BohbStrategy(SPACE, seed=11, random_fraction=0.0, **R9), bowl, trials=34)
        sim.run()
        runs.append(sim.params)
    assert runs[0] == runs[1]


@pytest.mark.parametrize("finishes", [12, 25])
def test_restored_strategy_draws_what_the_original_would(finishes: int) -> None:
    """A model fitted to the restored rungs proposes the same next configurations. (One
    worker: with more, which results a draw sees depends on when legs end.)"""

    def bohb() -> BohbStrategy:
        return BohbStrategy(SPACE, seed=4, random_fraction=0.0, **R9)

    original = Sim(bohb(), bowl, workers=1, trials=34)
    original.run(finishes=finishes)
    resumed = original.resumed(bohb(), clean=False)
    original.run()
    resumed.run()
    assert resumed.params == original.params
    assert resumed.state == original.state
