"""A sweep to one portable file and back into another store (``hpo export`` / ``hpo import``).

The file is one JSON document (gzip-compressed when its name ends in ``.gz``)::

    {"format": "hpo-sweep", "version": 1, "schema_version": 3, "exported_at": ...,
     "hpo_version": ..., "source_store": URL, "sweep": {every column but ids},
     "environments": {hash: snapshot}, "trials": [{columns, "environment": hash,
     "metrics_series": [[name, step, value, time], ...],
     "artifacts": [[name, sha256, size, created_at], ...]}], "events": [...],
     "blobs": {sha256: base64}, "artifact_files": {sha256: base64}}

``blobs`` holds the code content the environments name by hash (dirty diff, untracked files);
``artifact_files`` the content of the trials' artifacts (left out with ``artifacts=False``,
``hpo export --no-artifacts``: the records still travel). An import checks every hash and
writes the files into the target store's artifact folder. Both keys are optional (files
from before schema 4 have neither).

JSON columns of the store travel decoded (they are strict JSON written by ``_codec``);
non-finite metric values are the strings "nan", "inf", "-inf", as in the store's JSON. The
export is written trial by trial from two ordered cursors, so it never holds a whole sweep;
an import is one transaction: a bad file leaves the target store as it was. Never pickle.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Connection, insert, select

from search_spaces._errors import HPOError
from trackers import _codec
from trackers import _schema as s
from trackers._artifacts import ArtifactStore
from trackers._environment import environment_hash
from trackers._errors import StoreError
from trackers._states import EventKind, Goal, SweepState, TrialState
from trackers._store import Store, _numeric, _put_blobs

FORMAT = "hpo-sweep"
#: The file format's version; bumped when a reader of an older one could not read it.
VERSION = 1
_CHUNK = 1000  # rows per INSERT: bounded memory and few round trips
_GZIP_MAGIC = b"\x1f\x8b"
_SWEEP_JSON = ("strategy_options", "space", "config")
_SWEEP_COLUMNS = [c.name for c in s.sweeps.columns if c.name not in ("id", "environment_id")]
_TRIAL_JSON = ("params", "metrics")
_TRIAL_COLUMNS = [
    c.name for c in s.trials.columns if c.name not in ("id", "sweep_id", "environment_id")
]


class TransferError(StoreError):
    """A sweep file could not be read or imported: the message names the file and what is
    wrong with it."""


@dataclass(frozen=True, slots=True)
class TransferSummary:
    """What an export wrote or an import added."""

    name: str  # the sweep's name (in the target store, for an import)
    sweep_id: int | None  # the new sweep's id (import only)
    trials: int
    metric_points: int
    environments: int  # distinct environments in the file
    new_environments: int  # of those, how many the target store did not have (import only)
    artifacts: int = 0  # artifact records
    artifact_files: int = 0  # distinct artifact contents carried (export) or written (import)
    missing_files: int = 0  # artifact contents not found in any artifact folder (export)
    blobs: int = 0  # code blobs (dirty diffs, untracked files) carried


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
        for sha in contents:
            where = store.locate_artifact(sweep.id, sha)
            if where is None:
                missing += 1
                continue
            with open(where, "rb") as f:
                data = f.read()
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


# --- import -------------------------------------------------------------------------------


def read_document(source: str | os.PathLike[str] | IO[bytes]) -> dict[str, Any]:
    """Parse a sweep file (gzip or not, whatever its name; ``-`` for stdin) and check its
    header. Raises :class:`TransferError` naming the file."""
    label = _label(source)
    try:
        if isinstance(source, (str, os.PathLike)) and str(source) != "-":
            with open(source, "rb") as f:
                raw = f.read()
        else:
            stream = sys.stdin.buffer if not isinstance(source, io.IOBase) else source
            raw = stream.read()  # type: ignore[union-attr]
        if raw[:2] == _GZIP_MAGIC:
            raw = gzip.decompress(raw)
        doc = json.loads(raw)
    except OSError as exc:
        raise TransferError(f"cannot read {label}: {exc.strerror or exc}") from None
    except (EOFError, gzip.BadGzipFile) as exc:
        raise TransferError(f"{label} is a damaged gzip file ({exc})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TransferError(
            f"{label} is not JSON ({exc}): give a file written by `hpo export`"
        ) from None
    return _checked(doc, label)


def _checked(doc: Any, label: str) -> dict[str, Any]:
    """``doc`` if its header is one this hpo reads, else a TransferError naming the file."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else type(doc).__name__
        raise TransferError(
            f"{label} is not an hpo sweep file (format {found!r}, expected {FORMAT!r}): "
            "give a file written by `hpo export`"
        )
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise TransferError(f"{label}: version {version!r} is not a positive whole number")
    if version > VERSION:
        raise TransferError(
            f"{label} has format version {version}, newer than this hpo reads ({VERSION}): "
            "upgrade hpo to import it"
        )
    for key, kind in (("sweep", dict), ("environments", dict), ("trials", list)):
        if not isinstance(doc.get(key), kind):
            raise TransferError(f"{label}: {key!r} is missing or not a JSON {kind.__name__}")
    return doc


def import_sweep(
    store: Store,
    source: str | os.PathLike[str] | IO[bytes] | Mapping[str, Any],
    *,
    name: str | None = None,
) -> TransferSummary:
    """Add the sweep in ``source`` (a file, ``-`` for stdin, a stream, or a dict from
    :func:`sweep_document`) to ``store`` as a new sweep, in one transaction. Its name is
    ``name`` if given (an error if taken), else the original, or the first free ``name-2``...
    An event ``sweep_imported`` records the file and the store it came from."""
    label = _label(source)
    doc = _checked(dict(source), label) if isinstance(source, Mapping) else read_document(source)
    sweep = doc["sweep"]
    if name is None:
        base = sweep.get("name")
        if not isinstance(base, str) or not base:
            raise TransferError(f"{label}: sweep.name is missing or not a string")
        name = store.available_name(base)
    elif store.find_sweep(name) is not None:
        raise TransferError(
            f"store {store.url} already has a sweep named {name!r}: give --name another name"
        )
    blobs = _decoded(doc.get("blobs"), "blobs", label)
    files = _decoded(doc.get("artifact_files"), "artifact_files", label)
    # Files first: content-addressed, so a failed import leaves only unreferenced copies.
    written = _write_files(store, files, label)
    try:
        with store.session(write=True) as conn:
            _put_blobs(conn, blobs)
            summary = _insert(conn, doc, name, label)
            return replace(summary, artifact_files=written, blobs=len(blobs))
    except TransferError:
        raise
    except StoreError as exc:  # e.g. two trials with one number: the database refused it
        raise TransferError(f"{label}: nothing imported: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise TransferError(f"{label}: malformed sweep file: {_why(exc)}") from None


def _insert(conn: Connection, doc: Mapping[str, Any], name: str, label: str) -> TransferSummary:
    envs, new_envs = _environments(conn, doc["environments"], label)
    sw = doc["sweep"]
    row = {c: sw.get(c) for c in _SWEEP_COLUMNS}
    for c in ("state", "metric", "goal", "strategy", "objective", "executor", "created_at"):
        if row[c] is None:
            raise KeyError(f"sweep.{c}")
    SweepState(row["state"])
    Goal(row["goal"])
    for c in _SWEEP_JSON:
        row[c] = _codec.dumps(row[c] if row[c] is not None else {})
    row["updated_at"] = row["updated_at"] if row["updated_at"] is not None else row["created_at"]
    row.update(name=name, environment_id=_env_id(envs, sw.get("environment"), "sweep"))
    sweep_id = int(conn.execute(insert(s.sweeps).values(row).returning(s.sweeps.c.id)).scalar())
    n_trials = n_points = n_artifacts = 0
    trials = doc["trials"]
    for start in range(0, len(trials), _CHUNK):
        chunk = trials[start : start + _CHUNK]
        rows = [_trial_row(t, sweep_id, envs, start + k) for k, t in enumerate(chunk)]
        ids = {
            n: i
            for i, n in conn.execute(
                insert(s.trials).returning(
                    s.trials.c.id, s.trials.c.number, sort_by_parameter_order=True
                ),
                rows,
            )
        }
        params = [
            {
                "trial_id": ids[r["number"]],
                "name": k,
                "value": _codec.dumps(v),
                "value_num": _numeric(v),
            }
            for r, t in zip(rows, chunk, strict=True)
            for k, v in (t["params"] or {}).items()
        ]
        points = [
            _point(ids[r["number"]], p)
            for r, t in zip(rows, chunk, strict=True)
            for p in t.get("metrics_series") or ()
        ]
        if params:
            conn.execute(insert(s.params), params)
        for at in range(0, len(points), _CHUNK * 10):
            conn.execute(insert(s.metrics), points[at : at + _CHUNK * 10])
        logged = [
            {
                "trial_id": ids[r["number"]],
                "name": str(a[0]),
                "sha256": str(a[1]),
                "size": int(a[2]),
                "created_at": float(a[3]),
            }
            for r, t in zip(rows, chunk, strict=True)
            for a in t.get("artifacts") or ()
        ]
        if logged:
            conn.execute(insert(s.artifacts), logged)
        n_artifacts += len(logged)
        n_trials += len(rows)
        n_points += len(points)
    events = [
        {
            "sweep_id": sweep_id,
            "trial_number": e.get("trial"),
            "time": float(e["time"]),
            "kind": str(e["kind"]),
            "data": None if e.get("data") is None else _codec.dumps(e["data"]),
        }
        for e in doc.get("events") or ()
    ]
    events.append(
        {
            "sweep_id": sweep_id,
            "trial_number": None,
            "time": time.time(),
            "kind": EventKind.SWEEP_IMPORTED.value,
            "data": _codec.dumps(
                {
                    "file": os.path.basename(label),
                    "store": doc.get("source_store"),
                    "name": sw.get("name"),
                    "exported_at": doc.get("exported_at"),
                    "hpo_version": doc.get("hpo_version"),
                }
            ),
        }
    )
    for at in range(0, len(events), _CHUNK * 10):
        conn.execute(insert(s.events), events[at : at + _CHUNK * 10])
    return TransferSummary(name, sweep_id, n_trials, n_points, len(envs), new_envs, n_artifacts)


def _decoded(data: Any, key: str, label: str) -> dict[str, bytes]:
    """``{sha256: base64}`` of the file decoded, each content checked against its hash."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise TransferError(f"{label}: {key!r} is not a JSON object")
    out: dict[str, bytes] = {}
    for sha, text in data.items():
        try:
            content = base64.b64decode(str(text), validate=True)
        except ValueError:
            raise TransferError(f"{label}: {key}[{sha[:12]}...] is not base64") from None
        if hashlib.sha256(content).hexdigest() != sha:
            raise TransferError(
                f"{label}: {key}[{sha[:12]}...] does not match its hash: the file was changed "
                "after export; export it again"
            )
        out[sha] = content
    return out


def _write_files(store: Store, files: Mapping[str, bytes], label: str) -> int:
    """Put artifact contents into the store's artifact folder; returns how many."""
    if not files:
        return 0
    folder = ArtifactStore(store.artifact_root)
    try:
        for data in files.values():
            folder.put_bytes(data)
    except StoreError:
        raise
    except HPOError as exc:
        raise TransferError(f"{label}: nothing imported: {exc}") from None
    return len(files)


def _environments(
    conn: Connection, data: Mapping[str, Any], label: str
) -> tuple[dict[str, int], int]:
    """Each environment of the file by hash -> its id in the target store, inserting the
    ones it lacks (deduplicated by content hash, as ``Store.add_environment`` does)."""
    out: dict[str, int] = {}
    new = 0
    for digest, snapshot in data.items():
        if not isinstance(snapshot, dict) or environment_hash(snapshot) != digest:
            raise TransferError(
                f"{label}: environment {digest[:12]}... does not match its hash: the file was "
                "changed after export; export it again"
            )
        e = s.environments.c
        found = conn.execute(select(e.id).where(e.hash == digest)).scalar_one_or_none()
        if found is None:
            found = conn.execute(
                insert(s.environments)
                .values(hash=digest, created_at=time.time(), data=_codec.dumps(snapshot))
                .returning(e.id)
            ).scalar_one()
            new += 1
        out[digest] = int(found)
    return out, new


def _env_id(envs: Mapping[str, int], digest: Any, where: str) -> int | None:
    if digest is None:
        return None
    if digest not in envs:
        raise ValueError(f"{where} names environment {str(digest)[:12]}... not in 'environments'")
    return envs[digest]


def _trial_row(t: Mapping[str, Any], sweep_id: int, envs: Mapping[str, int], k: int) -> dict:
    if not isinstance(t, dict):
        raise TypeError(f"trials[{k}] is not a JSON object")
    for c in ("number", "state", "params", "queued_at"):
        if t.get(c) is None:
            raise KeyError(f"trials[{k}].{c}")
    TrialState(t["state"])
    row = {c: t.get(c) for c in _TRIAL_COLUMNS}
    row["params"] = _codec.dumps(t["params"])
    row["metrics"] = None if t.get("metrics") is None else _codec.dumps(t["metrics"])
    row["sweep_id"] = sweep_id
    row["environment_id"] = _env_id(envs, t.get("environment"), f"trials[{k}]")
    return row


def _point(trial_id: int, p: Any) -> dict[str, Any]:
    name, step, value, at = p
    v, kind = _codec.split_float(
        _codec._NONFINITE_TEXT[value] if isinstance(value, str) else float(value)
    )
    return {
        "trial_id": trial_id,
        "name": name,
        "step": step,
        "value": v,
        "kind": int(kind),
        "time": at,
    }


def _label(source: Any) -> str:
    if isinstance(source, Mapping):
        return "<dict>"
    if isinstance(source, (str, os.PathLike)):
        return "<stdin>" if str(source) == "-" else os.fspath(source)
    return str(getattr(source, "name", "<stream>"))


def _why(exc: BaseException) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]}"
    return str(exc)
