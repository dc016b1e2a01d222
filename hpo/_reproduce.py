"""Running one recorded trial again, here and now, to see whether its result holds.

A reproduction rebuilds the trial's objective from what its sweep recorded (the config of a
config-file sweep, or the import path of a Python function), tells apart the environment the
trial ran in from the current one, runs the trial once with the same params, seed and budget,
and records the run as a new trial of the same sweep (the next number, ``rerun_of`` naming the
original). It is two steps, :func:`prepare_reproduction` then :func:`run_reproduction`, so a
caller can show the differences and ask before anything runs.
"""

from __future__ import annotations

import enum
import re
import socket
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo._build import build_objective
from hpo._config import parse_config
from hpo._errors import ObjectiveError, StoreError
from hpo._objective import CallableObjective, Objective
from hpo.executors import ExecutorKind, Finished, Report, TrialTask, make_executor
from search_spaces import SearchSpace
from trackers import (
    Store,
    SweepRecord,
    SweepState,
    TrialRecord,
    TrialState,
    WriteBatch,
    capture_environment,
    diff_environments,
    hash_inputs,
    resolve_code,
)
from trackers._drivers import driver_alive

_FUNCTION_PREFIX = "function "
# Keys of an environment snapshot that say nothing about the trial's result.
_IGNORED = frozenset({"argv", "git_error", "gpu_error"})
_GIT_FIELDS = ("commit", "branch", "dirty", "diff", "untracked")


class DifferenceKind(str, enum.Enum):
    """What a difference between the recorded and the current run is about."""

    CODE = "code"
    PACKAGES = "packages"
    ENVIRONMENT = "environment"
    DATA = "data"


@dataclass(frozen=True, slots=True)
class Difference:
    """One way the rerun's circumstances differ from the original's."""

    kind: DifferenceKind
    text: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.text}"


@dataclass
class Reproduction:
    """A trial ready to run again (after :func:`prepare_reproduction`) and, once run, its
    outcome (``rerun``)."""

    sweep: SweepRecord
    original: TrialRecord
    objective: Objective
    base_dir: Path
    differences: list[Difference]
    environment: dict[str, Any]
    recorded_argv: list[str] | None
    timeout: float | None = None
    memory_limit: int | None = None
    rerun: TrialRecord | None = None

    @property
    def difference(self) -> float | None:
        """New value minus the original's; None when either has no value."""
        if self.rerun is None or self.rerun.value is None or self.original.value is None:
            return None
        return self.rerun.value - self.original.value

    @property
    def relative(self) -> float | None:
        """The difference relative to the original value; None when that is 0 or missing."""
        diff = self.difference
        if diff is None or self.original.value == 0:
            return None
        return diff / abs(self.original.value)  # type: ignore[arg-type]

    def matches(self, tolerance: float = 0.0) -> bool:
        """Whether the rerun gave the original's value within ``tolerance`` (absolute); a
        trial without a value matches when the rerun ended in the same state."""
        if self.rerun is None:
            return False
        diff = self.difference
        if diff is not None:
            return abs(diff) <= tolerance
        no_values = self.original.value is None and self.rerun.value is None
        return no_values and self.rerun.state is self.original.state


def prepare_reproduction(store: Store, trial_ref: str, *, cwd: Path | None = None) -> Reproduction:
    """Load trial ``trial_ref`` (``SWEEP:NUMBER`` or an id) and its sweep, rebuild the
    objective (paths relative to ``cwd``, default where the sweep ran) and list what differs
    from the environment the trial ran in. Raises an ``HPOError`` when it cannot be rerun."""
    original = store.get_trial(trial_ref)
    sweep = store.get_sweep(original.sweep_id)  # type: ignore[arg-type]
    label = f"{sweep.name}:{original.number}"
    if not original.state.is_finished:
        raise StoreError(
            f"trial {label} is {original.state.value}: only a finished trial can be reproduced; "
            "wait for it to finish"
        )
    _refuse_live_driver(sweep)
    env_id = original.environment_id or sweep.environment_id
    recorded = store.get_environment(env_id) if env_id is not None else {}
    base = _base_dir(sweep, recorded, cwd)
    objective, timeout, memory = _rebuild_objective(sweep, base)
    try:
        objective.check(SearchSpace.from_json(dict(sweep.space)).names)
    except ObjectiveError as exc:
        raise ObjectiveError(f"trial {label} cannot be rerun here: {exc}") from None
    current = _current_environment(recorded, base)
    argv = recorded.get("argv")
    return Reproduction(
        sweep=sweep,
        original=original,
        objective=objective,
        base_dir=base,
        differences=environment_differences(
            resolve_code(recorded, store.get_blob),
            resolve_code(current, getattr(current, "blobs", {}).get),
        )
        if recorded
        else [],
        environment=current,
        recorded_argv=list(argv) if isinstance(argv, list) else None,
        timeout=timeout,
        memory_limit=memory,
    )


def run_reproduction(
    store: Store, repro: Reproduction, *, executor: ExecutorKind = "inline"
) -> Reproduction:
    """Run the trial once more (same params, seed and budget) on ``executor`` and record it as
    a new trial of its sweep; fills ``repro.rerun``. Ctrl-C records it interrupted."""
    _refuse_live_driver(store.get_sweep(repro.sweep.id))  # it may have started since
    original = repro.original
    number = max(t.number for t in store.trials(repro.sweep.id)) + 1
    env_id = store.add_environment(repro.environment)
    batch = WriteBatch(repro.sweep.id)
    started = time.time()
    host = socket.gethostname()
    batch.trial_started(
        number,
        original.params,
        seed=original.seed,
        budget=original.budget,
        host=host,
        environment_id=env_id,
        rerun_of=original.number,
        at=started,
    )
    store.write(batch)  # the store knows of the trial before it runs, as in a sweep
    metric = repro.sweep.metric

    def record_report(event: Report) -> None:
        batch.reported(number, event.step, event.metrics, event.artifacts, event.time)

    # A checkpoint folder of its own: a reproduction starts from scratch, not from the
    # original's saved state.
    with tempfile.TemporaryDirectory(prefix="hpo-reproduce-") as checkpoints:
        task = TrialTask(
            number=number,
            params=original.params,
            seed=original.seed or 0,
            budget=original.budget,
            timeout=repro.timeout,
            memory_limit=repro.memory_limit,
            checkpoint_dir=checkpoints,
            artifact_dir=store.artifact_root,
        )
        finished = _run_once(repro.objective, task, executor, record_report, started)
    state = finished.state
    value = finished.value(metric)
    batch.trial_finished(
        number,
        state,
        value=value,
        metrics=finished.metrics,
        started_at=finished.started_at,  # the run itself, not the store's write before it
        ended_at=finished.ended_at,
        error=finished.error,
        traceback=finished.traceback,
    )
    store.write(batch)
    repro.rerun = store.get_trial(f"{repro.sweep.id}#{number}")
    return repro


def _run_once(
    objective: Objective,
    task: TrialTask,
    kind: ExecutorKind,
    on_report: Any,
    started: float,
) -> Finished:
    executor = make_executor(kind)
    executor.listener = on_report
    interrupted = True
    try:
        executor.start(objective)
        executor.submit(task)
        while True:
            for event in executor.poll(5.0):
                if isinstance(event, Finished):
                    interrupted = False
                    return event
                on_report(event)
    except KeyboardInterrupt:
        return Finished(
            task.number,
            TrialState.INTERRUPTED,
            started,
            time.time(),
            error="the reproduction was interrupted while this trial ran",
        )
    finally:
        executor.shutdown(kill=interrupted)


def _current_environment(recorded: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """The environment here and now, with the recorded env-var names and the recorded inputs
    hashed again the same way (an input gone since is listed as missing, not an error)."""
    names = recorded.get("env_vars")
    current = capture_environment(
        cwd=base, argv=sys.argv, env_vars=list(names) if isinstance(names, Mapping) else ()
    )
    inputs = recorded.get("inputs")
    patterns = inputs.get("patterns") if isinstance(inputs, Mapping) else None
    if patterns:
        current["inputs"] = hash_inputs([str(p) for p in patterns], base, missing_ok=True)
    return current


def _refuse_live_driver(sweep: SweepRecord) -> None:
    # Two writers numbering trials of one sweep would collide; a stopped sweep is left as is.
    if sweep.state is SweepState.RUNNING and driver_alive(
        sweep.driver, sweep.heartbeat_at, time.time()
    ):
        raise StoreError(
            f"sweep {sweep.name!r} is being run by driver {sweep.driver}: reproduce its trials "
            "once it has stopped"
        )


def _base_dir(sweep: SweepRecord, recorded: Mapping[str, Any], cwd: Path | None) -> Path:
    """Where the objective's relative paths start: ``cwd`` if given, else the folder the
    sweep ran in (the config's folder for a config-file sweep: recorded as the environment's
    working directory), else the recorded source file's folder, else here."""
    if cwd is not None:
        return cwd.resolve()
    if sweep.source is not None and Path(sweep.source).is_absolute():
        return Path(sweep.source).parent
    where = recorded.get("cwd")
    if isinstance(where, str) and Path(where).is_dir():
        return Path(where)
    if sweep.source is not None:
        return Path(sweep.source).parent.resolve()
    return Path.cwd()


def _rebuild_objective(sweep: SweepRecord, base: Path) -> tuple[Objective, Any, Any]:
    """The objective, timeout and memory limit of ``sweep``, from what it recorded."""
    if sweep.source is not None:
        source = f"the config recorded with sweep {sweep.name!r}"
        cfg = parse_config(dict(sweep.config), source=source)
        return build_objective(cfg, base, source, {}), cfg.timeout, cfg.memory_limit
    described = str(sweep.config.get("objective") or sweep.objective)
    spec = described.removeprefix(_FUNCTION_PREFIX)
    if not described.startswith(_FUNCTION_PREFIX) or spec.startswith("__main__:"):
        raise ObjectiveError(
            f"sweep {sweep.name!r} ran {described!r}, which cannot be imported again (a "
            "function of a script's __main__, a lambda or a closure): move it to a module to "
            "make its trials reproducible"
        )
    try:
        objective = CallableObjective.from_import_path(spec, sweep.metric, base_dir=base)
    except ObjectiveError as exc:
        raise ObjectiveError(f"{exc} (pass --cwd to import from another folder)") from None
    return objective, sweep.config.get("timeout"), None


def environment_differences(
    recorded: Mapping[str, Any], current: Mapping[str, Any]
) -> list[Difference]:
    """Every difference between the recorded and the current environment that could change a
    result: code (git commit, branch, uncommitted changes), packages, Python, machine."""
    diff = diff_environments(recorded, current)
    out: list[Difference] = []
    git = diff.pop("git", {})
    if "commit" in git:
        was, now = git["commit"]
        out.append(Difference(DifferenceKind.CODE, f"git commit {_short(was)} -> {_short(now)}"))
    if "branch" in git:
        was, now = git["branch"]
        out.append(Difference(DifferenceKind.CODE, f"git branch {was} -> {now}"))
    if "diff" in git:
        files = _changed_files(*git["diff"])
        out.append(
            Difference(
                DifferenceKind.CODE,
                "uncommitted changes differ from the recorded ones"
                + (f" in {', '.join(files)}" if files else ""),
            )
        )
    if "untracked" in git:
        was, now = (set(v or ()) for v in git["untracked"])
        if now - was:
            text = ", ".join(sorted(now - was))
            out.append(Difference(DifferenceKind.CODE, f"new untracked files: {text}"))
        if was - now:
            text = ", ".join(sorted(was - now))
            out.append(Difference(DifferenceKind.CODE, f"untracked files gone: {text}"))
        before, after = git["untracked"]
        if isinstance(before, Mapping) and isinstance(after, Mapping):  # content hashes recorded
            changed = sorted(p for p in was & now if before[p] != after[p])
            if changed:
                text = ", ".join(changed)
                out.append(Difference(DifferenceKind.CODE, f"untracked files changed: {text}"))
    out.extend(_data_differences(*diff.pop("inputs", (None, None))))
    packages = diff.pop("packages", {})
    for name, (was, now) in packages.get("changed", {}).items():
        out.append(Difference(DifferenceKind.PACKAGES, f"{name} {was} -> {now}"))
    for name, version in packages.get("added", {}).items():
        out.append(Difference(DifferenceKind.PACKAGES, f"{name} {version} installed since"))
    for name, version in packages.get("removed", {}).items():
        out.append(Difference(DifferenceKind.PACKAGES, f"{name} {version} no longer installed"))
    for key, (was, now) in diff.items():
        if key in _IGNORED:
            continue
        if isinstance(was, Mapping) and isinstance(now, Mapping):
            for sub in sorted(was.keys() | now.keys()):
                if was.get(sub) != now.get(sub):
                    text = f"{key}.{sub} {was.get(sub)!r} -> {now.get(sub)!r}"
                    out.append(Difference(DifferenceKind.ENVIRONMENT, text))
        else:
            out.append(Difference(DifferenceKind.ENVIRONMENT, f"{key} {was!r} -> {now!r}"))
    return out


def _data_differences(was: Any, now: Any) -> list[Difference]:
    """Inputs whose content changed, that are gone, or that are new since the recording."""
    old = dict((was or {}).get("entries") or {})
    new = dict((now or {}).get("entries") or {})
    out = []
    for name in sorted(old.keys() | new.keys()):
        a, b = old.get(name), new.get(name)
        if a is None:
            text = f"{name} is new (not among the recorded inputs)"
        elif b is None:
            text = f"{name} is missing (recorded sha256 {str(a.get('sha256'))[:12]})"
        elif a.get("sha256") != b.get("sha256"):
            was_sha, now_sha = str(a.get("sha256"))[:12], str(b.get("sha256"))[:12]
            text = f"{name} changed: sha256 {was_sha} -> {now_sha}"
            if a.get("size") != b.get("size"):
                text += f", {a.get('size')} -> {b.get('size')} bytes"
        else:
            continue
        out.append(Difference(DifferenceKind.DATA, text))
    for pattern in (now or {}).get("missing") or ():
        out.append(Difference(DifferenceKind.DATA, f"input {pattern!r} matches nothing now"))
    return out


def _short(commit: str | None) -> str:
    return commit[:12] if commit else "(none)"


_DIFF_HEADER = re.compile(r"^diff --git a/(.*?) b/", re.MULTILINE)


def _changed_files(was: str | None, now: str | None) -> list[str]:
    """Files whose uncommitted changes are not the same in the two ``git diff`` texts."""
    a, b = _per_file(was or ""), _per_file(now or "")
    return sorted(f for f in a.keys() | b.keys() if a.get(f) != b.get(f))


def _per_file(diff: str) -> dict[str, str]:
    starts = [(m.start(), m.group(1)) for m in _DIFF_HEADER.finditer(diff)]
    ends = [s for s, _ in starts[1:]] + [len(diff)] * bool(starts)
    return {name: diff[s:e] for (s, name), e in zip(starts, ends, strict=True)}
