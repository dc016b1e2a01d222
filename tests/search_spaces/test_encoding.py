"""The unit-cube encoding: shapes, NaN for inactive, bins, and round trips (property tests)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search_spaces import Categorical, Constant, Float, Int, SearchSpace, SearchSpaceError

SPACE = SearchSpace(
    [
        Categorical("opt", ["sgd", "adam", "rms"]),
        Float("momentum", 0.0, 0.99, when={"opt": ["sgd", "rms"]}),
        Categorical("nesterov", [True, False], when={"opt": "sgd"}),
        Float("lr", 1e-5, 1e-1, log=True),
        Float("dropout", 0.0, 0.5, step=0.05),
        Float("decay", 1e-4, 1.0, log=True, step=1e-4),
        Int("layers", 1, 8),
        Int("width", 16, 1024, log=True),
        Int("units", 10, 105, step=10),
        Constant("seed", 3),
        Categorical("act", [None, 1, True, 2.5, "relu"], when={"layers": [2, 3]}),
    ]
)


def is_continuous(param) -> bool:
    return isinstance(param, Float) and param.step is None


def assert_same_config(space: SearchSpace, got: dict, want: dict) -> None:
    """Exact for everything but unstepped floats, which may differ in the last bits (relative
    to the range): a float's log, or its position in a range, does not always map back to the
    very same float."""
    assert list(got) == list(want)
    for name, value in want.items():
        if is_continuous(space.params[name]):
            param = space.params[name]
            scale = max(abs(param.low), abs(param.high))
            assert math.isclose(got[name], value, rel_tol=1e-12, abs_tol=1e-12 * scale), name
        else:
            assert got[name] == value, name
            assert type(got[name]) is type(value), name


@st.composite
def value_of(draw, param):
    if isinstance(param, Constant):
        return param.value
    if isinstance(param, Categorical):
        return draw(st.sampled_from(param.choices))
    if isinstance(param, Int):
        k = draw(st.integers(0, (param.high - param.low) // param.step))
        return param.low + k * param.step
    if param.step is None:
        return draw(st.floats(param.low, param.high))
    k = draw(st.integers(0, math.floor((param.high - param.low) / param.step + 1e-6)))
    return param.normalise(param.low + k * param.step)


@st.composite
def config_of(draw, space: SearchSpace):
    config: dict = {}
    for param in space:
        if all(config.get(p, object()) in allowed for p, allowed in param.when.items()):
            config[param.name] = draw(value_of(param))
    return config


@st.composite
def single_params(draw):
    kind = draw(st.sampled_from(["float", "int", "cat"]))
    log = draw(st.booleans())
    if kind == "float":
        if log:
            low = draw(st.floats(1e-6, 1e3))
            high = low * draw(st.floats(1.01, 1e6))
        else:
            low = draw(st.floats(-1e6, 1e6))
            high = low + draw(st.floats(1e-3, 1e6))
        step = draw(st.none() | st.floats((high - low) / 1e6, high - low))
        return Float("x", low, high, log=log, step=step)
    if kind == "int":
        low = draw(st.integers(1, 1000) if log else st.integers(-1000, 1000))
        high = low + draw(st.integers(1, 10**6))
        return Int("x", low, high, log=log, step=draw(st.integers(1, high - low)))
    scalars = st.one_of(
        st.text(max_size=3),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.booleans(),
        st.none(),
    )
    choices = draw(
        st.lists(scalars, min_size=1, max_size=6, unique_by=lambda v: (type(v) is bool, v))
    )
    return Categorical("x", choices)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_round_trip_of_any_valid_config(data):
    config = data.draw(config_of(SPACE))
    assert SPACE.validate(config) == config
    u = SPACE.encode(config)
    assert u.shape == (SPACE.dims,)
    active = [name in config for name in SPACE.encoded_names]
    assert np.isnan(u).tolist() == [not a for a in active]
    assert ((u[~np.isnan(u)] >= 0) & (u[~np.isnan(u)] <= 1)).all()
    assert_same_config(SPACE, SPACE.decode(u), config)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_round_trip_of_single_random_parameters(data):
    param = data.draw(single_params())
    space = SearchSpace([param])
    value = data.draw(value_of(param))
    u = space.encode({"x": value})
    assert 0.0 <= u[0] <= 1.0
    assert_same_config(space, space.decode(u), {"x": value})


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(-0.5, 1.5, allow_nan=False), min_size=SPACE.dims, max_size=SPACE.dims))
def test_decode_is_valid_and_exactly_stable(u):
    config = SPACE.decode(np.array(u))
    assert SPACE.validate(config) == config
    # What a strategy proposes comes back exactly, continuous floats included.
    assert SPACE.decode(SPACE.encode(config)) == config


def test_encoded_names_and_dims():
    assert SPACE.encoded_names == tuple(n for n in SPACE.names if n != "seed")
    assert SPACE.dims == len(SPACE) - 1


def test_bins():
    space = SearchSpace([Categorical("c", ["a", "b"]), Int("n", 0, 2), Float("x", 0.0, 4.0)])
    np.testing.assert_allclose(space.encode({"c": "b", "n": 0, "x": 1.0}), [0.75, 1 / 6, 0.25])
    assert space.decode([0.49, 0.67, 1.0]) == {"c": "a", "n": 2, "x": 4.0}
    assert space.decode([-3.0, 7.0, 0.5]) == {"c": "a", "n": 2, "x": 2.0}


def test_inactive_dimensions_are_nan_and_ignored():
    u = SPACE.encode({"opt": "adam", "lr": 0.01, "dropout": 0.1, "decay": 0.01, "layers": 1,
                      "width": 16, "units": 10, "seed": 3})  # fmt: skip
    assert np.isnan(u[SPACE.encoded_names.index("momentum")])
    u[SPACE.encoded_names.index("momentum")] = 0.3  # ignored: opt is adam
    assert "momentum" not in SPACE.decode(u)


def test_decode_errors():
    with pytest.raises(
        SearchSpaceError, match=r"expected a vector of 10 numbers, got shape \(2,\)"
    ):
        SPACE.decode([0.5, 0.5])
    u = np.full(SPACE.dims, 0.0)  # opt = sgd, so momentum is active
    u[SPACE.encoded_names.index("momentum")] = np.nan
    with pytest.raises(SearchSpaceError, match="NaN but the parameter is active") as info:
        SPACE.decode(u)
    assert info.value.path == ("momentum",)


def test_encode_errors():
    with pytest.raises(SearchSpaceError, match="missing value") as info:
        SPACE.encode({"opt": "adam"})
    assert info.value.path == ("lr",)
    with pytest.raises(SearchSpaceError, match="is not one of the values"):
        SPACE.encode({"opt": "nope"})


def test_uniform_u_gives_uniform_ints_and_log_uniform_log_ints():
    space = SearchSpace([Int("n", 1, 4), Int("w", 1, 8, log=True)])
    grid = np.linspace(0, 1, 100_001)[:-1]
    ns = [space.decode([u, 0.5])["n"] for u in grid]
    assert [ns.count(v) for v in (1, 2, 3, 4)] == [25_000] * 4
    ws = [space.decode([0.5, u])["w"] for u in grid]
    # P(w) is the log-width of its bin: log((w + .5) / (w - .5)) / log(8.5 / .5)
    for w in range(1, 9):
        expected = math.log((w + 0.5) / (w - 0.5)) / math.log(8.5 / 0.5)
        assert ws.count(w) / len(ws) == pytest.approx(expected, abs=1e-3)
