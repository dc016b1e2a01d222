"""Turning a user's store location into a configured SQLAlchemy engine.

SQLite gets WAL mode (readers never block the writer, and a commit needs no fsync with
``synchronous=NORMAL`` while staying durable against a killed process), a busy timeout, foreign
keys, and ``BEGIN IMMEDIATE`` for write transactions so two writers queue on the lock instead of
failing with "database is locked" when a read transaction tries to upgrade.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

from trackers._errors import StoreError

#: The store used when neither the config, ``--store`` nor ``HPO_STORE`` names one.
DEFAULT_STORE = "hpo.db"
BUSY_TIMEOUT_MS = 30_000

WRITE_OPTION = "hpo_write"


def resolve_url(location: str | os.PathLike[str] | None) -> URL:
    """``None`` -> ``$HPO_STORE`` or ``./hpo.db``; a bare path -> a SQLite file URL; a URL as is."""
    if location is None:
        location = os.environ.get("HPO_STORE") or DEFAULT_STORE
    text = os.fspath(location)
    if "://" not in text:
        path = Path(text).expanduser()
        if path.is_dir():
            raise StoreError(
                f"store location {text!r} is a directory: give a file, e.g. {text}/hpo.db"
            )
        return make_url(f"sqlite:///{path.resolve()}")
    try:
        return make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"store URL {text!r} is not a valid database URL ({exc}); "
            "expected e.g. sqlite:///hpo.db or postgresql://user@host/dbname"
        ) from None


def make_engine(url: URL) -> Engine:
    """An engine for ``url`` with the project's SQLite settings applied."""
    is_sqlite = url.get_backend_name() == "sqlite"
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            # One shared connection, or every checkout would see a fresh empty database.
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            parent = Path(database).parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot create the store {database}: directory {parent} does not exist"
                )
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        raise StoreError(
            f"cannot use store URL {url.render_as_string(hide_password=True)!r}: {exc}"
        ) from None
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
