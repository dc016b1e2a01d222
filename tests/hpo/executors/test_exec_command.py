"""CommandObjective run for real: child processes, the report file, stdout, failures, timeouts."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from executor_helpers import gone, read_pids, run_until_finished

from hpo._command import CommandObjective
from hpo.executors import InlineExecutor, LocalExecutor
from hpo.executors._base import TrialTask
from trackers._states import TrialState

SCRIPT = str(Path(__file__).with_name("command_script.py"))
ROOT = str(Path(__file__).resolve().parents[3])


def run_command(argv: list[str], params: dict[str, object] | None = None, **kwargs: object):
    timeout = kwargs.pop("timeout", None)
    budget = kwargs.pop("budget", None)
    executor = InlineExecutor()
    executor.start(CommandObjective(argv, "loss", **kwargs))  # type: ignore[arg-type]
    task = TrialTask(3, params or {}, seed=42, budget=budget, timeout=timeout)  # type: ignore[arg-type]
    return run_until_finished(executor, task)


def test_report_file_streams_and_gives_final_metrics() -> None:
    reports, finished = run_command([sys.executable, SCRIPT, "report"])
    assert [(r.step, dict(r.metrics)) for r in reports[:3]] == [
        (0, {"loss": 1.0, "acc": 0.5}),
        (1, {"loss": 0.5, "acc": 0.5}),
        (2, {"loss": 1 / 3, "acc": 0.5}),
    ]
    assert reports[3].step is None and math.isnan(reports[3].metrics["extra"])
    assert finished.state is TrialState.COMPLETED
    assert finished.metrics["loss"] == 1 / 3 and finished.metrics["acc"] == 0.5
    assert math.isnan(finished.metrics["extra"])


def test_hpo_report_in_a_command_writes_the_protocol() -> None:
    reports, finished = run_command(
        [sys.executable, SCRIPT, "hpo_report"], env={"PYTHONPATH": ROOT}
    )
    assert [(r.step, dict(r.metrics)) for r in reports] == [(0, {"loss": 0.5}), (1, {"loss": 0.25})]
    assert finished.metrics == {"loss": 0.25}


def test_stdout_last_line_number() -> None:
    reports, finished = run_command([sys.executable, SCRIPT, "stdout"])
    assert reports == []
    assert finished.metrics == {"loss": 0.125}


def test_stdout_last_line_json() -> None:
    _, finished = run_command([sys.executable, SCRIPT, "stdout_json"])
    assert finished.metrics == {"loss": 0.5, "acc": 0.75}


def test_placeholders_env_and_full_float_precision(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    command = f"{sys.executable} {SCRIPT} stdout --lr={{lr}} --layers {{layers}} --tag=v{{tag}}"
    params = {"lr": 0.1 + 0.2, "layers": 3, "tag": "x y"}
    _, finished = run_command(command, params, env={"ARGV_OUT": str(out)}, budget=27.0)  # type: ignore[arg-type]
    assert finished.state is TrialState.COMPLETED
    seen = json.loads(out.read_text())
    assert seen["argv"] == ["--lr=0.30000000000000004", "--layers", "3", "--tag=vx y"]
    env = seen["env"]
    assert (env["HPO_TRIAL_NUMBER"], env["HPO_TRIAL_SEED"], env["HPO_TRIAL_BUDGET"]) == (
        "3",
        "42",
        "27.0",
    )
    assert json.loads(env["HPO_PARAMS"]) == params
    assert env["HPO_REPORT_FILE"].endswith(".jsonl")
    assert not Path(env["HPO_REPORT_FILE"]).exists()  # cleaned up after the trial


def test_no_placeholder_appends_name_value_args(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    _, finished = run_command(
        [sys.executable, SCRIPT, "stdout"], {"lr": 1e-05, "opt": "adam"}, env={"ARGV_OUT": str(out)}
    )
    assert finished.state is TrialState.COMPLETED
    assert json.loads(out.read_text())["argv"] == ["--lr=1e-05", "--opt=adam"]
    assert "HPO_TRIAL_BUDGET" not in json.loads(out.read_text())["env"]


def test_param_values_are_never_run_by_a_shell(tmp_path: Path) -> None:
    out = tmp_path / "argv.json"
    victim = tmp_path / "victim"
    victim.touch()
    evil = f"1; rm -rf {victim} && echo $(whoami) `id` | cat > /dev/null"
    _, finished = run_command(
        f"{sys.executable} {SCRIPT} stdout {{x}}", {"x": evil}, env={"ARGV_OUT": str(out)}
    )
    assert finished.state is TrialState.COMPLETED
    assert json.loads(out.read_text())["argv"] == [evil]
    assert victim.exists()


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("nothing", "command reported no metrics: write JSON lines to $HPO_REPORT_FILE or print "
         "the result as the last line (last line: 'done')"),
        ("exit3", "command exited with status 3"),
        ("segv", "command killed by signal SIGSEGV"),
    ],
)  # fmt: skip
def test_command_failures(mode: str, error: str) -> None:
    _, finished = run_command([sys.executable, SCRIPT, mode])
    assert finished.state is TrialState.FAILED
    assert finished.error == error
    if mode == "exit3":
        assert finished.traceback == "Traceback: something broke"


def test_malformed_report_line_fails_at_once() -> None:
    reports, finished = run_command([sys.executable, SCRIPT, "malformed"])
    assert [dict(r.metrics) for r in reports] == [{"loss": 1.0}]
    assert finished.state is TrialState.FAILED
    assert finished.error is not None
    assert finished.error.startswith("malformed report line 2: '{\"loss\": oops}': not valid JSON")


def test_command_not_found_at_run_time(tmp_path: Path) -> None:
    _, finished = run_command([str(tmp_path / "no-such-program")])
    assert finished.state is TrialState.FAILED
    assert finished.error == f"command {str(tmp_path / 'no-such-program')!r} not found"


def test_output_flood_is_captured_not_blocking() -> None:
    _, finished = run_command([sys.executable, SCRIPT, "flood"])
    assert finished.metrics == {"loss": 1.5}


def test_inline_command_timeout_kills_its_process_group(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    executor = InlineExecutor()
    executor.start(CommandObjective([sys.executable, SCRIPT, "sleep", str(pids)], "loss"))
    _, finished = run_until_finished(executor, TrialTask(0, {}, seed=0, timeout=1.0))
    assert finished.state is TrialState.TIMED_OUT
    assert finished.error == "trial exceeded its timeout of 1.0 s"
    assert all(gone(pid) for pid in read_pids(pids))


def test_local_command_timeout_and_kill_leave_no_process(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    command = [sys.executable, SCRIPT, "sleep", str(tmp_path / "{name}")]
    executor = LocalExecutor(workers=2)
    executor.start(CommandObjective(command, "loss"))
    try:
        # the command's own timeout: the worker kills its process group and lives on
        _, finished = run_until_finished(executor, TrialTask(0, {"name": "first"}, 0, timeout=1.0))
        assert finished.state is TrialState.TIMED_OUT
        assert all(gone(pid) for pid in read_pids(first))
        # Ctrl-C: the driver kills the worker and the command's group it reported
        executor.submit(TrialTask(1, {"name": "second"}, seed=0))
        pids = read_pids(second)
        workers = [w.process.pid for w in executor._workers]
    finally:
        unfinished = executor.shutdown(kill=True)
    assert unfinished == [1]
    assert all(gone(pid) for pid in [*pids, *workers])
