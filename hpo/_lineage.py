"""How a trial was built: pure data from what the store recorded.

``hpo show TRIAL --lineage`` prints :func:`lineage`; ``hpo compare A B ...`` prints
:func:`hpo._lineage_compare.compare`, which lays the same sections side by side. Both read only
the trial row, its sweep, the environment snapshot the sweep recorded
(``trackers._environment``; its diff from the blobs table) and the trial's artifact records:
nothing is re-measured, so they describe the run as it was, not the machine reading the store.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hpo._lineage_summary import artifact_text, entry_text, human_size, summarize_diff
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
    trial_id, sweep_id = trial.stored_ids()
    sweep = store.get_sweep(sweep_id)
    env = store.get_environment(trial.environment_id) if trial.environment_id else {}
    env = resolve_code(env, store.get_blob)
    artifacts = tuple(store.artifacts(trial_id))
    return TrialFacts(trial=trial, sweep=sweep, environment=env, artifacts=artifacts)


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
    if git.get("excluded"):  # hpo's own store, artifact and checkpoint files in the repository
        code["left out (hpo's files)"] = list(git["excluded"])
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


def recorded_inputs(env: Mapping[str, Any]) -> Mapping[str, Any]:
    return env.get("inputs") or {}


def _data_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    """Each declared input with its size and hash prefix, then the totals."""
    inputs = recorded_inputs(env)
    if not inputs:
        return {}
    fields: dict[str, Any] = {
        name: entry_text(entry) for name, entry in (inputs.get("entries") or {}).items()
    }
    total_files, total_bytes = inputs.get("total_files"), inputs.get("total_bytes")
    fields["total"] = f"{total_files} files, {human_size(total_bytes)}"
    if inputs.get("missing"):
        fields["missing"] = list(inputs["missing"])
    return fields


def _env_var_fields(env: Mapping[str, Any]) -> dict[str, Any]:
    # An allow-listed variable that was unset is a fact worth showing, unlike a None field.
    recorded = env.get("env_vars") or {}
    return {name: "(unset)" if value is None else value for name, value in recorded.items()}
