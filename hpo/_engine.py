"""The sweep loop: ask the strategy -> record -> submit to the executor -> record -> tell.

One turn of the loop writes everything that happened in it in one store transaction, and a
trial's row is committed before the trial is submitted: killing the driver loses no finished
trial, and nothing runs that the store does not know of.
"""

from __future__ import annotations

import math
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hpo._errors import StrategyError
from hpo._objective import Objective
from hpo._result import SweepResult
from hpo._resume import RETRYABLE, Rerun, rebuild
from hpo.executors._base import Executor, Finished, Report, TrialTask
from hpo.reports._rank import best
from hpo.strategies._base import Observation, Strategy
from trackers import Store, SweepState, TrialRecord, TrialState, WriteBatch
from trackers._drivers import HEARTBEAT_INTERVAL, this_driver
from trackers._states import EventKind, Goal

_MASK64 = (1 << 64) - 1


def trial_seed(sweep_seed: int, number: int) -> int:
    """A well-mixed 31-bit seed for trial ``number`` (splitmix64 of the pair): distinct
    trials get unrelated streams, and the same trial always gets the same seed."""
    z = (sweep_seed * 0x9E3779B97F4A7C15 + number + 1) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) & 0x7FFFFFFF


@dataclass(frozen=True, slots=True)
class _Live:
    """What the engine keeps of a trial while it runs."""

    task: TrialTask
    started: float
    rerun_of: int | None
    attempt: int  # 1 for a first attempt, one more for each rerun


class Progress(Protocol):
    """What the engine tells a progress display (the CLI's rich bar, or nothing)."""

    def start(self, total: int | None, done: int = 0) -> None: ...

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
    memory_limit: int | None = None  # bytes a trial may allocate (local executor)
    retries: int = 0  # reruns of a failed or timed-out trial before it counts as failed
    rerun_interrupted: bool = True  # on resume, rerun trials a dead driver left running


class Engine:
    """Runs one :class:`SweepPlan`, recording to ``store`` (or nowhere, when None)."""

    def __init__(
        self,
        plan: SweepPlan,
        store: Store | None = None,
        progress: Progress | None = None,
        on_trial: Callable[[TrialRecord], None] | None = None,
        resume: int | None = None,
    ) -> None:
        """``resume``: the id of a recorded sweep to continue (needs ``store``)."""
        self.plan = plan
        self.store = store
        self.progress = progress
        self.on_trial = on_trial
        self.resume = resume
        self.sweep_id: int | None = None
        self._batch: WriteBatch | None = None
        self._env_id: int | None = None
        self._host = socket.gethostname()
        self._live: dict[int, _Live] = {}
        self._results: list[TrialRecord] = []
        self._best: TrialRecord | None = None
        self._next = 0
        self._counted = 0  # launched trials that count against the budget
        self._reruns: deque[Rerun] = deque()
        self._driver = this_driver()
        self._beat = time.monotonic()

    # --- the loop ---------------------------------------------------------------------------

    def run(self) -> SweepResult:
        """Run the sweep to its end; on Ctrl-C, mark running trials interrupted, record that,
        and return the partial result with ``interrupted`` set."""
        plan = self.plan
        self._open()
        state = SweepState.COMPLETED
        try:
            if self.progress is not None:
                self.progress.start(plan.trials, self._counted)
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
        executor, strategy, budget = self.plan.executor, self.plan.strategy, self.plan.trials
        submit: list[TrialTask] = []
        while True:
            while executor.free_slots() > len(submit) and (
                budget is None or self._counted < budget
            ):
                task = self._next_task()
                if task is None:
                    break
                submit.append(task)
            self._flush()  # the store knows of a trial before it runs
            for task in submit:
                executor.submit(task)
            submit.clear()
            if executor.running() == 0:
                if (budget is None or self._counted < budget) and not strategy.done:
                    raise StrategyError(
                        f"strategy {type(strategy).__name__} suggested nothing while no trial "
                        "was running: the sweep cannot go on"
                    )
                return
            # A bounded wait, so the heartbeat goes on while long trials run.
            for event in executor.poll(HEARTBEAT_INTERVAL):
                if type(event) is Finished:
                    self._finished(event)
                else:
                    self._reported(event)

    def _next_task(self) -> TrialTask | None:
        """The next trial: a rerun owed, else the strategy's next suggestion."""
        number = self._next
        rerun_of: int | None = None
        attempt = 1
        if self._reruns:
            rerun = self._reruns.popleft()
            params, seed, budget = rerun.params, rerun.seed, rerun.budget
            rerun_of, attempt = rerun.of, rerun.attempt
        else:
            suggestion = self.plan.strategy.ask()
            if suggestion is None:
                return None
            params, budget = suggestion.params, suggestion.budget
            seed = trial_seed(self.plan.seed, number)
        self._next += 1
        self._counted += 1
        task = TrialTask(
            number=number,
            params=params,
            seed=seed,
            budget=budget,
            timeout=self.plan.timeout,
            memory_limit=self.plan.memory_limit,
        )
        now = time.time()
        self._live[number] = _Live(task, now, rerun_of, attempt)
        if self._batch is not None:
            self._batch.trial_started(
                number,
                params,
                seed=seed,
                budget=budget,
                host=self._host,
                environment_id=self._env_id,
                rerun_of=rerun_of,
                at=now,
            )
        return task

    def _reported(self, event: Report) -> None:
        if self._batch is not None:
            for name, value in event.metrics.items():
                self._batch.metric(event.number, name, event.step, value, event.time)

    def _finished(self, event: Finished) -> None:
        plan = self.plan
        live = self._live.pop(event.number)
        task, rerun_of = live.task, live.rerun_of
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
            rerun_of=rerun_of,
        )
        self._results.append(record)
        if event.state in RETRYABLE and live.attempt <= plan.retries:
            self._reruns.append(
                Rerun(event.number, dict(task.params), task.seed, task.budget, live.attempt + 1)
            )
            self._counted -= 1  # the retry takes this trial's place in the budget
        elif event.state is TrialState.INTERRUPTED:
            self._counted -= 1
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
            if self.resume is not None:
                raise ValueError("resuming a sweep needs its store")
            return
        if plan.environment is not None:
            self._env_id = store.add_environment(plan.environment)
        if self.resume is not None:
            self._reopen(store, self.resume)
            return
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
            driver=self._driver,
        )
        self._batch = WriteBatch(self.sweep_id)
        self._batch.event(EventKind.SWEEP_STARTED, data={"host": self._host})

    def _reopen(self, store: Store, sweep_id: int) -> None:
        """Continue a recorded sweep: claim it, settle what a dead driver left running, and
        rebuild the search from the trials in the store."""
        plan = self.plan
        store.claim_sweep(sweep_id, budget=plan.trials)
        store.interrupt_orphans(
            sweep_id, "the driver stopped (crashed or was killed) while this trial ran"
        )
        history = store.trials(sweep_id)
        rebuilt = rebuild(
            history,
            plan.strategy,
            retries=plan.retries,
            rerun_interrupted=plan.rerun_interrupted,
        )
        self.sweep_id = sweep_id
        self._next = rebuilt.next_number
        self._counted = rebuilt.counted
        self._reruns = deque(rebuilt.reruns)
        self._results = list(history)
        self._best = best(history, plan.goal)
        self._batch = WriteBatch(sweep_id)

    def _flush(self) -> None:
        batch = self._batch
        if batch is None:
            return
        now = time.monotonic()
        if now - self._beat >= HEARTBEAT_INTERVAL:
            batch.heartbeat = (self._driver, time.time())
            self._beat = now
        if batch:
            self.store.write(batch)  # type: ignore[union-attr]

    def _interrupt(self) -> None:
        """Stop every running trial and record it as interrupted (not its fault: a resumed
        sweep may run the same params again)."""
        self.plan.executor.shutdown(kill=True)
        now = time.time()
        for number, live in list(self._live.items()):
            self._finished(
                Finished(
                    number=number,
                    state=TrialState.INTERRUPTED,
                    started_at=live.started,
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
