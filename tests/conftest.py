"""Shared fixtures: a real, throwaway PostgreSQL server for the store tests.

The server is Debian's ``postgresql`` package (``/usr/lib/postgresql/<version>/bin``): one
cluster per test session, in a temporary directory, listening only on 127.0.0.1 on a free
port with its unix socket inside that directory, so it never touches a system cluster. It is
started once (about a second or two) and stopped with ``pg_ctl stop -m immediate`` at the end.

Where the binaries or the ``psycopg`` driver are missing the PostgreSQL tests are skipped
with the reason, except under CI (``$CI`` set), where they fail: CI must run them.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
PG_USER = "postgres"  # the cluster's superuser (and, as root, the system user running it)
TEST_DB = "hpo_test"
# Settings for a throwaway test cluster: durability buys nothing here, speed does.
PG_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
START_TIMEOUT_S = 60  # generous: a loaded CI machine may be slow; never asserted on
#: A role that must give its password (every other login is trusted), so that tests can
#: check what a wrong password does.
PASSWORD_USER = "hpo_pw"
PASSWORD = "s3cret-pw"
# First matching line wins: the password role over TCP, then trust for everything else.
PG_HBA = f"""\
local all all trust
host all {PASSWORD_USER} 127.0.0.1/32 scram-sha-256
host all all 127.0.0.1/32 trust
"""


@dataclass(frozen=True)
class PostgresServer:
    """A running test cluster: where it listens, and how to open an admin connection."""

    bin_dir: Path
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = PG_USER
    #: A role that logs in with a password (every other login is trusted).
    password_user: str = PASSWORD_USER
    password: str = PASSWORD

    def url(self, database: str) -> str:
        """A SQLAlchemy URL for ``database`` on this server (trust auth: no password)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def admin(self) -> Any:
        """An autocommit psycopg connection to the ``postgres`` database (CREATE/DROP
        DATABASE cannot run inside a transaction)."""
        import psycopg

        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    @contextlib.contextmanager
    def fresh_database(self, owner: str = PG_USER) -> Iterator[str]:
        """Create an empty database owned by ``owner``, yield its URL (as the superuser),
        drop it afterwards, even if connections to it are still open (WITH (FORCE))."""
        name = f"hpo_t_{os.getpid()}_{next(_database_numbers)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {owner}")
        try:
            yield self.url(name)
        finally:
            with self.admin() as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


_database_numbers = itertools.count()


def _missing(reason: str) -> None:
    """Skip where PostgreSQL can't be had, but fail under CI, which must run these tests."""
    if os.environ.get("CI"):
        pytest.fail(
            f"PostgreSQL tests cannot run: {reason}. CI must run them: install Debian's "
            "'postgresql' package and `pip install \"psycopg[binary]\"`.",
            pytrace=False,
        )
    pytest.skip(f"PostgreSQL tests skipped: {reason} (set CI=1 to make this a failure)")


def _find_bin_dir() -> Path | None:
    """The newest installed server version that has both initdb and pg_ctl."""
    found = [
        Path(d)
        for d in glob.glob(PG_BIN_GLOB)
        if (Path(d) / "initdb").is_file() and (Path(d) / "pg_ctl").is_file()
    ]

    def version(d: Path) -> tuple[int, ...]:
        # /usr/lib/postgresql/15/bin -> (15,); numeric order, so 9.6 < 10 < 15.
        try:
            return tuple(int(p) for p in d.parent.name.split("."))
        except ValueError:
            return (0,)

    return max(found, key=version) if found else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user() -> list[str]:
    """The prefix that runs a server command as a user initdb accepts: initdb and postgres
    refuse to run as root, so as root they run as the ``postgres`` system user."""
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", PG_USER, "--"]


def _run(cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=START_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}"
        )


def _start_server(bin_dir: Path, root: Path) -> PostgresServer:
    data = root / "data"
    prefix = _as_server_user()
    _run(
        [
            *prefix,
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            PG_USER,
            "--auth=trust",  # a loopback-only throwaway cluster: no passwords needed
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        ],
        "initdb",
    )
    # Rewriting the file in place keeps its owner (the server user) when we are root.
    (data / "pg_hba.conf").write_text(PG_HBA)
    # A free port can be taken between probing and binding: try a few.
    last_error: Exception | None = None
    for _attempt in range(3):
        port = _free_port()
        options = " ".join(
            [f"-k {root} -h 127.0.0.1 -p {port} -F", *(f"-c {s}" for s in PG_SETTINGS)]
        )
        try:
            _run(
                [
                    *prefix,
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(root / "server.log"),
                    "-o",
                    options,
                    "-w",  # wait until the server accepts connections
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ],
                "pg_ctl start",
            )
        except RuntimeError as exc:
            last_error = exc
            continue
        server = PostgresServer(bin_dir=bin_dir, data_dir=data, port=port)
        _wait_for_connections(server)
        return server
    log_file = root / "server.log"
    log = log_file.read_text(errors="replace") if log_file.exists() else ""
    raise RuntimeError(f"PostgreSQL did not start: {last_error}\n{log}")


def _wait_for_connections(server: PostgresServer) -> None:
    # pg_ctl -w already waited; this also proves the TCP listener and trust auth work.
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            with server.admin():
                return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _stop_server(server: PostgresServer) -> None:
    subprocess.run(
        [
            *_as_server_user(),
            str(server.bin_dir / "pg_ctl"),
            "-D",
            str(server.data_dir),
            "-m",
            "immediate",
            "-w",
            "stop",
        ],
        capture_output=True,
        timeout=START_TIMEOUT_S,
        check=False,
    )


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL cluster for the whole session, on 127.0.0.1 at a free port, with a
    database ``hpo_test`` created; stopped and deleted at the end of the session. Skipped
    (or, under CI, failed) when the server binaries or psycopg are missing."""
    bin_dir = _find_bin_dir()
    if bin_dir is None:
        _missing(f"no PostgreSQL server binaries ({PG_BIN_GLOB}/initdb, pg_ctl)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("the psycopg driver is not installed")
    if os.geteuid() == 0:
        try:
            pw = pwd.getpwnam(PG_USER)
        except KeyError:
            _missing(f"running as root and there is no {PG_USER!r} system user to run initdb")
        if shutil.which("runuser") is None:
            _missing("running as root and `runuser` is missing")
    root = Path(tempfile.mkdtemp(prefix="hpo-pg-"))
    if os.geteuid() == 0:
        # The server user must own its directory (data dir and unix socket live here).
        os.chown(root, pw.pw_uid, pw.pw_gid)
    try:
        server = _start_server(bin_dir, root)  # type: ignore[arg-type]
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        with server.admin() as conn:
            conn.execute(f"CREATE DATABASE {TEST_DB}")
            conn.execute(f"CREATE ROLE {PASSWORD_USER} LOGIN PASSWORD '{PASSWORD}'")
        yield server
    finally:
        _stop_server(server)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> str:
    """A SQLAlchemy URL of an (initially empty) database ``hpo_test`` on the session's
    PostgreSQL server: ``postgresql+psycopg://postgres@127.0.0.1:<port>/hpo_test``.
    Shared by the whole session: tests that need isolation use ``store_url``."""
    return postgres_server.url(TEST_DB)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store URL per test, once per backend: a new SQLite file, or a new
    database on the session's PostgreSQL server (dropped after the test), so tests never
    see each other's rows."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hpo.db'}"
        return
    # Looked up lazily so that SQLite-only runs never start (or skip for) PostgreSQL.
    server: PostgresServer = request.getfixturevalue("postgres_server")
    with server.fresh_database() as url:
        yield url


@pytest.fixture
def pg_database(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty PostgreSQL database URL for one test (dropped afterwards)."""
    with postgres_server.fresh_database() as url:
        yield url
