"""What the ``hpo`` commands share: consoles, common options, exit codes, opening a store."""

from __future__ import annotations

import enum
import os
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from trackers import Store, StoreError
from trackers._connect import resolve_url

EXIT_INPUT = 2
EXIT_INTERRUPTED = 130


def _console(*, stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        # Piped or redirected: rich would assume 80 columns and cut the tables' values.
        console = Console(stderr=stderr, highlight=False, width=200)
    return console


out = _console()
err = _console(stderr=True)

STORE_OPTION = click.option(
    "--store",
    metavar="URL",
    help="Store URL or SQLite path (default: $HPO_STORE or ./hpo.db).",
)


class OutputFormat(str, enum.Enum):
    """What a reading command prints: a terminal table, JSON, a Markdown table or CSV."""

    TABLE = "table"
    JSON = "json"
    MD = "md"
    CSV = "csv"


def format_option(*choices: OutputFormat, help: str | None = None) -> Any:
    """``--format`` with these choices; the command receives an :class:`OutputFormat`."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice([c.value for c in choices]),
        default=OutputFormat.TABLE.value,
        show_default=True,
        callback=lambda _ctx, _param, value: OutputFormat(value),
        help=help,
    )


FORMAT_OPTION = format_option(OutputFormat.TABLE, OutputFormat.JSON)


def open_for_reading(location: str | None) -> Store:
    """Open an existing store; a read never creates one."""
    url = resolve_url(location)
    database = url.database or ""
    if str(url.query.get("uri", "")).lower() in ("true", "1"):
        # A SQLite URI filename (file:/path/hpo.db?mode=ro): the file is after "file:".
        database = database.removeprefix("file:")
    if url.get_backend_name() == "sqlite" and database and not Path(database).exists():
        raise StoreError(
            f"no store at {database}: run `hpo sweep CONFIG` first, or pass --store / "
            "set HPO_STORE to the store to read"
        )
    return Store(location)
