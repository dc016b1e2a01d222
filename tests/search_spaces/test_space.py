"""SearchSpace: ordering, conditions, validation, sampling and JSON."""

from __future__ import annotations

import json
import pickle
import statistics

import numpy as np
import pytest

from search_spaces import Categorical, Constant, Float, Int, SearchSpace, SearchSpaceError


@pytest.fixture
def space() -> SearchSpace:
    return SearchSpace.from_dict(
        {
            "momentum": {"min": 0.0, "max": 0.99, "when": {"opt": "sgd"}},
            "opt": {"values": ["sgd", "adam"]},
            "nesterov": {"values": [True, False], "when": {"momentum": 0.5}},
            "lr": {"min": 1e-5, "max": 1e-1, "distribution": "log_uniform_values"},
            "layers": {"min": 1, "max": 4},
            "seed": 3,
        }
    )


# -- structure ----------------------------------------------------------------------------------


def test_parents_come_before_children_and_order_is_otherwise_kept(space):
    assert space.names == ("opt", "momentum", "nesterov", "lr", "layers", "seed")
    assert list(space.params) == list(space.names)
    assert len(space) == 6
    assert "lr" in space
    assert "nope" not in space
    assert [p.name for p in space] == list(space.names)


def test_equality_and_hash():
    a = SearchSpace([Float("x", 0.0, 1.0), Int("n", 1, 3)])
    b = SearchSpace.from_dict({"x": {"min": 0.0, "max": 1.0}, "n": {"min": 1, "max": 3}})
    assert a == b
    assert hash(a) == hash(b)
    assert a != SearchSpace([Int("n", 1, 3), Float("x", 0.0, 1.0)])
    assert a != "not a space"


def test_duplicate_names():
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace([Float("x", 0.0, 1.0), Int("x", 1, 3)])
    assert info.value.message == "two parameters are named 'x': rename one"
    assert info.value.path == ("x",)


def test_not_a_parameter():
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace([Float("x", 0.0, 1.0), "y"])  # type: ignore[list-item]
    assert info.value.path == (1,)
    with pytest.raises(SearchSpaceError, match=r"use SearchSpace\.from_dict for a mapping"):
        SearchSpace({"x": 1})  # type: ignore[arg-type]


def test_cycle_is_reported_with_its_path():
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace(
            [
                Categorical("a", [1, 2], when={"b": 1}),
                Categorical("b", [1, 2], when={"c": 1}),
                Categorical("c", [1, 2], when={"a": 1}),
            ]
        )
    assert info.value.message == (
        "the conditions form a cycle (a -> b -> c -> a, each depending on the next): "
        "remove one of these conditions"
    )
    assert info.value.path == ("a", "when", "b")


@pytest.mark.parametrize(
    ("parent", "value", "text"),
    [
        (Int("p", 1, 10, step=3), 5, "p can never be 5 (its range is [1, 10])"),
        (Float("p", 0.0, 1.0), 2.0, "p can never be 2.0 (its range is [0.0, 1.0])"),
        (Constant("p", "a"), "b", "p can never be 'b' (it is the constant 'a')"),
        (Categorical("p", [True, False]), 1, "p can never be 1 (its values are [True, False])"),
    ],
)
def test_condition_on_a_value_the_parent_never_takes(parent, value, text):
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace([parent, Constant("c", 1, when={"p": value})])
    assert info.value.message.startswith(text)
    assert info.value.path == ("c", "when", "p")


# -- validate and is_active ---------------------------------------------------------------------


def test_validate_normalises(space):
    config = {"opt": "sgd", "momentum": 0.5, "nesterov": True, "lr": 0.01, "layers": 2.0}
    out = space.validate({**config, "seed": 3})
    assert out == {**config, "layers": 2, "seed": 3}
    assert type(out["layers"]) is int
    assert list(out) == list(space.names)


@pytest.mark.parametrize(
    ("config", "path", "text"),
    [
        (
            {"opt": "adam", "lr": 0.01, "layers": 2},
            ("seed",),
            "missing value: the parameter is active in this configuration; add it",
        ),
        ({"opt": "sgd", "lr": 0.01, "layers": 2, "seed": 3}, ("momentum",), "missing value"),
        (
            {"opt": "adam", "momentum": 0.5, "lr": 0.01, "layers": 2, "seed": 3},
            ("momentum",),
            "the parameter is inactive here (opt is 'adam', not one of ['sgd']): remove it",
        ),
        (
            {"opt": "adam", "nesterov": True, "lr": 0.01, "layers": 2, "seed": 3},
            ("nesterov",),
            "the parameter is inactive here (momentum is inactive): remove it",
        ),
        ({"opt": "rms", "lr": 0.01, "layers": 2, "seed": 3}, ("opt",), "'rms' is not one of"),
        ({"opt": "adam", "lr": 2.0, "layers": 2, "seed": 3}, ("lr",), "2.0 is outside"),
        ({"opt": "adam", "lr": 0.1, "layers": 2.5, "seed": 3}, ("layers",), "not an integer"),
        ({"opt": "adam", "lr": 0.1, "layers": 2, "seed": 4}, ("seed",), "differs from"),
        (
            {"opt": "adam", "lr": 0.1, "layers": 2, "seed": 3, "lrr": 1},
            ("lrr",),
            "unknown parameter 'lrr'; the space has: opt, momentum, nesterov, lr, layers, seed "
            "(did you mean 'lr'?)",
        ),
    ],
)
def test_validate_errors(space, config, path, text):
    with pytest.raises(SearchSpaceError) as info:
        space.validate(config)
    assert text in info.value.message
    assert info.value.path == path


def test_validate_needs_a_mapping(space):
    with pytest.raises(SearchSpaceError, match="a configuration must be a mapping"):
        space.validate([1])  # type: ignore[arg-type]


def test_is_active(space):
    assert space.is_active("opt", {})
    assert space.is_active("momentum", {"opt": "sgd"})
    assert not space.is_active("momentum", {"opt": "adam"})
    assert not space.is_active("momentum", {})
    assert space.is_active("nesterov", {"opt": "sgd", "momentum": 0.5})
    assert not space.is_active("nesterov", {"opt": "adam", "momentum": 0.5})
    with pytest.raises(SearchSpaceError, match="unknown parameter 'nest'") as info:
        space.is_active("nest", {})
    assert info.value.path == ("nest",)


# -- sampling -----------------------------------------------------------------------------------


def test_every_sample_validates_and_conditions_hold(space):
    rng = np.random.default_rng(1)
    for _ in range(500):
        config = space.sample(rng)
        assert space.validate(config) == config
        assert ("momentum" in config) == (config["opt"] == "sgd")
        assert ("nesterov" in config) == (config.get("momentum") == 0.5)


def test_sample_is_repeatable_with_a_seed(space):
    a = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    b = [space.sample(np.random.default_rng(7)) for _ in range(3)]
    assert a == b


def test_log_uniform_median_is_near_the_geometric_mean():
    space = SearchSpace([Float("lr", 1e-4, 1.0, log=True)])
    rng = np.random.default_rng(0)
    draws = [space.sample(rng)["lr"] for _ in range(2000)]
    assert all(1e-4 <= d <= 1.0 for d in draws)
    assert 10**-2.3 < statistics.median(draws) < 10**-1.7  # geometric mean 1e-2


def test_int_uniform_and_log_int_distributions():
    space = SearchSpace([Int("n", 1, 4), Int("w", 1, 1000, log=True)])
    rng = np.random.default_rng(0)
    draws = [space.sample(rng) for _ in range(2000)]
    counts = [sum(d["n"] == v for d in draws) for v in (1, 2, 3, 4)]
    assert all(400 < c < 600 for c in counts)
    median = statistics.median(d["w"] for d in draws)
    assert 15 < median < 65  # log-uniform over 1..1000: median near sqrt(1000) = 31.6
    assert all(isinstance(d["w"], int) for d in draws)


def test_categorical_probabilities_are_honoured():
    space = SearchSpace([Categorical("opt", ["sgd", "adam"], probabilities=[0.3, 0.7])])
    rng = np.random.default_rng(0)
    share = sum(space.sample(rng)["opt"] == "sgd" for _ in range(2000)) / 2000
    assert 0.25 < share < 0.35


def test_stepped_float_samples_are_on_the_step():
    space = SearchSpace([Float("d", 0.0, 0.5, step=0.05)])
    rng = np.random.default_rng(0)
    seen = {space.sample(rng)["d"] for _ in range(1000)}
    assert seen == {round(0.05 * k, 2) for k in range(11)}


def test_empty_space():
    space = SearchSpace([])
    assert space.sample(np.random.default_rng(0)) == {}
    assert list(space.grid()) == [{}]
    assert space.dims == 0


# -- JSON ---------------------------------------------------------------------------------------


def test_json_round_trip(space):
    rich = SearchSpace(
        [
            *space,
            Float("d", 0.0, 0.5, step=0.05, grid_points=3),
            Categorical("c", [None, True, 1, 2.5, "x"], probabilities=[0.2] * 5),
            Int("u", 10, 100, step=10, log=True),
        ]
    )
    text = json.dumps(rich.to_json())
    back = SearchSpace.from_json(json.loads(text))
    assert back == rich
    assert back.to_json() == rich.to_json()
    assert list(back.params["c"].choices) == [None, True, 1, 2.5, "x"]


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ({"parameters": []}, "not a serialised search space"),
        ({"format": "hpo.search_space", "version": 9, "parameters": []}, "version 9"),
        ({"format": "hpo.search_space", "version": 1}, "needs a parameters list"),
        (
            {"format": "hpo.search_space", "version": 1, "parameters": [{"type": "x"}]},
            "unknown parameter type 'x'",
        ),
        (
            {"format": "hpo.search_space", "version": 1, "parameters": [{"type": "float"}]},
            "malformed float parameter",
        ),
        ({"format": "hpo.search_space", "version": 1, "parameters": [3]}, "JSON object"),
    ],
)
def test_from_json_errors(data, text):
    with pytest.raises(SearchSpaceError, match=text.replace("(", r"\(")):
        SearchSpace.from_json(data)


def test_pickle_round_trip(space):
    # Spaces and parameters travel to worker processes.
    back = pickle.loads(pickle.dumps(space))
    assert back == space
    assert back.sample(np.random.default_rng(3)) == space.sample(np.random.default_rng(3))
    param = space.params["momentum"]
    assert pickle.loads(pickle.dumps(param)) == param
    assert hash(pickle.loads(pickle.dumps(param))) == hash(param)


def test_repr_shows_conditions_as_a_dict(space):
    assert "when={'opt': ('sgd',)}" in repr(space.params["momentum"])
