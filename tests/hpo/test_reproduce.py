"""``hpo reproduce``: a rerun that matches, one that does not (and says why), a Python
function's trial on a worker process, and a trial that does not exist."""

from __future__ import annotations

import importlib
import socket
import sqlite3
import sys
import textwrap
import time
from pathlib import Path

import pytest
from git_repo import git

import hpo
from hpo._reproduce_differences import DifferenceKind, environment_differences
from hpo.cli import main
from trackers import Store, TrialState

# Deterministic in (params, seed): the seed's noise makes a wrong seed visible.
OBJECTIVE = textwrap.dedent(
    """
    import random

    def f(x, trial):
        return (x - 0.3) ** 2 + random.Random(trial.seed).random() * 1e-3
    """
)

CONFIG = textwrap.dedent(
    """
    name: repro
    metric: {name: loss, goal: minimize}
    strategy: random
    trials: 3
    seed: 7
    objective: {function: repro_objective.py:f}
    parameters:
      x: {min: 0.0, max: 1.0}
    """
)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    captured = capsys.readouterr()
    return int(exited.value.code or 0), captured.out, captured.err


def forget_module(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CLI run is a fresh process; in this one, the edited file must be loaded again."""
    for name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) == str(path.resolve()):
            monkeypatch.delitem(sys.modules, name)


def test_config_sweep_reproduces_then_a_code_change_is_warned_and_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "proj"
    repo.mkdir()
    (repo / "repro_objective.py").write_text(OBJECTIVE)
    (repo / "sweep.yaml").write_text(CONFIG)
    (repo / ".gitignore").write_text("__pycache__/\n")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "objective")
    store = str(tmp_path / "store.db")  # outside the repository: not an untracked file

    code, _, _ = run_cli(
        capsys, "sweep", str(repo / "sweep.yaml"), "--store", store, "--no-progress"
    )
    assert code == 0
    with Store(store) as st:
        original = st.get_trial("repro:1")

    code, out, err = run_cli(capsys, "reproduce", "repro:1", "--store", store)
    assert code == 0, out + err
    assert "no differences" in out and "warning" not in err
    assert "matches" in out and "does not match" not in out
    with Store(store) as st:
        rerun = st.get_trial("repro:3")
    assert rerun.rerun_of == 1
    assert rerun.state is TrialState.COMPLETED
    assert dict(rerun.params) == dict(original.params)
    assert rerun.seed == original.seed
    assert rerun.value == original.value

    source = repo / "repro_objective.py"
    source.write_text(OBJECTIVE.replace("return (x - 0.3)", "return 0.5 + (x - 0.3)"))
    forget_module(source, monkeypatch)
    code, out, err = run_cli(capsys, "reproduce", "repro:1", "--store", store, "--yes")
    assert code == 1, out + err
    assert "code: uncommitted changes differ from the recorded ones in repro_objective.py" in err
    assert "does not match" in out
    assert "difference +0.5" in out
    with Store(store) as st:
        changed = st.get_trial("repro:4")
    assert changed.rerun_of == 1
    assert changed.value == pytest.approx(original.value + 0.5)  # type: ignore[operator]


def test_function_sweep_reproduces_on_a_worker_and_a_missing_trial_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "repro_fn_module.py").write_text(OBJECTIVE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)  # recorded as where the sweep ran: the rerun imports from here
    module = importlib.import_module("repro_fn_module")
    store = str(tmp_path / "hpo.db")
    space = {"x": {"min": 0.0, "max": 1.0}}
    hpo.sweep(module.f, space, metric="loss", trials=2, seed=3, store=store, name="fn")

    code, out, err = run_cli(capsys, "reproduce", "fn:0", "--store", store, "--executor", "local")
    assert code == 0, out + err
    assert "matches" in out and "does not match" not in out
    with Store(store) as st:
        original, rerun = st.get_trial("fn:0"), st.get_trial("fn:2")
    assert rerun.rerun_of == 0 and rerun.value == original.value

    code, out, err = run_cli(capsys, "reproduce", "fn:99", "--store", store)
    assert code == 2
    assert err.strip().count("\n") == 0 and "no trial 'fn:99'" in err

    # A live driver (pid 1 runs on every host) numbers the sweep's trials: refused.
    with sqlite3.connect(store) as db:
        db.execute(
            "UPDATE sweeps SET state = 'running', driver = ?, heartbeat_at = ?",
            (f"{socket.gethostname()}:1", time.time()),
        )
    code, out, err = run_cli(capsys, "reproduce", "fn:0", "--store", store)
    assert code == 2 and "is being run by driver" in err
    with Store(store) as st:
        assert len(st.trials(st.get_sweep("fn").id)) == 3  # nothing recorded


def test_environment_differences_name_code_packages_and_machine() -> None:
    recorded = {
        "python": {"version": "3.11.4"},
        "packages": {"numpy": "1.26.0", "scipy": "1.11.0"},
        "git": {"commit": "a" * 40, "diff": "", "untracked": []},
        "argv": ["hpo", "sweep", "a.yaml"],
        "hostname": "box",
    }
    current = {
        "python": {"version": "3.12.1"},
        "packages": {"numpy": "2.0.0", "torch": "2.3.0"},
        "git": {"commit": "b" * 40, "diff": "diff --git a/t.py b/t.py\n+x\n", "untracked": []},
        "argv": ["hpo", "reproduce", "a:1"],
        "hostname": "box",
    }
    found = {(d.kind, d.text) for d in environment_differences(recorded, current)}
    assert found == {
        (DifferenceKind.CODE, f"git commit {'a' * 12} -> {'b' * 12}"),
        (DifferenceKind.CODE, "uncommitted changes differ from the recorded ones in t.py"),
        (DifferenceKind.PACKAGES, "numpy 1.26.0 -> 2.0.0"),
        (DifferenceKind.PACKAGES, "torch 2.3.0 installed since"),
        (DifferenceKind.PACKAGES, "scipy 1.11.0 no longer installed"),
        (DifferenceKind.ENVIRONMENT, "python.version '3.11.4' -> '3.12.1'"),
    }


DATA_CONFIG = CONFIG.replace("name: repro", "name: data").replace(
    "trials: 3", "trials: 1\ninputs: [data/*.csv]\nenv_vars: [DATA_VERSION]"
)


def test_reproduce_warns_about_changed_missing_and_new_input_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HPO_INPUTS_CACHE", str(tmp_path / "inputs-cache.json"))
    monkeypatch.setenv("DATA_VERSION", "v1")
    repo = tmp_path / "proj"
    (repo / "data").mkdir(parents=True)
    (repo / "repro_objective.py").write_text(OBJECTIVE)
    (repo / "sweep.yaml").write_text(DATA_CONFIG)
    for name in ("a", "b"):
        (repo / "data" / f"{name}.csv").write_text(f"x\n{name}\n")
    store = str(tmp_path / "store.db")
    code, out, err = run_cli(
        capsys, "sweep", str(repo / "sweep.yaml"), "--store", store, "--no-progress"
    )
    assert code == 0, out + err

    code, out, err = run_cli(capsys, "reproduce", "data:0", "--store", store, "--yes")
    assert code == 0, out + err
    assert "data:" not in err and "no differences" in out

    (repo / "data" / "a.csv").write_text("x\nA, edited\n")
    (repo / "data" / "b.csv").unlink()
    (repo / "data" / "c.csv").write_text("x\nc\n")
    monkeypatch.setenv("DATA_VERSION", "v2")
    code, out, err = run_cli(capsys, "reproduce", "data:0", "--store", store, "--yes")
    assert code == 0, out + err  # the objective ignores the data: the value still matches
    assert "data: data/a.csv changed: sha256 " in err and "4 -> 12 bytes" in err
    assert "data: data/b.csv is missing" in err
    assert "data: data/c.csv is new" in err
    assert "env_vars.DATA_VERSION 'v1' -> 'v2'" in err


def test_a_config_input_that_matches_nothing_is_a_config_error_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "repro_objective.py").write_text(OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(DATA_CONFIG)
    store = tmp_path / "store.db"
    code, _, err = run_cli(
        capsys, "sweep", str(tmp_path / "sweep.yaml"), "--store", str(store), "--no-progress"
    )
    assert code == 2
    assert "sweep.yaml:" in err and "inputs[0]" in err and "'data/*.csv' matches no file" in err
    assert "Traceback" not in err
    if store.exists():
        with Store(str(store)) as st:
            assert st.list_sweeps() == []
