"""RandomStrategy: pseudo and quasi-random samplers, repeatability, restore."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from hpo._errors import StrategyError
from hpo.strategies import Observation, RandomStrategy, TrialState
from search_spaces import Categorical, Constant, Float, Int, SearchSpace

SPACE = SearchSpace(
    [
        Categorical("opt", ["sgd", "adam"]),
        Float("momentum", 0.0, 0.9, when={"opt": "sgd"}),
        Float("lr", 1e-5, 1e-1, log=True),
        Int("layers", 1, 4),
        Constant("seed", 3),
    ]
)
SAMPLERS = ["pseudo", "sobol", "halton"]


def asks(strategy: RandomStrategy, n: int) -> list[dict]:
    return [dict(strategy.ask().params) for _ in range(n)]


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_seeded_runs_repeat_exactly_and_every_point_validates(sampler):
    a = asks(RandomStrategy(SPACE, seed=3, sampler=sampler), 300)
    b = asks(RandomStrategy(SPACE, seed=3, sampler=sampler), 300)
    c = asks(RandomStrategy(SPACE, seed=4, sampler=sampler), 300)
    assert a == b
    assert a != c
    for config in a:
        assert SPACE.validate(config) == config


@pytest.mark.parametrize("sampler", SAMPLERS)
def test_restore_continues_where_the_original_run_was(sampler):
    original = RandomStrategy(SPACE, seed=11, sampler=sampler)
    first = asks(original, 10)
    history = [Observation(i, p, TrialState.COMPLETED, float(i)) for i, p in enumerate(first[:6])]
    resumed = RandomStrategy(SPACE, seed=11, sampler=sampler)
    resumed.restore(history)
    assert asks(resumed, 4) == first[6:]


@pytest.mark.parametrize("sampler", ["sobol", "halton"])
def test_restore_across_a_block_boundary(sampler):
    first = asks(RandomStrategy(SPACE, seed=2, sampler=sampler), 600)
    resumed = RandomStrategy(SPACE, seed=2, sampler=sampler)
    resumed.restore([Observation(i, p, TrialState.FAILED, None) for i, p in enumerate(first[:300])])
    assert asks(resumed, 300) == first[300:]


def test_sobol_emits_no_warning():
    strategy = RandomStrategy(SPACE, seed=0, sampler="sobol")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        asks(strategy, 300)
        strategy.restore([Observation(0, {}, TrialState.COMPLETED, 0.0)] * 3)
        asks(strategy, 300)


def test_quasi_random_covers_the_unit_interval_evenly():
    space = SearchSpace([Float("x", 0.0, 1.0)])
    xs = np.array([p["x"] for p in asks(RandomStrategy(space, seed=0, sampler="sobol"), 256)])
    counts, _ = np.histogram(xs, bins=16, range=(0, 1))
    assert (counts == 16).all()  # a scrambled Sobol' net: exactly one point per 1/256


def test_constant_only_space_with_quasi_sampler():
    space = SearchSpace([Constant("a", 1)])
    assert asks(RandomStrategy(space, seed=0, sampler="sobol"), 2) == [{"a": 1}, {"a": 1}]


def test_never_done():
    strategy = RandomStrategy(SPACE, seed=0)
    asks(strategy, 5)
    assert not strategy.done


def test_invalid_sampler_and_options():
    with pytest.raises(StrategyError) as info:
        RandomStrategy(SPACE, sampler="sobl")  # type: ignore[arg-type]
    assert str(info.value) == (
        "option 'sampler' of strategy 'random' must be one of: pseudo, sobol, halton; "
        "not 'sobl' (did you mean 'sobol'?)"
    )
    assert RandomStrategy(SPACE, sampler="halton").options() == {"sampler": "halton"}
