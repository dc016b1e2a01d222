"""make_strategy and the STRATEGIES registry."""

from __future__ import annotations

import pytest

from hpo._errors import StrategyError
from hpo.strategies import (
    STRATEGIES,
    AshaStrategy,
    BayesStrategy,
    BohbStrategy,
    Goal,
    GridStrategy,
    HyperbandStrategy,
    RandomStrategy,
    Strategy,
    make_strategy,
    strategy_options,
)
from search_spaces import SearchSpace

SPACE = {"lr": {"min": 1e-4, "max": 1e-1, "log": True}, "opt": ["sgd", "adam"]}


def test_registry():
    assert dict(STRATEGIES) == {
        "grid": GridStrategy,
        "random": RandomStrategy,
        "bayes": BayesStrategy,
        "hyperband": HyperbandStrategy,
        "asha": AshaStrategy,
        "bohb": BohbStrategy,
    }
    assert strategy_options(GridStrategy) == ["points", "shuffle"]
    assert strategy_options(RandomStrategy) == ["sampler"]
    assert strategy_options(BayesStrategy) == ["backend", "initial", "failed", "pruned"]
    fidelity = ["min_budget", "max_budget", "eta"]
    assert strategy_options(AshaStrategy) == [*fidelity, "resource"]
    assert strategy_options(HyperbandStrategy) == [*fidelity, "brackets", "resource"]
    assert strategy_options(BohbStrategy)[:5] == [*fidelity, "brackets", "resource"]


def test_make_each_strategy():
    grid = make_strategy("grid", SPACE, goal="maximize", seed=1, options={"points": 2})
    assert isinstance(grid, GridStrategy)
    assert grid.goal is Goal.MAXIMIZE
    assert grid.seed == 1
    assert grid.options() == {"points": 2, "shuffle": False}
    assert isinstance(grid.space, SearchSpace)
    rnd = make_strategy("random", SearchSpace.from_dict(SPACE), options={"sampler": "sobol"})
    assert isinstance(rnd, Strategy)
    assert rnd.goal is Goal.MINIMIZE
    assert rnd.options() == {"sampler": "sobol"}


def test_unknown_strategy():
    with pytest.raises(StrategyError) as info:
        make_strategy("rnd", SPACE)
    assert str(info.value) == (
        "unknown strategy 'rnd'; choose one of: grid, random, bayes, hyperband, asha, bohb "
        "(did you mean 'random'?)"
    )
    with pytest.raises(StrategyError) as info:
        make_strategy("zzz", SPACE)
    assert str(info.value) == (
        "unknown strategy 'zzz'; choose one of: grid, random, bayes, hyperband, asha, bohb"
    )


def test_unknown_option():
    with pytest.raises(StrategyError) as info:
        make_strategy("grid", SPACE, options={"point": 3})
    assert str(info.value) == (
        "unknown option 'point' for strategy 'grid'; accepted options: points, shuffle "
        "(did you mean 'points'?)"
    )
    with pytest.raises(StrategyError, match="accepted options: sampler"):
        make_strategy("random", SPACE, options={"seed": 3})


def test_invalid_option_value_and_goal():
    with pytest.raises(StrategyError, match="option 'points' of strategy 'grid'"):
        make_strategy("grid", SPACE, options={"points": -1})
    with pytest.raises(StrategyError, match="goal must be one of: minimize, maximize; not 'up'"):
        make_strategy("random", SPACE, goal="up")
    with pytest.raises(StrategyError, match="options for strategy 'grid' must be a mapping"):
        make_strategy("grid", SPACE, options=[("points", 2)])  # type: ignore[arg-type]


def test_docstring_example_runs():
    from hpo.strategies import Observation, TrialState

    strategy = make_strategy("random", SPACE, seed=0)
    for number in range(5):
        params = strategy.ask().params
        loss = params["lr"]
        strategy.tell(Observation(number, params, TrialState.COMPLETED, loss))
