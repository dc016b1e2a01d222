"""The store: one SQLAlchemy database holding sweeps, trials, metrics and environments.

Every access goes through :meth:`Store.session`, which commits or rolls back and turns driver
errors into :class:`StoreError` naming the store. One writer per sweep (the driver) writes
through :meth:`Store.write`; any number of readers may share the store.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from trackers import _codec
from trackers import _schema as s
from trackers._batch import WriteBatch
from trackers._connect import WRITE_OPTION, make_engine, resolve_url
from trackers._environment import environment_hash
from trackers._errors import StoreError
from trackers._reads import StoreReads
from trackers._states import EventKind, Goal, SweepState

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
    )
)
_INSERT_TRIALS = insert(s.trials).returning(
    s.trials.c.id, s.trials.c.number, sort_by_parameter_order=True
)


class Store(StoreReads):
    """A tracking store at ``location``: a SQLAlchemy URL, a path to a SQLite file, or None
    for ``$HPO_STORE`` or ``./hpo.db``. Tables are created on first use."""

    def __init__(self, location: str | os.PathLike[str] | None = None) -> None:
        url = resolve_url(location)
        self.url = url.render_as_string(hide_password=True)
        self._engine = make_engine(url)
        self._init_schema()

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

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
            detail = getattr(exc, "orig", None) or exc
            raise StoreError(f"store {self.url}: {detail}") from exc

    def _init_schema(self) -> None:
        with self.session(write=True) as conn:
            s.metadata.create_all(conn, checkfirst=True)
            found = conn.execute(
                select(s.meta.c.value).where(s.meta.c.key == "schema_version")
            ).scalar_one_or_none()
            if found is None:
                conn.execute(
                    insert(s.meta).values(key="schema_version", value=str(s.SCHEMA_VERSION))
                )
            elif int(found) != s.SCHEMA_VERSION:
                raise StoreError(
                    f"store {self.url} has schema version {found}, this hpo reads version "
                    f"{s.SCHEMA_VERSION}: upgrade hpo, or use another store"
                )

    # --- writes -------------------------------------------------------------------------

    def add_environment(self, snapshot: Mapping[str, Any]) -> int:
        """Store an environment snapshot once (deduplicated by content); returns its id."""
        digest = environment_hash(snapshot)
        with self.session(write=True) as conn:
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
    ) -> int:
        """Record a new sweep (state RUNNING); returns its id. Names are unique."""
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

    def write(self, batch: WriteBatch) -> None:
        """Write ``batch`` in one transaction and fill ``batch.trial_ids`` for its new trials.
        The batch is left as it was if the write fails, so it can be tried again."""
        if not batch:
            return
        ids = batch.trial_ids
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
                ids.update(new_ids)
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
            if batch.finished:
                conn.execute(
                    _FINISH,
                    [
                        {f"b_{k}": v for k, v in f.items() if k != "number"}
                        | {"b_id": ids[f["number"]]}
                        for f in batch.finished
                    ],
                )
            if batch.events:
                conn.execute(insert(s.events), batch.events)
        batch.clear()


def _numeric(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
