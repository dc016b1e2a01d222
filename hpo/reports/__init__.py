"""Ranking trials and showing them: terminal tables, JSON, the live progress bar."""

from hpo.reports._rank import best, rank
from hpo.reports._tables import sweeps_table, trials_table

__all__ = ["best", "rank", "sweeps_table", "trials_table"]
