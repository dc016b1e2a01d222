"""Parameter types: construction, validation errors (message and path), values and JSON."""

from __future__ import annotations

import math

import numpy as np
import pytest

from search_spaces import Categorical, Constant, Float, Int, SearchSpaceError


def error(fn, *args, **kwargs) -> SearchSpaceError:
    with pytest.raises(SearchSpaceError) as info:
        fn(*args, **kwargs)
    return info.value


# -- Float --------------------------------------------------------------------------------------


def test_float_fields_are_normalised():
    p = Float("lr", 1, 2, log=True, when={"opt": "sgd"}, grid_points=3)
    assert (p.low, p.high, p.log, p.step, p.grid_points) == (1.0, 2.0, True, None, 3)
    assert isinstance(p.low, float)
    assert dict(p.when) == {"opt": ("sgd",)}


def test_float_is_frozen_and_hashable():
    p = Float("x", 0.0, 1.0)
    with pytest.raises(AttributeError):
        p.low = 3.0  # type: ignore[misc]
    assert hash(p) == hash(Float("x", 0.0, 1.0))
    assert p == Float("x", 0, 1)
    assert p != Float("x", 0, 1, log=False, step=0.5)


def test_float_min_greater_than_max():
    e = error(Float, "lr", 0.1, 0.01)
    assert e.message == "min (0.1) must be less than max (0.01): swap them"
    assert e.path == ("lr", "min")
    assert str(e) == "lr.min: min (0.1) must be less than max (0.01): swap them"


def test_float_min_equals_max_names_the_values():
    e = error(Float, "lr", 0.5, 0.5)
    assert "min (0.5) equals max (0.5)" in e.message
    assert "value: 0.5" in e.message
    assert e.path == ("lr", "max")


def test_float_log_needs_positive_min():
    e = error(Float, "lr", 0.0, 1.0, log=True)
    assert e.message == (
        "min (0.0) must be greater than 0 on a log scale: raise min above 0 or drop log"
    )
    assert e.path == ("lr", "min")


@pytest.mark.parametrize(
    ("kwargs", "key", "text"),
    [
        ({"low": "abc", "high": 1.0}, "min", "min must be a number, not str 'abc'"),
        ({"low": 0.0, "high": None}, "max", "max must be a number, not NoneType None"),
        ({"low": 0.0, "high": math.inf}, "max", "max must be finite"),
        ({"low": True, "high": 2.0}, "min", "min must be a number, not bool True"),
    ],
)
def test_float_bad_bounds(kwargs, key, text):
    e = error(Float, "x", **kwargs)
    assert text in e.message
    assert e.path == ("x", key)


def test_float_step_errors():
    e = error(Float, "x", 0.0, 1.0, step=0.0)
    assert e.message == "step (0.0) must be greater than 0: use a positive step or drop it"
    assert e.path == ("x", "step")
    e = error(Float, "x", 0.0, 1.0, step=2.0)
    assert "step (2.0) is larger than max - min (1.0)" in e.message
    assert e.path == ("x", "step")


def test_float_log_flag_and_grid_points_types():
    assert error(Float, "x", 0.0, 1.0, log="yes").path == ("x", "log")
    e = error(Float, "x", 0.0, 1.0, grid_points=0)
    assert e.message == "grid_points must be a positive integer, not 0"
    assert e.path == ("x", "grid_points")


def test_float_name_must_be_a_string():
    e = error(Float, "", 0.0, 1.0)
    assert "non-empty string" in e.message
    assert e.path == ()


def test_float_step_snaps_and_need_not_divide_the_range():
    p = Float("x", 0.0, 1.0, step=0.3)
    assert p.grid_values(100) == (0.0, 0.3, 0.6, 0.9)
    assert p.from_unit(1.0) == 0.9
    assert p.from_unit(0.31) == 0.3
    assert p.normalise(0.6000000000000001) == 0.6
    assert not p.contains(1.0)
    e = error(p.normalise, 0.5)
    assert e.message == "0.5 is not on the step grid 0.0 + k * 0.3: use e.g. 0.6"
    assert e.path == ("x",)


def test_float_normalise_errors():
    p = Float("x", 0.0, 1.0)
    assert p.normalise(1) == 1.0
    assert isinstance(p.normalise(1), float)
    assert error(p.normalise, 1.5).message == "1.5 is outside [0.0, 1.0]: give a value in range"
    assert "not a number" in error(p.normalise, "a").message
    assert "not a number" in error(p.normalise, math.nan).message
    assert not p.contains(True)


def test_float_unit_mapping_linear_and_log():
    p = Float("x", 2.0, 4.0)
    assert p.from_unit(0.5) == 3.0
    assert p.to_unit(3.0) == 0.5
    q = Float("y", 1e-4, 1.0, log=True)
    assert q.from_unit(0.5) == pytest.approx(1e-2)
    assert q.to_unit(1e-2) == pytest.approx(0.5)
    assert q.from_unit(0.0) == 1e-4
    assert q.from_unit(1.0) == 1.0


def test_float_log_with_step():
    p = Float("x", 1.0, 100.0, log=True, step=1.0)
    values = {p.from_unit(u) for u in np.linspace(0, 1, 50)}
    assert all(v == int(v) and 1 <= v <= 100 for v in values)


# -- Int ----------------------------------------------------------------------------------------


def test_int_fields_and_integral_floats():
    p = Int("n", 1.0, 8, step=1)
    assert (p.low, p.high, p.step) == (1, 8, 1)
    assert isinstance(p.low, int)
    assert Int("n", np.int64(1), np.int64(3)).high == 3


def test_int_errors():
    e = error(Int, "n", 1.5, 4)
    assert e.message.startswith("min must be an integer, not 1.5")
    assert e.path == ("n", "min")
    assert error(Int, "n", 4, 1).message == "min (4) must be less than max (1): swap them"
    assert error(Int, "n", 0, 10, log=True).path == ("n", "min")
    e = error(Int, "n", 0, 10, step=0)
    assert e.message == "step must be a positive integer, not 0"
    assert e.path == ("n", "step")
    assert error(Int, "n", 0, 10, step=2.5).path == ("n", "step")
    assert "larger than max - min" in error(Int, "n", 0, 10, step=11).message


def test_int_uniform_bins():
    p = Int("n", 1, 4)
    assert [p.from_unit(u) for u in (0.0, 0.24, 0.25, 0.5, 0.99, 1.0)] == [1, 1, 2, 3, 4, 4]
    assert [p.to_unit(v) for v in (1, 2, 3, 4)] == [0.125, 0.375, 0.625, 0.875]


def test_int_step_values():
    p = Int("units", 10, 105, step=10)
    assert p.grid_values(100) == tuple(range(10, 101, 10))
    assert p.normalise(100) == 100
    assert error(p.normalise, 105).message.startswith("105 is not on the step grid 10 + k * 10")
    assert error(p.normalise, 5).message == "5 is outside [10, 105]: give a value in range"
    assert p.normalise(20.0) == 20
    assert error(p.normalise, 2.5).message == "2.5 is not an integer: give a whole number"
    assert not p.contains(True)


def test_int_log_unit_round_trip_with_wide_step():
    p = Int("n", 1, 101, log=True, step=10)
    for v in range(1, 102, 10):
        assert p.from_unit(p.to_unit(v)) == v


# -- Categorical --------------------------------------------------------------------------------


def test_categorical_basics():
    p = Categorical("opt", ["sgd", "adam", None, True, 1, 2.5])
    assert p.choices == ("sgd", "adam", None, True, 1, 2.5)
    assert p.normalise(1.0) == 1
    assert p.normalise(True) is True
    assert p.index(None) == 2
    assert p.from_unit(0.0) == "sgd"
    assert p.from_unit(1.0) == 2.5
    assert p.to_unit("adam") == pytest.approx(1.5 / 6)
    assert not p.contains([1])
    assert p.grid_values(2) == p.choices


def test_categorical_true_and_one_are_different_choices():
    p = Categorical("flag", [True, 1])
    assert p.index(True) == 0
    assert p.index(1) == 1


@pytest.mark.parametrize(
    ("choices", "probs", "key", "text"),
    [
        ([], None, "values", "values is empty: list at least one value"),
        ("ab", None, "values", "values must be a list, not str 'ab'"),
        ([1, 2, 1], None, "values", "values lists 1 twice: remove the duplicate"),
        ([1, 1.0], None, "values", "values lists 1.0 twice"),
        ([[1]], None, "values", "a value must be a string, number, bool or null, not list"),
        ([1, 2], [0.5], "probabilities", "probabilities has 1 entries but values has 2"),
        ([1, 2], [0.5, 0.4], "probabilities", "probabilities sum to 0.9, not 1"),
        ([1, 2], [1.5, -0.5], "probabilities", "probability -0.5 is not a number >= 0"),
        ([1, 2], "ab", "probabilities", "probabilities must be a list of numbers"),
    ],
)
def test_categorical_errors(choices, probs, key, text):
    e = error(Categorical, "opt", choices, probabilities=probs)
    assert text in e.message
    assert e.path == ("opt", key)


def test_categorical_probabilities_tolerate_rounding():
    p = Categorical("c", ["a", "b", "c"], probabilities=[0.1, 0.2, 0.7000000001])
    assert p.probabilities == (0.1, 0.2, 0.7000000001)
    assert p.draw(0.05) == "a"
    assert p.draw(0.2) == "b"
    assert p.draw(0.999999) == "c"


def test_categorical_zero_probability_never_drawn():
    p = Categorical("c", ["a", "b", "c"], probabilities=[0.5, 0.0, 0.5])
    assert {p.draw(u) for u in np.linspace(0, 0.999, 1000)} == {"a", "c"}


def test_categorical_unknown_value():
    e = error(Categorical("opt", ["sgd", "adam"]).normalise, "rms")
    assert e.message == "'rms' is not one of the values ['sgd', 'adam']: pick one of them"
    assert e.path == ("opt",)


# -- Constant and conditions --------------------------------------------------------------------


def test_constant():
    p = Constant("seed", 3)
    assert p.draw(0.7) == 3
    assert p.normalise(3.0) == 3
    assert not p.contains(True)
    e = error(p.normalise, 4)
    assert e.message == "4 differs from the constant 3: give 3 or leave it out"
    assert error(Constant, "x", {"a": 1}).path == ("x", "value")


@pytest.mark.parametrize(
    ("when", "path", "text"),
    [
        ("opt", ("x", "when"), "when must map parent names to values"),
        ({"opt": []}, ("x", "when", "opt"), "lists no values"),
        ({"x": 1}, ("x", "when", "x"), "cannot depend on itself"),
        ({"opt": {"a": 1}}, ("x", "when"), "a value must be a string"),
        ({3: "a"}, ("x", "when"), "condition keys must be parameter names"),
    ],
)
def test_condition_errors(when, path, text):
    e = error(Constant, "x", 1, when=when)
    assert text in e.message
    assert e.path == path


def test_condition_value_or_list():
    assert dict(Constant("x", 1, when={"a": ["p", "q", "p"], "b": 2}).when) == {
        "a": ("p", "q"),
        "b": (2,),
    }


def test_numpy_scalars_become_python_values():
    p = Categorical("c", [np.int64(1), np.float64(2.5), np.bool_(True)])
    assert [type(c) for c in p.choices] == [int, float, bool]
