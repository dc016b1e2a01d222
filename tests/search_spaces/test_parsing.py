"""The user format (W&B-style ``parameters``): every parse path and every error path."""

from __future__ import annotations

import math

import pytest

from search_spaces import (
    Categorical,
    Constant,
    Distribution,
    Float,
    Int,
    SearchSpace,
    SearchSpaceError,
    as_space,
)


def parse(spec) -> object:
    """The single parameter parsed from ``{"p": spec}``."""
    return SearchSpace.from_dict({"p": spec}).params["p"]


def parse_error(spec, name: str = "p") -> SearchSpaceError:
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_dict({name: spec})
    return info.value


# -- the example from the design, in full -------------------------------------------------------


def test_design_example():
    space = SearchSpace.from_dict(
        {
            "lr": {"min": 1.0e-5, "max": 1.0e-1, "distribution": "log_uniform_values"},
            "layers": {"min": 1, "max": 4},
            "dropout": {"min": 0.0, "max": 0.5},
            "width": {"min": 16, "max": 512, "log": True},
            "batch": {"values": [16, 32, 64]},
            "opt": {"values": ["sgd", "adam"], "probabilities": [0.3, 0.7]},
            "seed": {"value": 3},
            "momentum": {"min": 0.0, "max": 0.99, "when": {"opt": "sgd"}},
            "units": {"min": 10, "max": 100, "q": 10},
            "c": {
                "min": 0.01,
                "max": 100,
                "distribution": "log_uniform_values",
                "grid_points": 7,
            },
        }
    )
    assert list(space) == [
        Float("lr", 1e-5, 1e-1, log=True),
        Int("layers", 1, 4),
        Float("dropout", 0.0, 0.5),
        Int("width", 16, 512, log=True),
        Categorical("batch", [16, 32, 64]),
        Categorical("opt", ["sgd", "adam"], probabilities=[0.3, 0.7]),
        Constant("seed", 3),
        Float("momentum", 0.0, 0.99, when={"opt": ("sgd",)}),
        Int("units", 10, 100, step=10),
        Float("c", 0.01, 100.0, log=True, grid_points=7),
    ]


# -- inference and distributions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"min": 1, "max": 4}, Int("p", 1, 4)),
        ({"min": 1, "max": 4.0}, Float("p", 1.0, 4.0)),
        ({"min": 1, "max": 4, "step": 0.5}, Float("p", 1.0, 4.0, step=0.5)),
        ({"min": 1, "max": 9, "step": 2}, Int("p", 1, 9, step=2)),
        ({"min": 16, "max": 512, "log": True}, Int("p", 16, 512, log=True)),
        ({"min": 0.1, "max": 1.0, "log": False}, Float("p", 0.1, 1.0)),
        ({"value": "x"}, Constant("p", "x")),
        ({"values": [1, 2]}, Categorical("p", [1, 2])),
        (0.1, Constant("p", 0.1)),
        ("adam", Constant("p", "adam")),
        (None, Constant("p", None)),
        (["sgd", "adam"], Categorical("p", ["sgd", "adam"])),
        ((1, 2), Categorical("p", [1, 2])),
        ({"distribution": "constant", "value": 3}, Constant("p", 3)),
        ({"distribution": "categorical", "values": [3, 4]}, Categorical("p", [3, 4])),
        ({"distribution": "int_uniform", "min": 1, "max": 5}, Int("p", 1, 5)),
        ({"distribution": "int_uniform", "min": 0, "max": 50, "q": 5}, Int("p", 0, 50, step=5)),
        ({"distribution": "uniform", "min": 0, "max": 1}, Float("p", 0.0, 1.0)),
        ({"distribution": "q_uniform", "min": 0, "max": 10}, Float("p", 0.0, 10.0, step=1.0)),
        (
            {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.1},
            Float("p", 0.0, 1.0, step=0.1),
        ),
        (
            {"distribution": "log_uniform_values", "min": 1e-3, "max": 1},
            Float("p", 1e-3, 1.0, log=True),
        ),
        (
            {"distribution": "q_log_uniform_values", "min": 1, "max": 256, "q": 2},
            Float("p", 1.0, 256.0, log=True, step=2.0),
        ),
        (
            {"distribution": "int_log_uniform_values", "min": 1, "max": 256},
            Int("p", 1, 256, log=True),
        ),
        ({"min": "1e-5", "max": "1e-1", "log": True}, Float("p", 1e-5, 1e-1, log=True)),
        ({"min": "1", "max": "4"}, Int("p", 1, 4)),
        ({"min": 0.0, "max": 1.0, "q": 0.25, "step": 0.25}, Float("p", 0.0, 1.0, step=0.25)),
        (
            {"min": 0.0, "max": 1.0, "when": {"opt": ["a", "b"]}},
            Float("p", 0.0, 1.0, when={"opt": ("a", "b")}),
        ),
    ],
)
def test_parse_paths(spec, expected):
    if expected.when:
        space = SearchSpace.from_dict({"opt": ["a", "b"], "p": spec})
        assert space.params["p"] == expected
    else:
        assert parse(spec) == expected


def test_log_uniform_takes_exponents():
    p = parse({"distribution": "log_uniform", "min": -5, "max": 0})
    assert p == Float("p", math.exp(-5), 1.0, log=True)
    q = parse({"distribution": "q_log_uniform", "min": 0, "max": math.log(100), "q": 5})
    assert (q.low, q.high, q.step, q.log) == (1.0, pytest.approx(100.0), 5.0, True)


def test_distribution_enum_lists_every_accepted_name():
    assert [d.value for d in Distribution] == [
        "constant",
        "categorical",
        "int_uniform",
        "uniform",
        "q_uniform",
        "log_uniform_values",
        "q_log_uniform_values",
        "int_log_uniform_values",
        "log_uniform",
        "q_log_uniform",
    ]


def test_parameter_objects_in_the_mapping():
    lr = Float("lr", 0.1, 1.0)
    space = SearchSpace.from_dict({"lr": lr, "n": {"min": 1, "max": 3}})
    assert space.params["lr"] is lr
    e = parse_error(Float("other", 0.1, 1.0), name="lr")
    assert e.message == "the parameter object is named 'other' but its key is 'lr': make them match"
    assert e.path == ("lr",)


def test_as_space_accepts_each_form():
    space = SearchSpace([Float("x", 0.0, 1.0)])
    assert as_space(space) is space
    assert as_space({"x": {"min": 0.0, "max": 1.0}}) == space
    assert as_space([Float("x", 0.0, 1.0)]) == space
    with pytest.raises(SearchSpaceError, match="cannot make a search space from int"):
        as_space(3)


# -- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "path", "text"),
    [
        (
            {"mn": 0, "max": 1},
            ("p", "mn"),
            "unknown key 'mn'; allowed keys: value, values, probabilities, min, max, "
            "distribution, log, q, step, grid_points, when (did you mean 'min'?)",
        ),
        ({"zzz": 1}, ("p", "zzz"), "unknown key 'zzz'; allowed keys: value"),
        ({"min": "abc", "max": 1}, ("p", "min"), "min must be a number, not the string 'abc'"),
        ({"min": 0, "max": [1]}, ("p", "max"), "max must be a number, not list [1]"),
        ({"min": 0, "max": "inf"}, ("p", "max"), "max must be finite"),
        ({"min": 0}, ("p", "max"), "missing max: a range needs both min and max"),
        ({"max": 1}, ("p", "min"), "missing min"),
        ({"log": True}, ("p",), "a parameter needs value, values, or min and max"),
        ({"min": 0.1, "max": 0.01}, ("p", "min"), "min (0.1) must be less than max (0.01)"),
        ({"min": 0, "max": 1, "log": "yes"}, ("p", "log"), "log must be true or false"),
        ({"min": 0.0, "max": 1.0, "q": -1}, ("p", "q"), "step (-1.0) must be greater than 0"),
        ({"min": 0.0, "max": 1.0, "step": 0}, ("p", "step"), "step (0.0) must be greater"),
        ({"min": 0, "max": 10, "q": 20}, ("p", "q"), "step (20) is larger than max - min"),
        ({"min": 0, "max": 1, "q": 0.1, "step": 0.2}, ("p", "q"), "q (0.1) and step (0.2)"),
        ({"min": 0, "max": 1, "q": "x"}, ("p", "q"), "q must be a number"),
        ({"value": 1, "values": [1]}, ("p", "values"), "'values' does not apply to a constant"),
        ({"values": [1], "min": 0}, ("p", "min"), "'min' does not apply to a categorical"),
        (
            {"min": 0, "max": 1, "probabilities": [1]},
            ("p", "probabilities"),
            "'probabilities' does not apply to a numeric",
        ),
        ({"values": []}, ("p", "values"), "values is empty"),
        ({"values": 3}, ("p", "values"), "values must be a list, not int 3"),
        ({"values": [1, 2], "probabilities": [0.2]}, ("p", "probabilities"), "has 1 entries"),
        ({"value": [1]}, ("p", "value"), "a value must be a string, number, bool or null"),
        ({"min": 0, "max": 1, "grid_points": 0}, ("p", "grid_points"), "grid_points must be"),
        ({"distribution": "constant"}, ("p", "value"), "distribution constant needs a value"),
        ({"distribution": "categorical"}, ("p", "values"), "categorical needs values"),
        (
            {"distribution": "normal", "mu": 0, "sigma": 1},
            ("p", "mu"),
            "key 'mu' belongs to W&B's normal/beta distributions",
        ),
        (
            {"distribution": "normal", "min": 0, "max": 1},
            ("p", "distribution"),
            "distribution 'normal' is not supported; supported distributions: constant, "
            "categorical, int_uniform, uniform, q_uniform, log_uniform_values, "
            "q_log_uniform_values, int_log_uniform_values, log_uniform, q_log_uniform",
        ),
        (
            {"distribution": "unifrom", "min": 0, "max": 1},
            ("p", "distribution"),
            "(did you mean 'uniform'?)",
        ),
        ({"distribution": 3, "min": 0, "max": 1}, ("p", "distribution"), "must be a name"),
        (
            {"distribution": "int_uniform", "min": 0.5, "max": 3},
            ("p", "min"),
            "min must be an integer, not 0.5",
        ),
        (
            {"distribution": "uniform", "min": 1, "max": 3, "log": True},
            ("p", "log"),
            "log: true contradicts distribution uniform: drop log",
        ),
        (
            {"distribution": "log_uniform_values", "min": 0, "max": 3},
            ("p", "min"),
            "min (0.0) must be greater than 0 on a log scale",
        ),
        (
            {"distribution": "log_uniform", "min": 3, "max": 1},
            ("p", "min"),
            "min (3) must be less than max (1): swap them",
        ),
        ({"min": 0, "max": 1, "when": "opt"}, ("p", "when"), "when must map parent names"),
        ({"value": {"a": 1}}, ("p", "value"), "a value must be a string"),
        (object(), ("p", "value"), "a value must be a string, number, bool or null, not object"),
    ],
)
def test_parse_errors(spec, path, text):
    e = parse_error(spec)
    assert text in e.message
    assert e.path == path


def test_top_level_errors():
    with pytest.raises(SearchSpaceError, match="parameters must be a mapping of name -> spec"):
        SearchSpace.from_dict([1, 2])  # type: ignore[arg-type]
    with pytest.raises(SearchSpaceError, match="a parameter name must be a non-empty string"):
        SearchSpace.from_dict({"": 1})


def test_condition_on_unknown_or_impossible_values_points_at_when():
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_dict({"opt": ["sgd", "adam"], "m": {"value": 1, "when": {"opx": "sgd"}}})
    assert info.value.path == ("m", "when", "opx")
    assert "unknown parameter 'opx'" in info.value.message
    assert "(did you mean 'opt'?)" in info.value.message
    with pytest.raises(SearchSpaceError) as info:
        SearchSpace.from_dict({"opt": ["sgd", "adam"], "m": {"value": 1, "when": {"opt": "sdg"}}})
    assert info.value.message == (
        "opt can never be 'sdg' (its values are ['sgd', 'adam']), so the condition could never "
        "hold: use a value the parent can take"
    )
    assert info.value.path == ("m", "when", "opt")
