"""The Python face end to end: decorated objectives swept into real SQLite stores."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hpo
from trackers import Store, SweepState, TrialState

SPACE = {
    "x": {"min": -2.0, "max": 2.0},
    "kind": {"values": ["a", "b"]},
    "scale": {"min": 0.1, "max": 10.0, "distribution": "log_uniform_values", "when": {"kind": "b"}},
}


@hpo.objective(metric="loss", goal="minimize")
def bowl(x: float, kind: str, trial: hpo.Trial, scale: float = 1.0) -> dict[str, float]:
    loss = (x - 0.5) ** 2 + (scale if kind == "b" else 0.0)
    for step in range(3):
        hpo.report(step=step, loss=loss + 1.0 / (step + 1))
    return {"loss": loss, "seed_seen": float(trial.seed)}


@hpo.objective(metric="loss")
def flaky(x: float) -> float:
    if x > 1.0:
        raise ValueError(f"x too large: {x}")
    if x < -1.0:
        return math.nan
    return x * x


@hpo.objective(metric="loss")
def sees_its_own_row(x: float, trial: hpo.Trial, store_path: str = "") -> float:
    """Reads the store from inside the trial: the row must already exist, as running."""
    con = sqlite3.connect(store_path)
    state = con.execute("SELECT state FROM trials WHERE number = ?", (trial.number,)).fetchone()
    con.close()
    return 0.0 if state == ("running",) else 1.0


def test_decorated_objective_is_still_a_function() -> None:
    assert flaky(0.5) == 0.25
    assert bowl.__name__ == "bowl" and bowl.metric == "loss"


def test_sweep_records_everything(tmp_path: Path) -> None:
    db = tmp_path / "hpo.db"
    result = bowl.sweep(space=SPACE, trials=12, seed=3, store=db)
    assert len(result.trials) == 12
    assert result.count(TrialState.COMPLETED) == 12
    best = result.best
    assert best is not None
    assert best.value == min(t.value for t in result.trials)
    with Store(db) as st:
        sweep = st.get_sweep(result.sweep_id)
        assert sweep.name == "bowl" and sweep.state is SweepState.COMPLETED
        assert sweep.seed == 3 and sweep.environment_id is not None
        stored = st.trials(sweep.id, ranked=True)
        assert [t.number for t in stored] == [t.number for t in result.ranked()]
        for t in stored:
            assert set(t.params) == (
                {"x", "kind", "scale"} if t.params["kind"] == "b" else {"x", "kind"}
            )
            assert t.metrics["seed_seen"] == t.seed
            series = st.metric_series(t.id)["loss"]
            assert [p.step for p in series] == [0, 1, 2]
            assert series[-1].value == pytest.approx(t.value + 1 / 3)
        env = st.get_environment(sweep.environment_id)
        assert env["python"]["version"]
    again = bowl.sweep(space=SPACE, trials=12, seed=3, store=db)
    assert again.sweep_id != result.sweep_id
    assert [t.params for t in again.trials] == [t.params for t in result.trials]
    with Store(db) as st:
        assert st.get_sweep(again.sweep_id).name == "bowl-2"


def test_failures_are_recorded_and_the_sweep_goes_on(tmp_path: Path) -> None:
    result = flaky.sweep(
        space={"x": {"min": -3.0, "max": 3.0}}, trials=30, seed=0, store=tmp_path / "s.db"
    )
    failed = [t for t in result.trials if t.state is TrialState.FAILED]
    done = [t for t in result.trials if t.state is TrialState.COMPLETED]
    assert failed and done and len(failed) + len(done) == 30
    for t in failed:
        if t.params["x"] > 1.0:
            assert t.error.startswith("ValueError: x too large")
            assert "Traceback" in t.traceback
        else:
            assert "nan" in t.error
    assert all(abs(t.params["x"]) <= 1.0 for t in done)


def test_local_workers_run_every_trial(tmp_path: Path) -> None:
    result = bowl.sweep(space=SPACE, trials=10, workers=2, seed=5, store=tmp_path / "w.db")
    assert sorted(t.number for t in result.trials) == list(range(10))
    assert result.count(TrialState.COMPLETED) == 10
    inline = bowl.sweep(space=SPACE, trials=10, seed=5, track=False)
    by_number = {t.number: t for t in inline.trials}
    for t in result.trials:
        assert t.params == by_number[t.number].params
        assert t.value == pytest.approx(by_number[t.number].value)


def test_trial_row_is_written_before_it_runs(tmp_path: Path) -> None:
    db = tmp_path / "row.db"
    result = sees_its_own_row.sweep(
        space={"x": {"min": 0.0, "max": 1.0}, "store_path": {"value": str(db)}},
        trials=5,
        store=db,
    )
    assert [t.value for t in result.trials] == [0.0] * 5


def test_grid_runs_until_exhausted(tmp_path: Path) -> None:
    result = flaky.sweep(
        space={"x": {"values": [-0.5, 0.0, 0.5]}}, strategy="grid", store=tmp_path / "g.db"
    )
    assert sorted(t.params["x"] for t in result.trials) == [-0.5, 0.0, 0.5]
    assert result.best.params == {"x": 0.0}


def test_untracked_sweep_writes_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = flaky.sweep(space={"x": {"min": 0.0, "max": 1.0}}, trials=5, track=False)
    assert result.store_url is None and result.sweep_id is None
    assert len(result.trials) == 5
    assert list(tmp_path.iterdir()) == []


def test_dataframe(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    result = bowl.sweep(space=SPACE, trials=6, seed=1, track=False)
    df = result.to_dataframe()
    assert isinstance(df, pd.DataFrame)
    assert list(df["number"]) == list(range(6))
    assert {"params.x", "params.kind", "metrics.loss", "value", "state"} <= set(df.columns)


def test_bad_space_and_missing_trials_are_clear() -> None:
    with pytest.raises(hpo.SearchSpaceError, match="min"):
        flaky.sweep(space={"x": {"min": 2.0, "max": 1.0}}, trials=3, track=False)
    with pytest.raises(ValueError, match="trials is required"):
        flaky.sweep(space={"x": {"min": 0.0, "max": 1.0}}, track=False)
    with pytest.raises(hpo.ObjectiveError):
        flaky.sweep(space={"y": {"min": 0.0, "max": 1.0}}, trials=3, track=False)


def test_resume_from_python_continues_the_same_search(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    full = flaky.sweep(
        space={"x": {"min": -1.0, "max": 1.0}}, trials=8, seed=4, store=db, name="full"
    )
    first = flaky.sweep(space={"x": {"min": -1.0, "max": 1.0}}, trials=3, store=db, name="part")
    more = flaky.sweep(
        space={"x": {"min": -1.0, "max": 1.0}}, trials=8, store=db, name="part", resume=True
    )
    assert more.sweep_id == first.sweep_id and len(more.trials) == 8
    assert [t.number for t in more.trials] == list(range(8))
    assert [t.params for t in more.trials][:3] == [t.params for t in first.trials]
    # the resumed part used the recorded seed, so a seeded rerun of the whole matches it
    same = flaky.sweep(
        space={"x": {"min": -1.0, "max": 1.0}}, trials=8, store=db, name="again", seed=first.seed
    )
    assert [t.params for t in same.trials] == [t.params for t in more.trials]
    assert full.seed == 4
    with pytest.raises(ValueError, match="space differs"):
        flaky.sweep(
            space={"x": {"min": 0.0, "max": 1.0}}, trials=9, store=db, name="part", resume=True
        )
    fresh = flaky.sweep(
        space={"x": {"min": 0.0, "max": 1.0}}, trials=2, store=db, name="brand-new", resume=True
    )
    assert len(fresh.trials) == 2  # nothing to resume: a new sweep


def test_a_script_that_sweeps_at_import_gets_a_clear_error_and_one_record(tmp_path: Path) -> None:
    # Spawned workers import the main script; without the __main__ guard each one would start
    # (and record) a sweep of its own.
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(
            """
            import hpo

            @hpo.objective(metric="loss")
            def train(lr: float) -> float:
                return lr

            train.sweep(space={"lr": {"min": 0.0, "max": 1.0}}, trials=4, workers=2,
                        store="s.db")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr
    assert "while a worker process was importing the main script" in done.stderr
    with Store(tmp_path / "s.db") as store:
        sweeps = store.list_sweeps()
    assert [s.sweep.name for s in sweeps] == ["train"]
    assert sweeps[0].sweep.state is SweepState.FAILED
