"""ASHA driven directly: promotions without waiting for a rung to fill, only from the top
floor(n/eta) of the results so far; failures never promoted; restore decides the same."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from fidelity_sim import Sim

from hpo.strategies import AshaStrategy, TrialState

SPACE = {"x": {"min": 0.0, "max": 1.0}}


def asha(seed: int = 0) -> AshaStrategy:
    return AshaStrategy(SPACE, seed=seed, min_budget=1, max_budget=9, eta=3)


def by_x(params: Mapping[str, Any], budget: float) -> float:
    return params["x"]


def xs(seed: int, n: int) -> list[float]:
    return [asha(seed)._new_params(k)["x"] for k in range(n)]


def test_promotes_as_soon_as_a_third_of_the_results_allow() -> None:
    strategy = asha()
    sim = Sim(strategy, by_x, workers=1, trials=100)
    for _ in range(2):
        sim.fill()
        sim.finish()
    # two results: floor(2 / 3) = 0 may go on; the next suggestion is a new trial
    sim.fill()
    assert sim.running == {2: 1}
    sim.finish()
    # three results: the best of them goes on at once, before any new trial
    sim.fill()
    best = min(range(3), key=lambda n: sim.params[n]["x"])
    assert sim.running == {best: 3}
    assert sim.idle_while_sampling == 0


def test_only_the_top_floor_n_over_eta_so_far_are_promoted() -> None:
    strategy = asha(seed=2)
    sim = Sim(strategy, by_x, workers=1, trials=30)
    sim.run()
    assert sim.idle_while_sampling == 0
    # replay the leg ends: each promotion to budget 3 was in the top floor(n/3) of the
    # budget-1 results in at that moment
    seen: list[tuple[float, int]] = []
    promoted: list[int] = []
    ends = iter(sim.legs)
    started = iter(sim.started_legs)
    for number, budget in started:
        if budget == 3:
            top = [n for _, n in sorted(seen)[: len(seen) // 3]]
            assert number in top, f"trial {number} promoted from outside the top {len(top)}"
            promoted.append(number)
        if budget == 1:
            leg = next(ends)
            while leg.budget != 1:
                leg = next(ends)
            seen.append((leg.value, leg.number))  # one worker: a leg ends before the next
    assert len(promoted) == len(set(promoted)) > 0  # each at most once
    assert set(sim.legs_at(9)) <= set(sim.legs_at(3))


def test_every_trial_ends_completed_or_pruned() -> None:
    sim = Sim(asha(seed=4), by_x, workers=3, trials=40)
    shuffle = random.Random(1)
    sim.run(pick=lambda s: shuffle.choice(list(s.running)))
    assert sim.next == 40
    assert sim.count(TrialState.COMPLETED) == len(sim.legs_at(9)) >= 1
    assert sim.count(TrialState.COMPLETED) + sim.count(TrialState.PRUNED) == 40
    assert sim.idle_while_sampling == 0  # ASHA always has something for a free worker


def test_failed_trials_are_never_promoted() -> None:
    values = xs(0, 30)
    failing = {x for x in sorted(values)[:5]}  # the five best configurations fail

    def loss(params: Mapping[str, Any], budget: float) -> float | None:
        return None if params["x"] in failing else params["x"]

    sim = Sim(asha(), loss, trials=30)
    sim.run()
    failed = {n for n, s in sim.state.items() if s is TrialState.FAILED}
    assert len(failed) == 5
    assert not failed & set(sim.legs_at(3))
    assert sim.legs_at(3)  # others were promoted


def test_done_after_the_budget_once_nothing_is_promotable() -> None:
    strategy = asha()
    sim = Sim(strategy, by_x, workers=2, trials=4)
    sim.run()
    assert sim.next == 4
    # four results at budget 1: floor(4/3) = 1 goes on to 3; one result there: none to 9
    assert len(sim.legs_at(1)) == 4
    assert len(sim.legs_at(3)) == 1
    assert sim.legs_at(9) == []
    assert strategy.done
    assert sim.count(TrialState.PRUNED) == 4  # the paused ones, pruned at the end


@pytest.mark.parametrize("clean", [True, False], ids=["ctrl-c", "killed"])
@pytest.mark.parametrize("finishes", [5, 20, 40])
def test_restored_strategy_makes_the_same_promotions(clean: bool, finishes: int) -> None:
    original = Sim(asha(seed=9), by_x, workers=3, trials=40)
    original.run(finishes=finishes)
    in_flight = dict(original.running)
    resumed = original.resumed(asha(seed=9), clean=clean)
    original.run()
    resumed.fill()
    assert dict(list(resumed.running.items())[: len(in_flight)]) == in_flight
    resumed.run()
    assert resumed.params == original.params
    assert resumed.state == original.state
    # every leg ended once (an interrupted one on its rerun), at the same budgets
    assert Counter((leg.number, leg.budget) for leg in resumed.legs) == Counter(
        (leg.number, leg.budget) for leg in original.legs
    )
