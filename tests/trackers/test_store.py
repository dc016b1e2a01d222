"""The store against real SQLite files."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from trackers import (
    Goal,
    NotFoundError,
    Store,
    StoreError,
    SweepState,
    TrialState,
    WriteBatch,
)

ROOT = Path(__file__).resolve().parents[2]


def new_sweep(store: Store, name: str = "s", goal: Goal = Goal.MINIMIZE) -> int:
    return store.create_sweep(
        name=name,
        metric="loss",
        goal=goal,
        strategy="random",
        strategy_options={"sampler": "pseudo"},
        space={"x": {"type": "float"}},
        config={"trials": 3},
        objective="function m:f",
        executor="inline",
        budget=3,
        seed=1,
    )


def run_trials(store: Store, sweep_id: int, values: list[float | None]) -> WriteBatch:
    batch = WriteBatch(sweep_id)
    for n, v in enumerate(values):
        batch.trial_started(n, {"x": float(n), "opt": "adam"}, seed=n)
        store.write(batch)
        now = time.time()
        batch.metric(n, "loss", 0, 10.0 + n, now)
        batch.metric(n, "loss", 1, math.nan, now)
        if v is None:
            batch.trial_finished(
                n,
                TrialState.FAILED,
                value=None,
                metrics={},
                started_at=now,
                ended_at=now,
                error="ValueError: boom",
                traceback="Traceback ...",
            )
        else:
            batch.trial_finished(
                n,
                TrialState.COMPLETED,
                value=v,
                metrics={"loss": v, "aux": math.inf},
                started_at=now - 1,
                ended_at=now,
            )
        store.write(batch)
    return batch


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / "hpo.db") as st:
        yield st


def test_trials_round_trip_with_non_finite_metrics(store: Store) -> None:
    sid = new_sweep(store)
    run_trials(store, sid, [3.0, None, 1.0])
    t = store.get_trial("s:0")
    assert t.state is TrialState.COMPLETED
    assert t.params == {"x": 0.0, "opt": "adam"}
    assert t.value == 3.0
    assert t.metrics["loss"] == 3.0 and t.metrics["aux"] == math.inf
    assert t.duration == pytest.approx(1.0, abs=1e-3)
    series = store.metric_series(t.id)
    assert [p.step for p in series["loss"]] == [0, 1]
    assert series["loss"][0].value == 10.0 and math.isnan(series["loss"][1].value)
    failed = store.get_trial("s/1")
    assert failed.state is TrialState.FAILED
    assert failed.value is None and failed.error == "ValueError: boom"
    assert failed.traceback == "Traceback ..."
    assert store.get_trial(str(t.id)).number == 0


@pytest.mark.parametrize(
    ("goal", "expected"), [(Goal.MINIMIZE, [2, 0, 1]), (Goal.MAXIMIZE, [0, 2, 1])]
)
def test_ranked_trials_follow_the_goal(store: Store, goal: Goal, expected: list[int]) -> None:
    sid = new_sweep(store, goal=goal)
    run_trials(store, sid, [3.0, None, 1.0])
    assert [t.number for t in store.trials(sid, ranked=True)] == expected
    assert [t.number for t in store.trials(sid, ranked=True, limit=1)] == expected[:1]
    assert [t.number for t in store.trials(sid)] == [0, 1, 2]
    failed = store.trials(sid, states=[TrialState.FAILED])
    assert [t.number for t in failed] == [1]


def test_list_sweeps_counts_and_best(store: Store) -> None:
    a = new_sweep(store, "a")
    b = new_sweep(store, "b", goal=Goal.MAXIMIZE)
    run_trials(store, a, [3.0, None, 1.0])
    run_trials(store, b, [3.0, 5.0])
    store.set_sweep_state(a, SweepState.COMPLETED)
    by_name = {s.sweep.name: s for s in store.list_sweeps()}
    assert by_name["a"].counts == {TrialState.COMPLETED: 2, TrialState.FAILED: 1}
    assert by_name["a"].best_value == 1.0
    assert by_name["a"].sweep.state is SweepState.COMPLETED
    assert by_name["b"].best_value == 5.0 and by_name["b"].total == 2
    assert store.counts(a) == {TrialState.COMPLETED: 2, TrialState.FAILED: 1}


def test_event_log_records_every_state_change(store: Store) -> None:
    sid = new_sweep(store)
    run_trials(store, sid, [1.0])
    store.set_sweep_state(sid, SweepState.COMPLETED)
    kinds = [e["kind"] for e in store.events(sid)]
    assert kinds == ["sweep_created", "trial_started", "trial_finished", "sweep_finished"]


def test_names_are_unique_and_free_names_are_offered(store: Store) -> None:
    new_sweep(store, "q")
    assert store.available_name("q") == "q-2"
    assert store.available_name("other") == "other"
    with pytest.raises(StoreError, match="already has a sweep named 'q'"):
        new_sweep(store, "q")


def test_environment_stored_once(store: Store) -> None:
    snap = {"python": {"version": "3.11.7"}, "packages": {"numpy": "2.0"}}
    a = store.add_environment(snap)
    assert store.add_environment(dict(snap)) == a
    assert store.add_environment({**snap, "packages": {"numpy": "2.1"}}) != a
    assert store.get_environment(a) == snap


def test_not_found_messages_name_the_problem(store: Store) -> None:
    new_sweep(store, "quadratic")
    with pytest.raises(NotFoundError, match="did you mean 'quadratic'"):
        store.get_sweep("quadratc")
    with pytest.raises(NotFoundError, match="no trial 'quadratic:9'"):
        store.get_trial("quadratic:9")
    with pytest.raises(NotFoundError, match="SWEEP:NUMBER"):
        store.get_trial("abc")


def test_bad_locations_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "missing" / "hpo.db")
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="not a valid database URL"):
        Store("nosuch://::")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match=r"garbage\.db"):
        Store(garbage)


def test_in_memory_store_is_shared_across_sessions() -> None:
    with Store("sqlite://") as st:
        sid = new_sweep(st)
        run_trials(st, sid, [2.0])
        assert st.get_trial("s:0").value == 2.0


def test_committed_trials_survive_a_killed_writer(tmp_path: Path) -> None:
    """A batch is durable once write() returns, even if the process dies right after."""
    path = tmp_path / "hpo.db"
    script = textwrap.dedent(
        f"""
        import os, signal, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from trackers import Store, WriteBatch, TrialState, Goal
        st = Store({str(path)!r})
        sid = st.create_sweep(name="k", metric="loss", goal=Goal.MINIMIZE, strategy="random",
            strategy_options={{}}, space={{}}, config={{}}, objective="f", executor="inline")
        b = WriteBatch(sid)
        for n in range(50):
            b.trial_started(n, {{"x": n}}, seed=n)
            now = time.time()
            b.trial_finished(n, TrialState.COMPLETED, value=float(n), metrics={{"loss": float(n)}},
                             started_at=now, ended_at=now)
            st.write(b)
        b.trial_started(50, {{"x": 50}}, seed=50)
        st.write(b)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with Store(path) as st:
        sweep = st.get_sweep("k")
        counts = st.counts(sweep.id)
    assert counts == {TrialState.COMPLETED: 50, TrialState.RUNNING: 1}
    assert not os.path.exists(str(path) + "-journal")
