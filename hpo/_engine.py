"""The sweep loop: ask the strategy -> record -> submit to the executor -> record -> tell.

One turn of the loop writes everything that happened in it in one store transaction, and a
trial's row is committed before the trial is submitted: killing the driver loses no finished
trial, and nothing runs that the store does not know of.

Two ways to stop trials early meet here. A multi-fidelity strategy (``strategy.max_budget``)
runs trials in legs: a leg that completes below the largest budget leaves its trial PAUSED,
and the strategy later continues it (same number, larger budget, same checkpoint directory)
or prunes it. An early-stopping rule (``plan.stopping``) judges every report of the sweep
metric and has the executor ask a running trial to stop; the trial ends PRUNED at the step
and value where it stopped.
"""

from __future__ import annotations

import math
import socket
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from hpo._checkpoints import Checkpoints
from hpo._errors import StrategyError
from hpo._objective import Objective
from hpo._result import SweepResult
from hpo._resume import RETRYABLE, Rerun, rebuild, rebuild_legs
from hpo._stopping import StoppingRule
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
    """What the engine keeps of a trial while it runs (or, between legs, while it is paused)."""

    task: TrialTask
    started: float  # when its first leg started
    rerun_of: int | None
    attempt: int  # 1 for a first attempt, one more for each rerun
    ran: float = 0.0  # seconds its earlier legs ran


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
    stopping: StoppingRule | None = None  # early_terminate: stops running trials on reports
    checkpoints: str | None = None  # root of the trials' checkpoint directories
    artifacts: str | None = None  # the artifact folder (default: the store's)


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
        self._paused: dict[int, _Live] = {}
        self._stops: dict[int, str] = {}  # trials asked to stop -> why
        self._last: dict[int, tuple[int | None, float | None]] = {}  # (step, metric) reported
        self._mf = plan.strategy.max_budget is not None
        self._sampling = True
        self._checkpoints = Checkpoints(plan.checkpoints, store)
        # Without a store there is nowhere to record an artifact: the trial is told so.
        self._artifacts = None if store is None else (plan.artifacts or store.artifact_root)
        self._results: dict[int, TrialRecord] = {}
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
        self._checkpoints.open(plan.name, self.sweep_id)
        state = SweepState.COMPLETED
        try:
            if self.progress is not None:
                self.progress.start(plan.trials, self._counted)
            plan.executor.listener = self._reported
            plan.executor.start(plan.objective)
            self._loop()
            self._settle_paused("the sweep ended before it was promoted")
        except KeyboardInterrupt:
            state = SweepState.INTERRUPTED
            self._interrupt()
        except BaseException:
            state = SweepState.FAILED
            self._interrupt()
            raise
        finally:
            plan.executor.shutdown(kill=state is not SweepState.COMPLETED)
            self._checkpoints.close()
            if self.progress is not None:
                self.progress.stop()
            self._close(state)
        return SweepResult(
            name=plan.name,
            metric=plan.metric,
            goal=plan.goal,
            trials=list(self._results.values()),
            sweep_id=self.sweep_id,
            store_url=self.store.url if self.store is not None else None,
            interrupted=state is SweepState.INTERRUPTED,
            seed=plan.seed,
        )

    def _loop(self) -> None:
        executor, strategy, budget = self.plan.executor, self.plan.strategy, self.plan.trials
        submit: list[TrialTask] = []
        while True:
            while executor.free_slots() > len(submit):
                if budget is not None and self._counted >= budget:
                    if not self._mf:
                        break
                    self._stop_sampling()  # only continuations of paused trials from now on
                task = self._next_task()
                if task is None:
                    break
                submit.append(task)
            self._drain_pruned()  # a rung decided while asking: its losers end now
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
                if isinstance(event, Finished):
                    self._finished(event)
                else:
                    self._reported(event)

    def _stop_sampling(self) -> None:
        if self._sampling:
            self._sampling = False
            self.plan.strategy.stop_sampling()

    def _next_task(self) -> TrialTask | None:
        """The next trial: a rerun owed, else the strategy's next suggestion (a new trial, or
        the next leg of a paused one)."""
        number = self._next
        rerun_of: int | None = None
        attempt = 1
        params: Mapping[str, Any]
        if self._reruns:
            rerun = self._reruns.popleft()
            params, seed, budget = rerun.params, rerun.seed, rerun.budget
            rerun_of, attempt = rerun.of, rerun.attempt
        else:
            suggestion = self.plan.strategy.ask()
            if suggestion is None:
                return None
            if suggestion.continues is not None:
                return self._continue(suggestion.continues, suggestion.budget)
            if not self._sampling:
                raise StrategyError(
                    f"strategy {self.plan.strategy.name!r} suggested a new trial after the "
                    "sweep's trial budget was spent"
                )
            params, budget = suggestion.params, suggestion.budget
            seed = trial_seed(self.plan.seed, number)
            self.plan.strategy.started(number, suggestion)
        self._next += 1
        self._counted += 1
        task = TrialTask(
            number=number,
            params=params,
            seed=seed,
            budget=budget,
            timeout=self.plan.timeout,
            memory_limit=self.plan.memory_limit,
            checkpoint_dir=self._checkpoints.of(number),
            artifact_dir=self._artifacts,
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

    def _continue(self, number: int, budget: float | None) -> TrialTask:
        """The next leg of paused (or, after a resume, interrupted) trial ``number``."""
        held = self._paused.pop(number, None)
        if held is None:
            raise StrategyError(
                f"strategy {self.plan.strategy.name!r} continued trial {number}, which is not "
                "paused"
            )
        task = TrialTask(
            number=number,
            params=held.task.params,
            seed=held.task.seed,
            budget=budget,
            timeout=self.plan.timeout,
            memory_limit=self.plan.memory_limit,
            checkpoint_dir=self._checkpoints.of(number),
            artifact_dir=self._artifacts,
        )
        self._live[number] = _Live(task, held.started, held.rerun_of, held.attempt, held.ran)
        self._last.pop(number, None)
        if self._batch is not None:
            self._batch.trial_continued(number, budget)
        return task

    def _reported(self, event: Report) -> None:
        if self._batch is not None:
            self._batch.reported(
                event.number, event.step, event.metrics, event.artifacts, event.time
            )
        value = event.metrics.get(self.plan.metric)
        if value is None or event.number not in self._live:
            return
        self._last[event.number] = (event.step, value)
        rule = self.plan.stopping
        if rule is None or event.step is None or event.number in self._stops:
            return
        reason = rule.report(event.number, event.step, value)
        if reason is not None:
            self._stops[event.number] = reason
            self.plan.executor.stop(event.number)
            if self._batch is not None:
                self._batch.event(
                    EventKind.TRIAL_STOP_REQUESTED,
                    event.number,
                    {"step": event.step, "value": value, "rule": rule.kind, "reason": reason},
                )

    def _finished(self, event: Finished) -> None:
        plan = self.plan
        live = self._live.pop(event.number)
        task, rerun_of = live.task, live.rerun_of
        step, last_value = self._last.pop(event.number, (None, None))
        state, error = event.state, event.error
        value = event.value(plan.metric)
        stop_reason = self._stops.pop(event.number, None)
        if stop_reason is not None and state in (TrialState.COMPLETED, TrialState.PRUNED):
            # asked to stop: pruned where it stopped, whether it noticed or ran to its end
            state, error = TrialState.PRUNED, f"stopped at step {step}: {stop_reason}"
            if value is None:
                value = last_value
        elif (
            plan.strategy.max_budget is not None  # multi-fidelity (self._mf)
            and state is TrialState.COMPLETED
            and task.budget is not None
            and task.budget < plan.strategy.max_budget
        ):
            state = TrialState.PAUSED  # the strategy decides whether it runs on
        if value is not None and not math.isfinite(value):
            value = None
        ran = live.ran + max(0.0, event.ended_at - event.started_at)
        record = TrialRecord(
            id=None,
            sweep_id=self.sweep_id,
            number=event.number,
            state=state,
            params=task.params,
            value=value,
            metrics=event.metrics,
            budget=task.budget,
            seed=task.seed,
            host=self._host,
            environment_id=self._env_id,
            queued_at=live.started,
            started_at=live.started,
            ended_at=event.ended_at,
            duration=ran,
            error=error,
            traceback=event.traceback,
            rerun_of=rerun_of,
            step=step,
        )
        self._results[event.number] = record
        if state is TrialState.PAUSED:
            self._paused[event.number] = _Live(task, live.started, rerun_of, live.attempt, ran)
        elif state in RETRYABLE and live.attempt <= plan.retries and not self._mf:
            self._reruns.append(
                Rerun(event.number, dict(task.params), task.seed, task.budget, live.attempt + 1)
            )
            self._counted -= 1  # the retry takes this trial's place in the budget
        elif state is TrialState.INTERRUPTED and not self._mf:
            self._counted -= 1
        if (
            state is TrialState.COMPLETED
            and value is not None
            and (
                self._best is None
                or self._best.value is None  # never: the best is a completed trial
                or plan.goal.better(value, self._best.value)
            )
        ):
            self._best = record
        if self._batch is not None:
            self._batch.trial_finished(
                event.number,
                state,
                value=value,
                metrics=event.metrics,
                started_at=live.started,
                ended_at=event.ended_at,
                error=error,
                traceback=event.traceback,
                step=step,
                duration=ran,
                budget=task.budget if self._mf else None,
            )
        if plan.stopping is not None:
            plan.stopping.finished(event.number, state)
        plan.strategy.tell(
            Observation(
                number=event.number,
                params=task.params,
                state=state,
                value=value,
                budget=task.budget,
            )
        )
        if state is not TrialState.PAUSED:
            self._ended(record)
        if state is TrialState.PRUNED:
            self._checkpoints.drop(event.number)
        else:
            self._checkpoints.release(event.number)
        self._drain_pruned()

    def _drain_pruned(self) -> None:
        for number in self.plan.strategy.take_pruned():
            self._prune(number, "not among the best of its rung")

    def _ended(self, record: TrialRecord) -> None:
        if self.progress is not None:
            self.progress.trial_finished(record, self._best)
        if self.on_trial is not None:
            self.on_trial(record)

    def _prune(self, number: int, reason: str) -> None:
        """Paused trial ``number`` will not run on: it ends pruned at the leg it reached."""
        if self._paused.pop(number, None) is None:
            return
        old = self._results.get(number)
        if self._batch is not None:
            self._batch.trial_pruned(number, reason)
        if old is not None:
            record = replace(old, state=TrialState.PRUNED, error=reason)
            self._results[number] = record
            self._ended(record)
        self._checkpoints.drop(number)

    def _settle_paused(self, reason: str) -> None:
        for number in list(self._paused):
            self._prune(number, reason)

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
        self._batch.event(EventKind.SWEEP_STARTED, data=self._started_data())

    def _reopen(self, store: Store, sweep_id: int) -> None:
        """Continue a recorded sweep: claim it, settle what a dead driver left running, and
        rebuild the search from the trials in the store."""
        plan = self.plan
        store.claim_sweep(sweep_id, budget=plan.trials)
        store.interrupt_orphans(
            sweep_id, "the driver stopped (crashed or was killed) while this trial ran"
        )
        history = store.trials(sweep_id)
        self.sweep_id = sweep_id
        if self._mf:
            rebuild_legs(history, store.legs(sweep_id), plan.strategy)
            self._next = (max(t.number for t in history) + 1) if history else 0
            self._counted = len(history)  # every number is one configuration
            for t in history:
                if t.state in (TrialState.PAUSED, TrialState.INTERRUPTED):
                    # a paused trial, or a leg cut short: the strategy continues it
                    task = TrialTask(t.number, t.params, t.seed or 0, t.budget)
                    ran = t.duration or 0.0
                    started = t.started_at or t.queued_at
                    self._paused[t.number] = _Live(task, started, t.rerun_of, 1, ran)
        else:
            rebuilt = rebuild(
                history,
                plan.strategy,
                retries=plan.retries,
                rerun_interrupted=plan.rerun_interrupted,
            )
            self._next = rebuilt.next_number
            self._counted = rebuilt.counted
            self._reruns = deque(rebuilt.reruns)
        if plan.stopping is not None:
            plan.stopping.restore(
                store.sweep_series(sweep_id, plan.metric), {t.number: t.state for t in history}
            )
        self._results = {t.number: t for t in history}
        self._best = best(history, plan.goal)
        self._batch = WriteBatch(sweep_id)
        # where this run's artifacts go, for readers of the store (Store.artifact_roots)
        self._batch.event(EventKind.SWEEP_STARTED, data=self._started_data())

    def _started_data(self) -> dict[str, Any]:
        return {"host": self._host, "artifacts": self._artifacts}

    def _flush(self) -> None:
        batch = self._batch
        if batch is None or self.store is None:  # a batch exists only with a store
            return
        now = time.monotonic()
        if now - self._beat >= HEARTBEAT_INTERVAL:
            batch.heartbeat = (self._driver, time.time())
            self._beat = now
        if batch:
            self.store.write(batch)

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
