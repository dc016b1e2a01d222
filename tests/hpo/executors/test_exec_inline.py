"""InlineExecutor: every outcome of a Python objective, run in this process."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
from executor_helpers import run_until_finished
from executor_objectives import dispatch, takes_dict

from hpo._objective import CallableObjective
from hpo.executors import InlineExecutor, make_executor
from hpo.executors._base import TrialTask
from trackers._states import TrialState


@pytest.fixture
def inline() -> InlineExecutor:
    executor = InlineExecutor()
    executor.start(CallableObjective(dispatch, "loss"))
    return executor


def run(executor: InlineExecutor, mode: str, **params: object):
    return run_until_finished(executor, TrialTask(1, {"mode": mode, **params}, seed=5))


@pytest.mark.parametrize(
    ("mode", "metrics"),
    [
        ("number", {"loss": 3.0}),
        ("int", {"loss": 7.0}),
        ("numpy", {"loss": 1.5}),
    ],
)
def test_success_values(inline: InlineExecutor, mode: str, metrics: dict[str, float]) -> None:
    _, finished = run(inline, mode, x=1.5)
    assert finished.state is TrialState.COMPLETED
    assert finished.metrics == metrics
    assert all(type(v) is float for v in finished.metrics.values())
    assert finished.error is None
    assert finished.started_at <= finished.ended_at


def test_dict_result_keeps_other_non_finite_metrics(inline: InlineExecutor) -> None:
    _, finished = run(inline, "dict", x=0.25)
    assert finished.state is TrialState.COMPLETED
    assert finished.metrics["loss"] == 0.25
    assert finished.metrics["acc"] == 0.5
    assert np.isnan(finished.metrics["other"])


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("raise", "ValueError: bad x 1.0"),
        ("nan", "objective returned nan for metric 'loss'"),
        ("inf", "objective returned -inf for metric 'loss'"),
        ("none", "objective returned None; return a number or a dict of metrics"),
        ("string", "objective returned str 'abc'; return a number or a dict of metrics"),
        ("bool", "objective returned bool True; return a number or a dict of metrics"),
        ("missing", "objective returned no metric 'loss' (metrics: 'acc', 'f1')"),
        (
            "non_numeric",
            "objective returned str 'hello' for metric 'note'; metrics must be numbers",
        ),
        ("exit", "objective called sys.exit(3)"),
        ("bad_report", "ValueError: report step must be >= 0, got -1"),
    ],
)
def test_failures(inline: InlineExecutor, mode: str, error: str) -> None:
    _, finished = run(inline, mode)
    assert finished.state is TrialState.FAILED
    assert finished.error == error
    assert finished.metrics == {}


def test_exception_traceback_starts_at_user_code(inline: InlineExecutor) -> None:
    _, finished = run(inline, "raise")
    assert finished.traceback is not None
    assert "executor_objectives.py" in finished.traceback
    assert "ValueError: bad x" in finished.traceback
    assert "_inline.py" not in finished.traceback


def test_reports_come_before_finished(inline: InlineExecutor) -> None:
    inline.submit(TrialTask(4, {"mode": "report", "x": 1.0}, seed=0))
    events = inline.poll()
    steps = [(e.step, dict(e.metrics)) for e in events[:-1]]
    assert steps == [
        (0, {"loss": 1.0}),
        (1, {"loss": 2.0}),
        (2, {"loss": 3.0}),
        (None, {"acc": 0.25}),
    ]
    assert all(e.number == 4 for e in events)
    assert events[-1].state is TrialState.COMPLETED
    assert inline.poll() == []


def test_trial_handle_gets_number_and_seed(inline: InlineExecutor) -> None:
    _, finished = run_until_finished(inline, TrialTask(9, {"mode": "seed"}, seed=1234))
    assert finished.metrics == {"loss": 1234.0, "number": 9.0}


def test_seeds_random_and_numpy(inline: InlineExecutor) -> None:
    _, first = run(inline, "random")
    random.random(), np.random.rand()  # disturb the global generators between trials
    _, second = run(inline, "random")
    assert first.metrics == second.metrics
    _, other = run_until_finished(inline, TrialTask(2, {"mode": "random"}, seed=6))
    assert other.metrics["r"] != first.metrics["r"]


def test_params_dict_signature() -> None:
    executor = make_executor("inline")
    executor.start(CallableObjective(takes_dict, "loss"))
    _, finished = run_until_finished(executor, TrialTask(3, {"a": 1, "b": 2}, seed=0))
    assert finished.metrics == {"loss": 5.0}


def test_slots_and_running(inline: InlineExecutor) -> None:
    assert inline.free_slots() == 1
    assert inline.running() == 0
    inline.submit(TrialTask(1, {"mode": "number"}, seed=0))
    assert inline.free_slots() == 0
    assert inline.running() == 1
    with pytest.raises(RuntimeError):
        inline.submit(TrialTask(2, {"mode": "number"}, seed=0))
    inline.poll()
    assert inline.running() == 0


def test_keyboard_interrupt_escapes_and_trial_counts_as_running() -> None:
    def interrupted(trial: object) -> float:
        raise KeyboardInterrupt

    executor = InlineExecutor()
    executor.start(CallableObjective(interrupted, "loss"))
    executor.submit(TrialTask(7, {}, seed=0))
    with pytest.raises(KeyboardInterrupt):
        executor.poll()
    assert executor.shutdown(kill=True) == [7]
    assert executor.running() == 0


def test_lambda_and_closure_objectives() -> None:
    offset = 10.0
    executor = InlineExecutor()
    executor.start(CallableObjective(lambda x: x + offset, "loss"))
    _, finished = run_until_finished(executor, TrialTask(0, {"x": 1.0}, seed=0))
    assert finished.metrics == {"loss": 11.0}


def test_make_executor_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="one trial at a time"):
        make_executor("inline", workers=2)
    with pytest.raises(ValueError, match="unknown executor 'gpu'"):
        make_executor("gpu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="takes no options, but got: adress"):
        make_executor("local", workers=1, options={"adress": "x"})
    with pytest.raises(ValueError, match="positive int"):
        make_executor("local", workers=0)


def test_context_manager_shutdown() -> None:
    with InlineExecutor() as executor:
        executor.start(CallableObjective(dispatch, "loss"))
        executor.submit(TrialTask(0, {"mode": "number"}, seed=0))
    assert executor.running() == 0
    assert "numpy" in sys.modules
