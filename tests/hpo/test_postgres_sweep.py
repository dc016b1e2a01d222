"""`hpo sweep`, `hpo ls` and `hpo report` as real subprocesses against a real PostgreSQL
server (the session's cluster from tests/conftest.py, a fresh database for this test)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from cli_runner import run_hpo as hpo

ROOT = Path(__file__).resolve().parents[2]

OBJECTIVE = '''\
"""A bowl with its minimum at x=0.25, and a categorical that adds a fixed cost."""

import hpo


def bowl(x: float, opt: str) -> dict[str, float]:
    loss = (x - 0.25) ** 2 + (0.0 if opt == "adam" else 0.5)
    for step in range(3):
        hpo.report(step=step, loss=loss + (2 - step))
    return {"loss": loss, "ok": 1.0}
'''

CONFIG = """\
name: pg-bowl
objective: bowl_objective:bowl
metric: {name: loss, goal: minimize}
parameters:
  x: {min: -1.0, max: 1.0}
  opt: {values: [sgd, adam]}
strategy: random
trials: 20
workers: 2
executor: local
seed: 11
"""


def test_sweep_ls_report_on_postgres(pg_database: str, tmp_path: Path) -> None:
    (tmp_path / "bowl_objective.py").write_text(OBJECTIVE)
    config = tmp_path / "sweep.yaml"
    config.write_text(textwrap.dedent(CONFIG))

    run = hpo("sweep", str(config), "--store", pg_database, "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "20 trials: 20 completed" in run.stdout
    assert f"recorded in {pg_database}" in run.stdout
    assert not list(tmp_path.glob("*.db"))  # nothing fell back to a SQLite file

    ls = hpo("ls", "--store", pg_database, "--format", "json", cwd=tmp_path)
    assert ls.returncode == 0, ls.stderr
    (listed,) = json.loads(ls.stdout)
    assert listed["name"] == "pg-bowl" and listed["state"] == "completed"
    assert listed["trials"] == {"completed": 20}

    rep = hpo("report", "pg-bowl", "--store", pg_database, "--format", "json", cwd=tmp_path)
    assert rep.returncode == 0, rep.stderr
    rows = json.loads(rep.stdout)
    assert len(rows) == 20
    assert sorted(r["number"] for r in rows) == list(range(20))
    values = [r["value"] for r in rows]
    assert values == sorted(values)  # ranked best first for "minimize"
    assert listed["best_value"] == values[0]
    for r in rows:
        expected = (r["params"]["x"] - 0.25) ** 2 + (0.0 if r["params"]["opt"] == "adam" else 0.5)
        assert r["value"] == expected
        assert r["metrics"] == {"loss": expected, "ok": 1.0}

    table = hpo("ls", "--store", pg_database, cwd=tmp_path)
    assert table.returncode == 0 and "pg-bowl" in table.stdout


ARTIFACT_OBJECTIVE = """\
from pathlib import Path

import hpo


def fit(x: float, trial: hpo.Trial) -> float:
    out = Path(f"model-{trial.number}.txt")
    out.write_text("same bytes" if x < 0 else f"x={x}")
    trial.log_artifact(out, name="model.txt")
    return x * x
"""


def test_artifacts_of_a_postgres_sweep_go_to_the_users_data_folder(
    pg_database: str, tmp_path: Path
) -> None:
    """A server store has no file to sit beside: artifacts go to $XDG_DATA_HOME/hpo/artifacts
    by default, the records to the server, and `hpo artifacts` finds them there."""
    (tmp_path / "art_objective.py").write_text(ARTIFACT_OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(
        "name: pg-art\nobjective: art_objective:fit\nmetric: {name: loss, goal: minimize}\n"
        "parameters:\n  x: {values: [-2.0, -1.0, 0.5, 1.5]}\nstrategy: grid\n"
        "workers: 2\nexecutor: local\n"
    )
    data = tmp_path / "xdg"
    env = {"XDG_DATA_HOME": str(data)}
    run = hpo("sweep", "sweep.yaml", "--store", pg_database, "--no-progress", cwd=tmp_path, env=env)
    assert run.returncode == 0, run.stderr

    from trackers import Store, TrialState

    folder = data / "hpo" / "artifacts"
    with Store(pg_database) as st:
        sweep = st.get_sweep("pg-art")
        trials = st.trials(sweep.id, states=[TrialState.COMPLETED])
        records = [a for t in trials for a in st.artifacts(t.id)]  # type: ignore[arg-type]
    assert len(trials) == 4 and sorted(a.name for a in records) == ["model.txt"] * 4
    # two trials wrote the same bytes: three distinct contents, three files
    assert len({a.sha256 for a in records}) == 3
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == sorted(
        {a.sha256 for a in records}
    )
    listing = hpo("artifacts", "pg-art:2", "--store", pg_database, cwd=tmp_path, env=env)
    assert listing.returncode == 0, listing.stderr
    assert "model.txt" in listing.stdout and str(folder) in listing.stdout.replace("\n", "")
