"""The import half of ``hpo import`` (format: :mod:`trackers._transfer`): one transaction,
every hash checked, a bad file leaves the target store as it was."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import replace
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
from trackers._transfer import (
    _CHUNK,
    _GZIP_MAGIC,
    _SWEEP_COLUMNS,
    _SWEEP_JSON,
    _TRIAL_COLUMNS,
    FORMAT,
    VERSION,
    TransferError,
    TransferSummary,
)

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
            raw = stream.read()
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
    label: str | None = None,
) -> TransferSummary:
    """Add the sweep in ``source`` (a file, ``-`` for stdin, a stream, or a dict from
    :func:`~trackers._export.sweep_document`) to ``store`` as a new sweep, in one transaction.
    Its name is ``name`` if given (an error if taken), else the original, or the first free
    ``name-2``...
    An event ``sweep_imported`` records the file and the store it came from. ``label`` names
    the source in messages and that event (default: the file's path, ``<stdin>``...): give it
    with a dict already read by :func:`read_document`."""
    label = label or _label(source)
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
    sweep_id = conn.execute(insert(s.sweeps).values(row).returning(s.sweeps.c.id)).scalar_one()
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
