"""Stopping a running trial early, and the trial's checkpoint directory, in the inline and local
executors and for command objectives. (The ray executor's are in test_exec_ray.py, beside its
cluster.) Executors are driven directly: submit, poll, stop.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from executor_helpers import LIMIT_S, gone, run_until_finished, wait_finished
from stop_objectives import count_runs, until_stopped

from hpo._command import CommandObjective
from hpo._errors import ObjectiveError
from hpo._objective import CallableObjective
from hpo.executors import InlineExecutor, LocalExecutor
from hpo.executors._base import Executor, Finished, Report, TrialTask
from trackers._states import TrialState

ROOT = str(Path(__file__).resolve().parents[3])
SCRIPT = str(Path(__file__).with_name("stop_script.py"))

_numbers = iter(range(10_000))


def task(x: float, release: Path | str = "", checkpoint_dir: Path | None = None) -> TrialTask:
    params = {"x": x, "release": str(release)}
    ckpt = None if checkpoint_dir is None else str(checkpoint_dir)
    return TrialTask(next(_numbers), params, seed=1, checkpoint_dir=ckpt)


def first_report(executor: Executor, number: int) -> Report:
    """Poll until trial ``number`` has reported: from then on it is running."""
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        for event in executor.poll(1.0):
            assert not isinstance(event, Finished), f"trial ended before reporting: {event}"
            if event.number == number:
                return event
    pytest.fail(f"trial {number} never reported")


# -- inline ----------------------------------------------------------------------------------


def test_inline_stop_from_the_listener_reaches_the_trial() -> None:
    executor = InlineExecutor()
    executor.start(CallableObjective(until_stopped, "loss"))
    seen: list[Report] = []

    def listener(report: Report) -> None:  # as the engine does: judge, then stop
        seen.append(report)
        executor.stop(report.number)

    executor.listener = listener
    t = task(0.5)
    _, finished = run_until_finished(executor, t)
    assert [(r.number, dict(r.metrics)) for r in seen] == [(t.number, {"loss": 0.5})]
    assert finished.state is TrialState.COMPLETED
    assert (finished.metrics["stopped"], finished.metrics["module_stopped"]) == (1.0, 1.0)


def test_inline_stale_stop_does_not_stop_the_next_run(tmp_path: Path) -> None:
    executor = InlineExecutor()
    executor.start(CallableObjective(until_stopped, "loss"))
    release = tmp_path / "go"
    release.touch()
    t = task(1.0, release)
    executor.stop(t.number)  # e.g. for an earlier run that has ended
    _, finished = run_until_finished(executor, t)
    assert finished.metrics["stopped"] == 0.0


def test_inline_checkpoint_dir_kept_between_runs(tmp_path: Path) -> None:
    executor = InlineExecutor()
    executor.start(CallableObjective(count_runs, "loss"))
    ckpt, out = tmp_path / "ckpt" / "7", tmp_path / "where"
    first = TrialTask(7, {"x": 0.0, "release": str(out)}, seed=0, checkpoint_dir=str(ckpt))
    _, one = run_until_finished(executor, first)
    _, two = run_until_finished(executor, first)  # the trial again, e.g. promoted
    assert (one.metrics["loss"], two.metrics["loss"]) == (1.0, 2.0)
    assert out.read_text() == str(ckpt)


# -- local -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def local() -> Iterator[LocalExecutor]:
    executor = LocalExecutor(workers=2)
    executor.start(CallableObjective(until_stopped, "loss"))
    yield executor
    executor.shutdown()


def test_local_stop_one_of_two_running_trials(local: LocalExecutor, tmp_path: Path) -> None:
    release_b, release_c = tmp_path / "b", tmp_path / "c"
    a, b = task(0.25), task(0.5, release_b)
    local.submit(a)
    local.submit(b)
    first_report(local, a.number)
    local.stop(a.number)
    _, stopped = wait_finished(local, a.number)
    assert stopped.state is TrialState.COMPLETED
    assert stopped.metrics["loss"] == 0.25
    assert (stopped.metrics["stopped"], stopped.metrics["module_stopped"]) == (1.0, 1.0)
    assert local.running() == 1  # b runs on

    local.stop(a.number)  # it has ended: ignored
    local.stop(10**9)  # never ran: ignored
    # the stopped trial's worker (the only idle one) runs the next trial normally
    c = task(0.75, release_c)
    local.submit(c)
    release_c.touch()
    _, after = wait_finished(local, c.number)
    assert after.metrics["pid"] == stopped.metrics["pid"]
    assert (after.state, after.metrics["stopped"]) == (TrialState.COMPLETED, 0.0)

    release_b.touch()
    _, untouched = wait_finished(local, b.number)
    assert untouched.state is TrialState.COMPLETED
    assert (untouched.metrics["loss"], untouched.metrics["stopped"]) == (0.5, 0.0)


def test_local_stop_sent_with_the_task_is_not_lost(local: LocalExecutor) -> None:
    # the request reaches the worker before the trial has started: it must wait for it
    t = task(2.0)
    local.submit(t)
    local.stop(t.number)
    _, finished = wait_finished(local, t.number)
    assert finished.metrics["stopped"] == 1.0


def test_local_late_stop_reaching_the_worker_is_ignored(
    local: LocalExecutor, tmp_path: Path
) -> None:
    # A request sent as the trial ended reaches the worker after it: it must not stop the
    # next run of the same trial number on that worker. Sent here past the driver's check.
    release = tmp_path / "go"
    release.touch()
    t = task(3.0, release)
    _, first = run_until_finished(local, t)
    (worker,) = [w for w in local._workers if w.process.pid == first.metrics["pid"]]
    worker.conn.send_bytes(pickle.dumps(t.number, 5))
    local._idle.remove(worker)  # the same worker again
    local._idle.append(worker)
    _, again = run_until_finished(local, t)
    assert again.metrics["pid"] == first.metrics["pid"]
    assert (again.state, again.metrics["stopped"]) == (TrialState.COMPLETED, 0.0)


def test_local_checkpoint_dir_reaches_the_worker(tmp_path: Path) -> None:
    executor = LocalExecutor(workers=1)
    executor.start(CallableObjective(count_runs, "loss"))
    try:
        ckpt, out = tmp_path / "ckpt", tmp_path / "where"
        t = TrialTask(4, {"x": 0.0, "release": str(out)}, seed=0, checkpoint_dir=str(ckpt))
        _, one = run_until_finished(executor, t)
        _, two = run_until_finished(executor, t)
    finally:
        executor.shutdown()
    assert (one.state, two.state) == (TrialState.COMPLETED, TrialState.COMPLETED)
    assert (one.metrics["loss"], two.metrics["loss"]) == (1.0, 2.0)
    assert out.read_text() == str(ckpt) and (ckpt / "runs").read_text() == "2"


# -- commands --------------------------------------------------------------------------------


def stopping_listener(executor: Executor, seen: list[Report]) -> None:
    def listener(report: Report) -> None:
        seen.append(report)
        if len(seen) == 1:
            executor.stop(report.number)

    executor.listener = listener


@pytest.mark.parametrize("mode", ["hpo", "stdlib"])
def test_python_command_exits_when_asked_to_stop(mode: str, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    executor = InlineExecutor()
    objective = CommandObjective(
        [sys.executable, SCRIPT, mode, str(out)], "loss", env={"PYTHONPATH": ROOT}
    )
    executor.start(objective)
    seen: list[Report] = []
    stopping_listener(executor, seen)
    _, finished = run_until_finished(executor, TrialTask(0, {}, seed=0))
    assert finished.state is TrialState.COMPLETED
    assert finished.metrics == {"loss": seen[-1].metrics["loss"]}  # its last report
    state = json.loads(out.read_text())
    assert (state["at_start"], state["at_end"]) == (False, True)
    assert not Path(state["stop_file"]).exists()  # cleaned up with the trial's folder


def shell_script(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "train.sh"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    return script


def test_shell_command_ignoring_the_stop_file_is_killed(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    script = shell_script(
        tmp_path,
        'echo \'{"step": 0, "loss": 0.5}\' >> "$HPO_REPORT_FILE"\n'
        f"echo $$ > {pid_file}\nexec sleep 60\n",
    )
    executor = InlineExecutor()
    executor.start(CommandObjective([str(script)], "loss", stop_grace=0.2))
    seen: list[Report] = []
    stopping_listener(executor, seen)
    _, finished = run_until_finished(executor, TrialTask(0, {}, seed=0))
    assert finished.state is TrialState.COMPLETED
    assert finished.metrics == {"loss": 0.5}
    assert gone(int(pid_file.read_text()))


def test_killed_command_that_reported_no_metric_fails(tmp_path: Path) -> None:
    script = shell_script(
        tmp_path, 'echo \'{"step": 0, "acc": 0.5}\' >> "$HPO_REPORT_FILE"\nexec sleep 60\n'
    )
    executor = InlineExecutor()
    executor.start(CommandObjective([str(script)], "loss", stop_grace=0.1))
    stopping_listener(executor, [])
    _, finished = run_until_finished(executor, TrialTask(0, {}, seed=0))
    assert finished.state is TrialState.FAILED
    assert finished.error == (
        "command was asked to stop early and was killed after stop_grace (0.1 s) without having "
        "reported 'loss'; report it as training goes, or exit when $HPO_STOP_FILE appears"
    )


def test_local_executor_stops_a_command(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    executor = LocalExecutor(workers=1)
    executor.start(CommandObjective([sys.executable, SCRIPT, "stdlib", str(out)], "loss"))
    try:
        executor.submit(TrialTask(0, {}, seed=0))
        first = first_report(executor, 0)
        executor.stop(0)
        reports, finished = wait_finished(executor, 0)
    finally:
        executor.shutdown()
    assert finished.state is TrialState.COMPLETED
    assert json.loads(out.read_text())["at_end"] is True
    assert finished.metrics == {"loss": [first, *reports][-1].metrics["loss"]}


def test_command_checkpoint_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "seen"
    script = shell_script(
        tmp_path,
        f'echo "${{HPO_CHECKPOINT_DIR-unset}}" >> {out}\n'
        '[ -n "${HPO_CHECKPOINT_DIR+set}" ] || { echo 0; exit 0; }\n'
        'n=$(cat "$HPO_CHECKPOINT_DIR/n" 2>/dev/null || echo 0)\n'
        'n=$((n + 1))\necho $n > "$HPO_CHECKPOINT_DIR/n"\necho $n\n',
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPO_CHECKPOINT_DIR", "/inherited/from/elsewhere")
    executor = InlineExecutor()
    executor.start(CommandObjective([str(script)], "loss", cwd="/"))
    with_dir = TrialTask(5, {}, seed=0, checkpoint_dir="ckpt/5")  # relative to the driver
    results = [run_until_finished(executor, with_dir)[1] for _ in range(2)]
    without = run_until_finished(executor, TrialTask(6, {}, seed=0))[1]
    assert [f.metrics["loss"] for f in results] == [1.0, 2.0]  # its content survived
    ckpt = str(tmp_path / "ckpt" / "5")
    # the same absolute path both times; not set (not even inherited) without a directory
    assert out.read_text().split() == [ckpt, ckpt, "unset"]
    assert without.metrics == {"loss": 0.0}


def test_command_checkpoint_dir_that_cannot_be_created(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    executor = InlineExecutor()
    executor.start(CommandObjective([sys.executable, "-c", "print(1)"], "loss"))
    t = TrialTask(0, {}, seed=0, checkpoint_dir=str(blocker / "ckpt"))
    _, finished = run_until_finished(executor, t)
    assert finished.state is TrialState.FAILED
    assert finished.error == (
        f"the trial's checkpoint directory {blocker / 'ckpt'} could not be created: Not a directory"
    )


@pytest.mark.parametrize("grace", [-1, True, float("nan"), "10"])
def test_stop_grace_must_be_a_non_negative_number(grace: object) -> None:
    with pytest.raises(ObjectiveError, match=r"stop_grace must be a number of seconds >= 0, got"):
        CommandObjective(["true"], "loss", stop_grace=grace)  # type: ignore[arg-type]


def test_stop_file_is_absent_until_asked(tmp_path: Path) -> None:
    out = tmp_path / "env"
    executor = InlineExecutor()
    code = (
        "import os, sys; f = os.environ['HPO_STOP_FILE']; "
        "open(sys.argv[1], 'w').write(f + ' ' + str(os.path.exists(f))); print(0.5)"
    )
    executor.start(CommandObjective([sys.executable, "-c", code, str(out)], "loss"))
    _, finished = run_until_finished(executor, TrialTask(0, {}, seed=0))
    path, exists = out.read_text().split()
    assert finished.metrics == {"loss": 0.5}
    assert exists == "False" and os.path.isabs(path) and not Path(path).exists()
    assert "hpo-trial-0-" in path
