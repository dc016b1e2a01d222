"""The Trial handle and hpo.report, inside and outside a trial."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import hpo._trial as trial_module
from hpo._objective import CallableObjective
from hpo._trial import Trial, current_trial, report
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
    trial._request_stop()
    assert trial.should_stop()


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
