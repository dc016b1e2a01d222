"""The budget ladder and Hyperband's bracket arithmetic, against Li et al. (2018)."""

from __future__ import annotations

import math

import pytest

from hpo._errors import StrategyError
from hpo.strategies import HyperbandStrategy, hyperband_schedule, make_strategy, rung_budgets
from hpo.strategies._fidelity import bracket_schedule, s_max

SPACE = {"x": {"min": 0.0, "max": 1.0}}

# Li et al. (2018), Table 1: R = 81, eta = 3; (n_i, r_i) per bracket, s = 4 .. 0.
PAPER_R81_ETA3 = [
    [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
    [(34, 3), (11, 9), (3, 27), (1, 81)],
    [(15, 9), (5, 27), (1, 81)],
    [(8, 27), (2, 81)],
    [(5, 81)],
]


def test_r81_eta3_is_the_papers_table() -> None:
    assert hyperband_schedule(1, 81, 3) == PAPER_R81_ETA3
    assert s_max(1, 81, 3) == 4
    assert rung_budgets(1, 81, 3) == [1, 3, 9, 27, 81]


@pytest.mark.parametrize(
    ("low", "high", "eta", "expected"),
    [
        # R = 27: s_max = 3; n = ceil(4 / (s + 1) * 3**s)
        (1, 27, 3, [[(27, 1), (9, 3), (3, 9), (1, 27)], [(12, 3), (4, 9), (1, 27)],
                    [(6, 9), (2, 27)], [(4, 27)]]),
        # eta = 2, R = 16: halving
        (1, 16, 2, [[(16, 1), (8, 2), (4, 4), (2, 8), (1, 16)],
                    [(10, 2), (5, 4), (2, 8), (1, 16)], [(7, 4), (3, 8), (1, 16)],
                    [(5, 8), (2, 16)], [(5, 16)]]),
        # a ratio that is no power of eta: 100 / 3**k rounded to whole epochs
        (1, 100, 3, [[(81, 1), (27, 4), (9, 11), (3, 33), (1, 100)],
                     [(34, 4), (11, 11), (3, 33), (1, 100)], [(15, 11), (5, 33), (1, 100)],
                     [(8, 33), (2, 100)], [(5, 100)]]),
        (1, 10, 3, [[(9, 1), (3, 3), (1, 10)], [(5, 3), (1, 10)], [(3, 10)]]),
        # one rung only: a single bracket of full-budget trials
        (2, 2, 3, [[(1, 2)]]),
    ],
)  # fmt: skip
def test_other_schedules(
    low: float, high: float, eta: float, expected: list[list[tuple[int, float]]]
) -> None:
    assert hyperband_schedule(low, high, eta) == expected


def test_rung_sizes_follow_algorithm_1() -> None:
    for top in range(6):
        for s in range(top + 1):
            n = math.ceil((top + 1) / (s + 1) * 3**s)
            assert bracket_schedule(s, top, 3) == [math.floor(n / 3**i) for i in range(s + 1)]


def test_s_max_survives_floating_point_logs() -> None:
    # log(1000) / log(10) is 2.9999999999999996 in floating point: still three rungs above 1
    assert math.log(1000) / math.log(10) < 3
    assert s_max(1, 1000, 10) == 3
    assert rung_budgets(1, 1000, 10) == [1, 10, 100, 1000]
    assert s_max(1, 26.9, 3) == 2  # just short of a power: one rung fewer


def test_fractional_bounds_keep_fractional_budgets() -> None:
    assert rung_budgets(0.5, 4.5, 3) == pytest.approx([0.5, 1.5, 4.5])
    # integral bounds give whole budgets, never below min_budget, always ending at max_budget
    budgets = rung_budgets(2, 50, 2)
    assert all(b.is_integer() for b in budgets)
    assert budgets[0] >= 2 and budgets[-1] == 50
    assert budgets == sorted(budgets)


def test_brackets_keeps_the_most_aggressive() -> None:
    assert hyperband_schedule(1, 81, 3, brackets=2) == PAPER_R81_ETA3[:2]
    assert hyperband_schedule(1, 81, 3, brackets=1) == PAPER_R81_ETA3[:1]
    assert hyperband_schedule(1, 81, 3, brackets=99) == PAPER_R81_ETA3
    strategy = HyperbandStrategy(SPACE, min_budget=1, max_budget=81, brackets=2)
    assert strategy.schedule == PAPER_R81_ETA3[:2]
    assert strategy.default_trials == 81 + 34


def test_one_iteration_is_the_default_trial_count() -> None:
    strategy = make_strategy("hyperband", SPACE, options={"min_budget": 1, "max_budget": 81})
    assert strategy.default_trials == 81 + 34 + 15 + 8 + 5
    assert strategy.max_budget == 81
    assert strategy.budgets == [1, 3, 9, 27, 81]


@pytest.mark.parametrize(
    ("name", "options", "words"),
    [
        ("hyperband", {"eta": 1.5}, ["eta", ">= 2", "1.5"]),
        ("asha", {"min_budget": 0}, ["min_budget", "> 0", "0"]),
        ("bohb", {"max_budget": float("inf")}, ["max_budget", "finite"]),
        ("hyperband", {"min_budget": 10, "max_budget": 5}, ["max_budget", "min_budget", "5"]),
        ("hyperband", {"brackets": 0}, ["brackets", ">= 1", "0"]),
        ("hyperband", {"brackets": True}, ["brackets", "True"]),
        ("asha", {"max_budget": "81"}, ["max_budget", "'81'"]),
        ("asha", {"brackets": 2}, ["unknown option 'brackets'", "asha"]),
        ("bohb", {"random_fraction": 2}, ["random_fraction", "[0, 1]"]),
        ("bohb", {"num_samples": 0}, ["num_samples", ">= 1"]),
    ],
)
def test_bad_options_are_strategy_errors(name: str, options: dict, words: list[str]) -> None:
    with pytest.raises(StrategyError) as info:
        make_strategy(name, SPACE, options=options)
    for word in words:
        assert word in str(info.value)
