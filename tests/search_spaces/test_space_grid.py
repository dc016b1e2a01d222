"""Grid enumeration: values per type, conditions, no duplicates, and grid_size."""

from __future__ import annotations

import pytest

from search_spaces import Categorical, Constant, Float, Int, SearchSpace, SearchSpaceError


def test_grid_with_conditions_exact():
    space = SearchSpace(
        [
            Categorical("opt", ["sgd", "adam"]),
            Float("momentum", 0.0, 0.9, when={"opt": "sgd"}),
            Categorical("nesterov", [True, False], when={"opt": "sgd"}),
            Int("layers", 1, 2),
            Constant("seed", 7),
        ]
    )
    grid = list(space.grid(points=2))
    sgd = [
        {"opt": "sgd", "momentum": m, "nesterov": n, "layers": layer, "seed": 7}
        for m in (0.0, 0.9)
        for n in (True, False)
        for layer in (1, 2)
    ]
    adam = [{"opt": "adam", "layers": layer, "seed": 7} for layer in (1, 2)]
    assert grid == sgd + adam
    assert space.grid_size(2) == 10
    for config in grid:
        assert space.validate(config) == config


def test_grid_child_of_a_child_expands_only_under_its_parents():
    space = SearchSpace(
        [
            Categorical("a", ["x", "y"]),
            Categorical("b", [1, 2], when={"a": "x"}),
            Categorical("c", ["p", "q"], when={"b": 2}),
        ]
    )
    assert list(space.grid()) == [
        {"a": "x", "b": 1},
        {"a": "x", "b": 2, "c": "p"},
        {"a": "x", "b": 2, "c": "q"},
        {"a": "y"},
    ]
    assert space.grid_size() == 4


def test_grid_has_no_duplicates_and_size_matches():
    space = SearchSpace.from_dict(
        {
            "opt": ["sgd", "adam", "rms"],
            "m": {"min": 0.0, "max": 1.0, "when": {"opt": ["sgd", "rms"]}},
            "k": {"min": 1, "max": 100, "log": True, "when": {"opt": "rms"}},
            "lr": {"min": 1e-4, "max": 1e-1, "log": True},
        }
    )
    for points in (1, 2, 3, 7):
        grid = list(space.grid(points))
        assert len(grid) == space.grid_size(points)
        keys = {tuple(sorted(c.items())) for c in grid}
        assert len(keys) == len(grid)


def test_float_grid_linear_log_step_and_own_points():
    assert Float("x", 0.0, 1.0).grid_values(5) == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert Float("x", 1e-3, 1.0, log=True).grid_values(4) == pytest.approx((1e-3, 1e-2, 1e-1, 1))
    assert Float("x", 1e-3, 1.0, log=True).grid_values(4)[-1] == 1.0
    # snapped to the step, then deduplicated
    assert Float("x", 0.0, 1.0, step=0.4).grid_values(5) == (0.0, 0.4, 0.8)
    assert Float("x", 0.0, 10.0, step=1.0).grid_values(4) == (0.0, 3.0, 7.0, 10.0)
    assert Float("x", 0.0, 1.0, grid_points=3).grid_values(10) == (0.0, 0.5, 1.0)
    assert Float("x", 0.0, 1.0).grid_values(1) == (0.0,)


def test_int_grid_all_values_or_spaced():
    assert Int("n", 1, 4).grid_values(5) == (1, 2, 3, 4)
    assert Int("n", 0, 100).grid_values(5) == (0, 25, 50, 75, 100)
    assert Int("n", 1, 1000, log=True).grid_values(4) == (1, 10, 100, 1000)
    # geomspace(1, 6, 5) = 1, 1.57, 2.45, 3.83, 6: rounded, then deduplicated
    assert Int("n", 1, 6, log=True).grid_values(5) == (1, 2, 4, 6)
    assert Int("n", 10, 100, step=10).grid_values(4) == (10, 40, 70, 100)
    assert Int("n", 1, 3, log=True).grid_values(10) == (1, 2, 3)
    assert Int("n", 1, 2, grid_points=1).grid_values(5) == (1,)


def test_categorical_and_constant_grid_ignore_points():
    space = SearchSpace([Categorical("c", ["a", "b", "c"]), Constant("k", None)])
    assert list(space.grid(1)) == [{"c": v, "k": None} for v in "abc"]


def test_grid_size_is_computed_without_enumerating():
    # 10 ** 20 points: enumerating them would never finish.
    space = SearchSpace([Int(f"n{i}", 0, 9) for i in range(20)])
    assert space.grid_size(10) == 10**20


def test_grid_points_must_be_positive():
    space = SearchSpace([Int("n", 0, 9)])
    for bad in (0, -1, 2.5, True):
        with pytest.raises(SearchSpaceError, match="grid points must be a positive integer"):
            space.grid_size(bad)  # type: ignore[arg-type]
