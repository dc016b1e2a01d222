"""The sweep loop: ask the strategy -> record -> submit to the executor -> record -> tell.

One turn of the loop writes everything that happened in it in one store transaction, and a
trial's row is committed before the trial is submitted: killing the driver loses no finished
trial, and nothing runs that the store does not know of.
"""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hpo._errors import StrategyError
from hpo._objective import Objective
from hpo._result import SweepResult
from hpo.executors._base import Executor, Finished, Report, TrialTask
from hpo.strategies._base import Observation, Strategy
from trackers import Store, SweepState, TrialRecord, TrialState, WriteBatch
from trackers._states import EventKind, Goal

_MASK64 = (1 << 64) - 1


def trial_seed(sweep_seed: int, number: int) -> int:
    """A well-mixed 31-bit seed for trial ``number`` (splitmix64 of the pair): distinct
    trials get unrelated streams, and the same trial always gets the same seed."""
    z = (sweep_seed * 0x9E3779B97F4A7C15 + number + 1) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & 0x7FFFFFFF


class Progress(Protocol):
    """What the engine tells a progress display (the CLI's rich bar, or nothing)."""

    def start(self, total: int | None) -> None: ...

    def trial_finished(self, trial: TrialRecord, best: TrialRecord | None) -> None: ...

    def stop(self) -> None: ...


@dataclass
class SweepPlan:
    """Everything a sweep needs to run, resolved and validated."""

    name: str
    strategy: Strategy
    objective: Objective
    executor: Executor
    metric: str
    goal: Goal
    trials: int | None  # None: until the strategy is done
    seed: int  # the strategy's seed too: the recorded seed reproduces the whole search
    timeout: float | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    executor_name: str = "inline"
    source: str | None = None
    environment: Mapping[str, Any] | None = None


class Engine:
    """Runs one :class:`SweepPlan`, recording to ``store`` (or nowhere, when None)."""

    def __init__(
        self,
        plan: SweepPlan,
        store: Store | None = None,
        progress: Progress | None = None,
        on_trial: Callable[[TrialRecord], None] | None = None,
    ) -> None:
        self.plan = plan
        self.store = store
        self.progress = progress
        self.on_trial = on_trial
        self.sweep_id: int | None = None
        self._batch: WriteBatch | None = None
        self._env_id: int | None = None
        self._host = socket.gethostname()
        self._live: dict[int, TrialTask] = {}
        self._started: dict[int, float] = {}
        self._results: list[TrialRecord] = []
        self._best: TrialRecord | None = None
        self._next = 0

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> SweepResult:
        """Run the sweep to its end; on Ctrl-C, mark running trials interrupted, record that,
        and return the partial result with ``interrupted`` set."""
        plan = self.plan
        self._open()
        state = SweepState.COMPLETED
        try:
            if self.progress is not None:
                self.progress.start(plan.trials)
            plan.executor.start(plan.objective)
            self._loop()
        except KeyboardInterrupt:
            state = SweepState.INTERRUPTED
            self._interrupt()
        except BaseException:
            state = SweepState.FAILED
            self._interrupt()
            raise
        finally:
            plan.executor.shutdown(kill=state is not SweepState.COMPLETED)
            if self.progress is not None:
                self.progress.stop()
            self._close(state)
        return SweepResult(
            name=plan.name,
            metric=plan.metric,
            goal=plan.goal,
            trials=self._results,
            sweep_id=self.sweep_id,
            store_url=self.store.url if self.store is not None else None,
            interrupted=state is SweepState.INTERRUPTED,
            seed=plan.seed,
        )

    def _loop(self) -> None:
        plan, executor, strategy = self.plan, self.plan.executor, self.plan.strategy
        budget = plan.trials
        submit: list[TrialTask] = []
        while True:
            while executor.free_slots() > len(submit) and (budget is None or self._next < budget):
                suggestion = strategy.ask()
                if suggestion is None:
                    break
                number = self._next
                self._next += 1
                task = TrialTask(
                    number=number,
                    params=suggestion.params,
                    seed=trial_seed(plan.seed, number),
                    budget=suggestion.budget,
                    timeout=plan.timeout,
                )
                self._live[number] = task
                self._started[number] = time.time()
                if self._batch is not None:
                    self._batch.trial_started(
                        number,
                        task.params,
                        seed=task.seed,
                        budget=task.budget,
                        host=self._host,
                        environment_id=self._env_id,
                        at=self._started[number],
                    )
                submit.append(task)
            self._flush()  # the store knows of a trial before it runs
            for task in submit:
                executor.submit(task)
            submit.clear()
            if executor.running() == 0:
                if budget is not None and self._next < budget and not strategy.done:
                    raise StrategyError(
                        f"strategy {type(strategy).__name__} suggested nothing while no trial "
                        "was running: the sweep cannot go on"
                    )
                return
            for event in executor.poll(None):
                if type(event) is Finished:
                    self._finished(event)
                else:
                    self._reported(event)

    def _reported(self, event: Report) -> None:
        if self._batch is not None:
            for name, value in event.metrics.items():
                self._batch.metric(event.number, name, event.step, value, event.time)

    def _finished(self, event: Finished) -> None:
        plan = self.plan
        task = self._live.pop(event.number)
        self._started.pop(event.number, None)
        value = event.metrics.get(plan.metric) if event.state is TrialState.COMPLETED else None
        if value is not None and not math.isfinite(value):
            value = None
        record = TrialRecord(
            id=None,
            sweep_id=self.sweep_id,
            number=event.number,
            state=event.state,
            params=task.params,
            value=value,
            metrics=event.metrics,
            budget=task.budget,
            seed=task.seed,
            host=self._host,
            environment_id=self._env_id,
            queued_at=event.started_at,
            started_at=event.started_at,
            ended_at=event.ended_at,
            duration=max(0.0, event.ended_at - event.started_at),
            error=event.error,
            traceback=event.traceback,
        )
        self._results.append(record)
        if value is not None and (
            self._best is None or plan.goal.better(value, self._best.value)  # type: ignore[arg-type]
        ):
            self._best = record
        if self._batch is not None:
            self._batch.trial_finished(
                event.number,
                event.state,
                value=value,
                metrics=event.metrics,
                started_at=event.started_at,
                ended_at=event.ended_at,
                error=event.error,
                traceback=event.traceback,
            )
        plan.strategy.tell(
            Observation(
                number=event.number,
                params=task.params,
                state=event.state,
                value=value,
                budget=task.budget,
            )
        )
        if self.progress is not None:
            self.progress.trial_finished(record, self._best)
        if self.on_trial is not None:
            self.on_trial(record)

    # --- recording --------------------------------------------------------------------------

    def _open(self) -> None:
        plan, store = self.plan, self.store
        if store is None:
            return
        if plan.environment is not None:
            self._env_id = store.add_environment(plan.environment)
        self.sweep_id = store.create_sweep(
            name=plan.name,
            metric=plan.metric,
            goal=plan.goal,
            strategy=plan.strategy.name,
            strategy_options=plan.strategy.options(),
            space=plan.strategy.space.to_json(),
            config=plan.config,
            objective=plan.objective.describe(),
            executor=plan.executor_name,
            budget=plan.trials,
            seed=plan.seed,
            source=plan.source,
            environment_id=self._env_id,
        )
        self._batch = WriteBatch(self.sweep_id)
        self._batch.event(EventKind.SWEEP_STARTED, data={"host": self._host})

    def _flush(self) -> None:
        if self._batch is not None and self._batch:
            self.store.write(self._batch)  # type: ignore[union-attr]

    def _interrupt(self) -> None:
        """Stop every running trial and record it as interrupted (not its fault: a resumed
        sweep may run the same params again)."""
        self.plan.executor.shutdown(kill=True)
        now = time.time()
        for number in list(self._live):
            self._finished(
                Finished(
                    number=number,
                    state=TrialState.INTERRUPTED,
                    started_at=self._started.get(number, now),
                    ended_at=now,
                    error="the sweep was interrupted while this trial ran",
                )
            )

    def _close(self, state: SweepState) -> None:
        if self.store is None or self.sweep_id is None:
            return
        try:
            self._flush()
            self.store.set_sweep_state(self.sweep_id, state)
        except Exception:
            # Don't hide the error that failed the sweep behind a second one from the store.
            if state is not SweepState.FAILED:
                raise
