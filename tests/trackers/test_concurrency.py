"""Several writers and readers on one SQLite store, and lock failures injected for real."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from trackers import Goal, Store, StoreError, TrialState, WriteBatch


def new_sweep(store: Store, name: str = "s") -> int:
    return store.create_sweep(
        name=name,
        metric="loss",
        goal=Goal.MINIMIZE,
        strategy="random",
        strategy_options={},
        space={},
        config={},
        objective="f",
        executor="inline",
    )


def finished_batch(sweep_id: int, number: int) -> WriteBatch:
    batch = WriteBatch(sweep_id)
    batch.trial_started(number, {"x": number}, seed=number)
    now = time.time()
    batch.metric(number, "loss", 0, 1.0, now)
    batch.trial_finished(
        number, TrialState.COMPLETED, value=1.0, metrics={"loss": 1.0}, started_at=now, ended_at=now
    )
    return batch


class HeldLock:
    """Another process's exclusive lock on the database file, held until released."""

    def __init__(self, path: Path) -> None:
        self.con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.con.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.con.execute("COMMIT")
        self.con.close()


def test_a_locked_write_is_retried_until_it_goes_through(tmp_path: Path) -> None:
    path = tmp_path / "hpo.db"
    store = Store(path, busy_timeout=0.05)
    sid = new_sweep(store)
    lock = HeldLock(path)
    batch = finished_batch(sid, 0)
    # One attempt alone fails: the injected lock is real.
    with pytest.raises(StoreError, match="database is locked"):
        store._write_once(batch)
    releaser = threading.Timer(0.4, lock.release)
    releaser.start()
    store.write(batch)  # retried with backoff until the lock is gone
    releaser.join()
    assert store.get_trial("s:0").state is TrialState.COMPLETED
    assert not batch


def test_a_lock_that_never_goes_gives_up_boundedly_and_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "hpo.db"
    store = Store(path, busy_timeout=0.02)
    sid = new_sweep(store)
    lock = HeldLock(path)
    batch = finished_batch(sid, 0)
    with pytest.raises(StoreError, match=r"database is locked \(gave up after 6 attempts\)"):
        store.write(batch)
    assert batch, "a failed write keeps its rows"
    lock.release()
    store.write(batch)
    assert store.get_trial("s:0").value == 1.0


def test_sweeps_in_parallel_with_readers(tmp_path: Path) -> None:
    """Three drivers write one store while `hpo ls` and `hpo report` read it."""
    (tmp_path / "obj.py").write_text("def f(x):\n    return x * x\n")
    trials = 150
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(
            textwrap.dedent(
                f"""\
                name: {name}
                objective: obj:f
                metric: loss
                parameters:
                  x: {{min: -1.0, max: 1.0}}
                trials: {trials}
                executor: inline
                """
            )
        )
    Store(tmp_path / "hpo.db").close()  # created once, so readers never find it missing
    env = {**os.environ, "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "hpo.cli", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    writers = [cli("sweep", f"{n}.yaml", "--no-progress", "--top", "0") for n in "abc"]
    reads = 0
    read_errors = []
    while any(w.poll() is None for w in writers) or reads < 4:
        for args in (("ls",), ("report", "a", "--format", "json", "--top", "5")):
            _, err = cli(*args).communicate(timeout=120)
            reads += 1
            if "locked" in err or "Traceback" in err:
                read_errors.append(err)
    for w in writers:
        _, err = w.communicate(timeout=120)
        assert w.returncode == 0, err
        assert "locked" not in err
    assert read_errors == []
    with Store(tmp_path / "hpo.db") as st:
        for name in "abc":
            sweep = st.get_sweep(name)
            assert st.counts(sweep.id) == {TrialState.COMPLETED: trials}
            numbers = [t.number for t in st.trials(sweep.id)]
            assert numbers == list(range(trials))
    listing = json.loads(cli("ls", "--format", "json").communicate(timeout=60)[0])
    assert sorted(s["name"] for s in listing) == ["a", "b", "c"]
    assert reads >= 4
