"""Reads from the store: sweeps, trials, series, environments, artifacts and blobs.

Listings aggregate in SQL (counts and best values by GROUP BY, rankings by the
(sweep, state, value) index) so that they stay fast on stores of hundreds of thousands of
trials: no full-table loads where a query will do.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, select

from trackers import _codec
from trackers import _schema as s
from trackers._artifacts import ArtifactRecord
from trackers._errors import NotFoundError
from trackers._records import MetricPoint, SweepRecord, SweepSummary, TrialRecord
from trackers._states import EventKind, Goal, TrialState


class StoreReads:
    """Read methods of :class:`trackers.Store` (kept apart from the write path)."""

    url: str

    def session(self, *, write: bool = False) -> AbstractContextManager[Connection]:
        raise NotImplementedError  # provided by Store

    # --- sweeps ---------------------------------------------------------------------------

    def get_sweep(self, ref: int | str) -> SweepRecord:
        """The sweep with this id or name."""
        with self.session() as conn:
            row = None
            if isinstance(ref, int) or str(ref).isdigit():
                row = conn.execute(select(s.sweeps).where(s.sweeps.c.id == int(ref))).first()
            if row is None:
                row = conn.execute(select(s.sweeps).where(s.sweeps.c.name == str(ref))).first()
            if row is None:
                names = list(conn.execute(select(s.sweeps.c.name)).scalars())
        if row is None:
            hint = difflib.get_close_matches(str(ref), names, n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise NotFoundError(
                f"no sweep {str(ref)!r} in store {self.url}{extra}; `hpo ls` lists the sweeps"
            )
        return SweepRecord.from_row(row)

    def find_sweep(self, name: str) -> SweepRecord | None:
        """The sweep named ``name``, or None."""
        with self.session() as conn:
            row = conn.execute(select(s.sweeps).where(s.sweeps.c.name == name)).first()
        return None if row is None else SweepRecord.from_row(row)

    def list_sweeps(self) -> list[SweepSummary]:
        """Every sweep, newest first, with trial counts per state and the best value."""
        t = s.trials
        with self.session() as conn:
            sweeps = [
                SweepRecord.from_row(r)
                for r in conn.execute(select(s.sweeps).order_by(s.sweeps.c.id.desc()))
            ]
            counts: dict[int, dict[TrialState, int]] = {}
            for sweep_id, state, n in conn.execute(
                select(t.c.sweep_id, t.c.state, func.count()).group_by(t.c.sweep_id, t.c.state)
            ):
                counts.setdefault(sweep_id, {})[TrialState(state)] = n
            best = {
                sweep_id: (lo, hi)
                for sweep_id, lo, hi in conn.execute(
                    select(t.c.sweep_id, func.min(t.c.value), func.max(t.c.value))
                    .where(t.c.state == TrialState.COMPLETED.value)
                    .group_by(t.c.sweep_id)
                )
            }
        out = []
        for sw in sweeps:
            lo, hi = best.get(sw.id, (None, None))
            out.append(
                SweepSummary(
                    sweep=sw,
                    counts=counts.get(sw.id, {}),
                    best_value=lo if sw.goal is Goal.MINIMIZE else hi,
                )
            )
        return out

    def counts(self, sweep_id: int) -> dict[TrialState, int]:
        t = s.trials
        with self.session() as conn:
            return {
                TrialState(state): n
                for state, n in conn.execute(
                    select(t.c.state, func.count())
                    .where(t.c.sweep_id == sweep_id)
                    .group_by(t.c.state)
                )
            }

    # --- trials ---------------------------------------------------------------------------

    def trials(
        self,
        sweep_id: int,
        *,
        states: Collection[TrialState] | None = None,
        ranked: bool = False,
        limit: int | None = None,
    ) -> list[TrialRecord]:
        """A sweep's trials, by number; with ``ranked``, completed trials first from best to
        worst (by the sweep's goal), then the rest by number."""
        t = s.trials
        if not ranked:
            q = select(t).where(t.c.sweep_id == sweep_id).order_by(t.c.number)
            if states is not None:
                q = q.where(t.c.state.in_([st.value for st in states]))
            if limit is not None:
                q = q.limit(limit)
            with self.session() as conn:
                return [TrialRecord.from_row(r) for r in conn.execute(q)]
        goal = self.get_sweep(sweep_id).goal
        wanted = set(states) if states is not None else None
        out: list[TrialRecord] = []
        with self.session() as conn:
            if wanted is None or TrialState.COMPLETED in wanted:
                order = t.c.value.asc() if goal is Goal.MINIMIZE else t.c.value.desc()
                q = (
                    select(t)
                    .where(t.c.sweep_id == sweep_id, t.c.state == TrialState.COMPLETED.value)
                    .order_by(order, t.c.number)
                )
                if limit is not None:
                    q = q.limit(limit)
                out.extend(TrialRecord.from_row(r) for r in conn.execute(q))
            if limit is None or len(out) < limit:
                rest = [st.value for st in (wanted or TrialState) if st is not TrialState.COMPLETED]
                q = (
                    select(t)
                    .where(t.c.sweep_id == sweep_id, t.c.state.in_(rest))
                    .order_by(t.c.number)
                )
                if limit is not None:
                    q = q.limit(limit - len(out))
                out.extend(TrialRecord.from_row(r) for r in conn.execute(q))
        return out

    def get_trial(self, ref: int | str) -> TrialRecord:
        """A trial by its id (``42``) or by sweep and number (``quadratic:7``, ``quadratic/7``)."""
        text = str(ref).strip()
        cond: ColumnElement[bool]
        for sep in (":", "/", "#"):
            if sep in text:
                sweep_ref, _, number = text.rpartition(sep)
                if not number.isdigit():
                    raise NotFoundError(
                        f"trial {text!r}: expected SWEEP{sep}NUMBER with a whole number"
                    )
                sweep = self.get_sweep(sweep_ref)
                cond = (s.trials.c.sweep_id == sweep.id) & (s.trials.c.number == int(number))
                break
        else:
            if not text.isdigit():
                raise NotFoundError(
                    f"trial {text!r}: give a trial id (e.g. 42) or SWEEP:NUMBER (e.g. quadratic:7)"
                )
            cond = s.trials.c.id == int(text)
        with self.session() as conn:
            row = conn.execute(select(s.trials).where(cond)).first()
        if row is None:
            raise NotFoundError(f"no trial {text!r} in store {self.url}")
        return TrialRecord.from_row(row)

    def metric_series(self, trial_id: int) -> dict[str, list[MetricPoint]]:
        """Every reported metric of a trial as a step series, in report order."""
        m = s.metrics
        out: dict[str, list[MetricPoint]] = {}
        with self.session() as conn:
            for name, step, value, kind, at in conn.execute(
                select(m.c.name, m.c.step, m.c.value, m.c.kind, m.c.time)
                .where(m.c.trial_id == trial_id)
                .order_by(m.c.id)
            ):
                out.setdefault(name, []).append(
                    MetricPoint(step=step, value=_codec.join_float(value, kind), time=at)
                )
        return out

    def sweep_series(self, sweep_id: int, name: str) -> dict[int, list[tuple[int, float]]]:
        """Metric ``name`` as every trial of the sweep reported it with a step: trial number ->
        [(step, value)] in report order. What early-stopping rules are rebuilt from."""
        m, t = s.metrics, s.trials
        out: dict[int, list[tuple[int, float]]] = {}
        with self.session() as conn:
            for number, step, value, kind in conn.execute(
                select(t.c.number, m.c.step, m.c.value, m.c.kind)
                .join(t, t.c.id == m.c.trial_id)
                .where(t.c.sweep_id == sweep_id, m.c.name == name, m.c.step.is_not(None))
                .order_by(m.c.id)
            ):
                out.setdefault(number, []).append((step, _codec.join_float(value, kind)))
        return out

    def legs(self, sweep_id: int) -> list[dict[str, Any]]:
        """The ends of trials' runs that a multi-fidelity strategy decides on, oldest first:
        ``{"trial", "state", "budget", "value"}`` from the event log (a paused or finished
        run with a budget). What multi-fidelity strategies' rungs are rebuilt from."""
        e = s.events
        kinds = [EventKind.TRIAL_PAUSED.value, EventKind.TRIAL_FINISHED.value]
        out: list[dict[str, Any]] = []
        with self.session() as conn:
            for number, data in conn.execute(
                select(e.c.trial_number, e.c.data)
                .where(e.c.sweep_id == sweep_id, e.c.kind.in_(kinds))
                .order_by(e.c.id)
            ):
                d = _codec.loads(data) or {}
                if "budget" not in d:
                    continue
                value = d.get("value")
                out.append(
                    {
                        "trial": number,
                        "state": TrialState(d["state"]),
                        "budget": d["budget"],
                        "value": None if value is None else float(value),
                    }
                )
        return out

    def get_environment(self, environment_id: int) -> dict[str, Any]:
        with self.session() as conn:
            data = conn.execute(
                select(s.environments.c.data).where(s.environments.c.id == environment_id)
            ).scalar_one_or_none()
        if data is None:
            raise NotFoundError(f"no environment {environment_id} in store {self.url}")
        return dict(_codec.loads(data))

    def events(self, sweep_id: int) -> Iterator[dict[str, Any]]:
        """The sweep's event log, oldest first."""
        e = s.events
        with self.session() as conn:
            rows = conn.execute(
                select(e.c.time, e.c.kind, e.c.trial_number, e.c.data)
                .where(e.c.sweep_id == sweep_id)
                .order_by(e.c.id)
            ).all()
        for at, kind, number, data in rows:
            yield {"time": at, "kind": kind, "trial": number, "data": _codec.loads(data)}

    # --- artifacts and blobs ----------------------------------------------------------------

    def artifacts(self, trial_id: int) -> list[ArtifactRecord]:
        """The artifacts trial ``trial_id`` logged, by name."""
        a = s.artifacts.c
        with self.session() as conn:
            rows = conn.execute(
                select(a.trial_id, a.name, a.sha256, a.size, a.created_at)
                .where(a.trial_id == trial_id)
                .order_by(a.name)
            ).all()
        return [ArtifactRecord(*r) for r in rows]

    def get_blob(self, sha256: str) -> bytes | None:
        """The content stored under ``sha256`` in the blobs table, or None."""
        b = s.blobs.c
        with self.session() as conn:
            data = conn.execute(select(b.data).where(b.sha256 == sha256)).scalar_one_or_none()
        return None if data is None else bytes(data)

    def recorded_artifact_roots(self, sweep_id: int) -> list[str]:
        """The artifact folders the sweep's drivers wrote to (newest first), as each recorded
        in its ``sweep_started`` event."""
        e = s.events.c
        roots: list[str] = []
        with self.session() as conn:
            for data in conn.execute(
                select(e.data)
                .where(e.sweep_id == sweep_id, e.kind == EventKind.SWEEP_STARTED.value)
                .order_by(e.id.desc())
            ).scalars():
                root = (_codec.loads(data) or {}).get("artifacts")
                if isinstance(root, str) and root not in roots:
                    roots.append(root)
        return roots
