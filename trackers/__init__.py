"""hpo's tracking store: sweeps, trials, params, metric series, environments and an event log
in one SQLAlchemy database (SQLite by default, PostgreSQL for teams)."""

from trackers._artifacts import (
    ARTIFACTS_ENV,
    ArtifactError,
    ArtifactRecord,
    ArtifactRef,
    ArtifactStore,
    default_artifact_root,
)
from trackers._batch import WriteBatch
from trackers._connect import DEFAULT_STORE
from trackers._environment import (
    Snapshot,
    capture_environment,
    diff_environments,
    environment_hash,
)
from trackers._errors import NotFoundError, StoreError
from trackers._export import export_sweep, sweep_document
from trackers._git import resolve_code
from trackers._import import import_sweep, read_document
from trackers._inputs import InputsError, hash_inputs
from trackers._records import MetricPoint, SweepRecord, SweepSummary, TrialRecord
from trackers._schema import SCHEMA_VERSION
from trackers._states import EventKind, Goal, SweepState, TrialState
from trackers._store import Store
from trackers._transfer import TransferError, TransferSummary

__all__ = [
    "ARTIFACTS_ENV",
    "DEFAULT_STORE",
    "SCHEMA_VERSION",
    "ArtifactError",
    "ArtifactRecord",
    "ArtifactRef",
    "ArtifactStore",
    "EventKind",
    "Goal",
    "InputsError",
    "MetricPoint",
    "NotFoundError",
    "Snapshot",
    "Store",
    "StoreError",
    "SweepRecord",
    "SweepState",
    "SweepSummary",
    "TransferError",
    "TransferSummary",
    "TrialRecord",
    "TrialState",
    "WriteBatch",
    "capture_environment",
    "default_artifact_root",
    "diff_environments",
    "environment_hash",
    "export_sweep",
    "hash_inputs",
    "import_sweep",
    "read_document",
    "resolve_code",
    "sweep_document",
]
