"""The export half of ``hpo export`` (format: :mod:`trackers._transfer`): a sweep written
trial by trial from ordered cursors, never held whole."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, select

from trackers import _codec
from trackers import _schema as s
from trackers._artifacts import locate
from trackers._store import Store
from trackers._transfer import (
    _SWEEP_COLUMNS,
    _SWEEP_JSON,
    _TRIAL_COLUMNS,
    _TRIAL_JSON,
    FORMAT,
    VERSION,
    TransferError,
    TransferSummary,
)

# --- export -------------------------------------------------------------------------------


def export_sweep(
    store: Store,
    ref: int | str,
    dest: str | os.PathLike[str] | IO[str],
    *,
    artifacts: bool = True,
) -> TransferSummary:
    """Write sweep ``ref`` (id or name) of ``store`` to ``dest``: a path (gzip when it ends in
    ``.gz``; written to a temporary name and renamed, so no half file is left), ``-`` for
    stdout, or an open text stream. ``artifacts=False`` leaves the artifacts' file contents
    out (their records stay)."""
    counts: dict[str, int] = {"artifacts": int(artifacts)}
    if not isinstance(dest, (str, os.PathLike)):
        return _write(store, ref, dest, counts)
    if str(dest) == "-":
        return _write(store, ref, sys.stdout, counts)
    path = Path(dest)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.name.endswith(".gz"):
            # mtime=0: the same sweep exports to the same bytes.
            with (
                open(partial, "wb") as raw,
                gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz,
                io.TextIOWrapper(gz, encoding="utf-8") as text,
            ):
                summary = _write(store, ref, text, counts)
        else:
            with open(partial, "w", encoding="utf-8") as text:
                summary = _write(store, ref, text, counts)
        os.replace(partial, path)
    except OSError as exc:
        raise TransferError(f"cannot write {dest}: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    return summary


def sweep_document(store: Store, ref: int | str, *, artifacts: bool = True) -> dict[str, Any]:
    """The export of sweep ``ref`` as a dict (what :func:`export_sweep` writes)."""
    buf = io.StringIO()
    _write(store, ref, buf, {"artifacts": int(artifacts)})
    return dict(json.loads(buf.getvalue()))


def _write(store: Store, ref: int | str, out: IO[str], counts: dict[str, int]) -> TransferSummary:
    sweep = store.get_sweep(ref)
    with store.session() as conn:
        row = conn.execute(select(s.sweeps).where(s.sweeps.c.id == sweep.id)).one()._mapping
        env_ids = {
            i
            for i in conn.execute(
                select(s.trials.c.environment_id).where(s.trials.c.sweep_id == sweep.id).distinct()
            ).scalars()
            if i is not None
        }
        if row["environment_id"] is not None:
            env_ids.add(row["environment_id"])
        hashes: dict[int, str] = {}
        envs: dict[str, Any] = {}
        if env_ids:
            for i, digest, data in conn.execute(
                select(s.environments.c.id, s.environments.c.hash, s.environments.c.data).where(
                    s.environments.c.id.in_(env_ids)
                )
            ):
                hashes[i] = digest
                envs[digest] = _codec.loads(data)
        head = {
            "format": FORMAT,
            "version": VERSION,
            "schema_version": s.SCHEMA_VERSION,
            "exported_at": time.time(),
            "hpo_version": _hpo_version(),
            "source_store": store.url,
            "sweep": {
                **{c: _load_if(c in _SWEEP_JSON, row[c]) for c in _SWEEP_COLUMNS},
                "environment": hashes.get(row["environment_id"]),
            },
            "environments": envs,
        }
        # Written by hand around the trials, so that no more than one trial is in memory.
        out.write(_codec.dumps(head)[:-1] + ',\n"trials":[')
        n_trials = n_points = 0
        logged = _artifact_rows(conn, sweep.id)
        series = _series(conn, sweep.id)
        pending = next(series, None)
        for trow in conn.execution_options(stream_results=True).execute(
            select(s.trials).where(s.trials.c.sweep_id == sweep.id).order_by(s.trials.c.id)
        ):
            t = trow._mapping
            points: list[list[Any]] = []
            while pending is not None and pending[0] == t["id"]:
                points.append(pending[1])
                pending = next(series, None)
            trial = {c: _load_if(c in _TRIAL_JSON, t[c]) for c in _TRIAL_COLUMNS}
            trial["environment"] = hashes.get(t["environment_id"])
            trial["metrics_series"] = points
            trial["artifacts"] = logged.get(t["id"], [])
            out.write(("\n" if n_trials == 0 else ",\n") + _codec.dumps(trial))
            n_trials += 1
            n_points += len(points)
        out.write('],\n"events":[')
        e = s.events.c
        for k, (number, at, kind, data) in enumerate(
            conn.execute(
                select(e.trial_number, e.time, e.kind, e.data)
                .where(e.sweep_id == sweep.id)
                .order_by(e.id)
            )
        ):
            event = {"trial": number, "time": at, "kind": kind, "data": _codec.loads(data)}
            out.write(("\n" if k == 0 else ",\n") + _codec.dumps(event))
        out.write('],\n"blobs":{')
        shas = sorted({sha for env in envs.values() for sha in _code_hashes(env)})
        n_blobs = 0
        for sha in shas:
            data = conn.execute(
                select(s.blobs.c.data).where(s.blobs.c.sha256 == sha)
            ).scalar_one_or_none()
            if data is not None:
                out.write(("\n" if n_blobs == 0 else ",\n") + _blob_item(sha, bytes(data)))
                n_blobs += 1
    # Artifact contents last, one at a time: they may be large.
    out.write('},\n"artifact_files":{')
    n_files = missing = 0
    contents = sorted({a[1] for rows in logged.values() for a in rows})
    if counts.get("artifacts", 1):
        roots = store.artifact_roots(sweep.id)  # once: it reads the sweep's events
        for sha in contents:
            found = locate(roots, sha)
            if found is None:
                missing += 1
                continue
            data = found.path_of(sha).read_bytes()
            out.write(("\n" if n_files == 0 else ",\n") + _blob_item(sha, data))
            n_files += 1
    out.write("}}\n")
    out.flush()
    n_records = sum(len(rows) for rows in logged.values())
    return TransferSummary(
        sweep.name, None, n_trials, n_points, len(envs), 0, n_records, n_files, missing, n_blobs
    )


def _artifact_rows(conn: Connection, sweep_id: int) -> dict[int, list[list[Any]]]:
    """Trial id -> [[name, sha256, size, created_at]] of the sweep's artifacts (few per
    trial: read at once)."""
    a, t = s.artifacts.c, s.trials.c
    out: dict[int, list[list[Any]]] = {}
    for trial_id, name, sha, size, at in conn.execute(
        select(a.trial_id, a.name, a.sha256, a.size, a.created_at)
        .join(s.trials, t.id == a.trial_id)
        .where(t.sweep_id == sweep_id)
        .order_by(a.trial_id, a.name)
    ):
        out.setdefault(trial_id, []).append([name, sha, size, at])
    return out


def _code_hashes(env: Mapping[str, Any]) -> list[str]:
    """The blob hashes an environment snapshot names (its diff and untracked files)."""
    git = env.get("git") if isinstance(env, Mapping) else None
    if not isinstance(git, Mapping):
        return []
    hashes = [git["diff_sha256"]] if git.get("diff_sha256") else []
    untracked = git.get("untracked")
    if isinstance(untracked, Mapping):
        hashes += [v for v in untracked.values() if isinstance(v, str)]
    return hashes


def _blob_item(sha: str, data: bytes) -> str:
    return json.dumps(sha) + ":" + json.dumps(base64.b64encode(data).decode("ascii"))


def _series(conn: Connection, sweep_id: int) -> Iterator[tuple[int, list[Any]]]:
    """Every metric point of the sweep as (trial id, [name, step, value, time]), ordered by
    trial id and then as reported: merged with the trials cursor, both stream."""
    m, t = s.metrics.c, s.trials.c
    q = (
        select(m.trial_id, m.name, m.step, m.value, m.kind, m.time)
        .join(s.trials, t.id == m.trial_id)
        .where(t.sweep_id == sweep_id)
        .order_by(m.trial_id, m.id)
    )
    for trial_id, name, step, value, kind, at in conn.execution_options(
        stream_results=True
    ).execute(q):
        yield trial_id, [name, step, _codec.float_to_json(_codec.join_float(value, kind)), at]


def _load_if(decode: bool, value: Any) -> Any:
    return _codec.loads(value) if decode else value


def _hpo_version() -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version("hpo")
    except importlib.metadata.PackageNotFoundError:
        return None
