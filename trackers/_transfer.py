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

This module holds the format (its name, version, columns) and the result; the two halves are
:mod:`trackers._export` and :mod:`trackers._import`.
"""

from __future__ import annotations

from dataclasses import dataclass

from trackers import _schema as s
from trackers._errors import StoreError

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
