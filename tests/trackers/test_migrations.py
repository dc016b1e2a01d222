"""Schema versions: new stores, stores written by older schemas, and newer ones refused."""

from __future__ import annotations

import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from trackers import SCHEMA_VERSION, Store, StoreError, TrialState

STORES = Path(__file__).with_name("stores")


def meta(path: Path) -> tuple[str, str, str]:
    con = sqlite3.connect(path)
    try:
        version = con.execute("SELECT value FROM hpo_meta WHERE key='schema_version'").fetchone()
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
        mode = con.execute("PRAGMA journal_mode").fetchone()
    finally:
        con.close()
    return version[0], revision[0], mode[0]


def test_new_store_is_stamped_at_the_current_version(tmp_path: Path) -> None:
    Store(tmp_path / "hpo.db").close()
    assert meta(tmp_path / "hpo.db") == (str(SCHEMA_VERSION), f"{SCHEMA_VERSION:04d}", "wal")


@pytest.mark.parametrize("version", sorted({1, 2, 3, 4} | {SCHEMA_VERSION}))
def test_store_of_each_released_schema_opens_with_its_data(tmp_path: Path, version: int) -> None:
    """One real store file per released schema (tests/trackers/stores/): each is upgraded to
    the current schema, keeping every row. Add a file whenever SCHEMA_VERSION moves."""
    path = tmp_path / "old.db"
    shutil.copy(STORES / f"schema_v{version}.db", path)
    name = f"v{version}-sweep"
    with Store(path) as st:
        sweep = st.get_sweep(name)
        trials = st.trials(sweep.id)
        assert len(trials) == 12
        assert {t.state for t in trials} == {TrialState.COMPLETED, TrialState.FAILED}
        done = [t for t in trials if t.state is TrialState.COMPLETED]
        assert all(math.isnan(t.metrics["aux"]) for t in done)
        assert st.metric_series(done[0].id)["loss"][0].step == 0
        assert st.get_environment(sweep.environment_id)["python"]["version"]
        # the upgraded store takes writes of the new schema
        assert st.available_name(name) == f"{name}-2"
    assert meta(path)[:2] == (str(SCHEMA_VERSION), f"{SCHEMA_VERSION:04d}")
    with Store(path) as st:  # opening again changes nothing
        assert len(st.trials(st.get_sweep(name).id)) == 12


def test_store_of_a_newer_schema_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hpo.db"
    Store(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num='0099'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this hpo reads"):
        Store(path)
    assert meta(path)[1] == "0099"


def test_foreign_tables_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE sweeps (id INTEGER PRIMARY KEY)")
    con.execute("CREATE TABLE hpo_meta (key TEXT PRIMARY KEY, value TEXT)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="not written by hpo"):
        Store(path)


def test_a_postgresql_store_of_schema_1_is_upgraded(store_url: str) -> None:
    """Written at revision 0001 through Alembic itself, then opened by the current store."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from trackers._migrate import MIGRATIONS

    engine = create_engine(store_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
        conn.execute(text("INSERT INTO hpo_meta VALUES ('schema_version', '1')"))
        conn.execute(
            text(
                "INSERT INTO sweeps (name, state, metric, goal, strategy, strategy_options, "
                "space, config, objective, executor, seed, created_at, updated_at) VALUES "
                "('old', 'completed', 'loss', 'minimize', 'random', '{}', '{}', '{}', 'f', "
                "'inline', 7, 0, 0)"
            )
        )
    engine.dispose()
    long_metric = "m" * 300
    with Store(store_url) as st:
        assert st.get_sweep("old").seed == 7
        sid = st.create_sweep(
            name="new",
            metric=long_metric,  # over the old VARCHAR(200)
            goal="minimize",
            strategy="random",
            strategy_options={},
            space={},
            config={},
            objective="f",
            executor="inline",
            seed=2**40,  # over the old 32-bit column
        )
        sweep = st.get_sweep(sid)
        assert (sweep.seed, sweep.metric) == (2**40, long_metric)


def test_a_v3_store_gains_the_artifact_and_blob_tables_with_its_data_kept(
    tmp_path: Path,
) -> None:
    from trackers import WriteBatch

    path = tmp_path / "v3.db"
    shutil.copy(STORES / "schema_v3.db", path)
    with Store(path) as st:
        sweep = st.get_sweep("v3-sweep")
        before = st.trials(sweep.id)
        assert all(st.artifacts(t.id) == [] for t in before)  # type: ignore[arg-type]
        sha = st.put_blob(b"diff text")
        assert st.get_blob(sha) == b"diff text"
        assert st.get_blob("0" * 64) is None
        # a new trial of the upgraded sweep records an artifact
        batch = WriteBatch(sweep.id)
        batch.trial_started(99, {"x": 0.5}, seed=1)
        batch.artifact(99, "model.pt", "ab" * 32, 12, 1.0)
        st.write(batch)
        (record,) = st.artifacts(st.get_trial("v3-sweep:99").id)  # type: ignore[arg-type]
        assert (record.name, record.sha256, record.size) == ("model.pt", "ab" * 32, 12)
        assert [t.params for t in st.trials(sweep.id)][:12] == [t.params for t in before]
    con = sqlite3.connect(path)
    try:
        indexes = {r[1] for r in con.execute("PRAGMA index_list('artifacts')")}
    finally:
        con.close()
    assert "ix_artifacts_sha256" in indexes


def test_the_v4_store_file_opens_as_is_with_its_artifacts_and_blobs(tmp_path: Path) -> None:
    from trackers import resolve_code

    path = tmp_path / "v4.db"
    shutil.copy(STORES / "schema_v4.db", path)
    with Store(path) as st:
        sweep = st.get_sweep("v4-sweep")
        trials = st.trials(sweep.id)
        logged = {t.number: st.artifacts(t.id) for t in trials}  # type: ignore[arg-type]
        completed = [t.number for t in trials if t.state is TrialState.COMPLETED]
        assert sorted(n for n, a in logged.items() if a) == completed
        assert all(a[0].name == "model.txt" for n, a in logged.items() if a)
        env = st.get_environment(sweep.environment_id)  # type: ignore[arg-type]
        git = resolve_code(env, st.get_blob)["git"]
        assert "+x = 2" in git["diff"]
        assert st.get_blob(env["git"]["untracked"]["helper.py"]) == b"print('untracked')\n"
    assert meta(path)[:2] == ("4", "0004")
