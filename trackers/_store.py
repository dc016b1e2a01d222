"""The store: one SQLAlchemy database holding sweeps, trials, metrics and environments.

Every access goes through :meth:`Store.session`, which commits or rolls back and turns driver
errors into :class:`StoreError` naming the store. One writer per sweep (the driver) writes
through :meth:`Store.write`; any number of readers may share the store.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections import ChainMap
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, delete, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from trackers import _codec
from trackers import _schema as s
from trackers._artifacts import default_artifact_root, locate
from trackers._batch import WriteBatch
from trackers._connect import WRITE_OPTION, make_engine, resolve_url
from trackers._drivers import driver_alive, this_driver
from trackers._environment import environment_hash
from trackers._errors import StoreError
from trackers._migrate import ensure_schema
from trackers._reads import StoreReads
from trackers._retry import retried, retrying
from trackers._states import EventKind, Goal, SweepState, TrialState

_FINISH = (
    update(s.trials)
    .where(s.trials.c.id == bindparam("b_id"))
    .values(
        state=bindparam("b_state"),
        value=bindparam("b_value"),
        metrics=bindparam("b_metrics"),
        started_at=bindparam("b_started_at"),
        ended_at=bindparam("b_ended_at"),
        duration=bindparam("b_duration"),
        error=bindparam("b_error"),
        traceback=bindparam("b_traceback"),
        step=bindparam("b_step"),
    )
)
_INSERT_TRIALS = insert(s.trials).returning(
    s.trials.c.id, s.trials.c.number, sort_by_parameter_order=True
)


class Store(StoreReads):
    """A tracking store at ``location``: a SQLAlchemy URL, a path to a SQLite file, or None
    for ``$HPO_STORE`` or ``./hpo.db``. Tables are created on first use."""

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        *,
        busy_timeout: float | None = None,
        artifacts: str | os.PathLike[str] | None = None,
    ) -> None:
        """``busy_timeout``: seconds a SQLite writer waits for another's lock before the
        attempt fails and is retried (default 30). ``artifacts``: the folder of the trials'
        artifact files (default: see :mod:`trackers._artifacts`)."""
        url = resolve_url(location)
        self.url = url.render_as_string(hide_password=True)
        database = url.database if url.get_backend_name() == "sqlite" else None
        self._file = (
            os.path.abspath(database)
            if database and database != ":memory:" and not database.startswith("file:")
            else None
        )
        self._artifacts = os.path.abspath(os.fspath(artifacts)) if artifacts is not None else None
        self._engine = make_engine(url)
        if busy_timeout is not None and url.get_backend_name() == "sqlite":
            ms = int(busy_timeout * 1000)

            @event.listens_for(self._engine, "connect")
            def _busy(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.execute(f"PRAGMA busy_timeout = {ms}")

        retrying(self._init_schema)

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def database_file(self) -> str | None:
        """The absolute path of a SQLite store's file, beside which hpo keeps what belongs
        with the store (trial checkpoints); None for a database server or an in-memory store."""
        return self._file

    @property
    def artifact_root(self) -> str:
        """The folder artifact files are kept in: the one given, else the default
        (``$HPO_ARTIFACTS``, else ``<stem>-artifacts/`` beside a SQLite file, else the user's
        data folder)."""
        return self._artifacts or default_artifact_root(self._file)

    def artifact_roots(self, sweep_id: int) -> list[str]:
        """Where a sweep's artifact files may be, in the order they are looked for: the
        folder given when opening the store, the store's default folder (where an import puts
        them), the folders the sweep's drivers recorded. Content is found by its hash, so any
        folder that holds it holds the right bytes."""
        roots = [self._artifacts] if self._artifacts else []
        roots.append(default_artifact_root(self._file))
        roots += self.recorded_artifact_roots(sweep_id)
        return list(dict.fromkeys(roots))

    def locate_artifact(self, sweep_id: int, sha256: str) -> str | None:
        """The file holding content ``sha256`` of one of the sweep's artifacts, or None when
        no folder of :meth:`artifact_roots` has it. For many artifacts, take the roots once
        and :func:`trackers._artifacts.locate` each."""
        found = locate(self.artifact_roots(sweep_id), sha256)
        return None if found is None else str(found.path_of(sha256))

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def session(self, *, write: bool = False) -> Iterator[Connection]:
        """A connection in a transaction that commits on success and rolls back on error.
        Database errors come out as :class:`StoreError` naming this store."""
        try:
            with self._engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE_OPTION: True})
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            # One line: drivers' messages can run over several (psycopg adds hints on a new line).
            detail = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise StoreError(f"store {self.url}: {detail}") from exc

    def _init_schema(self) -> None:
        with self.session(write=True) as conn:
            ensure_schema(conn, self.url)

    # --- writes -------------------------------------------------------------------------

    @retried
    def add_environment(self, snapshot: Mapping[str, Any]) -> int:
        """Store an environment snapshot once (deduplicated by content); returns its id.
        The code content a captured snapshot names by hash (its ``blobs``: the dirty diff and
        untracked files) goes into the blobs table in the same transaction."""
        digest = environment_hash(snapshot)
        with self.session(write=True) as conn:
            _put_blobs(conn, getattr(snapshot, "blobs", None) or {})
            found = conn.execute(
                select(s.environments.c.id).where(s.environments.c.hash == digest)
            ).scalar_one_or_none()
            if found is not None:
                return int(found)
            return int(
                conn.execute(
                    insert(s.environments)
                    .values(hash=digest, created_at=time.time(), data=_codec.dumps(snapshot))
                    .returning(s.environments.c.id)
                ).scalar_one()
            )

    @retried
    def put_blob(self, data: bytes) -> str:
        """Store ``data`` once in the blobs table; returns its sha256."""
        sha = hashlib.sha256(data).hexdigest()
        with self.session(write=True) as conn:
            _put_blobs(conn, {sha: data})
        return sha

    def available_name(self, base: str) -> str:
        """``base`` if no sweep has that name, else the first free ``base-2``, ``base-3``..."""
        with self.session() as conn:
            taken = set(
                conn.execute(
                    select(s.sweeps.c.name).where(s.sweeps.c.name.like(f"{base}%"))
                ).scalars()
            )
        if base not in taken:
            return base
        n = 2
        while f"{base}-{n}" in taken:
            n += 1
        return f"{base}-{n}"

    @retried
    def create_sweep(
        self,
        *,
        name: str,
        metric: str,
        goal: Goal,
        strategy: str,
        strategy_options: Mapping[str, Any],
        space: Mapping[str, Any],
        config: Mapping[str, Any],
        objective: str,
        executor: str,
        budget: int | None = None,
        seed: int | None = None,
        source: str | None = None,
        environment_id: int | None = None,
        driver: str | None = None,
    ) -> int:
        """Record a new sweep (state RUNNING, claimed by ``driver``); returns its id. Names are
        unique."""
        now = time.time()
        row = {
            "name": name,
            "state": SweepState.RUNNING.value,
            "metric": metric,
            "goal": Goal(goal).value,
            "strategy": strategy,
            "strategy_options": _codec.dumps(dict(strategy_options)),
            "space": _codec.dumps(dict(space)),
            "config": _codec.dumps(dict(config)),
            "objective": objective,
            "executor": executor,
            "budget": budget,
            "seed": seed,
            "source": source,
            "environment_id": environment_id,
            "created_at": now,
            "updated_at": now,
            "heartbeat_at": now,
            "driver": driver or this_driver(),
        }
        try:
            with self.session(write=True) as conn:
                sweep_id = int(
                    conn.execute(insert(s.sweeps).values(row).returning(s.sweeps.c.id)).scalar_one()
                )
                conn.execute(
                    insert(s.events).values(
                        sweep_id=sweep_id, time=now, kind=EventKind.SWEEP_CREATED.value
                    )
                )
        except StoreError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise StoreError(
                    f"store {self.url} already has a sweep named {name!r}: choose another name"
                ) from None
            raise
        return sweep_id

    @retried
    def set_sweep_state(self, sweep_id: int, state: SweepState) -> None:
        now = time.time()
        kind = EventKind.SWEEP_STARTED if state is SweepState.RUNNING else EventKind.SWEEP_FINISHED
        with self.session(write=True) as conn:
            conn.execute(
                update(s.sweeps)
                .where(s.sweeps.c.id == sweep_id)
                .values(state=state.value, updated_at=now)
            )
            conn.execute(
                insert(s.events).values(
                    sweep_id=sweep_id,
                    time=now,
                    kind=kind.value,
                    data=_codec.dumps({"state": state.value}),
                )
            )

    @retried
    def claim_sweep(self, sweep_id: int, *, budget: int | None = None) -> None:
        """Take over a sweep to resume it: refused while its driver is alive. The claim is
        atomic: of two processes claiming at once, one gets a StoreError."""
        sw = self.get_sweep(sweep_id)
        now = time.time()
        if sw.state is SweepState.RUNNING and driver_alive(sw.driver, sw.heartbeat_at, now):
            raise StoreError(
                f"sweep {sw.name!r} is being run by driver {sw.driver} (heartbeat "
                f"{now - (sw.heartbeat_at or now):.0f} s ago): stop it before resuming, or "
                "start a new sweep with --new"
            )
        t = s.sweeps.c
        values: dict[str, Any] = {
            "state": SweepState.RUNNING.value,
            "driver": this_driver(),
            "heartbeat_at": now,
            "updated_at": now,
        }
        if budget is not None:
            values["budget"] = budget
        with self.session(write=True) as conn:
            # Optimistic: only if nobody claimed it since we read it.
            unchanged = (t.driver == sw.driver) if sw.driver is not None else t.driver.is_(None)
            claimed = conn.execute(
                update(s.sweeps).where(t.id == sweep_id, unchanged).values(**values)
            ).rowcount
            if claimed != 1:
                raise StoreError(f"sweep {sw.name!r} was claimed by another driver just now")
            conn.execute(
                insert(s.events).values(
                    sweep_id=sweep_id,
                    time=now,
                    kind=EventKind.SWEEP_RESUMED.value,
                    data=_codec.dumps({"driver": values["driver"], "previous": sw.driver}),
                )
            )

    @retried
    def interrupt_orphans(self, sweep_id: int, reason: str) -> list[int]:
        """Mark the trials a dead driver left queued or running as interrupted; returns their
        numbers."""
        t = s.trials.c
        now = time.time()
        open_states = [TrialState.QUEUED.value, TrialState.RUNNING.value]
        with self.session(write=True) as conn:
            numbers = list(
                conn.execute(
                    select(t.number).where(t.sweep_id == sweep_id, t.state.in_(open_states))
                ).scalars()
            )
            if not numbers:
                return []
            conn.execute(
                update(s.trials)
                .where(t.sweep_id == sweep_id, t.state.in_(open_states))
                .values(
                    state=TrialState.INTERRUPTED.value,
                    error=reason,
                    ended_at=now,
                    duration=now - func.coalesce(t.started_at, now),
                )
            )
            conn.execute(
                insert(s.events),
                [
                    {
                        "sweep_id": sweep_id,
                        "trial_number": n,
                        "time": now,
                        "kind": EventKind.TRIAL_FINISHED.value,
                        "data": _codec.dumps({"state": TrialState.INTERRUPTED.value}),
                    }
                    for n in numbers
                ],
            )
        return numbers

    def write(self, batch: WriteBatch) -> None:
        """Write ``batch`` in one transaction and fill ``batch.trial_ids`` for its new trials.
        Transient failures are retried with backoff; if the write fails for good, the batch is
        left as it was, so nothing in it is lost."""
        if batch:
            retrying(lambda: self._write_once(batch))

    def _write_once(self, batch: WriteBatch) -> None:
        # Ids of this batch's new trials are used inside the transaction, and kept only once
        # it has committed (a retried batch inserts them again). A view, not a copy: copying
        # every id on every write would make a long sweep's writes grow with its length.
        fresh: dict[int, int] = {}
        ids = ChainMap(fresh, batch.trial_ids)
        with self.session(write=True) as conn:
            if batch.new_trials:
                rows = [dict(r, params=_codec.dumps(dict(r["params"]))) for r in batch.new_trials]
                new_ids = {n: i for i, n in conn.execute(_INSERT_TRIALS, rows)}
                param_rows = [
                    {
                        "trial_id": new_ids[r["number"]],
                        "name": k,
                        "value": _codec.dumps(v),
                        "value_num": _numeric(v),
                    }
                    for r in batch.new_trials
                    for k, v in r["params"].items()
                ]
                if param_rows:
                    conn.execute(insert(s.params), param_rows)
                fresh.update(new_ids)
            # Paused trials of an earlier run of the sweep (a resume) have no id here yet. They
            # always come back through a continuation or a prune first, so only those are
            # looked up: the common write (new trials, metrics, finishes) does no extra work.
            missing = [op[1] for op in (*batch.continued, *batch.pruned) if op[1] not in ids]
            if missing:
                t = s.trials.c
                fresh.update(
                    (n, i)
                    for i, n in conn.execute(
                        select(t.id, t.number).where(
                            t.sweep_id == batch.sweep_id, t.number.in_(missing)
                        )
                    )
                )
            if batch.metrics:
                rows_m = []
                for number, name, step, value, at in batch.metrics:
                    v, kind = _codec.split_float(value)
                    rows_m.append(
                        {
                            "trial_id": ids[number],
                            "name": name,
                            "step": step,
                            "value": v,
                            "kind": int(kind),
                            "time": at,
                        }
                    )
                conn.execute(insert(s.metrics), rows_m)
            if batch.continued or batch.pruned:
                self._apply_in_order(conn, batch, ids)
            elif batch.finished:
                conn.execute(_FINISH, [_finish_row(f, ids) for f in batch.finished])
            if batch.artifacts:
                _record_artifacts(conn, batch.artifacts, ids)
            if batch.events:
                conn.execute(insert(s.events), batch.events)
            if batch.heartbeat is not None:
                driver, at = batch.heartbeat
                conn.execute(
                    update(s.sweeps)
                    .where(s.sweeps.c.id == batch.sweep_id)
                    .values(heartbeat_at=at, driver=driver)
                )
        batch.trial_ids.update(fresh)
        # A finished trial writes no more rows: forget its id, so the map holds live trials
        # only. A paused one may run on: keep it, unless pruned later in this batch.
        paused = TrialState.PAUSED.value
        for f in batch.finished:
            if f["state"] != paused:
                batch.trial_ids.pop(f["number"], None)
        for _, number, _ in batch.pruned:
            batch.trial_ids.pop(number, None)
        batch.clear()

    @staticmethod
    def _apply_in_order(conn: Connection, batch: WriteBatch, ids: Mapping[int, int]) -> None:
        """Finishes, continuations and prunes of trials, in the order they happened."""
        t = s.trials.c
        ops: list[tuple[int, str, Any]] = [(f["seq"], "finish", f) for f in batch.finished]
        ops += [(seq, "continue", (n, b)) for seq, n, b in batch.continued]
        ops += [(seq, "prune", (n, r)) for seq, n, r in batch.pruned]
        for _, kind, payload in sorted(ops, key=lambda op: op[0]):
            if kind == "finish":
                conn.execute(_FINISH, [_finish_row(payload, ids)])
            elif kind == "continue":
                number, budget = payload
                conn.execute(
                    update(s.trials)
                    .where(t.id == ids[number])
                    .values(state=TrialState.RUNNING.value, budget=budget, ended_at=None)
                )
            else:
                number, reason = payload
                conn.execute(
                    update(s.trials)
                    .where(t.id == ids[number], t.state == TrialState.PAUSED.value)
                    .values(state=TrialState.PRUNED.value, error=reason)
                )


def _put_blobs(conn: Connection, blobs: Mapping[str, bytes]) -> None:
    """Insert the blobs the table lacks (by sha256, which names their content)."""
    if not blobs:
        return
    b = s.blobs.c
    have = set(conn.execute(select(b.sha256).where(b.sha256.in_(list(blobs)))).scalars())
    now = time.time()
    rows = [
        {"sha256": sha, "size": len(data), "data": data, "created_at": now}
        for sha, data in blobs.items()
        if sha not in have
    ]
    if rows:
        conn.execute(insert(s.blobs), rows)


def _record_artifacts(
    conn: Connection, artifacts: list[tuple[int, str, str, int, float]], ids: Mapping[int, int]
) -> None:
    """One row per (trial, name): a name logged again replaces its row (last wins)."""
    a = s.artifacts.c
    latest: dict[tuple[int, str], tuple[str, int, float]] = {}
    for number, name, sha, size, at in artifacts:
        latest[(ids[number], name)] = (sha, size, at)
    for (trial_id, name), _ in latest.items():
        conn.execute(delete(s.artifacts).where(a.trial_id == trial_id, a.name == name))
    conn.execute(
        insert(s.artifacts),
        [
            {"trial_id": tid, "name": name, "sha256": sha, "size": size, "created_at": at}
            for (tid, name), (sha, size, at) in latest.items()
        ],
    )


def _finish_row(f: Mapping[str, Any], ids: Mapping[int, int]) -> dict[str, Any]:
    row = {f"b_{k}": v for k, v in f.items() if k not in ("number", "seq")}
    row["b_id"] = ids[f["number"]]
    return row


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
