"""The store against real databases: every test that is not about SQLite itself runs on a
SQLite file and on a real PostgreSQL server (``store_url`` in tests/conftest.py); the
PostgreSQL-only checks (connection failures, passwords) are at the end."""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from tests.conftest import PostgresServer

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
def store(store_url: str) -> Iterator[Store]:
    """An open store on a fresh, empty database: a SQLite file, then a PostgreSQL database."""
    with Store(store_url) as st:
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
    assert t.stored_ids() == (t.id, sid)


def test_a_trial_that_was_never_stored_has_no_ids_to_look_up(store: Store) -> None:
    run_trials(store, new_sweep(store), [1.0, 2.0, 3.0, 4.0])
    # as a sweep run with track=False hands it over: the same record, without store ids
    unstored = dataclasses.replace(store.get_trial("s:3"), id=None, sweep_id=None)
    with pytest.raises(NotFoundError, match=r"trial 3 was not recorded in a store.*track=False"):
        unstored.stored_ids()


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


def test_a_relative_sqlite_url_names_its_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # sqlite:///hpo.db is relative to where it was opened: messages and records say where.
    monkeypatch.chdir(tmp_path)
    with Store("sqlite:///rel.db") as st:
        assert st.url == f"sqlite:///{tmp_path.resolve() / 'rel.db'}"
        new_sweep(st)
        monkeypatch.chdir("/")  # still the same file after the process changes directory
        assert st.find_sweep("s") is not None
    assert (tmp_path / "rel.db").is_file()


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


# --- the same store on either backend: what PostgreSQL must keep exactly as SQLite does ------


def test_reopened_store_keeps_its_rows(store_url: str) -> None:
    with Store(store_url) as st:
        sid = new_sweep(st)
        run_trials(st, sid, [2.0, 1.0])
    with Store(store_url) as st:
        assert [t.number for t in st.trials(sid, ranked=True)] == [1, 0]
        assert st.get_sweep("s").id == sid
        assert math.isnan(st.metric_series(st.get_trial("s:0").id)["loss"][1].value)


def test_non_finite_values_round_trip(store: Store) -> None:
    """NaN and ±inf survive in step series and final metrics (PostgreSQL's float8 has all
    three natively, SQLite turns NaN into NULL: the store must give back the same either way)."""
    sid = new_sweep(store)
    batch = WriteBatch(sid)
    batch.trial_started(0, {"x": 1.5}, seed=0)
    reported = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e308, -5e-324]
    for step, v in enumerate(reported):
        batch.metric(0, "loss", step, v, 1000.0 + step)
    batch.metric(0, "unstepped", None, math.inf, 1000.0)
    batch.trial_finished(
        0,
        TrialState.COMPLETED,
        value=1e308,
        metrics={"loss": 1e308, "nan": math.nan, "pinf": math.inf, "ninf": -math.inf},
        started_at=999.0,
        ended_at=1010.0,
    )
    store.write(batch)
    t = store.get_trial("s:0")
    assert t.value == 1e308
    assert math.isnan(t.metrics["nan"])
    assert t.metrics["pinf"] == math.inf and t.metrics["ninf"] == -math.inf
    series = store.metric_series(t.id)
    got = [p.value for p in series["loss"]]
    assert math.isnan(got[0])
    assert got[1:] == reported[1:]
    assert [p.step for p in series["loss"]] == list(range(len(reported)))
    assert series["unstepped"][0].step is None and series["unstepped"][0].value == math.inf
    assert [p.time for p in series["loss"]] == [1000.0 + i for i in range(len(reported))]


def test_unicode_names_params_and_metrics(store: Store) -> None:
    name = "λ-sweep ☃ 日本語 🚀"
    sid = new_sweep(store, name)
    batch = WriteBatch(sid)
    params = {"optimiseur": "Adam-β", "名前": "値", "emoji": "🔥💧", "nul": "a\x00b", "ε": 1e-8}
    batch.trial_started(0, params, seed=0)
    batch.metric(0, "perte_é", 0, 0.5, 1.0)
    batch.metric(0, "损失", 1, 0.25, 2.0)
    batch.trial_finished(
        0,
        TrialState.FAILED,
        value=None,
        metrics={"perte_é": 0.5},
        started_at=1.0,
        ended_at=2.0,
        error="ValueError: ça n'a pas marché — 失败",
        traceback='Traceback (most recent call last):\n  File "ünïcode.py"',
    )
    store.write(batch)
    assert store.get_sweep(name).id == sid
    assert store.available_name(name) == f"{name}-2"
    t = store.get_trial(f"{name}:0")
    assert t.params == params
    assert t.metrics == {"perte_é": 0.5}
    assert t.error == "ValueError: ça n'a pas marché — 失败"
    assert "ünïcode.py" in (t.traceback or "")
    assert set(store.metric_series(t.id)) == {"perte_é", "损失"}
    assert [s.sweep.name for s in store.list_sweeps()] == [name]


def test_two_thousand_trials_in_batches_ranked_with_limit(store: Store) -> None:
    """A sweep of 2,000 trials written as the engine does (several trials per batch),
    ranked by SQL with a limit, on either backend."""
    n_trials, per_batch = 2_000, 100
    sid = new_sweep(store, "big")
    # A fixed permutation of distinct values (7 is coprime with 2,000), every 10th trial failed.
    values = {n: float((n * 7) % n_trials) for n in range(n_trials) if n % 10 != 3}
    batch = WriteBatch(sid)
    for start in range(0, n_trials, per_batch):
        numbers = range(start, start + per_batch)
        for n in numbers:
            batch.trial_started(n, {"x": n / n_trials, "opt": ["sgd", "adam"][n % 2]}, seed=n)
        store.write(batch)  # the trials exist before they "run"
        for n in numbers:
            batch.metric(n, "loss", 0, values.get(n, math.nan), 1.0)
            if n in values:
                batch.trial_finished(
                    n,
                    TrialState.COMPLETED,
                    value=values[n],
                    metrics={"loss": values[n]},
                    started_at=1.0,
                    ended_at=2.0,
                )
            else:
                batch.trial_finished(
                    n, TrialState.FAILED, value=None, metrics={}, started_at=1.0, ended_at=2.0
                )
        store.write(batch)
    # Ids of finished trials are dropped: the map holds live trials only, so a long sweep's
    # writes do not grow with its length.
    assert batch.trial_ids == {}
    assert store.counts(sid) == {TrialState.COMPLETED: 1_800, TrialState.FAILED: 200}
    best_first = sorted(values, key=lambda n: (values[n], n))
    top = store.trials(sid, ranked=True, limit=25)
    assert [t.number for t in top] == best_first[:25]
    assert [t.value for t in top] == sorted(values.values())[:25]
    # A limit past the completed trials goes on with the others, by number.
    tail = store.trials(sid, ranked=True, limit=1_810)
    assert [t.number for t in tail[:1_800]] == best_first
    assert [t.number for t in tail[1_800:]] == [3, 13, 23, 33, 43, 53, 63, 73, 83, 93]
    assert len(store.trials(sid)) == n_trials
    (summary,) = store.list_sweeps()
    assert summary.total == n_trials and summary.best_value == min(values.values())


def test_long_names_are_stored_whole(store_url: str) -> None:
    """A metric or parameter name longer than 200 characters is written whole on SQLite; on
    PostgreSQL the VARCHAR(200) columns refuse it and the whole batch (and sweep) fails."""
    long = "m" * 300
    with Store(store_url) as st:
        sid = new_sweep(st)
        batch = WriteBatch(sid)
        batch.trial_started(0, {"p" * 250: 1.0}, seed=0)
        batch.metric(0, long, 0, 1.0, 1.0)
        st.write(batch)
        t = st.get_trial("s:0")
        assert t.params == {"p" * 250: 1.0}
        assert list(st.metric_series(t.id)) == [long]


def test_sweep_seed_beyond_32_bits(store_url: str) -> None:
    """``seed: 4294967296`` is a valid config (any int) and is recorded on SQLite; PostgreSQL's
    INTEGER is 32-bit."""
    with Store(store_url) as st:
        st.create_sweep(
            name="s",
            metric="loss",
            goal=Goal.MINIMIZE,
            strategy="random",
            strategy_options={},
            space={},
            config={},
            objective="f",
            executor="inline",
            seed=2**32,
        )
        assert st.get_sweep("s").seed == 2**32


def test_first_open_by_several_processes_at_once(store_url: str) -> None:
    """Several drivers (here threads) opening the same new store at the same moment all get
    it: exactly one creates the schema. SQLite serialises them with BEGIN IMMEDIATE."""
    errors: list[str] = []
    n_openers = 8
    barrier = threading.Barrier(n_openers)

    def open_store() -> None:
        barrier.wait()
        try:
            Store(store_url).close()
        except Exception as exc:  # collected and asserted on below
            errors.append(f"{type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=open_store) for _ in range(n_openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(store_url) as st:
        assert st.list_sweeps() == []


# --- PostgreSQL only: servers that can't be reached or refuse us ------------------------------


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_postgres_unreachable_server_is_a_store_error(postgres_url: str) -> None:
    port = _closed_port()
    url = f"postgresql+psycopg://hpo:hunter2@127.0.0.1:{port}/hpo"
    with pytest.raises(StoreError) as info:
        Store(url)
    message = str(info.value)
    assert f"postgresql+psycopg://hpo:***@127.0.0.1:{port}/hpo" in message
    assert "hunter2" not in message
    assert "Connection refused" in message


def test_postgres_plain_url_uses_the_installed_driver(postgres_url: str) -> None:
    """``postgresql://`` means psycopg2 to SQLAlchemy; with only psycopg 3 installed the
    store uses it instead of failing on a missing module."""
    if importlib.util.find_spec("psycopg2") is not None:
        pytest.skip("psycopg2 is installed: plain postgresql:// URLs use it")
    plain = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with Store(plain) as st:
        assert st.list_sweeps() == []
        assert st.url.startswith("postgresql://")


def test_postgres_wrong_password_or_user_or_database(postgres_server: PostgresServer) -> None:
    host = f"127.0.0.1:{postgres_server.port}"
    user = postgres_server.password_user
    with pytest.raises(StoreError) as info:
        Store(f"postgresql+psycopg://{user}:not-the-password@{host}/hpo_test")
    message = str(info.value)
    assert f"postgresql+psycopg://{user}:***@{host}/hpo_test" in message
    assert "not-the-password" not in message
    assert f'password authentication failed for user "{user}"' in message

    with pytest.raises(StoreError) as info:
        Store(f"postgresql+psycopg://nobody@{host}/hpo_test")
    assert f"postgresql+psycopg://nobody@{host}/hpo_test" in str(info.value)
    assert 'role "nobody" does not exist' in str(info.value)

    with pytest.raises(StoreError, match='database "no_such_db" does not exist'):
        Store(f"postgresql+psycopg://postgres@{host}/no_such_db")


def test_postgres_right_password_works(postgres_server: PostgresServer) -> None:
    user, password = postgres_server.password_user, postgres_server.password
    with postgres_server.fresh_database(owner=user) as url:
        own = url.replace(f"//{postgres_server.user}@", f"//{user}:{password}@")
        with Store(own) as st:
            assert password not in st.url and "***" in st.url
            sid = new_sweep(st)
            run_trials(st, sid, [1.0])
            assert st.get_trial("s:0").value == 1.0
