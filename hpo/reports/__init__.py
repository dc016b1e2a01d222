"""Ranking trials and showing them: terminal tables, JSON, Markdown, CSV, the HTML report and
the live progress bar."""

from hpo._errors import ReportError
from hpo.reports._formats import csv_table, markdown_table
from hpo.reports._html import write_html_report
from hpo.reports._rank import best, rank
from hpo.reports._tables import sweeps_table, trials_table

__all__ = [
    "ReportError",
    "best",
    "csv_table",
    "markdown_table",
    "rank",
    "sweeps_table",
    "trials_table",
    "write_html_report",
]
