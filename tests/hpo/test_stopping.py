"""Early-stopping rules (``early_terminate``): median and hyperband, and their config errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hpo._build import plan_from_config
from hpo._config import parse_config
from hpo._errors import ConfigError
from hpo._stopping import HyperbandStopping, MedianStopping, make_rule
from trackers._states import Goal, TrialState


def complete(rule: Any, number: int, curve: list[float]) -> None:
    for step, value in enumerate(curve, start=1):
        rule.report(number, step, value)
    rule.finished(number, TrialState.COMPLETED)


def test_median_stops_a_trial_worse_than_the_median_at_its_step() -> None:
    rule = MedianStopping(Goal.MINIMIZE, min_trials=3)
    for number, level in enumerate([1.0, 2.0, 3.0]):
        complete(rule, number, [level, level, level])
    assert rule.report(10, 1, 1.5) is None  # better than the median 2.0
    reason = rule.report(11, 1, 2.5)
    assert reason is not None and "median 2" in reason and "3 completed trials" in reason
    # best so far counts: a trial that was good once is not stopped for one bad step
    assert rule.report(10, 2, 9.0) is None


def test_median_waits_for_min_trials_and_warmup() -> None:
    rule = MedianStopping(Goal.MINIMIZE, min_trials=3, warmup_steps=2)
    for number in range(2):
        complete(rule, number, [1.0, 1.0, 1.0])
    assert rule.report(5, 2, 50.0) is None  # only two completed trials
    complete(rule, 2, [1.0, 1.0, 1.0])
    assert rule.report(6, 1, 50.0) is None  # step 1 is before warmup_steps
    assert rule.report(6, 2, 50.0) is not None


def test_median_ignores_pruned_trials_and_respects_maximize() -> None:
    rule = MedianStopping(Goal.MAXIMIZE, min_trials=1)
    rule.report(0, 1, 0.1)
    rule.finished(0, TrialState.PRUNED)  # a stopped trial's curve is no reference
    assert rule.report(1, 1, 0.0) is None
    complete(rule, 2, [0.8])
    assert rule.report(3, 1, 0.9) is None  # larger is better
    assert rule.report(4, 1, 0.5) is not None


def test_hyperband_rule_keeps_the_best_third_at_each_milestone() -> None:
    rule = HyperbandStopping(Goal.MINIMIZE, milestones=[1, 3], eta=3)
    assert rule.report(0, 1, 5.0) is None  # the first trial at a milestone has no peers
    assert rule.report(1, 1, 1.0) is None
    assert rule.report(2, 1, 2.0) is None  # cutoff of [1, 5]: 2.333
    # recorded at milestone 1: 1, 2, 5 -> the cutoff is their 1/3 quantile, 1.667
    reason = rule.report(3, 1, 4.0)
    assert reason is not None and "milestone 1" in reason and "1/3" in reason
    assert rule.report(4, 1, 1.5) is None
    # a report past several milestones is judged at each it passed; the first at 3 goes on
    assert rule.report(5, 3, 0.5) is None
    assert rule.report(6, 1, 1.2) is None and rule.report(6, 2, 1.1) is None
    reason = rule.report(6, 3, 9.0)  # judged by its best so far, 1.1, against 0.5
    assert reason is not None and "best value so far 1.1 at milestone 3" in reason


def test_rules_are_rebuilt_from_recorded_series() -> None:
    series = {0: [(1, 1.0), (2, 1.0)], 1: [(1, 2.0), (2, 2.0)], 2: [(1, 3.0), (2, 3.0)]}
    states = {n: TrialState.COMPLETED for n in series}
    fresh = MedianStopping(Goal.MINIMIZE, min_trials=3)
    fresh.restore(series, states)
    assert fresh.report(9, 2, 2.5) is not None
    assert fresh.report(10, 2, 1.5) is None


@pytest.mark.parametrize(
    ("spec", "milestones"),
    [
        ({"type": "hyperband", "min_iter": 1, "eta": 3, "max_iter": 27}, [1, 3, 9]),
        ({"type": "hyperband", "min_iter": 2, "eta": 2, "max_iter": 16}, [2, 4, 8]),
        ({"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3}, [3, 9]),
        ({"type": "hyperband", "milestones": [5, 1, 5]}, [1, 5]),
    ],
)
def test_make_rule_milestones(spec: dict, milestones: list[int]) -> None:
    rule = make_rule(spec, Goal.MINIMIZE)
    assert isinstance(rule, HyperbandStopping)
    assert rule.milestones == milestones
    assert rule.options()["type"] == "hyperband"


def test_make_rule_by_name() -> None:
    rule = make_rule("median", Goal.MAXIMIZE)
    assert isinstance(rule, MedianStopping) and rule.goal is Goal.MAXIMIZE
    assert rule.options() == {"type": "median", "min_trials": 5, "warmup_steps": 0}


BASE = {
    "objective": "stop_rule_obj:f",
    "metric": "loss",
    "parameters": {"x": {"min": 0.0, "max": 1.0}},
    "trials": 3,
    "executor": "inline",
}


def build(data: dict[str, Any], base: Path) -> Any:
    """Config checks then plan building, as ``hpo sweep`` does them."""
    cfg = parse_config(data, source="sweep.yaml")
    return plan_from_config(cfg, source="sweep.yaml", base_dir=base, environment=False)


@pytest.mark.parametrize(
    ("early_terminate", "words"),
    [
        ({"type": "mean"}, ["early_terminate.type", "'median' or 'hyperband'", "'mean'"]),
        ({"type": "hyperband"}, ["early_terminate", "min_iter", "max_iter"]),
        ({"type": "hyperband", "min_iter": 0}, ["early_terminate.min_iter", ">= 1", "0"]),
        ({"type": "hyperband", "min_iter": 1, "eta": 1}, ["early_terminate.eta", ">= 2"]),
        ({"type": "median", "min_iter": 3}, ["early_terminate.min_iter", "unknown: min_iter"]),
        ({"type": "median", "min_trials": "5"}, ["early_terminate.min_trials", "'5'"]),
        ({"type": "hyperband", "milestones": [0]}, ["early_terminate.milestones"]),
        # null is not "the default" where the rule needs a number: say so, do not crash later
        ({"type": "median", "min_trials": None}, ["early_terminate.min_trials", "got null", "(5)"]),
        ({"type": "median", "warmup_steps": None}, ["early_terminate.warmup_steps", "got null"]),
        ({"type": "hyperband", "max_iter": 27, "s": None}, ["early_terminate.s", "got null"]),
        ("mean", ["early_terminate"]),
    ],
)
def test_config_errors_name_early_terminate(
    tmp_path: Path, early_terminate: Any, words: list[str]
) -> None:
    (tmp_path / "stop_rule_obj.py").write_text("def f(x):\n    return x\n")
    with pytest.raises(ConfigError) as info:
        build({**BASE, "early_terminate": early_terminate}, tmp_path)
    message = str(info.value)
    for word in words:
        assert word in message, message


def test_a_valid_rule_reaches_the_plan(tmp_path: Path) -> None:
    (tmp_path / "stop_rule_obj.py").write_text("def f(x):\n    return x\n")
    cfg = parse_config(
        {**BASE, "early_terminate": {"type": "hyperband", "min_iter": 1, "max_iter": 9}}
    )
    plan = plan_from_config(cfg, base_dir=tmp_path, environment=False)
    assert isinstance(plan.stopping, HyperbandStopping)
    assert plan.stopping.milestones == [1, 3]
