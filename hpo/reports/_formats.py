"""Ranked trials as a GitHub-flavoured Markdown table or as CSV, for ``hpo report --format``.

Markdown is for pasting into an issue or a pull request: every cell is escaped so that a
pipe, a backtick or a tag in a name or an error shows literally and cannot break the table.
CSV (the ``csv`` module's quoting) is for other tools: one row per trial, one column per
parameter (``params.NAME``) and per final metric (``metrics.NAME``), as
``SweepResult.to_dataframe()`` names them. A text cell that a spreadsheet would run as a
formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: OWASP's CSV
injection list) gets a leading ``'``, so opening the file runs nothing; numbers are never
changed.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Sequence
from typing import Any

from hpo.reports._tables import fmt_duration, fmt_value
from trackers import TrialRecord, TrialState

# Characters GitHub's Markdown gives meaning to inside a table cell. "_" is only special at
# the edge of a word, so "learning_rate" keeps its readable form.
_MD_SPECIAL = re.compile(r"([\\`*|<>\[\]&~])|((?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def md_escape(value: Any) -> str:
    """A cell's text, literal in GitHub-flavoured Markdown: specials backslash-escaped and
    line breaks (which would end the table row) turned into spaces."""
    text = " ".join(str(value).splitlines())
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), text)


def _param_names(trials: Sequence[TrialRecord]) -> list[str]:
    names: list[str] = []
    for t in trials:
        names.extend(k for k in t.params if k not in names)
    return names


def markdown_table(
    trials: Sequence[TrialRecord], metric: str, param_names: Sequence[str] | None = None
) -> str:
    """Ranked ``trials`` (best first, as ``Store.trials(ranked=True)`` gives them) as a
    Markdown table: rank, trial, the metric, each param (``param_names``, e.g. the space's;
    default: those the trials have), state, duration."""
    names = list(param_names) if param_names is not None else _param_names(trials)
    head = ["rank", "trial", metric, *names, "state", "duration"]
    align = ["---:", "---:", "---:", *(["---:"] * len(names)), ":---", "---:"]
    lines = [_md_row(head), "|" + "|".join(align) + "|"]
    rank = 0
    for t in trials:
        done = t.state is TrialState.COMPLETED
        rank += done
        cells = [rank if done else "", t.number, fmt_value(t.value)]
        cells += [fmt_value(t.params[n]) if n in t.params else "" for n in names]
        cells += [t.state.value, fmt_duration(t.duration)]
        lines.append(_md_row(cells))
    return "\n".join(lines) + "\n"


def _md_row(cells: Sequence[Any]) -> str:
    return "| " + " | ".join(md_escape(c) for c in cells) + " |"


def csv_table(
    trials: Sequence[TrialRecord],
    param_names: Sequence[str] | None = None,
    metric: str | None = None,
) -> str:
    """``trials`` as CSV, in the order given, with a header row. Empty cells are params
    inactive in that trial (or values not recorded); non-finite metrics are ``nan``/``inf``.

    Pass the sweep's ``param_names`` (its space's) and ``metric`` so that a tool reading the
    file gets the same parameter columns and the sweep's metric whichever trials are shown
    (``--top``, ``--filter``); other metrics are the columns of those the shown trials have."""
    names = list(param_names) if param_names is not None else _param_names(trials)
    metrics: list[str] = [metric] if metric is not None else []
    for t in trials:
        metrics.extend(k for k in t.metrics if k not in metrics)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [
            "rank",
            "number",
            "state",
            "value",
            *(f"params.{n}" for n in names),
            *(f"metrics.{m}" for m in metrics),
            "duration",
            "started_at",
            "error",
        ]
    )
    rank = 0
    for t in trials:
        done = t.state is TrialState.COMPLETED
        rank += done
        writer.writerow(
            [
                rank if done else "",
                t.number,
                t.state.value,
                _num(t.value),
                *(_cell(t.params[n]) if n in t.params else "" for n in names),
                *(_num(t.metrics[m]) if m in t.metrics else "" for m in metrics),
                _num(t.duration),
                _num(t.started_at),
                _text(t.error or ""),
            ]
        )
    return buf.getvalue()


def _num(v: float | None) -> str:
    if v is None:
        return ""
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(v)  # shortest exact form: the CSV reads back to the same float


def _cell(v: Any) -> Any:
    if isinstance(v, float):
        return _num(v)
    return _text(v) if isinstance(v, str) else v


_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(v: str) -> str:
    """``v``, defused for spreadsheets: a cell that would start a formula is made literal."""
    return "'" + v if v.startswith(_FORMULA_START) else v
