"""Hyperband driven directly (ask/started/tell): rungs fill, the best 1/eta go on, the rest are
pruned; brackets overlap so that no worker waits; a restored strategy decides the same."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Mapping
from typing import Any

import pytest
from fidelity_sim import Sim

from hpo.strategies import HyperbandStrategy, TrialState, hyperband_schedule
from trackers._states import Goal

SPACE = {"x": {"min": 0.0, "max": 1.0}}
R27 = {"min_budget": 1, "max_budget": 27, "eta": 3}


def by_x(params: Mapping[str, Any], budget: float) -> float:
    """A loss that ranks configurations the same at every budget: smaller x is better."""
    return params["x"] + 1.0 / budget


def hyperband(seed: int = 0, **options: Any) -> HyperbandStrategy:
    return HyperbandStrategy(SPACE, seed=seed, **{**R27, **options})


def legs_per_budget(schedule: list[list[tuple[int, float]]]) -> Counter[float]:
    out: Counter[float] = Counter()
    for bracket in schedule:
        for n, budget in bracket:
            out[budget] += n
    return out


@pytest.mark.parametrize("workers", [1, 4])
def test_one_iteration_runs_the_published_schedule(workers: int) -> None:
    strategy = hyperband()
    sim = Sim(strategy, by_x, workers=workers, trials=strategy.default_trials)
    sim.run()
    schedule = hyperband_schedule(1, 27, 3)
    assert sim.next == strategy.default_trials == 27 + 12 + 6 + 4
    assert Counter(leg.budget for leg in sim.legs) == legs_per_budget(schedule)
    # one trial per bracket's last rung completes; every other trial is pruned on the way
    completed = sum(bracket[-1][0] for bracket in schedule)
    assert sim.count(TrialState.COMPLETED) == completed == 1 + 1 + 2 + 4
    assert sim.count(TrialState.PRUNED) == sim.next - completed
    assert sim.idle_while_sampling == 0  # a worker never waited for a rung to fill
    assert strategy.done


def test_the_best_third_of_a_full_rung_goes_on_and_the_rest_are_pruned_at_once() -> None:
    strategy = hyperband()
    sim = Sim(strategy, by_x, workers=1, trials=strategy.default_trials)
    first = list(range(27))  # bracket s=3 takes the first 27 configurations
    while not set(first) <= {leg.number for leg in sim.legs}:
        sim.fill()
        sim.finish()
    # the last result of rung 0 came in: the rung is decided on the next ask
    assert not sim.pruned
    sim.fill()
    best9 = sorted(first, key=lambda n: sim.params[n]["x"])[:9]
    assert set(sim.collect_pruned()) == set(first) - set(best9)
    assert all(sim.running.get(n) in (None, 3) for n in best9)  # a winner runs on at once
    sim.run()
    assert set(sim.legs_at(3)) & set(first) == set(best9)
    best3 = sorted(best9, key=lambda n: sim.params[n]["x"])[:3]
    assert set(sim.legs_at(9)) & set(first) == set(best3)
    [winner] = set(sim.legs_at(27)) & set(first)
    assert winner == best3[0]
    assert sim.state[winner] is TrialState.COMPLETED
    # promotions run the same trial on at the next budget: its legs are 1, 3, 9, 27
    assert [b for n, b in sim.started_legs if n == winner] == [1, 3, 9, 27]


def test_maximize_promotes_the_largest() -> None:
    strategy = HyperbandStrategy(SPACE, goal=Goal.MAXIMIZE, seed=1, brackets=1, **R27)
    sim = Sim(strategy, lambda p, b: p["x"], trials=27)
    sim.run()
    best9 = sorted(range(27), key=lambda n: -sim.params[n]["x"])[:9]
    assert set(sim.legs_at(3)) == set(best9)


def failing_at(numbers: set[int]) -> Any:
    """A loss whose legs fail for configurations ``numbers`` (config k is trial k here)."""
    xs = {hyperband(brackets=1)._new_params(k)["x"] for k in numbers}

    def loss(params: Mapping[str, Any], budget: float) -> float | None:
        return None if params["x"] in xs else params["x"]

    return loss


def test_failed_legs_are_never_promoted() -> None:
    ranked = sorted(range(27), key=lambda k: hyperband(brackets=1)._new_params(k)["x"])
    failing = set(ranked[:3])  # the three best configurations fail at their first leg
    sim = Sim(hyperband(brackets=1), failing_at(failing), trials=27)
    sim.run()
    assert set(sim.legs_at(3)) == set(ranked[3:12])  # the next nine best
    assert all(sim.state[n] is TrialState.FAILED for n in failing)
    assert not failing & set(sim.pruned)  # failed, not pruned
    assert sim.count(TrialState.COMPLETED) == 1


def test_a_rung_with_fewer_results_than_places_promotes_only_those() -> None:
    # all but two configurations fail: rung 0 would promote 9, only 2 have a result
    sim = Sim(hyperband(brackets=1), failing_at(set(range(27)) - {0, 5}), trials=27)
    sim.run()
    assert set(sim.legs_at(3)) == {0, 5}
    assert sim.count(TrialState.FAILED) == 25
    assert sim.count(TrialState.COMPLETED) == 1


def test_a_rung_cut_short_by_stop_sampling_keeps_its_share() -> None:
    strategy = hyperband()
    sim = Sim(strategy, by_x, trials=5)  # the budget ends 5 trials into a bracket of 27
    sim.run()
    assert sim.next == 5
    assert len(sim.legs_at(1)) == 5
    best = min(range(5), key=lambda n: sim.params[n]["x"])
    # 5 // 3 = 1 goes on, and a rung of one still promotes it, up to the largest budget
    assert sim.legs_at(3) == sim.legs_at(9) == sim.legs_at(27) == [best]
    assert sim.state[best] is TrialState.COMPLETED
    assert sim.count(TrialState.PRUNED) == 4
    assert strategy.done


def test_waiting_for_a_rung_after_the_budget_is_spent() -> None:
    strategy = hyperband(brackets=1)
    sim = Sim(strategy, by_x, workers=3, trials=3)
    sim.fill()
    assert sorted(sim.running) == [0, 1, 2]
    sim.finish(1)
    sim.fill()  # no new trials may start, and rung 0 is not complete: nothing to do now
    assert strategy.ask() is None
    assert not strategy.done
    sim.finish(0)
    sim.finish(2)
    best = min(range(3), key=lambda n: sim.params[n]["x"])
    sim.fill()
    assert sim.running == {best: 3}
    assert strategy.done is False


def test_parallel_workers_make_the_same_decisions_as_one() -> None:
    """Synchronous successive halving: however legs interleave, the same trials go on."""
    one = hyperband(seed=7)
    Sim(one, by_x, trials=one.default_trials).run()
    many = hyperband(seed=7)
    shuffle = random.Random(3)
    sim_many = Sim(many, by_x, workers=5, trials=many.default_trials)
    sim_many.run(pick=lambda s: shuffle.choice(list(s.running)))
    sim_one = Sim(hyperband(seed=7), by_x, trials=one.default_trials)
    sim_one.run()
    assert sim_many.params == sim_one.params
    assert sim_many.state == sim_one.state
    assert sorted(sim_many.started_legs) == sorted(sim_one.started_legs)
    assert sim_many.idle_while_sampling == 0


def test_trials_beyond_one_iteration_start_another() -> None:
    strategy = hyperband(brackets=2)  # 27 + 12 configurations per iteration
    sim = Sim(strategy, by_x, workers=2, trials=39 + 27)
    sim.run()
    assert sim.next == 66
    assert len(strategy._brackets) == 3
    assert [b.sizes for b in strategy._brackets] == [[27, 9, 3, 1], [12, 4, 1], [27, 9, 3, 1]]
    assert sim.count(TrialState.COMPLETED) == 3


@pytest.mark.parametrize("clean", [True, False], ids=["ctrl-c", "killed"])
@pytest.mark.parametrize("finishes", [10, 30, 45, 60])
def test_restored_strategy_continues_the_same_brackets(clean: bool, finishes: int) -> None:
    shuffle = random.Random(finishes)

    def pick(s: Sim) -> int:
        return shuffle.choice(list(s.running))

    original = Sim(hyperband(seed=5), by_x, workers=3, trials=49)
    original.run(finishes=finishes, pick=pick)
    in_flight = dict(original.running)
    resumed = original.resumed(hyperband(seed=5), clean=clean)
    original.run()
    # the interrupted legs run again first, on the same trial numbers and budgets
    resumed.fill()
    assert dict(list(resumed.running.items())[: len(in_flight)]) == in_flight
    resumed.run()
    assert resumed.params == original.params  # no number reused for another configuration
    assert resumed.state == original.state
    assert Counter(leg.budget for leg in resumed.legs) == Counter(
        leg.budget for leg in original.legs
    )
