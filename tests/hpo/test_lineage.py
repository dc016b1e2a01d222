"""``hpo._lineage``, ``_lineage_compare`` and ``_lineage_summary``: diff summaries, the lineage of a
trial and the comparison of trials.

The comparison is checked on environment snapshots written by hand (a changed package, another
Python) and on real sweeps run from a real git repository, the second one with a modified
tracked file, so that its recorded snapshot holds a real ``git diff``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_hpo
from git_repo import git

import hpo
from hpo._lineage import Section, TrialFacts, lineage, load
from hpo._lineage_compare import Row, compare
from hpo._lineage_summary import summarize_diff
from trackers import Goal, NotFoundError, Store, SweepRecord, SweepState, TrialRecord, TrialState

DIFF = """\
diff --git a/obj.py b/obj.py
index 1111111..2222222 100644
--- a/obj.py
+++ b/obj.py
@@ -1,2 +1,3 @@
 def f(x):
-    return (x - 0.3) ** 2
+    # tuned
+    return (x - 0.25) ** 2
diff --git a/data/w.bin b/data/w.bin
index 3333333..4444444 100644
Binary files a/data/w.bin and b/data/w.bin differ
diff --git a/notes.md b/notes.md
--- a/notes.md
+++ b/notes.md
@@ -1 +1 @@
---- a rule
+++++ a heading
"""


def test_summarize_diff_counts_lines_per_file_and_not_headers() -> None:
    d = summarize_diff(DIFF)
    assert [(f.path, f.added, f.removed, f.binary) for f in d.files] == [
        ("obj.py", 2, 1, False),
        ("data/w.bin", 0, 0, True),
        # Content lines that look like headers ("----", "++++") are still counted.
        ("notes.md", 1, 1, False),
    ]
    assert str(d) == "3 files changed, +3 -2"
    assert "truncated" in str(summarize_diff(DIFF, truncated=True))
    assert str(summarize_diff("")) == "no changes to tracked files"
    assert summarize_diff(None).files == ()


def _sweep(name: str, **kw: Any) -> SweepRecord:
    fields: dict[str, Any] = dict(
        id=1, name=name, state=SweepState.COMPLETED, metric="loss", goal=Goal.MINIMIZE,
        strategy="random", strategy_options={}, space={}, config={}, objective="obj.py:f",
        executor="inline", budget=10, seed=1, source=None, environment_id=1, created_at=0.0,
        updated_at=0.0,
    )  # fmt: skip
    fields.update(kw)
    return SweepRecord(**fields)


def _trial(number: int, params: dict[str, Any], value: float, **kw: Any) -> TrialRecord:
    fields: dict[str, Any] = dict(
        id=number + 1, sweep_id=1, number=number, state=TrialState.COMPLETED, params=params,
        value=value, metrics={"loss": value}, budget=None, seed=7, host="h", environment_id=1,
        queued_at=0.0, started_at=0.0, ended_at=1.0, duration=1.0, error=None,
    )  # fmt: skip
    fields.update(kw)
    return TrialRecord(**fields)


ENV: dict[str, Any] = {
    "python": {"version": "3.11.7", "implementation": "CPython", "executable": "/py"},
    "packages": {"numpy": "1.26.4", "torch": "2.2.0", "six": "1.16.0"},
    "os": {"platform": "Linux-6"},
    "cpu": {"model": "EPYC", "logical_cores": 8, "usable_cores": 8},
    "gpus": [],
    "argv": ["train.py"],
    "cwd": "/w",
    "git": {"commit": "a" * 40, "branch": "main", "dirty": False, "diff": "", "untracked": []},
}


def _row(rows: tuple[Row, ...], section: Section, name: str) -> Row:
    found = [r for r in rows if r.section is section and r.field == name]
    assert len(found) == 1, f"no single row {section.value}/{name}: {found}"
    return found[0]


def test_compare_flags_packages_python_params_and_code() -> None:
    env_b = {
        **ENV,
        "python": {**ENV["python"], "version": "3.12.1"},
        "packages": {"numpy": "2.0.0", "torch": "2.2.0", "scipy": "1.13.0"},
        "git": {**ENV["git"], "commit": "b" * 40, "dirty": True, "diff": DIFF},
    }
    a = TrialFacts(_trial(0, {"lr": 0.1, "opt": "sgd"}, 0.5), _sweep("s1"), ENV)
    b = TrialFacts(_trial(3, {"lr": 0.1, "layers": 2}, 0.25), _sweep("s2", id=2), env_b)
    result = compare([a, b])
    rows = result.rows
    assert result.labels == ("s1:0", "s2:3")
    assert _row(rows, Section.PACKAGES, "numpy").values == ("1.26.4", "2.0.0")
    assert _row(rows, Section.PACKAGES, "scipy").values == (None, "1.13.0")  # added
    assert _row(rows, Section.PACKAGES, "six").values == ("1.16.0", None)  # removed
    assert not [r for r in rows if r.field == "torch"]  # same version: no row of its own
    assert _row(rows, Section.ENVIRONMENT, "python").values == ("CPython 3.11.7", "CPython 3.12.1")
    assert _row(rows, Section.CODE, "commit").differs
    assert _row(rows, Section.CODE, "dirty").values == (False, True)
    assert _row(rows, Section.CODE, "diff").values[1] == "3 files changed, +3 -2"
    assert _row(rows, Section.CODE, "diff: obj.py").values == (None, "+2 -1")
    lr = _row(rows, Section.PARAMS, "lr")
    assert lr.values == (0.1, 0.1) and not lr.differs
    assert _row(rows, Section.PARAMS, "opt").values == ("sgd", None)
    assert _row(rows, Section.PARAMS, "layers").values == (None, 2)
    assert _row(rows, Section.TRIAL, "sweep").differs
    assert not _row(rows, Section.ENVIRONMENT, "cpu").differs
    assert not _row(rows, Section.COMMAND, "argv").differs
    assert result.equal_count == sum(not r.differs for r in rows) > 0


def test_compare_of_equal_trials_has_no_differences_even_with_nan() -> None:
    nan = float("nan")
    t = _trial(0, {"x": 1}, nan, metrics={"loss": nan, "acc": nan})
    result = compare([TrialFacts(t, _sweep("s"), ENV), TrialFacts(t, _sweep("s"), ENV)])
    assert result.differing == ()
    assert math.isnan(_row(result.rows, Section.METRICS, "acc").values[0])


def test_compare_without_environment_reads_as_absent() -> None:
    a = TrialFacts(_trial(0, {"x": 1}, 1.0), _sweep("s"), ENV)
    b = TrialFacts(_trial(1, {"x": 1}, 1.0, environment_id=None), _sweep("s"), {})
    rows = compare([a, b]).rows
    assert _row(rows, Section.CODE, "commit").values == ("a" * 40, None)
    assert _row(rows, Section.PACKAGES, "recorded").values == (3, 0)


# --- real sweeps in a real git repository -------------------------------------------------


def run_sweeps(repo: Path, db: str) -> None:
    """Sweep ``clean`` from a committed tree, then ``dirty`` after editing a tracked file."""
    git(repo, "init", "-q")
    (repo / "model.py").write_text("SCALE = 1.0\n")
    (repo / ".gitignore").write_text("hpo.db*\n")
    git(repo, "add", "model.py", ".gitignore")
    git(repo, "commit", "-qm", "first")

    def objective(x: float) -> float:
        return (x - 0.3) ** 2

    space = {"x": {"min": 0.0, "max": 1.0}}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(repo)
        hpo.sweep(objective, space, trials=3, seed=1, store=db, name="clean")
        (repo / "model.py").write_text("# retuned\nSCALE = 2.0\n")
        hpo.sweep(objective, space, trials=3, seed=2, store=db, name="dirty")


def test_lineage_of_real_sweeps_records_commit_and_dirty_diff(tmp_path: Path) -> None:
    db = str(tmp_path / "hpo.db")
    run_sweeps(tmp_path, db)
    commit = git(tmp_path, "rev-parse", "HEAD")
    with Store(db) as st:
        clean, dirty = load(st, "clean:0"), load(st, "dirty:2")
        best = load(st, "dirty")  # a sweep name stands for its best trial
        values = [t.value for t in st.trials(best.sweep.id) if t.value is not None]
        with pytest.raises(NotFoundError, match="no trial"):
            load(st, "dirty:99")
    page = lineage(dirty)
    code = page[Section.CODE]
    assert code["commit"] == commit and code["dirty"] is True
    assert code["changes"] == "1 file changed, +2 -1"
    assert code["files"] == {"model.py": "+2 -1"}
    assert page[Section.TRIAL]["trial"] == "dirty:2"
    assert page[Section.TRIAL]["seed"] == dirty.trial.seed is not None
    assert page[Section.PARAMS] == dict(dirty.trial.params)
    assert page[Section.TIMINGS]["duration"] == dirty.trial.duration
    assert page[Section.COMMAND]["cwd"] == str(tmp_path)
    assert page[Section.PACKAGES]  # the real installed packages
    assert lineage(clean)[Section.CODE]["changes"] == "no changes to tracked files"
    assert best.trial.value == min(values) and best.sweep.name == "dirty"
    rows = compare([clean, dirty]).rows
    assert _row(rows, Section.CODE, "dirty").values == (False, True)
    assert not _row(rows, Section.CODE, "commit").differs
    assert _row(rows, Section.CODE, "diff: model.py").values == (None, "+2 -1")
    assert not [r for r in rows if r.section is Section.PACKAGES and r.differs]


TRAIN_PY = """\
import tempfile
from pathlib import Path

import hpo


def objective(x):
    # leaves what a real sweep leaves: a checkpoint and a logged artifact
    (hpo.current_trial().checkpoint_dir / "state.txt").write_text(str(x))
    out = Path(tempfile.mkdtemp()) / "model.txt"
    out.write_text(f"x={x}\\n")
    hpo.log_artifact(out)
    return (x - 0.3) ** 2
"""

SWEEP_YAML = """\
name: demo
objective:
  function: train:objective
metric:
  name: loss
  goal: minimize
parameters:
  x: {min: 0.0, max: 1.0}
trials: 2
seed: 1
"""


def test_hpo_own_files_in_the_repository_do_not_make_the_code_dirty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README as a new user runs it: a committed objective, no .gitignore, the default
    ``./hpo.db`` store, so the store's files, ``hpo-artifacts/`` and ``hpo-checkpoints/`` land in
    the work tree; the second sweep's code must still read as clean. Then from Python, with an
    artifact folder of its own in the tree."""
    git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text(TRAIN_PY)
    (tmp_path / "sweep.yaml").write_text(SWEEP_YAML)
    git(tmp_path, "add", "train.py", "sweep.yaml")
    git(tmp_path, "commit", "-qm", "first")

    def hpo_cli(*args: str) -> str:
        done = run_hpo(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    hpo_cli("sweep", "sweep.yaml", "--no-progress")
    hpo_cli("sweep", "sweep.yaml", "--new", "--no-progress")
    untracked = git(tmp_path, "status", "--porcelain", "--untracked-files=all").splitlines()
    # what the fix is about: hpo's own files are in the tree, untracked, when demo-2 starts
    tops = {line[3:].split("/")[0] for line in untracked}
    assert {"hpo.db", "hpo-artifacts", "hpo-checkpoints"} <= tops

    code = json.loads(hpo_cli("show", "demo-2:0", "--lineage", "--format", "json"))["code"]
    assert code["dirty"] is False
    assert code["untracked"] == [] and "untracked not stored" not in code
    assert "hpo.db" in code["left out (hpo's files)"], code
    rows = json.loads(hpo_cli("compare", "demo:0", "demo-2:0", "--format", "json"))["rows"]
    code_rows = {r["field"]: r for r in rows if r["section"] == "code"}
    assert code_rows["dirty"]["values"] == [False, False]
    assert not [f for f, r in code_rows.items() if r["differs"]]

    # a real untracked source file still makes the tree dirty, and is the only one listed
    (tmp_path / "helper.py").write_text("SCALE = 2\n")
    hpo_cli("sweep", "sweep.yaml", "--new", "--no-progress")
    code = json.loads(hpo_cli("show", "demo-3:0", "--lineage", "--format", "json"))["code"]
    assert code["dirty"] is True
    assert code["untracked"] == ["helper.py"]

    def logs(x: float) -> float:
        out = tmp_path.parent / f"{tmp_path.name}-out.txt"
        out.write_text(f"x={x}\n")
        hpo.log_artifact(out)
        return x

    monkeypatch.chdir(tmp_path)
    for var in ("HPO_STORE", "HPO_ARTIFACTS"):
        monkeypatch.delenv(var, raising=False)
    space = {"x": {"min": 0.0, "max": 1.0}}
    hpo.sweep(logs, space, trials=1, seed=1, name="api", artifacts="my-artifacts")
    hpo.sweep(logs, space, trials=1, seed=1, name="api", artifacts="my-artifacts")
    assert (tmp_path / "my-artifacts").is_dir()
    with Store(str(tmp_path / "hpo.db")) as st:
        page = lineage(load(st, "api-2:0"))
    assert page[Section.CODE]["dirty"] is True
    assert page[Section.CODE]["untracked"] == ["helper.py"]


# --- input data and env vars ----------------------------------------------------------------


def test_compare_shows_which_input_changed_and_lineage_lists_data_and_env_vars(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.csv").write_text("x,y\n1,2\n")
    (tmp_path / "data" / "test.csv").write_text("x,y\n5,6\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPO_INPUTS_CACHE", str(tmp_path / "inputs-cache.json"))
    monkeypatch.setenv("DATA_VERSION", "v1")
    db = str(tmp_path / "hpo.db")

    def objective(x: float) -> float:
        return x

    space = {"x": {"min": 0.0, "max": 1.0}}
    kw: dict[str, Any] = {"trials": 1, "seed": 1, "store": db}
    kw.update(inputs=["data/*.csv"], env_vars=["DATA_VERSION", "UNSET_VAR_FOR_TEST"])
    hpo.sweep(objective, space, name="before", **kw)
    (tmp_path / "data" / "train.csv").write_text("x,y\n1,3\n")
    monkeypatch.setenv("DATA_VERSION", "v2")
    hpo.sweep(objective, space, name="after", **kw)
    with Store(db) as st:
        before, after = load(st, "before:0"), load(st, "after:0")

    page = lineage(before)
    assert set(page[Section.DATA]) == {"data/test.csv", "data/train.csv", "total"}
    assert page[Section.DATA]["data/train.csv"].startswith("8 B sha256:")
    assert page[Section.DATA]["total"] == "2 files, 16 B"
    assert page[Section.ENV_VARS] == {"DATA_VERSION": "v1", "UNSET_VAR_FOR_TEST": "(unset)"}
    rows = compare([before, after]).rows
    assert _row(rows, Section.DATA, "data/train.csv").differs
    assert not _row(rows, Section.DATA, "data/test.csv").differs
    assert _row(rows, Section.ENV_VARS, "DATA_VERSION").values == ("v1", "v2")
    assert not _row(rows, Section.ENV_VARS, "UNSET_VAR_FOR_TEST").differs


def test_a_declared_input_that_does_not_exist_fails_before_the_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "hpo.db"
    with pytest.raises(ValueError, match=r"'data/\*\.csv' matches no file"):
        hpo.sweep(lambda x: x, {"x": {"min": 0.0, "max": 1.0}}, trials=1, store=str(db),
                  inputs=["data/*.csv"])  # fmt: skip
    with Store(str(db)) as st:
        assert st.list_sweeps() == []
