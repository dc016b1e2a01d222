"""RayExecutor against a real Ray cluster (conftest's head node on loopback): outcomes, streamed
reports, early stop, resources, a killed worker, timeouts, sweep retries, commands, whole sweeps
through the API and the ``hpo`` command. Nothing is mocked.

Ray actors are slow to start on a small machine, so most tests share one executor running
:func:`ray_dispatch`; it holds 0.5 CPU per trial, leaving the cluster's other CPU to the tests
that start executors of their own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

ray = pytest.importorskip("ray")

from executor_helpers import LIMIT_S, gone, read_pids, run_until_finished, wait_finished  # noqa: E402
from executor_objectives import dispatch  # noqa: E402

import hpo  # noqa: E402
from hpo._command import CommandObjective  # noqa: E402
from hpo._errors import HPOError, ObjectiveError  # noqa: E402
from hpo._objective import CallableObjective  # noqa: E402
from hpo.executors import RayExecutor, make_executor  # noqa: E402
from hpo.executors._base import Finished, Report, TrialTask  # noqa: E402
from trackers._states import TrialState  # noqa: E402

if TYPE_CHECKING:  # the fixture's type; conftest modules are pytest's to import
    from conftest import RayCluster

ROOT = Path(__file__).resolve().parents[3]


def _local_conftest() -> Any:
    spec = importlib.util.spec_from_file_location(
        "executors_conftest", Path(__file__).with_name("conftest.py")
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  # dataclasses look it up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


SCRIPT = str(Path(__file__).with_name("command_script.py"))


def ray_dispatch(
    mode: str, x: float = 1.0, path: str = "", trial: hpo.Trial | None = None
) -> object:
    """``dispatch``, plus what only a Ray worker can tell."""
    if mode == "until_stopped":
        # reports, then runs until the driver asks it to stop
        assert trial is not None
        trial.report(step=0, loss=x)
        deadline = time.monotonic() + 30
        while not trial.should_stop() and time.monotonic() < deadline:
            time.sleep(0.01)
        return {"loss": x, "stopped": float(trial.should_stop())}
    if mode == "checkpoint":
        # counts its runs in the trial's checkpoint directory
        assert trial is not None
        counter = trial.checkpoint_dir / "runs"
        runs = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(runs))
        return float(runs)
    if mode == "artifact":
        # writes a file in its own process and logs it
        assert trial is not None
        made = Path(path) / f"made-by-{os.getpid()}.txt"
        made.write_text(f"x={x}")
        trial.log_artifact(made, name="out.txt")
        return {"loss": x, "pid": float(os.getpid())}
    if mode == "resources":
        assigned = ray.get_runtime_context().get_assigned_resources()
        return {"loss": 0.0, **{k: float(v) for k, v in assigned.items()}}
    return dispatch(mode, x, path, trial)


def die_first(path: str, x: float) -> float:
    """Kills its worker process the first time (leaving a marker), succeeds after."""
    if not Path(path).exists():
        Path(path).write_text("died")
        os._exit(1)
    return x


def quadratic(x: float, trial: hpo.Trial) -> float:
    for step in range(3):
        trial.report(step=step, loss=x * x + 1.0 / (step + 1))
    return x * x


_numbers = iter(range(10_000))


def task(mode: str, **params: object) -> TrialTask:
    timeout = params.pop("timeout", None)
    return TrialTask(next(_numbers), {"mode": mode, **params}, seed=11, timeout=timeout)  # type: ignore[arg-type]


def executor_for(cluster: RayCluster, **options: object) -> RayExecutor:
    executor = make_executor("ray", options={"address": cluster.address, **options})
    assert isinstance(executor, RayExecutor)
    return executor


@pytest.fixture(scope="module")
def shared(ray_cluster: RayCluster) -> Iterator[RayExecutor]:
    executor = executor_for(ray_cluster, max_concurrent=2, resources_per_trial={"cpus": 0.5})
    executor.start(CallableObjective(ray_dispatch, "loss"))
    yield executor
    executor.shutdown()


def pids(executor: RayExecutor) -> set[int | None]:
    return {slot.pid for slot in executor._slots}


def pid_running(executor: RayExecutor, number: int) -> int:
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        for slot in executor._slots:
            if slot.task is not None and slot.task.number == number and slot.pid is not None:
                return slot.pid
        executor.poll(0.05)
    pytest.fail(f"trial {number} is not running on a started worker")


# -- outcomes ----------------------------------------------------------------------------------


def test_options_are_checked_before_anything_starts() -> None:
    with pytest.raises(ValueError, match=r"unknown option.*'ray': gpus"):
        make_executor("ray", options={"gpus": 1})
    with pytest.raises(ValueError, match=r"resources_per_trial\.gpus must be >= 0"):
        make_executor("ray", options={"resources_per_trial": {"gpus": -0.5}})
    with pytest.raises(ValueError, match=r"unknown key.*resources_per_trial: memory"):
        make_executor("ray", options={"resources_per_trial": {"memory": 1}})
    with pytest.raises(ValueError, match="max_concurrent must be an integer"):
        make_executor("ray", options={"max_concurrent": 1.5})
    with pytest.raises(ValueError, match="max_concurrent must be >= 1"):
        make_executor("ray", options={"max_concurrent": 0})


def test_without_ray_import_hpo_works_and_the_ray_executor_says_how_to_get_it() -> None:
    # a Python where Ray cannot be imported, as for a user without the extra
    code = textwrap.dedent(
        """\
        import sys
        sys.modules["ray"] = None
        import hpo
        from hpo.executors import make_executor
        try:
            make_executor("ray", options={"max_concurrent": 2})
        except ValueError as exc:
            print(exc)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == 'the ray executor needs Ray: pip install "hpo[ray]"'


def test_import_hpo_does_not_import_ray() -> None:
    code = "import sys, hpo, hpo.executors; print('ray' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.stdout.strip() == "False", run.stderr


@pytest.mark.parametrize(
    ("mode", "metrics"), [("number", {"loss": 3.0}), ("dict", {"loss": 1.5, "acc": 0.5})]
)
def test_success(shared: RayExecutor, mode: str, metrics: dict[str, float]) -> None:
    _, finished = run_until_finished(shared, task(mode, x=1.5))
    assert finished.state is TrialState.COMPLETED
    assert {k: v for k, v in finished.metrics.items() if k != "other"} == metrics
    assert finished.started_at <= finished.ended_at


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("raise", "ValueError: bad x 1.0"),
        ("nan", "objective returned nan for metric 'loss'"),
        ("missing", "objective returned no metric 'loss' (metrics: 'acc', 'f1')"),
        ("exit", "objective called sys.exit(3)"),
    ],
)
def test_failures_keep_the_worker(shared: RayExecutor, mode: str, error: str) -> None:
    before = pids(shared)
    _, finished = run_until_finished(shared, task(mode))
    assert finished.state is TrialState.FAILED
    assert finished.error == error
    assert pids(shared) == before


def test_traceback_comes_from_the_worker(shared: RayExecutor) -> None:
    _, finished = run_until_finished(shared, task("raise"))
    assert finished.traceback is not None and "executor_objectives.py" in finished.traceback


def test_trials_run_in_parallel_on_other_processes(shared: RayExecutor) -> None:
    a, b = task("pid"), task("pid")
    shared.submit(a)
    shared.submit(b)
    assert shared.free_slots() == 0 and shared.running() == 2
    finished: dict[int, Finished] = {}
    deadline = time.monotonic() + LIMIT_S
    while len(finished) < 2 and time.monotonic() < deadline:
        finished.update({e.number: e for e in shared.poll(1.0) if isinstance(e, Finished)})
    assert {f.metrics["pid"] for f in finished.values()} <= set(pids(shared)) - {None}
    assert os.getpid() not in pids(shared)
    assert shared.running() == 0 and shared.free_slots() == 2


def test_seed_reaches_the_worker(shared: RayExecutor) -> None:
    first = run_until_finished(shared, task("random"))[1].metrics
    again = run_until_finished(shared, task("random"))[1].metrics
    assert first["r"] == again["r"] and first["n"] == again["n"]  # same seed, same draws


# -- reports and early stopping ----------------------------------------------------------------


def test_reports_arrive_before_finished_and_in_order(shared: RayExecutor) -> None:
    t = task("report", x=2.0)
    shared.submit(t)
    events: list[Finished | Report] = []
    deadline = time.monotonic() + LIMIT_S
    while not any(isinstance(e, Finished) for e in events) and time.monotonic() < deadline:
        events += shared.poll(1.0)
    assert [type(e).__name__ for e in events] == ["Report"] * 4 + ["Finished"]
    reports = [e for e in events if isinstance(e, Report)]
    assert [(r.step, dict(r.metrics)) for r in reports] == [
        (0, {"loss": 2.0}),
        (1, {"loss": 3.0}),
        (2, {"loss": 4.0}),
        (None, {"acc": 0.25}),
    ]


def test_reports_stream_while_the_trial_runs(shared: RayExecutor, tmp_path: Path) -> None:
    flag = tmp_path / "seen"
    t = task("report_then_wait", x=0.5, path=str(flag))
    shared.submit(t)
    seen: list[Report] = []
    deadline = time.monotonic() + LIMIT_S
    while not seen and time.monotonic() < deadline:
        for event in shared.poll(1.0):
            assert not isinstance(event, Finished), "finished before its report was seen"
            seen.append(event)  # type: ignore[arg-type]
    assert seen and seen[0].metrics == {"loss": 0.5} and seen[0].number == t.number
    flag.write_text("go")  # only now may the trial end
    _, finished = wait_finished(shared, t.number)
    assert finished.state is TrialState.COMPLETED


def test_stop_request_reaches_the_running_trial(shared: RayExecutor) -> None:
    t = task("until_stopped", x=0.25)
    shared.submit(t)
    (slot,) = [s for s in shared._slots if s.task is t]
    events: list[Finished | Report] = []
    deadline = time.monotonic() + LIMIT_S
    while not events and time.monotonic() < deadline:
        events += shared.poll(1.0)  # its first report: it is running and checks should_stop
    shared.stop(t.number)
    _, finished = wait_finished(shared, t.number)
    assert finished.state is TrialState.COMPLETED
    assert finished.metrics == {"loss": 0.25, "stopped": 1.0}
    shared.stop(t.number)  # no longer running: ignored
    # a late request that reaches the actor anyway names a call that has ended: dropped
    assert ray.get(slot.actor.stop.remote(slot.run_id)) is False
    # one sent with the task, before the actor has started the call, waits for it
    early = task("until_stopped", x=0.5)
    shared.submit(early)
    shared.stop(early.number)
    _, stopped = wait_finished(shared, early.number)
    assert stopped.metrics == {"loss": 0.5, "stopped": 1.0}


def test_checkpoint_dir_reaches_the_actor(shared: RayExecutor, tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt"
    t = TrialTask(next(_numbers), {"mode": "checkpoint"}, seed=0, checkpoint_dir=str(ckpt))
    runs = [run_until_finished(shared, t)[1].metrics for _ in range(2)]  # e.g. a promotion
    assert runs == [{"loss": 1.0}, {"loss": 2.0}]
    assert (ckpt / "runs").read_text() == "2"


def test_artifacts_are_copied_by_the_actor_and_recorded_by_the_driver(
    shared: RayExecutor, tmp_path: Path
) -> None:
    folder = tmp_path / "artifacts"
    t = TrialTask(
        next(_numbers), {"mode": "artifact", "x": 0.25, "path": str(tmp_path)}, seed=0,
        artifact_dir=str(folder),
    )  # fmt: skip
    reports, done = run_until_finished(shared, t)
    assert done.state is TrialState.COMPLETED
    assert done.metrics["pid"] != os.getpid()  # logged in another process
    refs = [ref for r in reports for ref in r.artifacts]
    assert [(ref.name, ref.size) for ref in refs] == [("out.txt", len("x=0.25"))]
    stored = folder / refs[0].sha256[:2] / refs[0].sha256
    assert stored.read_text() == "x=0.25"


# -- dead workers, timeouts, retries -------------------------------------------------------------


def test_killed_worker_fails_its_trial_and_is_replaced(shared: RayExecutor) -> None:
    t = task("sleep", x=60.0)
    shared.submit(t)
    victim = pid_running(shared, t.number)
    os.kill(victim, signal.SIGKILL)
    _, finished = wait_finished(shared, t.number)
    assert finished.state is TrialState.FAILED
    assert finished.error is not None and finished.error.startswith("ray worker died: ")
    assert victim not in pids(shared) and len(shared._slots) == 2
    _, after = run_until_finished(shared, task("number", x=2.0))
    assert after.state is TrialState.COMPLETED and after.metrics == {"loss": 4.0}


def test_objective_exiting_its_process_fails_the_trial(shared: RayExecutor) -> None:
    _, finished = run_until_finished(shared, task("os_exit"))
    assert finished.state is TrialState.FAILED
    assert finished.error is not None and finished.error.startswith("ray worker died: ")
    _, after = run_until_finished(shared, task("number", x=1.0))
    assert after.state is TrialState.COMPLETED


def test_timeout_kills_the_worker_and_goes_on(shared: RayExecutor) -> None:
    t = task("sleep", x=60.0, timeout=1.0)
    shared.submit(t)
    victim = pid_running(shared, t.number)
    _, finished = wait_finished(shared, t.number)
    assert finished.state is TrialState.TIMED_OUT
    assert finished.error == "trial exceeded its timeout of 1.0 s"
    assert gone(victim)
    _, after = run_until_finished(shared, task("number", x=1.0))
    assert after.state is TrialState.COMPLETED


def test_node_death_fails_its_trial_and_the_sweep_goes_on(ray_cluster: RayCluster) -> None:
    # this folder's conftest (by path: another folder's conftest may hold the name)
    join_node = _local_conftest().join_node

    node = join_node(ray_cluster, cpus=1, resources='{"doomed": 1}')
    executor = executor_for(
        ray_cluster, max_concurrent=1, resources_per_trial={"cpus": 0.25, "custom": {"doomed": 1}}
    )
    executor.start(CallableObjective(ray_dispatch, "loss"))
    try:
        t = task("sleep", x=60.0)
        executor.submit(t)
        pid_running(executor, t.number)
        os.killpg(node.pid, signal.SIGKILL)  # the whole node: its raylet and its workers
        _, finished = wait_finished(executor, t.number)
        assert finished.state is TrialState.FAILED
        assert finished.error is not None and finished.error.startswith("ray worker died: ")
        assert executor.running() == 0
    finally:
        executor.shutdown(kill=True)


def test_sweep_retries_rerun_a_trial_whose_worker_died(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    executor = executor_for(ray_cluster, max_concurrent=1, resources_per_trial={"cpus": 0.25})
    result = hpo.sweep(
        die_first,
        {"path": {"value": str(marker)}, "x": {"min": 0.0, "max": 1.0}},
        metric="loss",
        trials=1,
        retries=1,
        executor=executor,
        store=tmp_path / "retry.db",
    )
    first, rerun = sorted(result.trials, key=lambda t: t.number)
    assert marker.read_text() == "died"  # the first run did kill its worker
    assert first.state is TrialState.FAILED
    assert first.error is not None and first.error.startswith("ray worker died: ")
    assert rerun.state is TrialState.COMPLETED and rerun.params == first.params
    assert rerun.value == first.params["x"]


# -- resources -----------------------------------------------------------------------------------


def test_resources_per_trial_reach_the_actor(ray_cluster: RayCluster) -> None:
    executor = executor_for(ray_cluster, resources_per_trial={"cpus": 0.25, "custom": {"slot": 1}})
    executor.start(CallableObjective(ray_dispatch, "loss"))
    try:
        # by default as many trials as the cluster holds: 2 'slot' units / 1 per trial
        assert executor.capacity == 2
        _, finished = run_until_finished(executor, task("resources"))
        assert finished.metrics["CPU"] == 0.25 and finished.metrics["slot"] == 1.0
    finally:
        executor.shutdown()


def test_resources_the_cluster_lacks_are_a_clear_error(ray_cluster: RayCluster) -> None:
    executor = executor_for(ray_cluster, resources_per_trial={"gpus": 0.5})
    with pytest.raises(HPOError, match=r"cannot run even one trial: each needs CPU=1, GPU=0\.5"):
        executor.start(CallableObjective(ray_dispatch, "loss"))


def test_objective_that_cannot_load_is_an_objective_error(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    module = tmp_path / "vanishing_objective.py"
    module.write_text("def f(x):\n    return x\n")
    objective = CallableObjective.from_import_path(f"{module}:f", "loss")
    module.unlink()  # the worker imports it again from the path, and finds nothing
    executor = executor_for(ray_cluster, max_concurrent=1, resources_per_trial={"cpus": 0.25})
    with pytest.raises(ObjectiveError, match="could not be loaded in a Ray worker"):
        executor.start(objective)


# -- commands ----------------------------------------------------------------------------------


def test_command_objective_streams_reports_and_times_out(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    executor = executor_for(ray_cluster, max_concurrent=1, resources_per_trial={"cpus": 0.25})
    executor.start(CommandObjective([sys.executable, SCRIPT, "{mode}", "{path}"], "loss"))
    try:
        reports, finished = run_until_finished(executor, task("report", path="-"))
        assert [r.step for r in reports] == [0, 1, 2, None]
        assert finished.state is TrialState.COMPLETED and finished.metrics["loss"] == 1 / 3
        pidfile = tmp_path / "pids"
        t = task("sleep", path=str(pidfile), timeout=1.0)
        executor.submit(t)
        command, grandchild = read_pids(pidfile)
        _, timed_out = wait_finished(executor, t.number)
        assert timed_out.state is TrialState.TIMED_OUT
        assert gone(command) and gone(grandchild)  # the whole process group, on the worker
    finally:
        executor.shutdown()


def test_shutdown_kill_ends_a_running_command(ray_cluster: RayCluster, tmp_path: Path) -> None:
    executor = executor_for(ray_cluster, max_concurrent=1, resources_per_trial={"cpus": 0.25})
    executor.start(CommandObjective([sys.executable, SCRIPT, "{mode}", "{path}"], "loss"))
    pidfile = tmp_path / "pids"
    t = task("sleep", path=str(pidfile))
    executor.submit(t)
    command, grandchild = read_pids(pidfile)
    assert executor.shutdown(kill=True) == [t.number]
    assert gone(command) and gone(grandchild)


# -- whole sweeps --------------------------------------------------------------------------------


def test_sweep_through_the_api_records_everything(ray_cluster: RayCluster, tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    executor = executor_for(ray_cluster, max_concurrent=2, resources_per_trial={"cpus": 0.25})
    result = hpo.sweep(
        quadratic,
        {"x": {"min": -1.0, "max": 1.0}},
        metric="loss",
        trials=20,
        seed=3,
        executor=executor,
        store=db,
    )
    assert result.count(TrialState.COMPLETED) == 20
    with sqlite3.connect(db) as conn:
        states = conn.execute("SELECT state, COUNT(*) FROM trials GROUP BY state").fetchall()
        steps = conn.execute("SELECT COUNT(*) FROM metrics WHERE step IS NOT NULL").fetchone()
    assert states == [("completed", 20)]
    assert steps[0] == 20 * 3  # every streamed report, recorded by the driver


def hpo_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


def test_cli_command_sweep_on_the_cluster(ray_cluster: RayCluster, tmp_path: Path) -> None:
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            f"""\
            name: on-ray
            objective:
              command: '{sys.executable} {SCRIPT} hpo_report'
            metric: {{name: loss, goal: minimize}}
            parameters:
              x: {{min: 0.0, max: 1.0}}
            trials: 4
            executor:
              type: ray
              max_concurrent: 2
              resources_per_trial: {{cpus: 0.25}}
            """
        )
    )
    db = tmp_path / "cli.db"
    run = hpo_cli(
        "sweep", "sweep.yaml", "--store", str(db), "--address", ray_cluster.address, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr
    assert "4 trials: 4 completed" in run.stdout
    shown = hpo_cli("show", "on-ray:0", "--store", str(db), "--format", "json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    detail = json.loads(shown.stdout)
    assert [p["step"] for p in detail["series"]["loss"]] == [0, 1]  # streamed from the worker


def test_cli_without_address_runs_a_local_ray_instance(tmp_path: Path) -> None:
    (tmp_path / "obj.py").write_text("def f(x):\n    return (x - 0.5) ** 2\n")
    (tmp_path / "sweep.yaml").write_text(
        textwrap.dedent(
            """\
            name: local-ray
            objective: {function: obj.py:f}
            metric: {name: loss}
            parameters:
              x: {min: 0.0, max: 1.0}
            trials: 6
            executor: {type: ray, max_concurrent: 2}
            """
        )
    )
    run = hpo_cli("sweep", "sweep.yaml", "--store", str(tmp_path / "l.db"), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "6 trials: 6 completed" in run.stdout
