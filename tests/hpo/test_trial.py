"""The Trial handle and hpo.report, inside and outside a trial."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

import hpo
import hpo._trial as trial_module
from hpo._objective import CallableObjective
from hpo._trial import (
    Trial,
    clear_stop,
    current_trial,
    report,
    request_stop,
    stop_requested,
)
from hpo.executors._base import Report, TrialTask


def make_trial(reports: list[Report] | None = None) -> Trial:
    emit = reports.append if reports is not None else None
    return Trial(5, {"lr": 0.1}, seed=9, budget=3.0, emit=emit)


def test_read_only_fields() -> None:
    trial = make_trial()
    assert (trial.number, dict(trial.params), trial.seed, trial.budget) == (5, {"lr": 0.1}, 9, 3.0)
    with pytest.raises(AttributeError):
        trial.number = 3  # type: ignore[misc]
    with pytest.raises(TypeError):
        trial.params["lr"] = 1.0  # type: ignore[index]


def test_report_emits_floats() -> None:
    reports: list[Report] = []
    make_trial(reports).report(step=np.int64(2), loss=np.float32(0.5), n=3)
    (r,) = reports
    assert (r.number, r.step, dict(r.metrics)) == (5, 2, {"loss": 0.5, "n": 3.0})
    assert type(r.step) is int and all(type(v) is float for v in r.metrics.values())


@pytest.mark.parametrize(
    ("step", "metrics", "error", "message"),
    [
        (-1, {"loss": 1.0}, ValueError, "step must be >= 0"),
        (1.5, {"loss": 1.0}, TypeError, "step must be an int"),
        (True, {"loss": 1.0}, TypeError, "step must be an int"),
        (None, {"loss": "low"}, TypeError, "metric 'loss' must be a number"),
        (None, {"loss": None}, TypeError, "metric 'loss' must be a number"),
        (None, {}, ValueError, "at least one metric"),
    ],
)
def test_report_validation(
    step: object, metrics: dict[str, object], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        make_trial([]).report(step, **metrics)  # type: ignore[arg-type]


def test_should_stop_flag() -> None:
    trial = make_trial()
    assert not trial.should_stop()
    request_stop(trial.number)
    try:
        assert trial.should_stop()
    finally:
        clear_stop(trial.number)


def test_report_goes_to_the_current_trial() -> None:
    reports: list[Report] = []
    seen: list[Trial | None] = []

    def objective(x: float) -> float:
        seen.append(current_trial())
        report(step=1, loss=x)
        return x

    assert current_trial() is None
    metrics = CallableObjective(objective, "loss").run(TrialTask(2, {"x": 0.5}, 0), reports.append)
    assert metrics == {"loss": 0.5}
    assert seen[0] is not None and seen[0].number == 2
    assert [(r.number, r.step, dict(r.metrics)) for r in reports] == [(2, 1, {"loss": 0.5})]
    assert current_trial() is None


def test_report_outside_a_trial_writes_the_report_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "reports.jsonl"
    monkeypatch.setenv("HPO_REPORT_FILE", str(path))
    report(step=3, loss=0.25)
    assert json.loads(path.read_text()) == {"step": 3, "loss": 0.25}


def test_report_outside_anything_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HPO_REPORT_FILE", raising=False)
    monkeypatch.setattr(trial_module, "_warned_outside", False)
    with pytest.warns(
        UserWarning, match=r"hpo.report\(\) called outside a trial; nothing recorded"
    ):
        report(loss=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report(loss=2.0)  # silent the second time
    with pytest.raises(TypeError):
        report(loss="bad")  # still validated


# -- early stop and the checkpoint directory --------------------------------------------------


def test_stop_registry_reaches_the_trial_of_that_number_only() -> None:
    trial, other = make_trial(), Trial(6, {}, seed=0)
    try:
        assert not stop_requested(5) and not trial.should_stop()
        request_stop(5)
        assert stop_requested(5) and trial.should_stop()
        assert not stop_requested(6) and not other.should_stop()
        clear_stop(5)
        assert not stop_requested(5) and not trial.should_stop()
    finally:
        clear_stop(5)


def test_checkpoint_dir_given_is_created_on_first_use(tmp_path: Path) -> None:
    where = tmp_path / "sweep" / "trial-5"
    trial = Trial(5, {}, seed=0, checkpoint_dir=str(where))
    assert not where.exists()  # nothing made for an objective that never asks
    assert trial.checkpoint_dir == where and where.is_dir()
    (where / "state").write_text("kept")
    again = Trial.from_task(TrialTask(5, {}, 0, checkpoint_dir=str(where)))
    assert (again.checkpoint_dir / "state").read_text() == "kept"


def test_checkpoint_dir_outside_a_sweep_is_a_temporary_one() -> None:
    trial = make_trial()
    path = trial.checkpoint_dir
    try:
        assert path.is_dir() and path.name.startswith("hpo-trial-5-")
        assert trial.checkpoint_dir == path  # the same one each time
    finally:
        shutil.rmtree(path)


def test_module_should_stop_inside_a_trial(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stop_file = tmp_path / "stop"
    stop_file.touch()  # a command's view says stop; inside a trial the trial's view counts
    monkeypatch.setenv("HPO_STOP_FILE", str(stop_file))
    seen: list[bool] = []

    def objective(x: float) -> float:
        seen.append(hpo.should_stop())
        request_stop(2)
        seen.append(hpo.should_stop())
        return x

    try:
        CallableObjective(objective, "loss").run(TrialTask(2, {"x": 0.5}, 0), lambda r: None)
    finally:
        clear_stop(2)
    assert seen == [False, True]


def test_module_should_stop_in_a_command(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stop_file = tmp_path / "stop"
    monkeypatch.delenv("HPO_STOP_FILE", raising=False)
    assert hpo.should_stop() is False  # outside anything
    monkeypatch.setenv("HPO_STOP_FILE", str(stop_file))
    assert hpo.should_stop() is False
    stop_file.touch()  # what hpo does to ask the command to stop
    assert hpo.should_stop() is True
