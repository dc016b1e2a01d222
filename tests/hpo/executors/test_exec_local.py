"""LocalExecutor with real worker processes: outcomes, crashes, timeouts, streaming, shutdown.

Worker processes are slow to start, so most tests share one executor running the dispatcher
objective; tests that kill workers use it too and rely on the executor replacing them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_helpers import LIMIT_S, alive, gone, run_until_finished, wait_finished
from executor_objectives import dispatch

from hpo._errors import ObjectiveError
from hpo._objective import CallableObjective
from hpo.executors import InlineExecutor, LocalExecutor
from hpo.executors._base import Finished, Report, TrialTask
from trackers._states import TrialState


@pytest.fixture(scope="module")
def local() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(workers=2)
    executor.start(CallableObjective(dispatch, "loss"))
    yield executor
    executor.shutdown()


_numbers = iter(range(10_000))


def task(mode: str, **params: object) -> TrialTask:
    timeout = params.pop("timeout", None)
    return TrialTask(next(_numbers), {"mode": mode, **params}, seed=11, timeout=timeout)  # type: ignore[arg-type]


def worker_pids(executor: LocalExecutor) -> set[int]:
    return {w.process.pid for w in executor._workers}


@pytest.mark.parametrize(
    ("mode", "metrics"), [("number", {"loss": 3.0}), ("dict", {"loss": 1.5, "acc": 0.5})]
)
def test_success(local: LocalExecutor, mode: str, metrics: dict[str, float]) -> None:
    _, finished = run_until_finished(local, task(mode, x=1.5))
    assert finished.state is TrialState.COMPLETED
    assert {k: v for k, v in finished.metrics.items() if k != "other"} == metrics
    assert finished.started_at <= finished.ended_at


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("raise", "ValueError: bad x 1.0"),
        ("nan", "objective returned nan for metric 'loss'"),
        ("inf", "objective returned -inf for metric 'loss'"),
        ("none", "objective returned None; return a number or a dict of metrics"),
        ("string", "objective returned str 'abc'; return a number or a dict of metrics"),
        ("missing", "objective returned no metric 'loss' (metrics: 'acc', 'f1')"),
        ("exit", "objective called sys.exit(3)"),
    ],
)
def test_failures_keep_the_worker(local: LocalExecutor, mode: str, error: str) -> None:
    before = worker_pids(local)
    _, finished = run_until_finished(local, task(mode))
    assert finished.state is TrialState.FAILED
    assert finished.error == error
    assert worker_pids(local) == before


def test_exception_traceback_comes_from_the_worker(local: LocalExecutor) -> None:
    _, finished = run_until_finished(local, task("raise"))
    assert finished.traceback is not None
    assert "executor_objectives.py" in finished.traceback


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("os_exit", "worker process exited with status 3"),
        ("segv", "worker process killed by signal SIGSEGV"),
    ],
)
def test_crash_fails_trial_and_replaces_worker(local: LocalExecutor, mode: str, error: str) -> None:
    _, victim = run_until_finished(local, task("pid"))
    _, finished = run_until_finished(local, task(mode))
    assert finished.state is TrialState.FAILED
    assert finished.error == error
    assert len(local._workers) == 2
    # the sweep goes on: both slots run trials again, on live workers
    for _ in range(3):
        _, after = run_until_finished(local, task("number", x=2.0))
        assert after.state is TrialState.COMPLETED
    assert victim.state is TrialState.COMPLETED


def test_timeout_kills_the_worker_group(local: LocalExecutor) -> None:
    _, finished = run_until_finished(local, task("sleep", x=60.0, timeout=1.0))
    assert finished.state is TrialState.TIMED_OUT
    assert finished.error == "trial exceeded its timeout of 1.0 s"
    _, after = run_until_finished(local, task("number"))
    assert after.state is TrialState.COMPLETED


def test_worker_killed_from_outside(local: LocalExecutor) -> None:
    sleeper = task("sleep", x=60.0)
    local.submit(sleeper)
    (worker,) = [w for w in local._workers if w.task is sleeper]
    os.kill(worker.process.pid, signal.SIGKILL)
    _, finished = wait_finished(local, sleeper.number)
    assert finished.state is TrialState.FAILED
    assert finished.error == "worker process killed by signal SIGKILL"
    assert not alive(worker.process.pid)
    _, after = run_until_finished(local, task("number"))
    assert after.state is TrialState.COMPLETED


def test_reports_stream_before_the_trial_ends(local: LocalExecutor, tmp_path: Path) -> None:
    flag = tmp_path / "seen"
    streaming = task("report_then_wait", x=0.5, path=str(flag))
    local.submit(streaming)
    events: list[object] = []
    deadline = time.monotonic() + LIMIT_S
    while not any(isinstance(e, Report) for e in events) and time.monotonic() < deadline:
        events += local.poll(1.0)
    # the report arrived while the trial still waits for this file
    assert not any(isinstance(e, Finished) for e in events)
    (report,) = events
    assert isinstance(report, Report)
    assert (report.number, report.step, dict(report.metrics)) == (
        streaming.number,
        0,
        {"loss": 0.5},
    )
    flag.touch()
    _, finished = wait_finished(local, streaming.number)
    assert finished.state is TrialState.COMPLETED


def test_reports_from_worker_in_order(local: LocalExecutor) -> None:
    reports, finished = run_until_finished(local, task("report", x=1.0))
    assert [(r.step, dict(r.metrics)) for r in reports] == [
        (0, {"loss": 1.0}),
        (1, {"loss": 2.0}),
        (2, {"loss": 3.0}),
        (None, {"acc": 0.25}),
    ]
    assert finished.metrics == {"loss": 1.0}


def test_seeding_matches_inline(local: LocalExecutor) -> None:
    inline = InlineExecutor()
    inline.start(CallableObjective(dispatch, "loss"))
    for seed in (0, 7, 2**40 + 3):
        same = TrialTask(0, {"mode": "random"}, seed=seed)
        _, here = run_until_finished(inline, same)
        _, there = run_until_finished(local, same)
        assert here.metrics == there.metrics


def test_two_trials_run_at_once(local: LocalExecutor) -> None:
    assert local.free_slots() == 2
    first, second = task("pid"), task("sleep", x=0.2)
    local.submit(first)
    local.submit(second)
    assert local.free_slots() == 0
    assert local.running() == 2
    with pytest.raises(RuntimeError):
        local.submit(task("number"))
    _, a = wait_finished(local, first.number)
    _, b = wait_finished(local, second.number)
    assert a.state is b.state is TrialState.COMPLETED
    assert local.running() == 0


def test_many_trivial_trials(local: LocalExecutor) -> None:
    done: list[Finished] = []
    queued = [task("number", x=float(i)) for i in range(200)]
    expected = {t.number: 2.0 * t.params["x"] for t in queued}  # type: ignore[operator]
    while len(done) < len(expected):
        while queued and local.free_slots():
            local.submit(queued.pop())
        done += [e for e in local.poll(LIMIT_S) if isinstance(e, Finished)]
    assert {f.number: f.metrics["loss"] for f in done} == expected


def test_shutdown_kill_returns_running_and_leaves_no_process() -> None:
    executor = LocalExecutor(workers=2)
    executor.start(CallableObjective(dispatch, "loss"))
    pids = [w.process.pid for w in executor._workers]
    _, quick = run_until_finished(executor, TrialTask(0, {"mode": "number"}, seed=0))
    executor.submit(TrialTask(1, {"mode": "sleep", "x": 60.0}, seed=0))
    executor.submit(TrialTask(2, {"mode": "sleep", "x": 60.0}, seed=0))
    executor.poll(0.2)
    assert sorted(executor.shutdown(kill=True)) == [1, 2]
    assert quick.state is TrialState.COMPLETED
    assert all(gone(pid) for pid in pids)
    assert executor.running() == 0


def test_graceful_shutdown_ends_idle_workers() -> None:
    executor = LocalExecutor(workers=1)
    executor.start(CallableObjective(dispatch, "loss"))
    (pid,) = [w.process.pid for w in executor._workers]
    _, finished = run_until_finished(executor, TrialTask(0, {"mode": "number"}, seed=0))
    assert finished.state is TrialState.COMPLETED
    assert executor.shutdown() == []
    assert gone(pid)


def test_unloadable_objective_fails_start(tmp_path: Path) -> None:
    module = tmp_path / "vanishing_objective.py"
    module.write_text("def f(x):\n    return x\n")
    objective = CallableObjective.from_import_path(f"{module}:f", "loss")
    module.write_text("def f(x):\n    return x +\n")  # broken before the workers load it
    executor = LocalExecutor(workers=1)
    with pytest.raises(ObjectiveError, match="could not be loaded in a worker process"):
        executor.start(objective)
    assert executor._workers == []
