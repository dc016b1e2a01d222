"""Running one recorded trial again, here and now, to see whether its result holds: the plan.

A reproduction rebuilds the trial's objective from what its sweep recorded (the config of a
config-file sweep, or the import path of a Python function), tells apart the environment the
trial ran in from the current one (:mod:`hpo._reproduce_differences`), runs the trial once with
the same params, seed and budget, and records the run as a new trial of the same sweep (the
next number, ``rerun_of`` naming the original). It is two steps, :func:`prepare_reproduction`
here then :func:`hpo._reproduce_run.run_reproduction`, so a caller can show the differences and
ask before anything runs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo._build import build_objective, own_paths
from hpo._config import parse_config
from hpo._errors import ObjectiveError, StoreError
from hpo._objective import CallableObjective, Objective
from hpo._reproduce_differences import Difference, environment_differences
from search_spaces import SearchSpace
from trackers import (
    Store,
    SweepRecord,
    SweepState,
    TrialRecord,
    capture_environment,
    hash_inputs,
    resolve_code,
)
from trackers._drivers import driver_alive

_FUNCTION_PREFIX = "function "


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
        diff, value = self.difference, self.original.value
        if diff is None or value is None or value == 0:
            return None
        return diff / abs(value)

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
    sweep = store.get_sweep(original.stored_ids()[1])
    label = f"{sweep.name}:{original.number}"
    if not original.state.is_finished:
        raise StoreError(
            f"trial {label} is {original.state.value}: only a finished trial can be reproduced; "
            "wait for it to finish"
        )
    refuse_live_driver(sweep)
    env_id = original.environment_id or sweep.environment_id
    recorded = store.get_environment(env_id) if env_id is not None else {}
    base = _base_dir(sweep, recorded, cwd)
    objective, timeout, memory = _rebuild_objective(sweep, base)
    try:
        objective.check(SearchSpace.from_json(dict(sweep.space)).names)
    except ObjectiveError as exc:
        raise ObjectiveError(f"trial {label} cannot be rerun here: {exc}") from None
    current = _current_environment(recorded, base, store)
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


def _current_environment(recorded: Mapping[str, Any], base: Path, store: Store) -> dict[str, Any]:
    """The environment here and now, with the recorded env-var names and the recorded inputs
    hashed again the same way (an input gone since is listed as missing, not an error)."""
    names = recorded.get("env_vars")
    # Leave out what the recorded capture left out (hpo's files then) and this store's files
    # now, so that neither reads as a code difference.
    git = recorded.get("git")
    root = git.get("root") if isinstance(git, Mapping) else None
    again = git.get("excluded") if isinstance(git, Mapping) else None
    exclude = [*own_paths(store), *(Path(root, p) for p in again or () if root)]
    current = capture_environment(
        cwd=base,
        argv=sys.argv,
        env_vars=list(names) if isinstance(names, Mapping) else (),
        exclude=exclude,
    )
    inputs = recorded.get("inputs")
    patterns = inputs.get("patterns") if isinstance(inputs, Mapping) else None
    if patterns:
        current["inputs"] = hash_inputs([str(p) for p in patterns], base, missing_ok=True)
    return current


def refuse_live_driver(sweep: SweepRecord) -> None:
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
