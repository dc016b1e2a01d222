"""Bringing a store's schema to the version this code reads, with Alembic.

A new store gets the current tables and is stamped at the newest revision. An older store is
upgraded in place (the migrations are additive). A store written by a newer hpo is refused
with a message, never half-read. Stores from before Alembic carry their version in
``hpo_meta.schema_version``; version 1 is revision ``0001``.
"""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.migration import MigrationContext, RevisionStep
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, inspect, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from trackers import _schema as s
from trackers._errors import StoreError

MIGRATIONS = Path(__file__).with_name("migrations")
#: Schema version -> Alembic revision.
REVISIONS = {1: "0001", 2: "0002", 3: "0003"}


def _script() -> tuple[Config, ScriptDirectory]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config, ScriptDirectory.from_config(config)


def ensure_schema(conn: Connection, url: str) -> None:
    """Create, upgrade, or refuse the schema of the store behind ``conn`` (in a transaction)."""
    config, script = _script()
    head = script.get_current_head()
    if head is None:
        raise StoreError(
            f"no schema migrations found in {MIGRATIONS}: the hpo installation is incomplete; "
            "reinstall hpo"
        )
    if conn.dialect.name == "postgresql":
        # Openers of a new store queue here, so exactly one creates (or upgrades) the schema;
        # the lock ends with this transaction.
        conn.execute(text("SELECT pg_advisory_xact_lock(7249101)"))
    if "sweeps" not in inspect(conn).get_table_names():
        s.metadata.create_all(conn)
        MigrationContext.configure(conn).stamp(script, "head")
        _set_version(conn, insert=True)
        return
    revision = MigrationContext.configure(conn).get_current_revision()
    if revision is None:
        version = conn.execute(
            select(s.meta.c.value).where(s.meta.c.key == "schema_version")
        ).scalar_one_or_none()
        revision = REVISIONS.get(int(version)) if version and version.isdigit() else None
        if revision is None:
            raise StoreError(
                f"store {url} has tables but no schema version hpo knows ({version!r}): "
                "it was not written by hpo, or is damaged; use another store"
            )
        MigrationContext.configure(conn).stamp(script, revision)
    if revision == head:
        return
    try:
        script.get_revision(revision)
    except Exception:
        raise StoreError(
            f"store {url} has schema revision {revision}, newer than this hpo reads "
            f"({head}): upgrade hpo (pip install -U hpo), or use another store"
        ) from None

    def upgrade(rev: str, context: MigrationContext) -> list[RevisionStep]:
        return script._upgrade_revs(head, rev)

    with EnvironmentContext(config, script, fn=upgrade, destination_rev=head) as env:
        env.configure(connection=conn, target_metadata=s.metadata)
        env.run_migrations()
    _set_version(conn, insert=False)


def _set_version(conn: Connection, *, insert: bool) -> None:
    value = str(s.SCHEMA_VERSION)
    if insert:
        dialect = conn.dialect.name
        table = (postgresql if dialect == "postgresql" else sqlite).insert(s.meta)
        conn.execute(
            table.values(key="schema_version", value=value).on_conflict_do_update(
                index_elements=["key"], set_={"value": value}
            )
            if dialect in ("postgresql", "sqlite")
            else s.meta.insert().values(key="schema_version", value=value)
        )
    else:
        conn.execute(update(s.meta).where(s.meta.c.key == "schema_version").values(value=value))
