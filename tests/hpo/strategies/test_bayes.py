"""BayesStrategy: every backend on every parameter type and on conditions, distinct parallel
suggestions, seeded repeatability, restore, failures, and the engine end to end."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import hpo
from hpo._errors import StrategyError
from hpo.strategies import BayesStrategy, Observation, TrialState, make_strategy
from hpo.strategies._features import config_key
from search_spaces import Categorical, Constant, Float, Int, SearchSpace

BACKENDS = ["gp", "tpe", pytest.param("skopt", marks=pytest.mark.slow)]

#: Every parameter type of the core: log, steps, ints (linear and log), categoricals,
#: constants and a condition.
SPACE = SearchSpace(
    [
        Float("x", -2.0, 2.0),
        Float("lr", 1e-4, 1e-1, log=True),
        Float("drop", 0.0, 0.5, step=0.05),
        Int("layers", 1, 6),
        Int("units", 8, 256, log=True),
        Categorical("opt", ["sgd", "adam", "rmsprop"]),
        Float("momentum", 0.0, 0.99, when={"opt": "sgd"}),
        Constant("seed", 7),
    ]
)


def loss(p: dict) -> float:
    """Smooth in every parameter, with a best branch (sgd) that has its own parameter."""
    v = (p["x"] - 0.5) ** 2 + (math.log10(p["lr"]) + 2.5) ** 2 / 4 + (p["drop"] - 0.2) ** 2
    v += 0.1 * (p["layers"] - 3) ** 2 + 0.05 * (math.log2(p["units"]) - 6) ** 2
    v += {"sgd": (p.get("momentum", 0.0) - 0.9) ** 2, "adam": 0.2, "rmsprop": 0.4}[p["opt"]]
    return v


def drive(strategy, n: int, start: int = 0, f=loss) -> list[dict]:
    out = []
    for i in range(start, start + n):
        params = dict(strategy.ask().params)
        out.append(params)
        strategy.tell(Observation(i, params, TrialState.COMPLETED, f(params)))
    return out


def backend(name: str):
    if name == "skopt":
        pytest.importorskip("skopt")
    return name


@pytest.mark.parametrize("name", BACKENDS)
def test_every_parameter_type_and_condition_validates_without_duplicates(name):
    strategy = make_strategy("bayes", SPACE, seed=1, options={"backend": backend(name)})
    configs = drive(strategy, 16)
    for config in configs:
        assert SPACE.validate(config) == config
    assert len({config_key(c) for c in configs}) == len(configs)
    assert {c["opt"] for c in configs} == {"sgd", "adam", "rmsprop"}


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_parallel_suggestions_are_distinct_while_trials_run(name):
    strategy = make_strategy("bayes", SPACE, seed=2, options={"backend": name})
    drive(strategy, 10)
    pending = [dict(strategy.ask().params) for _ in range(6)]
    assert len({config_key(c) for c in pending}) == 6
    for i, p in enumerate(pending):
        strategy.tell(Observation(10 + i, p, TrialState.COMPLETED, loss(p)))
    assert not strategy._pending


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_seeded_runs_repeat_exactly(name):
    a = drive(make_strategy("bayes", SPACE, seed=5, options={"backend": name}), 14)
    b = drive(make_strategy("bayes", SPACE, seed=5, options={"backend": name}), 14)
    c = drive(make_strategy("bayes", SPACE, seed=6, options={"backend": name}), 14)
    assert a == b
    assert a != c


@pytest.mark.parametrize("name", ["gp", "tpe"])
def test_restore_continues_the_same_search(name):
    full = drive(make_strategy("bayes", SPACE, seed=9, options={"backend": name}), 16)
    history = [Observation(i, p, TrialState.COMPLETED, loss(p)) for i, p in enumerate(full[:12])]
    resumed = make_strategy("bayes", SPACE, seed=9, options={"backend": name})
    resumed.restore(history)
    assert drive(resumed, 4, start=12) == full[12:]


def test_restore_accepts_a_history_from_elsewhere():
    rng = np.random.default_rng(0)
    configs = [SPACE.sample(rng) for _ in range(12)]
    history = [Observation(i, p, TrialState.COMPLETED, loss(p)) for i, p in enumerate(configs)]
    for name in ("gp", "tpe"):
        strategy = make_strategy("bayes", SPACE, seed=0, options={"backend": name})
        strategy.restore(history)
        nxt = drive(strategy, 3, start=12)
        assert not {config_key(c) for c in nxt} & {config_key(c) for c in configs}


def test_gp_finds_a_better_point_than_random_on_a_smooth_problem():
    space = {"a": {"min": -5.0, "max": 5.0}, "b": {"min": -5.0, "max": 5.0}}

    def f(p):
        return (p["a"] - 1.3) ** 2 + 2 * (p["b"] + 0.7) ** 2

    bayes_best = [
        min(map(f, drive(make_strategy("bayes", space, seed=s), 20, f=f))) for s in (0, 1)
    ]
    random_best = [
        min(map(f, drive(make_strategy("random", space, seed=s), 20, f=f))) for s in (0, 1)
    ]
    assert max(bayes_best) < 0.05
    assert max(bayes_best) < min(random_best)


def test_goal_maximize_is_applied():
    space = {"a": {"min": 0.0, "max": 1.0}}
    strategy = make_strategy("bayes", space, goal="maximize", seed=0)
    configs = drive(strategy, 15, f=lambda p: -((p["a"] - 0.3) ** 2))
    assert abs(configs[-1]["a"] - 0.3) < 0.05


def test_failed_and_pruned_trials_steer_away_without_crashing():
    space = {"a": {"min": 0.0, "max": 1.0}, "b": {"min": 0.0, "max": 1.0}}
    for failed in ("worst", "ignore"):
        strategy = make_strategy("bayes", space, seed=3, options={"failed": failed})
        for i in range(18):
            p = strategy.ask().params
            if p["a"] > 0.7:  # a crashing region
                strategy.tell(Observation(i, p, TrialState.FAILED, None))
            elif i % 5 == 4:
                strategy.tell(Observation(i, p, TrialState.PRUNED, p["a"] + p["b"] + 1))
            else:
                strategy.tell(Observation(i, p, TrialState.COMPLETED, p["a"] + p["b"]))
        assert strategy.ask().params["a"] <= 1.0


def test_model_failure_warns_once_and_falls_back(monkeypatch):
    from hpo.strategies import _gp_backend

    def broken(*args, **kwargs):
        raise np.linalg.LinAlgError("matrix is not positive definite")

    monkeypatch.setattr(_gp_backend.GPBackend, "suggest", broken)
    space = {"a": {"min": 0.0, "max": 1.0}}
    with pytest.warns(RuntimeWarning, match="could not make a suggestion.*LinAlgError") as got:
        result = hpo.sweep(lambda a: a, space, strategy="bayes", trials=12, seed=0, track=False)
    assert len([w for w in got if "could not make" in str(w.message)]) == 1
    assert len(result.trials) == 12


def test_exhausted_finite_space_warns_instead_of_looping():
    space = {"a": {"values": [1, 2]}, "b": {"values": ["x", "y"]}}
    strategy = make_strategy("bayes", space, seed=0)
    with pytest.warns(RuntimeWarning, match="no configuration that was not already tried"):
        configs = drive(strategy, 6, f=lambda p: p["a"])
    assert len({config_key(c) for c in configs[:4]}) == 4


def test_a_space_of_constants():
    strategy = make_strategy("bayes", {"a": 3}, seed=0)
    assert strategy.ask().params == {"a": 3}


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"backend": "gpp"}, "backend.*'gp'.*not 'gpp'"),
        ({"initial": 0}, "initial.*positive integer"),
        ({"failed": "drop"}, "failed.*'worst'"),
        ({"pruned": 1}, "pruned.*'value'"),
    ],
)
def test_bad_options_say_the_rule_and_the_value(options, match):
    with pytest.raises(StrategyError, match=match):
        make_strategy("bayes", SPACE, options=options)


def test_options_round_trip_through_make_strategy():
    strategy = make_strategy("bayes", SPACE, seed=0, options={"backend": "tpe", "initial": 5})
    again = make_strategy("bayes", SPACE, seed=0, options=strategy.options())
    assert isinstance(again, BayesStrategy)
    assert again.options() == strategy.options()


def test_sweep_end_to_end_with_the_engine_and_a_store(tmp_path):
    def objective(x: float, lr: float) -> float:
        return (x - 0.5) ** 2 + (math.log10(lr) + 2) ** 2

    space = {"x": {"min": -2.0, "max": 2.0}, "lr": {"min": 1e-4, "max": 1.0, "log": True}}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = hpo.sweep(
            objective, space, strategy="bayes", trials=18, seed=4, store=tmp_path / "s.db"
        )
    assert len(result.trials) == 18
    assert result.best_value < 0.1
