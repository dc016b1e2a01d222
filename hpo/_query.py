"""Queries over trials and sweeps: ``--filter``, ``--sort`` and ``--top`` of ``hpo ls`` and
``hpo report``, and :func:`select` in Python.

A filter is a small expression (``lr < 0.01 and state == completed``) over the fields of
``_query_fields``; its grammar is in ``_query_parse``, what comparisons mean in
``_query_values``. A sort is comma-separated fields, ``-`` for descending
(``-metrics.acc, number``). Filtering runs in Python over records already read (the trial
rows, never the metric series): reading 100,000 trials from SQLite costs seconds, filtering
them a tenth of that, so the store's reads stay as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from hpo._errors import QueryError
from hpo._query_eval import Compiler
from hpo._query_fields import SweepSchema, TrialSchema
from hpo._query_parse import parse, parse_sort
from hpo._query_values import Schema, sort_records
from search_spaces import SearchSpace
from trackers import SweepSummary, TrialRecord

R = TypeVar("R")


def select_records(
    records: Sequence[R],
    schema: Schema,
    *,
    filter: str | None = None,  # the word users know from the CLI
    sort: str | Sequence[str] | None = None,
    top: int | None = None,
) -> list[R]:
    """The records that match ``filter``, ordered by ``sort`` (else as given), the first
    ``top`` of them. Raises QueryError for a bad expression."""
    if top is not None and (isinstance(top, bool) or not isinstance(top, int) or top < 1):
        raise QueryError(f"top must be a whole number of at least 1, got {top!r}", what="top")
    out: list[R] = list(records)
    if filter is not None:
        if not isinstance(filter, str):
            raise QueryError(f"a filter is text, got {type(filter).__name__}")
        node = parse(filter)
        if node is not None:
            keep = Compiler(schema, filter).predicate(node)
            out = [r for r in out if keep(r)]
    if sort is not None:
        text = sort if isinstance(sort, str) else ",".join(sort)
        compiler = Compiler(schema, text, "sort")
        keys = [compiler.sort_key(k) for k in parse_sort(text)]
        out = sort_records(out, keys)
    return out if top is None else out[:top]


def select(
    trials: Iterable[TrialRecord],
    filter: str | None = None,  # the word users know from the CLI
    sort: str | Sequence[str] | None = None,
    top: int | None = None,
    *,
    metric: str | None = None,
    tags: Iterable[str] = (),
    space: SearchSpace | Mapping[str, Any] | None = None,
) -> list[TrialRecord]:
    """The trials that match ``filter``, sorted by ``sort``, at most ``top`` of them.

    ``filter``: e.g. ``"lr < 0.01 and state == completed"``, ``"'prod' in tags"``,
    ``"started > 2h ago"``, ``"metrics.acc >= 0.9 or error ~ 'CUDA'"``. A param or metric a
    trial lacks compares as false (like SQL's NULL), ``x == null`` finds them. ``sort``:
    ``"-metrics.acc, number"`` (``-``: descending; missing values last); without it the order
    is kept. ``metric`` names the sweep's metric (a name for ``value``), ``tags`` are the
    sweep's tags; ``space`` (a SearchSpace or its JSON) declares the params, so that a bare
    name no trial has yet is still known and a categorical's mistyped value is an error.
    Raises :class:`QueryError` (with the position) for a bad expression or an unknown field.

    ::

        hpo.select(result.trials, "lr < 0.1 and state == completed", sort="-value", top=10)
    """
    records = list(trials)
    schema = TrialSchema(records, metric=metric, tags=tags, space=space)
    return select_records(records, schema, filter=filter, sort=sort, top=top)


def select_sweeps(
    summaries: Sequence[SweepSummary],
    filter: str | None = None,
    sort: str | None = None,
    top: int | None = None,
) -> list[SweepSummary]:
    """``hpo ls --filter/--sort/--top`` over the store's sweep summaries."""
    return select_records(summaries, SweepSchema(), filter=filter, sort=sort, top=top)
