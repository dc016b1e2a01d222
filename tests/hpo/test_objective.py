"""Objectives in the driver: result normalisation, signature adaptation, loading, pickling,
and the checks a CommandObjective makes before any trial runs."""

from __future__ import annotations

import math
import pickle
import sys
from pathlib import Path

import cloudpickle
import numpy as np
import pytest

from hpo._errors import ObjectiveError
from hpo._objective import (
    CallableObjective,
    CommandObjective,
    TrialFailure,
    normalise_result,
)
from hpo._trial import Trial
from hpo.executors._base import TrialTask


def run(objective: CallableObjective, params: dict[str, object]) -> dict[str, float]:
    return objective.run(TrialTask(0, params, seed=1), lambda report: None)


# -- normalisation ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.5, {"m": 1.5}),
        (2, {"m": 2.0}),
        (np.float32(0.5), {"m": 0.5}),
        (np.int64(3), {"m": 3.0}),
        (np.array(0.25), {"m": 0.25}),
        ({"m": 1, "other": np.float64(2)}, {"m": 1.0, "other": 2.0}),
    ],
)
def test_normalise_accepts(value: object, expected: dict[str, float]) -> None:
    result = normalise_result(value, "m")
    assert result == expected
    assert all(type(v) is float for v in result.values())


def test_normalise_keeps_other_non_finite() -> None:
    result = normalise_result({"m": 1.0, "x": math.inf}, "m")
    assert result["x"] == math.inf


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (math.nan, "objective returned nan for metric 'm'"),
        (np.float64(math.inf), "objective returned inf for metric 'm'"),
        ({"m": math.nan}, "objective returned nan for metric 'm'"),
        (None, "objective returned None; return a number or a dict of metrics"),
        (False, "objective returned bool False; return a number or a dict of metrics"),
        ([1, 2], "objective returned list [1, 2]; return a number or a dict of metrics"),
        ({"a": 1}, "objective returned no metric 'm' (metrics: 'a')"),
        ({}, "objective returned no metric 'm' (metrics: none)"),
        ({"m": 1, "a": "x"}, "objective returned str 'x' for metric 'a'; metrics must be numbers"),
        ({1: 1.0}, "objective returned a dict with non-string key 1"),
    ],
)
def test_normalise_rejects(value: object, reason: str) -> None:
    with pytest.raises(TrialFailure) as caught:
        normalise_result(value, "m")
    assert caught.value.reason == reason


def test_long_values_are_shortened() -> None:
    with pytest.raises(TrialFailure) as caught:
        normalise_result("x" * 500, "m")
    assert len(caught.value.reason) < 150


# -- signature adaptation --------------------------------------------------------------------


def kwargs_fn(lr: float, layers: int = 2) -> float:
    return lr * layers


def trial_fn(lr: float, trial: Trial) -> float:
    return lr + trial.number


def annotated_fn(lr: float, handle: Trial) -> float:
    return lr + handle.seed


def dict_fn(config: dict[str, float]) -> float:
    return sum(config.values())


def dict_trial_fn(params: dict[str, float], trial: Trial) -> float:
    return sum(params.values()) + trial.seed


def var_kw_fn(**params: float) -> float:
    return float(len(params))


def test_keyword_params() -> None:
    objective = CallableObjective(kwargs_fn, "loss")
    objective.check(["lr", "layers"])
    assert run(objective, {"lr": 0.5, "layers": 4}) == {"loss": 2.0}
    assert run(objective, {"lr": 0.5}) == {"loss": 1.0}  # an inactive param: its default


@pytest.mark.parametrize(
    ("func", "params", "expected"),
    [
        (trial_fn, {"lr": 1.0}, 1.0),
        (annotated_fn, {"lr": 1.0}, 2.0),
        (dict_fn, {"a": 1.0, "b": 2.0}, 3.0),
        (dict_trial_fn, {"a": 1.0}, 2.0),
        (var_kw_fn, {"a": 1, "b": 2, "c": 3}, 3.0),
    ],
)
def test_adapted_calls(func: object, params: dict[str, object], expected: float) -> None:
    objective = CallableObjective(func, "loss")  # type: ignore[arg-type]
    objective.check(list(params))
    assert run(objective, params) == {"loss": expected}
    unchecked = CallableObjective(func, "loss")  # type: ignore[arg-type]
    assert run(unchecked, params) == {"loss": expected}  # decided from the first trial


def test_check_missing_required_argument() -> None:
    with pytest.raises(ObjectiveError) as caught:
        CallableObjective(kwargs_fn, "loss").check(["layers", "dropout"])
    message = str(caught.value)
    assert "requires argument 'lr'" in message and "kwargs_fn" in message


def test_check_unaccepted_space_param() -> None:
    with pytest.raises(ObjectiveError) as caught:
        CallableObjective(kwargs_fn, "loss").check(["lr", "dropout"])
    message = str(caught.value)
    assert "search-space parameter 'dropout' is not accepted by" in message
    assert "kwargs_fn(lr, layers)" in message


def test_check_no_parameters() -> None:
    with pytest.raises(ObjectiveError, match="takes no parameters"):
        CallableObjective(lambda: 1.0, "loss").check(["lr", "x"])


def test_check_trial_name_clash() -> None:
    with pytest.raises(ObjectiveError, match="clashes with the trial handle"):
        CallableObjective(trial_fn, "loss").check(["lr", "trial"])


def test_not_callable() -> None:
    with pytest.raises(ObjectiveError, match="must be callable"):
        CallableObjective(3, "loss")  # type: ignore[arg-type]


# -- loading by import path ------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pkg_hpo_test").mkdir()
    (tmp_path / "pkg_hpo_test" / "__init__.py").write_text("")
    (tmp_path / "pkg_hpo_test" / "train.py").write_text(
        "def objective(lr):\n    return lr * 2\n\nCONFIG = {'a': 1}\n"
    )
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "fit_hpo_test.py").write_text("def fit(x):\n    return x + 1\n")
    (tmp_path / "broken_syntax_hpo.py").write_text("def f(x):\n    return x +\n")
    (tmp_path / "broken_import_hpo.py").write_text("import os\nimport no_such_dependency_xyz\n")
    (tmp_path / "broken_raise_hpo.py").write_text("x = 1\nraise RuntimeError('boom at import')\n")
    return tmp_path


def test_load_module_path(project: Path) -> None:
    objective = CallableObjective.from_import_path("pkg_hpo_test.train:objective", "loss", project)
    assert objective.describe() == "function pkg_hpo_test.train:objective"
    assert run(objective, {"lr": 2.0}) == {"loss": 4.0}


def test_load_file_path(project: Path) -> None:
    objective = CallableObjective.from_import_path("scripts/fit_hpo_test.py:fit", "loss", project)
    assert run(objective, {"x": 2.0}) == {"loss": 3.0}
    # by reference: what travels is the path, re-loaded on the other side
    data = cloudpickle.dumps(objective)
    assert b"fit_hpo_test.py:fit" in data
    assert run(pickle.loads(data), {"x": 1.0}) == {"loss": 2.0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("pkg_hpo_test.train", "must name a module or file and a function"),
        ("no_such_module_hpo:f", "no module named 'no_such_module_hpo' (looked in "),
        ("pkg_hpo_test.train:objectiv", "has no attribute 'objectiv'; did you mean 'objective'?"),
        ("pkg_hpo_test.train:CONFIG", "is a dict, not a function"),
        ("missing_file.py:f", "missing_file.py not found"),
        ("broken_syntax_hpo:f", "syntax error in "),
        ("broken_import_hpo:f", "ModuleNotFoundError: No module named 'no_such_dependency_xyz'"),
        ("broken_raise_hpo:f", "RuntimeError: boom at import"),
    ],
)
def test_load_errors(project: Path, spec: str, message: str) -> None:
    with pytest.raises(ObjectiveError) as caught:
        CallableObjective.from_import_path(spec, "loss", project)
    assert message in str(caught.value)
    assert spec in str(caught.value)


def test_load_error_locations(project: Path) -> None:
    with pytest.raises(ObjectiveError, match=r"broken_syntax_hpo\.py line 2"):
        CallableObjective.from_import_path("broken_syntax_hpo:f", "loss", project)
    with pytest.raises(ObjectiveError, match=r"broken_import_hpo\.py:2"):
        CallableObjective.from_import_path("broken_import_hpo:f", "loss", project)


# -- pickling --------------------------------------------------------------------------------


def test_importable_function_pickles_by_reference() -> None:
    objective = CallableObjective(normalise_result, "loss")
    data = cloudpickle.dumps(objective)
    assert b"_from_ref" in data
    assert pickle.loads(data).func is normalise_result


def test_closure_pickles_by_value() -> None:
    scale = 3.0
    objective = CallableObjective(lambda x: x * scale, "loss")
    objective.check(["x"])
    copy = pickle.loads(cloudpickle.dumps(objective))
    assert run(copy, {"x": 2.0}) == {"loss": 6.0}
    assert copy.describe().startswith("function ")


# -- commands: construction and checks -------------------------------------------------------


def test_command_line_building() -> None:
    objective = CommandObjective("python train.py --lr {lr} --n={n} --flag '{x}y'", "loss")
    assert objective.placeholders() == ["lr", "n", "x"]
    argv = objective.command_line({"lr": 1 / 3, "n": np.int64(4), "x": True})
    assert argv == ["python", "train.py", "--lr", repr(1 / 3), "--n=4", "--flag", "Truey"]
    assert objective.describe() == "command python train.py --lr {lr} --n={n} --flag {x}y"


def test_command_without_placeholders_gets_name_value_args() -> None:
    objective = CommandObjective(["prog", '{"json": 1}'], "loss")
    assert objective.placeholders() == []
    assert objective.command_line({"a": np.float64(0.1), "b": "s"}) == [
        "prog",
        '{"json": 1}',
        "--a=0.1",
        "--b=s",
    ]


def test_inactive_placeholder_fails_the_trial() -> None:
    with pytest.raises(TrialFailure, match=r"\{momentum\} has no value in this trial"):
        CommandObjective("prog {momentum}", "loss").command_line({})


def test_command_check_unknown_placeholder() -> None:
    with pytest.raises(
        ObjectiveError, match=r"\{lrr\} names no search-space parameter.*did you mean \{lr\}"
    ):
        CommandObjective(f"{sys.executable} t.py {{lrr}}", "loss").check(["lr", "layers"])


def test_command_check_program(tmp_path: Path) -> None:
    CommandObjective(f"{sys.executable} t.py {{lr}}", "loss").check(["lr"])
    CommandObjective("python3 t.py", "loss").check(["lr"])
    with pytest.raises(ObjectiveError, match="'no-such-program-hpo' not found on PATH"):
        CommandObjective("no-such-program-hpo --x", "loss").check([])
    with pytest.raises(ObjectiveError, match="not found"):
        CommandObjective("./run.sh", "loss", cwd=tmp_path).check([])
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    with pytest.raises(ObjectiveError, match="not executable"):
        CommandObjective("./run.sh", "loss", cwd=tmp_path).check([])
    (tmp_path / "run.sh").chmod(0o755)
    CommandObjective("./run.sh", "loss", cwd=tmp_path).check([])


def test_command_construction_errors() -> None:
    with pytest.raises(ObjectiveError, match="empty"):
        CommandObjective("  ", "loss")
    with pytest.raises(ObjectiveError, match="cannot be split"):
        CommandObjective("python 'unclosed", "loss")


def test_command_objective_pickles() -> None:
    objective = CommandObjective(["prog", "{a}"], "loss", cwd="/tmp", env={"K": "V"})
    copy = pickle.loads(pickle.dumps(objective))
    assert (copy.argv, copy.cwd, copy.env, copy.handles_timeout) == (
        ("prog", "{a}"),
        Path("/tmp"),
        {"K": "V"},
        True,
    )
