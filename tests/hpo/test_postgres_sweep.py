"""`hpo sweep`, `hpo ls` and `hpo report` as real subprocesses against a real PostgreSQL
server (the session's cluster from tests/conftest.py, a fresh database for this test)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

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


def hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("HPO_STORE", None)  # the store must come from --store only
    return subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=300,
    )


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
