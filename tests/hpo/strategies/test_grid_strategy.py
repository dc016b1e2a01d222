"""GridStrategy: each point once, done, shuffle, size limit, restore."""

from __future__ import annotations

import pytest

from hpo._errors import StrategyError
from hpo.strategies import GridStrategy, Observation, TrialState
from search_spaces import Categorical, Float, Int, SearchSpace

SPACE = SearchSpace(
    [
        Categorical("opt", ["sgd", "adam"]),
        Float("momentum", 0.0, 0.9, when={"opt": "sgd"}),
        Int("layers", 1, 3),
    ]
)


def drain(strategy: GridStrategy) -> list[dict]:
    out = []
    while (suggestion := strategy.ask()) is not None:
        out.append(dict(suggestion.params))
    return out


def test_yields_each_grid_point_once_then_none_and_done():
    strategy = GridStrategy(SPACE, points=2)
    assert not strategy.done
    points = drain(strategy)
    assert points == list(SPACE.grid(2))
    assert len(points) == strategy.size == 6  # layers: 1 and 3 at 2 points
    assert strategy.done
    assert strategy.ask() is None
    assert strategy.done


def test_done_turns_true_as_soon_as_the_last_point_is_out():
    strategy = GridStrategy(SearchSpace([Categorical("c", ["a", "b"])]))
    strategy.ask()
    assert not strategy.done
    strategy.ask()
    assert strategy.done


def test_accepts_a_user_format_mapping():
    strategy = GridStrategy({"c": ["a", "b"]})
    assert drain(strategy) == [{"c": "a"}, {"c": "b"}]


def test_shuffle_is_a_seeded_permutation():
    a = drain(GridStrategy(SPACE, points=3, shuffle=True, seed=1))
    b = drain(GridStrategy(SPACE, points=3, shuffle=True, seed=1))
    c = drain(GridStrategy(SPACE, points=3, shuffle=True, seed=2))
    ordered = list(SPACE.grid(3))
    assert a == b
    assert a != ordered
    assert a != c
    key = lambda p: sorted(p.items())  # noqa: E731
    assert sorted(a, key=key) == sorted(ordered, key=key)


def test_refuses_absurd_grids():
    huge = SearchSpace([Int(f"n{i}", 0, 99) for i in range(4)])  # 100 ** 4 = 1e8 points
    with pytest.raises(StrategyError) as info:
        GridStrategy(huge, points=100)
    assert str(info.value).startswith(
        "the grid has 100,000,000 points, more than the 10,000,000 allowed"
    )


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"points": 0}, "option 'points' of strategy 'grid' must be a positive integer, not 0"),
        ({"points": "3"}, "must be a positive integer, not '3'"),
        ({"shuffle": "yes"}, "option 'shuffle' of strategy 'grid' must be true or false"),
    ],
)
def test_invalid_options(kwargs, text):
    with pytest.raises(StrategyError, match=text):
        GridStrategy(SPACE, **kwargs)


def test_options():
    assert GridStrategy(SPACE, points=3, shuffle=True).options() == {"points": 3, "shuffle": True}


@pytest.mark.parametrize("shuffle", [False, True])
def test_restore_skips_points_already_run(shuffle):
    original = GridStrategy(SPACE, points=3, shuffle=shuffle, seed=5)
    points = drain(original)
    states = [TrialState.COMPLETED, TrialState.FAILED, TrialState.PRUNED, TrialState.TIMED_OUT]
    history = [
        Observation(number=i, params=p, state=states[i % 4], value=None)
        for i, p in enumerate(points[:7])
    ]
    resumed = GridStrategy(SPACE, points=3, shuffle=shuffle, seed=5)
    resumed.restore(history)
    assert drain(resumed) == points[7:]


def test_restore_skips_every_suggested_point_even_interrupted_ones():
    # The engine reruns interrupted trials itself (same params and seed), so the grid must
    # not suggest them a second time.
    points = list(SPACE.grid(2))
    history = [
        Observation(0, points[0], TrialState.COMPLETED, 1.0),
        Observation(1, points[1], TrialState.INTERRUPTED, None),
        Observation(2, points[2], TrialState.RUNNING, None),
        Observation(3, points[3], TrialState.COMPLETED, 2.0),
    ]
    strategy = GridStrategy(SPACE, points=2)
    strategy.restore(history)
    assert drain(strategy) == points[4:]


def test_restore_matches_params_read_back_from_a_store():
    # ints may come back as floats; the point is still recognised as run
    strategy = GridStrategy(SearchSpace([Int("n", 1, 3)]))
    strategy.restore([Observation(0, {"n": 1.0}, TrialState.COMPLETED, 0.5)])
    assert drain(strategy) == [{"n": 2}, {"n": 3}]


def test_restore_of_everything_is_done():
    points = list(SPACE.grid(2))
    strategy = GridStrategy(SPACE, points=2)
    strategy.restore([Observation(i, p, TrialState.COMPLETED, 0.0) for i, p in enumerate(points)])
    assert strategy.done
    assert strategy.ask() is None
