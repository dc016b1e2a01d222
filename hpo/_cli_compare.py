"""``hpo compare A B [C ...]`` and ``hpo show TRIAL --lineage``: printing :mod:`hpo._lineage` and
:mod:`hpo._lineage_compare`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from hpo._cli_common import FORMAT_OPTION, STORE_OPTION, OutputFormat, open_for_reading, out
from hpo._lineage import Section, lineage, load
from hpo._lineage_compare import Comparison, compare
from hpo.reports._tables import dumps, fmt_duration, fmt_time, fmt_value, kv_table

#: Untracked files a lineage page names before it says "and N more".
UNTRACKED_SHOWN = 10
_DIFFERS = "bold yellow"
_TIMES = frozenset({"queued", "started", "ended"})


@click.command(name="compare")
@click.argument("refs", metavar="TRIAL TRIAL [TRIAL ...]", nargs=-1, required=True)
@STORE_OPTION
@FORMAT_OPTION
@click.option(
    "--all", "show_all", is_flag=True, help="Show the equal rows too (default: only differences)."
)
def compare_command(refs: tuple[str, ...], store: str | None, fmt: str, show_all: bool) -> int:
    """Compare trials side by side: params, metrics, code, environment, command.

    Each TRIAL is an id, SWEEP:NUMBER, or a sweep name (its best trial); trials may come from
    different sweeps. Rows whose values differ are highlighted. --format json prints every
    row with a "differs" flag.
    """
    if len(refs) < 2:
        raise click.UsageError(f"compare needs at least two trials, got {len(refs)}: {refs[0]}")
    with open_for_reading(store) as st:
        facts = [load(st, ref) for ref in refs]
    result = compare(facts)
    if OutputFormat(fmt) is OutputFormat.JSON:
        click.echo(dumps(comparison_json(result)))
        return 0
    out.print(comparison_table(result, show_all=show_all))
    hidden = result.equal_count
    if not result.differing:
        out.print(f"the {len(refs)} trials are the same in every recorded field")
    elif not show_all and hidden:
        out.print(f"{len(result.differing)} rows differ; {hidden} equal rows hidden (--all)")
    return 0


def comparison_json(result: Comparison) -> dict[str, Any]:
    return {
        "trials": list(result.labels),
        "rows": [
            {
                "section": r.section.value,
                "field": r.field,
                "values": list(r.values),
                "differs": r.differs,
            }
            for r in result.rows
        ],
        "differing": len(result.differing),
        "equal": result.equal_count,
    }


def comparison_table(result: Comparison, *, show_all: bool = False) -> Table:
    """The rows side by side, one column per trial; differing rows highlighted."""
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("section", style="dim")
    table.add_column("field", style="bold")
    for label in result.labels:
        table.add_column(label, overflow="fold")
    shown_section: Section | None = None
    for row in result.rows:
        if not (row.differs or show_all):
            continue
        style = _DIFFERS if row.differs else "dim"
        cells = [Text(_cell(row.section, row.field, v), style=style) for v in row.values]
        section = "" if row.section is shown_section else row.section.value
        shown_section = row.section
        table.add_row(section, Text(row.field, style=style if row.differs else ""), *cells)
    return table


def show_lineage(ref: str, store: str | None, fmt: OutputFormat) -> int:
    """``hpo show TRIAL --lineage``: one page on how the trial was built."""
    with open_for_reading(store) as st:
        facts = load(st, ref)
    page = lineage(facts)
    if fmt is OutputFormat.JSON:
        click.echo(dumps({s.value: v for s, v in page.items()}))
        return 0
    for n, (section, fields) in enumerate(page.items()):
        rows = _lineage_rows(section, fields)
        if rows:
            title = ("\n" if n else "") + section.value.capitalize()
            out.print(kv_table(rows, title=title))
    if not facts.environment:
        out.print("\nno environment recorded for this trial (the sweep ran without one)")
    return 0


def _lineage_rows(section: Section, fields: Mapping[str, Any]) -> dict[str, Any]:
    if section is Section.PACKAGES:
        return {"installed": f"{len(fields)} recorded (--format json lists them)"} if fields else {}
    rows: dict[str, Any] = {}
    for name, value in fields.items():
        if section is Section.CODE and name == "files":
            rows.update({f"  {path}": stats for path, stats in value.items()})
        elif section is Section.CODE and name == "untracked":
            if value:
                more = len(value) - UNTRACKED_SHOWN
                shown = ", ".join(value[:UNTRACKED_SHOWN])
                rows[name] = shown + (f" and {more} more" if more > 0 else "")
        elif value is not None or section in (Section.PARAMS, Section.METRICS):
            rows[name] = _cell(section, name, value)
    return rows


def _cell(section: Section, name: str, value: Any) -> str:
    """One value as text; what "no value" means depends on the row."""
    if value is None:
        return "absent" if section is Section.PACKAGES else "-"
    if section is Section.TIMINGS:
        return fmt_time(value) if name in _TIMES else fmt_duration(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in value.items()) or "-"
    return fmt_value(value)
