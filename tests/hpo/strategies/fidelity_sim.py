"""A small stand-in for the engine, to drive multi-fidelity strategies directly.

It does what ``hpo._engine`` does with a strategy, without executors or a store: fills
``workers`` slots with ``ask()``/``started()``, ends legs in an order the test chooses, keeps a
trial PAUSED when its leg ended below ``max_budget``, records the pruned trials
``take_pruned()`` hands back, and can snapshot what a store would hold (trials and the ends
of their legs) to rebuild a strategy with ``restore_legs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hpo.strategies import MultiFidelity, Observation, Suggestion, TrialState

#: (params, budget) -> the leg's loss, or None for a leg that fails
Loss = Callable[[Mapping[str, Any], float], "float | None"]


class Sim:
    """Drives ``strategy`` like the engine; ``trials`` bounds new configurations."""

    def __init__(
        self, strategy: MultiFidelity, loss: Loss, *, workers: int = 1, trials: int | None = None
    ) -> None:
        self.strategy = strategy
        self.loss = loss
        self.workers = workers
        self.trials = trials
        self.next = 0
        self.sampling = True
        self.running: dict[int, float] = {}  # trial -> budget of its leg in flight, oldest first
        self.params: dict[int, dict[str, Any]] = {}
        self.state: dict[int, TrialState] = {}
        self.budget: dict[int, float] = {}  # the last budget each trial was given
        self.value: dict[int, float | None] = {}
        self.legs: list[Observation] = []  # ends of legs, in the order they ended
        self.started_legs: list[tuple[int, float]] = []  # (trial, budget), in start order
        self.pruned: list[int] = []
        self.idle_while_sampling = 0  # asks answered None while new trials were still wanted

    # --- the engine's side --------------------------------------------------------------

    def fill(self) -> None:
        """Start legs until every worker is busy or the strategy has nothing now."""
        while len(self.running) < self.workers:
            if self.trials is not None and self.next >= self.trials and self.sampling:
                self.sampling = False
                self.strategy.stop_sampling()
            suggestion = self.strategy.ask()
            if suggestion is None:
                if self.sampling:
                    self.idle_while_sampling += 1
                return
            self._start(suggestion)

    def _start(self, suggestion: Suggestion) -> None:
        assert suggestion.budget is not None
        if suggestion.continues is not None:
            number = suggestion.continues
            assert self.state[number] in (TrialState.PAUSED, TrialState.INTERRUPTED), (
                f"continued trial {number} in state {self.state[number]}"
            )
            assert suggestion.budget >= self.budget[number]
        else:
            assert self.sampling, "a new trial after stop_sampling()"
            number = self.next
            self.next += 1
            self.strategy.started(number, suggestion)
            self.params[number] = dict(suggestion.params)
        self.state[number] = TrialState.RUNNING
        self.budget[number] = suggestion.budget
        self.running[number] = suggestion.budget
        self.started_legs.append((number, suggestion.budget))

    def finish(self, number: int | None = None) -> Observation:
        """End the leg of ``number`` (default: the oldest in flight) and tell the strategy."""
        if number is None:
            number = next(iter(self.running))
        budget = self.running.pop(number)
        loss = self.loss(self.params[number], budget)
        if loss is None:
            state = TrialState.FAILED
        elif budget < self.strategy.max_budget:
            state = TrialState.PAUSED
        else:
            state = TrialState.COMPLETED
        self.state[number] = state
        self.value[number] = loss
        observation = Observation(number, self.params[number], state, loss, budget)
        self.legs.append(observation)
        self.strategy.tell(observation)
        self.collect_pruned()
        return observation

    def collect_pruned(self) -> list[int]:
        """Record what ``take_pruned()`` hands back (the engine asks after each leg ends)."""
        out = self.strategy.take_pruned()
        for pruned in out:
            assert self.state[pruned] is TrialState.PAUSED, f"pruned trial {pruned} not paused"
            self.state[pruned] = TrialState.PRUNED
            self.pruned.append(pruned)
        return out

    def run(
        self,
        *,
        finishes: int | None = None,
        pick: Callable[[Sim], int] | None = None,
    ) -> None:
        """Fill and finish until the strategy is done (or after ``finishes`` leg ends); at the
        end paused trials are pruned, as the engine does."""
        count = 0
        while True:
            self.fill()
            if not self.running:
                assert self.strategy.done, "nothing running, nothing suggested, not done"
                break
            if finishes is not None and count >= finishes:
                return
            self.finish(pick(self) if pick is not None else None)
            count += 1
        for number, state in self.state.items():
            if state is TrialState.PAUSED:
                self.state[number] = TrialState.PRUNED
                self.pruned.append(number)

    # --- what a store would hold ----------------------------------------------------------

    def crash(self, *, clean: bool) -> tuple[list[Observation], list[Observation]]:
        """The store after the driver stopped now: ``clean`` (Ctrl-C) records each leg in
        flight as an interrupted leg end; otherwise (a killed driver) they were left running
        and only ``interrupt_orphans`` marks them. Returns ``(trials, legs)``."""
        legs = list(self.legs)
        for number, budget in self.running.items():
            self.state[number] = TrialState.INTERRUPTED
            if clean:
                legs.append(
                    Observation(number, self.params[number], TrialState.INTERRUPTED, None, budget)
                )
        self.running.clear()
        trials = [
            Observation(
                n,
                self.params[n],
                self.state[n],
                self.value.get(n),
                self.budget[n],
            )
            for n in sorted(self.params)
        ]
        return trials, legs

    def resumed(self, strategy: MultiFidelity, clean: bool) -> Sim:
        """A new driver over ``strategy`` rebuilt from this one's store after a crash; this
        one is left as it was before the crash (to run on, uninterrupted, for comparison)."""
        saved_state, saved_running = dict(self.state), dict(self.running)
        trials, legs = self.crash(clean=clean)
        other = Sim(strategy, self.loss, workers=self.workers, trials=self.trials)
        other.next = self.next
        other.params = {n: dict(p) for n, p in self.params.items()}
        other.state = dict(self.state)
        other.budget = dict(self.budget)
        other.value = dict(self.value)
        other.legs = list(self.legs)
        other.started_legs = list(self.started_legs)
        other.pruned = list(self.pruned)
        strategy.restore_legs(trials, legs)
        self.state, self.running = saved_state, saved_running
        return other

    # --- reading the outcome --------------------------------------------------------------

    def legs_at(self, budget: float) -> list[int]:
        """Trials whose leg to ``budget`` ended (any outcome), in order."""
        return [leg.number for leg in self.legs if leg.budget == budget]

    def count(self, state: TrialState) -> int:
        return sum(1 for s in self.state.values() if s is state)
