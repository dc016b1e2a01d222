"""How trials were built, and how several trials differ: pure data from what the store recorded.

``hpo show TRIAL --lineage`` prints :func:`lineage`; ``hpo compare A B ...`` prints
:func:`compare`. Both read only the trial row, its sweep, the environment snapshot the sweep
recorded (``trackers._environment``; its diff from the blobs table) and the trial's artifact
records: nothing is re-measured, so they describe the run as it was, not the machine reading
the store.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trackers import (
    ArtifactRecord,
    NotFoundError,
    Store,
    SweepRecord,
    TrialRecord,
    TrialState,
    resolve_code,
)

_SEPARATORS = (":", "/", "#")
_DIFF_FILE = re.compile(r"^diff --git a/(.*) b/(.*)$")


class Section(str, enum.Enum):
    """A group of rows, in the order they are shown."""

    TRIAL = "trial"
    TIMINGS = "timings"
    PARAMS = "params"
    METRICS = "metrics"
    CODE = "code"
    ENVIRONMENT = "environment"
    DATA = "data"
    ENV_VARS = "env vars"
    PACKAGES = "packages"
    COMMAND = "command"
    ARTIFACTS = "artifacts"


@dataclass(frozen=True, slots=True)
class TrialFacts:
    """What the store holds about one trial: the row, its sweep, its environment snapshot
    (with ``git.diff`` as text, whichever way it was stored) and its artifacts."""

    trial: TrialRecord
    sweep: SweepRecord
    environment: Mapping[str, Any] = field(default_factory=dict)
    artifacts: tuple[ArtifactRecord, ...] = ()

    @property
    def label(self) -> str:
        return f"{self.sweep.name}:{self.trial.number}"


@dataclass(frozen=True, slots=True)
class FileChange:
    path: str
    added: int
    removed: int
    binary: bool = False


@dataclass(frozen=True, slots=True)
class DiffSummary:
    """The shape of a stored ``git diff``: files touched and lines added and removed."""

    files: tuple[FileChange, ...]
    truncated: bool = False

    @property
    def added(self) -> int:
        return sum(f.added for f in self.files)

    @property
    def removed(self) -> int:
        return sum(f.removed for f in self.files)

    def __str__(self) -> str:
        if not self.files:
            return "no changes to tracked files"
        n = len(self.files)
        text = f"{n} file{'s' * (n != 1)} changed, +{self.added} -{self.removed}"
        return text + (" (diff truncated when recorded)" if self.truncated else "")


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


def load(store: Store, ref: str) -> TrialFacts:
    """The facts of trial ``ref``: an id, ``SWEEP:NUMBER``, or a sweep name (its best trial)."""
    text = ref.strip()
    if text.isdigit() or any(sep in text for sep in _SEPARATORS):
        trial = store.get_trial(text)
    else:
        sweep = store.get_sweep(text)
        ranked = store.trials(sweep.id, states=[TrialState.COMPLETED], ranked=True, limit=1)
        if not ranked:
            raise NotFoundError(
                f"sweep {sweep.name!r} has no completed trial to stand for it; "
                f"name a trial instead, e.g. {sweep.name}:0"
            )
        trial = ranked[0]
    sweep = store.get_sweep(trial.sweep_id)  # type: ignore[arg-type]
    env = store.get_environment(trial.environment_id) if trial.environment_id else {}
    env = resolve_code(env, store.get_blob)
    artifacts = tuple(store.artifacts(trial.id))  # type: ignore[arg-type]
    return TrialFacts(trial=trial, sweep=sweep, environment=env, artifacts=artifacts)


def summarize_diff(text: str | None, *, truncated: bool = False) -> DiffSummary:
    """Count files and +/- lines of a unified ``git diff`` text (headers are not counted)."""
    files: list[FileChange] = []
    path: str | None = None
    added = removed = 0
    binary = in_hunk = False

    def close() -> None:
        if path is not None:
            files.append(FileChange(path, added, removed, binary))

    for line in (text or "").splitlines():
        match = _DIFF_FILE.match(line)
        if match:
            close()
            path, added, removed, binary, in_hunk = match.group(2), 0, 0, False, False
        elif line.startswith("@@"):
            in_hunk = True
        elif not in_hunk:
            binary = binary or line.startswith(("Binary files ", "GIT binary patch"))
        elif line.startswith("+"):
            added += 1
        elif line.startswith("-"):
            removed += 1
    close()
    return DiffSummary(tuple(files), truncated)


def lineage(facts: TrialFacts) -> dict[Section, dict[str, Any]]:
    """How one trial was built, section by section, as JSON-ready values."""
    t, sw, env = facts.trial, facts.sweep, facts.environment
    git = env.get("git") or {}
    diff = summarize_diff(git.get("diff"), truncated=bool(git.get("diff_truncated")))
    code: dict[str, Any] = {
        "repository": git.get("root"),
        "commit": git.get("commit"),
        "branch": git.get("branch"),
        "dirty": git.get("dirty"),
        "changes": str(diff) if git else None,
        "files": {f.path: "binary" if f.binary else f"+{f.added} -{f.removed}" for f in diff.files},
        "untracked": list(git.get("untracked") or []),
    }
    if git.get("diff_sha256"):
        code["diff sha256"] = git["diff_sha256"]
    if git.get("diff_missing"):
        code["diff"] = "recorded by hash, but its blob is not in this store"
    if git.get("untracked_skipped"):
        code["untracked not stored"] = {p: why for p, why in git["untracked_skipped"].items()}
    if env.get("git_error"):
        code["git_error"] = env["git_error"]
    return {
        Section.TRIAL: {
            "trial": facts.label,
            "id": t.id,
            "sweep": sw.name,
            "strategy": sw.strategy,
            "state": t.state.value,
            sw.metric: t.value,
            "seed": t.seed,
            "strategy options": dict(sw.strategy_options) or None,
            "sweep seed": sw.seed,
            "sweep trials": sw.budget,
            "budget": t.budget,
            "host": t.host,
            "rerun of": t.rerun_of,
            "error": t.error,
        },
        Section.TIMINGS: {
            "queued": t.queued_at,
            "started": t.started_at,
            "ended": t.ended_at,
            "duration": t.duration,
        },
        Section.PARAMS: dict(t.params),
        Section.METRICS: dict(t.metrics),
        Section.CODE: code if git or env.get("git_error") else {},
        Section.ENVIRONMENT: _environment_fields(env),
        Section.DATA: _data_fields(env),
        Section.ENV_VARS: _env_var_fields(env),
        Section.PACKAGES: dict(env.get("packages") or {}),
        Section.COMMAND: {
            "objective": sw.objective,
            "executor": sw.executor,
            "argv": list(env.get("argv") or []) or None,
            "cwd": env.get("cwd"),
            "config": sw.source,
        },
        Section.ARTIFACTS: {a.name: artifact_text(a) for a in facts.artifacts},
    }


def artifact_text(a: ArtifactRecord) -> str:
    """``12.0 KiB sha256:0123456789ab``."""
    return f"{_size(a.size)} sha256:{a.sha256[:12]}"


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


def _environment_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    python = env.get("python") or {}
    os_info = env.get("os") or {}
    cpu = env.get("cpu") or {}
    gpus = env.get("gpus") or []
    memory = env.get("memory_bytes")
    cuda = env.get("cuda") or {}
    fields: dict[str, Any] = {
        "python": " ".join(
            str(v) for v in (python.get("implementation"), python.get("version")) if v
        )
        or None,
        "python executable": python.get("executable"),
        "os": os_info.get("platform"),
        "hostname": env.get("hostname"),
        "cpu": cpu.get("model"),
        "cores": cpu.get("usable_cores") or cpu.get("logical_cores"),
        "memory": f"{memory / 2**30:.1f} GiB" if isinstance(memory, int) else None,
        "gpus": ", ".join(f"{g.get('name', '?')} ({g.get('memory_mb')} MB)" for g in gpus) or None,
        "CUDA_VISIBLE_DEVICES": env.get("cuda_visible_devices"),
        "CUDA driver": cuda.get("driver"),
        "CUDA runtime": cuda.get("runtime"),
    }
    if env.get("gpu_error"):
        fields["gpu error"] = env["gpu_error"]
    return fields


def _inputs(env: Mapping[str, Any]) -> Mapping[str, Any]:
    return env.get("inputs") or {}


def _entry_text(entry: Mapping[str, Any] | None) -> str | None:
    """``12.0 KiB sha256:0123456789ab`` (and the file count of a folder)."""
    if entry is None:
        return None
    files = entry.get("files")
    count = f", {files} files" if files is not None else ""
    return f"{_size(entry.get('size'))}{count} sha256:{str(entry.get('sha256'))[:12]}"


def _size(n: Any) -> str:
    if not isinstance(n, int):
        return "?"
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            break
    return f"{value:.1f} {unit}"


def _data_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    """Each declared input with its size and hash prefix, then the totals."""
    inputs = _inputs(env)
    if not inputs:
        return {}
    fields: dict[str, Any] = {
        name: _entry_text(entry) for name, entry in (inputs.get("entries") or {}).items()
    }
    total_files, total_bytes = inputs.get("total_files"), inputs.get("total_bytes")
    fields["total"] = f"{total_files} files, {_size(total_bytes)}"
    if inputs.get("missing"):
        fields["missing"] = list(inputs["missing"])
    return fields


def _env_var_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    # An allow-listed variable that was unset is a fact worth showing, unlike a None field.
    recorded = env.get("env_vars") or {}
    return {name: "(unset)" if value is None else value for name, value in recorded.items()}


def _data_rows(trials: Sequence[TrialFacts], add: Callable[..., None]) -> None:
    """One row per input path; it differs when the content (the hash) does."""
    records = [_inputs(f.environment).get("entries") or {} for f in trials]
    if not any(records):
        return
    for name in _union(records):
        entries = [r.get(name) for r in records]
        hashes = [e.get("sha256") if e else None for e in entries]
        add(Section.DATA, name, (_entry_text(e) for e in entries), differs=_differ(hashes))
    totals = [_inputs(f.environment) for f in trials]
    add(
        Section.DATA,
        "total",
        (f"{t.get('total_files')} files, {_size(t.get('total_bytes'))}" if t else None
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
