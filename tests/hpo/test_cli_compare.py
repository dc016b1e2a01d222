"""``hpo compare`` and ``hpo show --lineage`` through the ``hpo`` command, in this process.

The store holds two real sweeps run from a real git repository (the second with a modified
tracked file). One trial of the second sweep is then pointed at a recorded snapshot whose
``numpy`` has another version, as if that sweep had run after an upgrade.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cli_runner import run_in_process as cli
from git_repo import git
from sqlalchemy import update
from test_lineage import run_sweeps

from trackers import Store
from trackers import _schema as schema


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = tmp_path_factory.mktemp("repo")
    path = str(repo / "hpo.db")
    run_sweeps(repo, path)
    with Store(path) as st:
        trial = st.get_trial("dirty:2")
        env = st.get_environment(trial.environment_id)  # type: ignore[arg-type]
        upgraded = {**env, "packages": {**env["packages"], "numpy": "0.0.1-old"}}
        env_id = st.add_environment(upgraded)
        with st.session(write=True) as conn:
            conn.execute(
                update(schema.trials)
                .where(schema.trials.c.id == trial.id)
                .values(environment_id=env_id)
            )
    return path


def compare_json(db: str, *refs: str) -> dict[str, Any]:
    code, out, err = cli("compare", *refs, "--store", db, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def rows_by_field(data: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["section"], r["field"]): r for r in data["rows"]}


def test_compare_json_across_sweeps_shows_code_and_package_changes(db: str) -> None:
    data = compare_json(db, "clean:0", "dirty:2")
    assert data["trials"] == ["clean:0", "dirty:2"]
    rows = rows_by_field(data)
    with Store(db) as st:
        real = st.get_environment(st.get_trial("clean:0").environment_id)  # type: ignore[arg-type]
    numpy = rows[("packages", "numpy")]
    assert numpy["values"] == [real["packages"]["numpy"], "0.0.1-old"] and numpy["differs"]
    assert rows[("code", "dirty")] == {
        "section": "code",
        "field": "dirty",
        "values": [False, True],
        "differs": True,
    }
    assert rows[("code", "diff: model.py")]["values"] == [None, "+2 -1"]
    assert not rows[("code", "commit")]["differs"]
    assert rows[("trial", "sweep")]["values"] == ["clean", "dirty"]
    assert data["equal"] == sum(not r["differs"] for r in data["rows"]) > 0
    assert data["differing"] == sum(r["differs"] for r in data["rows"])


def test_compare_table_shows_differences_and_counts_equal_rows(db: str) -> None:
    code, out, err = cli("compare", "clean:0", "dirty:2", "dirty:0", "--store", db)
    assert code == 0, err
    assert "clean:0" in out and "dirty:2" in out and "dirty:0" in out
    assert "numpy" in out and "0.0.1-old" in out
    assert "1 file changed, +2 -1" in out
    assert "model.py" in out
    last = out.strip().splitlines()[-1]
    assert "rows differ;" in last and "equal rows hidden (--all)" in last
    assert "executor" not in out  # equal in all three: hidden
    code, every, _ = cli("compare", "clean:0", "dirty:2", "dirty:0", "--store", db, "--all")
    assert code == 0 and "executor" in every and "hidden" not in every


def test_compare_of_a_trial_with_itself_says_so(db: str) -> None:
    code, out, _ = cli("compare", "clean:1", "clean:1", "--store", db)
    assert code == 0
    assert "the 2 trials are the same in every recorded field" in out


def test_compare_takes_a_sweep_name_for_its_best_trial(db: str) -> None:
    with Store(db) as st:
        best = st.trials(st.get_sweep("clean").id, ranked=True, limit=1)[0]
    data = compare_json(db, "clean", "dirty:2")
    assert data["trials"][0] == f"clean:{best.number}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["clean:0", "clean:42"], "no trial 'clean:42'"),
        (["clean:0", "nosuch:1"], "no sweep 'nosuch'"),
    ],
)
def test_compare_unknown_trial_is_one_line_and_exit_2(
    db: str, args: list[str], message: str
) -> None:
    code, out, err = cli("compare", *args, "--store", db)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert out == ""


def test_compare_needs_two_trials(db: str) -> None:
    code, out, err = cli("compare", "clean:0", "--store", db)
    assert code == 2 and "Traceback" not in err and out == ""
    assert "Error: compare needs at least two trials, got 1: clean:0" in err


def test_show_lineage_page(db: str) -> None:
    repo = Path(db).parent
    code, out, err = cli("show", "dirty:2", "--lineage", "--store", db)
    assert code == 0, err
    for heading in ("Trial", "Timings", "Params", "Metrics", "Code", "Environment", "Command"):
        assert f"\n{heading}" in "\n" + out
    assert git(repo, "rev-parse", "HEAD") in out
    assert "1 file changed, +2 -1" in out and "model.py" in out
    assert "recorded (--format json lists them)" in out
    assert str(repo) in out  # the cwd the sweep ran in


def test_show_lineage_json(db: str) -> None:
    code, out, err = cli("show", "dirty:2", "--lineage", "--store", db, "--format", "json")
    assert code == 0, err
    page = json.loads(out)
    assert page["code"]["dirty"] is True and page["code"]["files"] == {"model.py": "+2 -1"}
    assert page["packages"]["numpy"] == "0.0.1-old"
    assert page["trial"]["trial"] == "dirty:2"
    assert set(page) == {
        "trial", "timings", "params", "metrics", "code", "environment", "data", "env vars",
        "packages", "command", "artifacts",
    }  # fmt: skip


def test_show_lineage_unknown_trial_exits_2(db: str) -> None:
    code, _, err = cli("show", "dirty:77", "--lineage", "--store", db)
    assert code == 2 and "no trial 'dirty:77'" in err
    assert len(err.strip().splitlines()) == 1
