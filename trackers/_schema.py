"""The store's tables (SQLAlchemy Core).

Times are unix seconds as floats: cheap to write, timezone-free, and durations are a
subtraction. JSON columns hold text written by ``trackers._codec`` (never pickle), so any
SQL client can read them. Metric values keep non-finite floats explicitly in ``kind``
because SQLite stores NaN as NULL.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: Bumped whenever a table changes; a store of another version is upgraded or refused.
SCHEMA_VERSION = 4

metadata = MetaData()

meta = Table(
    "hpo_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("data", Text, nullable=False),
)

sweeps = Table(
    "sweeps",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("metric", Text, nullable=False),
    Column("goal", String(8), nullable=False),
    Column("strategy", String(64), nullable=False),
    Column("strategy_options", Text, nullable=False),
    Column("space", Text, nullable=False),
    Column("config", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("executor", String(32), nullable=False),
    Column("budget", Integer),
    Column("seed", BigInteger),
    Column("source", Text),
    Column("environment_id", Integer, ForeignKey("environments.id")),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    # The live driver proves it is alive by moving heartbeat_at; "host:pid" says who it is.
    Column("heartbeat_at", Float),
    Column("driver", String(255)),
)

trials = Table(
    "trials",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("state", String(16), nullable=False),
    Column("params", Text, nullable=False),
    # The sweep metric's final value: finite whenever state is completed, else NULL.
    Column("value", Float),
    Column("metrics", Text),
    Column("budget", Float),
    Column("seed", BigInteger),
    Column("host", String(255)),
    Column("environment_id", Integer, ForeignKey("environments.id")),
    Column("queued_at", Float, nullable=False),
    Column("started_at", Float),
    Column("ended_at", Float),
    Column("duration", Float),
    Column("error", Text),
    Column("traceback", Text),
    # A rerun (of an interrupted trial on resume, or a retry of a failed one) names the
    # number of the trial it repeats, with the same params and seed.
    Column("rerun_of", Integer),
    # The last step the trial reported: where a pruned trial stopped.
    Column("step", Integer),
    UniqueConstraint("sweep_id", "number", name="uq_trials_sweep_number"),
    # Ranking a sweep's completed trials by value is the hottest read: serve it by index.
    Index("ix_trials_sweep_state_value", "sweep_id", "state", "value"),
)

params = Table(
    "params",
    metadata,
    Column("trial_id", Integer, ForeignKey("trials.id", ondelete="CASCADE"), primary_key=True),
    Column("name", Text, primary_key=True),
    Column("value", Text, nullable=False),  # JSON
    Column("value_num", Float),  # the value when numeric, for filters and sorting
    Index("ix_params_name_num", "name", "value_num"),
)

metrics = Table(
    "metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trial_id", Integer, ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("step", Integer),
    Column("value", Float),
    Column("kind", SmallInteger, nullable=False),  # trackers._codec.FloatKind
    Column("time", Float, nullable=False),
    Index("ix_metrics_trial_name_step", "trial_id", "name", "step"),
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("sweep_id", Integer, ForeignKey("sweeps.id", ondelete="CASCADE"), nullable=False),
    Column("trial_number", Integer),
    Column("time", Float, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("data", Text),
    Index("ix_events_sweep", "sweep_id", "id"),
)

# One row per (trial, name): which content a trial logged under that name. The content itself
# lives in the artifact folder beside the store (trackers._artifacts), found by sha256.
artifacts = Table(
    "artifacts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("trial_id", Integer, ForeignKey("trials.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("trial_id", "name", name="uq_artifacts_trial_name"),
    Index("ix_artifacts_sha256", "sha256"),
)

# Content stored in the database itself, once per sha256: the git dirty diff and untracked
# source files an environment snapshot names by hash. In the database (not the artifact
# folder) so that they travel with the store, its exports and a server store without a
# shared disk; they are capped small (trackers._environment).
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)
