"""How several trials differ: every field side by side, each row flagged when its values differ.

``hpo compare A B ...`` prints :func:`compare`. It lays the sections of
:func:`hpo._lineage.lineage` side by side and reads the recorded snapshots for the code and data
rows, so it too describes the runs as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from hpo._lineage import Section, TrialFacts, lineage, recorded_inputs
from hpo._lineage_summary import artifact_text, entry_text, human_size, summarize_diff


@dataclass(frozen=True, slots=True)
class Row:
    """One field across the compared trials; ``differs`` when not all values are equal."""

    section: Section
    field: str
    values: tuple[Any, ...]
    differs: bool


@dataclass(frozen=True, slots=True)
class Comparison:
    labels: tuple[str, ...]
    rows: tuple[Row, ...]

    @property
    def differing(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if r.differs)

    @property
    def equal_count(self) -> int:
        return sum(not r.differs for r in self.rows)


def compare(trials: Sequence[TrialFacts]) -> Comparison:
    """Every field of these trials side by side, each row flagged when its values differ.

    Packages get a row only where some version differs (or a package is missing from a
    snapshot: its value is None); the rest of the environment, the code and the command get a
    row per field. Works on trials of different sweeps.
    """
    rows: list[Row] = []

    def add(
        section: Section, name: str, values: Iterable[Any], differs: bool | None = None
    ) -> None:
        vals = tuple(values)
        rows.append(Row(section, name, vals, _differ(vals) if differs is None else differs))

    sections = [lineage(f) for f in trials]
    add(Section.TRIAL, "sweep", (f.sweep.name for f in trials))
    add(Section.TRIAL, "strategy", (f.sweep.strategy for f in trials))
    add(Section.TRIAL, "strategy options", (dict(f.sweep.strategy_options) for f in trials))
    add(Section.TRIAL, "sweep seed", (f.sweep.seed for f in trials))
    add(Section.TRIAL, "sweep trials", (f.sweep.budget for f in trials))
    add(Section.TRIAL, "state", (f.trial.state.value for f in trials))
    metrics = sorted({f.sweep.metric for f in trials})
    add(Section.TRIAL, "metric", (f"{f.sweep.metric} ({f.sweep.goal.value})" for f in trials))
    add(Section.TRIAL, "value", (f.trial.value for f in trials))
    for name in ("seed", "budget", "host"):
        add(Section.TRIAL, name, (getattr(f.trial, name) for f in trials))
    add(Section.TIMINGS, "duration", (f.trial.duration for f in trials))
    for section in (Section.PARAMS, Section.METRICS):
        for name in _union(s[section] for s in sections):
            if section is Section.METRICS and name in metrics and len(metrics) == 1:
                continue  # already the "value" row
            add(section, name, (s[section].get(name) for s in sections))
    _code_rows(trials, add)
    for name in _union(s[Section.ENVIRONMENT] for s in sections):
        add(Section.ENVIRONMENT, name, (s[Section.ENVIRONMENT].get(name) for s in sections))
    _data_rows(trials, add)
    for name in _union(s[Section.ENV_VARS] for s in sections):
        add(Section.ENV_VARS, name, (s[Section.ENV_VARS].get(name) for s in sections))
    packages = [s[Section.PACKAGES] for s in sections]
    add(Section.PACKAGES, "recorded", (len(p) for p in packages), differs=_differ(packages))
    for name in sorted(set().union(*packages)):
        versions = tuple(p.get(name) for p in packages)
        if _differ(versions):
            add(Section.PACKAGES, name, versions, differs=True)
    for name in ("objective", "executor", "argv", "cwd", "config"):
        add(Section.COMMAND, name, (s[Section.COMMAND][name] for s in sections))
    # one row per artifact name; it differs when the content (the hash) does
    logged = [{a.name: a for a in f.artifacts} for f in trials]
    for name in _union(logged):
        records = [m.get(name) for m in logged]
        add(
            Section.ARTIFACTS,
            name,
            (artifact_text(a) if a else None for a in records),
            differs=_differ([a.sha256 if a else None for a in records]),
        )
    return Comparison(labels=tuple(f.label for f in trials), rows=tuple(rows))


def _code_rows(trials: Sequence[TrialFacts], add: Callable[..., None]) -> None:
    gits = [f.environment.get("git") or {} for f in trials]
    for name in ("commit", "branch", "dirty"):
        add(Section.CODE, name, (g.get(name) for g in gits))
    diffs = [summarize_diff(g.get("diff"), truncated=bool(g.get("diff_truncated"))) for g in gits]
    # The summary can match while the diffs do not (the same count of other lines): the text
    # decides whether the row differs.
    texts = [g.get("diff") for g in gits]
    add(Section.CODE, "diff", (str(d) for d in diffs), differs=_differ(texts))
    per_file = [{c.path: c for c in d.files} for d in diffs]
    for path in _union(per_file):
        stats = tuple(
            None if path not in p else "binary" if p[path].binary else
            f"+{p[path].added} -{p[path].removed}"
            for p in per_file
        )  # fmt: skip
        add(Section.CODE, f"diff: {path}", stats)
    add(
        Section.CODE,
        "untracked",
        (len(g.get("untracked") or []) for g in gits),
        differs=_differ([g.get("untracked") for g in gits]),
    )


def _data_rows(trials: Sequence[TrialFacts], add: Callable[..., None]) -> None:
    """One row per input path; it differs when the content (the hash) does."""
    records = [recorded_inputs(f.environment).get("entries") or {} for f in trials]
    if not any(records):
        return
    for name in _union(records):
        entries = [r.get(name) for r in records]
        hashes = [e.get("sha256") if e else None for e in entries]
        add(Section.DATA, name, (entry_text(e) for e in entries), differs=_differ(hashes))
    totals = [recorded_inputs(f.environment) for f in trials]
    add(
        Section.DATA,
        "total",
        (f"{t.get('total_files')} files, {human_size(t.get('total_bytes'))}" if t else None
         for t in totals),
    )  # fmt: skip


def _union(mappings: Iterable[Mapping[str, Any]]) -> list[str]:
    """Keys in first-seen order."""
    seen: dict[str, None] = {}
    for m in mappings:
        seen.update(dict.fromkeys(m))
    return list(seen)


def _differ(values: Sequence[Any]) -> bool:
    return any(not _same(v, values[0]) for v in values[1:])


def _same(a: Any, b: Any) -> bool:
    # NaN is a recorded value like any other: two NaN metrics do not differ.
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    return bool(a == b)
