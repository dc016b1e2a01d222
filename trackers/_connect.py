"""Turning a user's store location into a configured SQLAlchemy engine.

SQLite gets WAL mode (readers never block the writer, and a commit needs no fsync with
``synchronous=NORMAL`` while staying durable against a killed process), a busy timeout, foreign
keys, and ``BEGIN IMMEDIATE`` for write transactions so two writers queue on the lock instead of
failing with "database is locked" when a read transaction tries to upgrade.

PostgreSQL gets a connect timeout (an unreachable host fails in seconds instead of hanging on
the operating system's TCP timeout), pre-ping on checkout (a connection dropped by a server
restart or an idle timeout between trials is replaced instead of failing the next write), and
the installed driver: a plain ``postgresql://`` URL means psycopg2 to SQLAlchemy, but hpo
documents psycopg (3), so that is used when it is the one installed.
"""

from __future__ import annotations

import importlib.util
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
#: SQLite page cache per connection, KiB (an upper bound, used as the store grows).
CACHE_KIB = 64 * 1024
#: Seconds to wait for a PostgreSQL server to answer before the store gives up (URL's
#: ``?connect_timeout=N`` overrides it).
PG_CONNECT_TIMEOUT_S = 10
#: The PostgreSQL drivers whose ``connect()`` takes libpq's ``connect_timeout`` and
#: ``application_name`` keywords.
_LIBPQ_DRIVERS = ("psycopg", "psycopg2")

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
        url = make_url(text)
    except (ArgumentError, ValueError) as exc:
        raise StoreError(
            f"store URL {text!r} is not a valid database URL ({exc}); "
            "expected e.g. sqlite:///hpo.db or postgresql://user@host/dbname"
        ) from None
    database = url.database
    if (
        url.get_backend_name() == "sqlite"
        and database
        and database != ":memory:"
        and not database.startswith("file:")
        and not os.path.isabs(database)
    ):
        # sqlite:///hpo.db is relative to the working directory: say which file it is, in
        # messages and records, and keep it the same file if the process changes directory.
        url = url.set(database=str(Path(database).expanduser().resolve()))
    return url


def make_engine(url: URL) -> Engine:
    """An engine for ``url`` with the project's SQLite or PostgreSQL settings applied."""
    backend = url.get_backend_name()
    is_sqlite = backend == "sqlite"
    kwargs: dict[str, Any] = {}
    if is_sqlite:
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            # One shared connection, or every checkout would see a fresh empty database.
            kwargs["poolclass"] = StaticPool
            kwargs["connect_args"] = {"check_same_thread": False}
        else:
            # A URI filename (sqlite:///file:/path/hpo.db?mode=ro&uri=true) names its file
            # after "file:", and sqlite3 reads the options; check the file's directory only.
            path = database.removeprefix("file:") if _is_uri(url) else database
            parent = Path(path).parent
            if not parent.is_dir():
                raise StoreError(
                    f"cannot create the store {database}: directory {parent} does not exist"
                )
    elif backend == "postgresql":
        url = _postgres_driver(url)
        kwargs["pool_pre_ping"] = True
        if url.get_driver_name() in _LIBPQ_DRIVERS:
            connect_args: dict[str, Any] = {}
            if "connect_timeout" not in url.query:
                connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT_S
            if "application_name" not in url.query:
                connect_args["application_name"] = "hpo"
            kwargs["connect_args"] = connect_args
    try:
        engine = create_engine(url, **kwargs)
    except (NoSuchModuleError, ArgumentError, ImportError) as exc:
        hint = ""
        if backend == "postgresql":
            hint = (
                '; for PostgreSQL install the driver (pip install "psycopg[binary]") and use '
                "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DBNAME"
            )
        raise StoreError(
            f"cannot use store URL {url.render_as_string(hide_password=True)!r}: {exc}{hint}"
        ) from None
    if is_sqlite:
        _configure_sqlite(engine)
    return engine


def _postgres_driver(url: URL) -> URL:
    """``postgresql://`` names no driver and SQLAlchemy then means psycopg2; where only
    psycopg (3) is installed, use it rather than fail on a missing module."""
    if url.drivername != "postgresql":
        return url
    if importlib.util.find_spec("psycopg2") is None and importlib.util.find_spec("psycopg"):
        return url.set(drivername="postgresql+psycopg")
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that we can say BEGIN IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        # The ranking and params indexes take inserts all over: a 2 MB default page cache is
        # outgrown by a long sweep, and every write then waits on pages from the OS.
        cur.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _is_uri(url: URL) -> bool:
    """Whether a SQLite URL's database is a URI filename (``?uri=true``)."""
    return str(url.query.get("uri", "")).lower() in ("true", "1") and bool(
        (url.database or "").startswith("file:")
    )
