"""Running a prepared reproduction: the trial once more, with the same params, seed and budget,
on an executor, recorded as a new trial of its sweep (the next number, ``rerun_of`` naming the
original) as a sweep would record it.
"""

from __future__ import annotations

import socket
import tempfile
import time
from typing import Any

from hpo._objective import Objective
from hpo._reproduce import Reproduction, refuse_live_driver
from hpo.executors import ExecutorKind, Finished, Report, TrialTask, make_executor
from trackers import Store, TrialState, WriteBatch


def run_reproduction(
    store: Store, repro: Reproduction, *, executor: ExecutorKind = "inline"
) -> Reproduction:
    """Run the trial once more (same params, seed and budget) on ``executor`` and record it as
    a new trial of its sweep; fills ``repro.rerun``. Ctrl-C records it interrupted."""
    refuse_live_driver(store.get_sweep(repro.sweep.id))  # it may have started since
    original = repro.original
    number = max(t.number for t in store.trials(repro.sweep.id)) + 1
    env_id = store.add_environment(repro.environment)
    batch = WriteBatch(repro.sweep.id)
    started = time.time()
    host = socket.gethostname()
    batch.trial_started(
        number,
        original.params,
        seed=original.seed,
        budget=original.budget,
        host=host,
        environment_id=env_id,
        rerun_of=original.number,
        at=started,
    )
    store.write(batch)  # the store knows of the trial before it runs, as in a sweep
    metric = repro.sweep.metric

    def record_report(event: Report) -> None:
        batch.reported(number, event.step, event.metrics, event.artifacts, event.time)

    # A checkpoint folder of its own: a reproduction starts from scratch, not from the
    # original's saved state.
    with tempfile.TemporaryDirectory(prefix="hpo-reproduce-") as checkpoints:
        task = TrialTask(
            number=number,
            params=original.params,
            seed=original.seed or 0,
            budget=original.budget,
            timeout=repro.timeout,
            memory_limit=repro.memory_limit,
            checkpoint_dir=checkpoints,
            artifact_dir=store.artifact_root,
        )
        finished = _run_once(repro.objective, task, executor, record_report, started)
    state = finished.state
    value = finished.value(metric)
    batch.trial_finished(
        number,
        state,
        value=value,
        metrics=finished.metrics,
        started_at=finished.started_at,  # the run itself, not the store's write before it
        ended_at=finished.ended_at,
        error=finished.error,
        traceback=finished.traceback,
    )
    store.write(batch)
    repro.rerun = store.get_trial(f"{repro.sweep.id}#{number}")
    return repro


def _run_once(
    objective: Objective,
    task: TrialTask,
    kind: ExecutorKind,
    on_report: Any,
    started: float,
) -> Finished:
    executor = make_executor(kind)
    executor.listener = on_report
    interrupted = True
    try:
        executor.start(objective)
        executor.submit(task)
        while True:
            for event in executor.poll(5.0):
                if isinstance(event, Finished):
                    interrupted = False
                    return event
                on_report(event)
    except KeyboardInterrupt:
        return Finished(
            task.number,
            TrialState.INTERRUPTED,
            started,
            time.time(),
            error="the reproduction was interrupted while this trial ran",
        )
    finally:
        executor.shutdown(kill=interrupted)
