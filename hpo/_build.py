"""From a validated config to a runnable :class:`SweepPlan`.

Each part (space, strategy, objective) is built here, before the sweep is recorded, so that
a bad config fails with a located message and nothing is written to the store.
"""

from __future__ import annotations

import os
import secrets
import sys
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

from hpo._checkpoints import default_checkpoint_root
from hpo._config import SweepConfig, locate
from hpo._engine import SweepPlan
from hpo._errors import ConfigError, ObjectiveError, SearchSpaceError, StrategyError
from hpo._objective import CallableObjective, CommandObjective, Objective
from hpo._stopping import make_rule
from hpo._yaml import KeyPath, line_of
from hpo.executors import Executor, make_executor
from hpo.strategies import make_strategy
from search_spaces import SearchSpace
from trackers import InputsError, Snapshot, Store, StoreError, capture_environment
from trackers._artifacts import default_artifact_root
from trackers._connect import resolve_url
from trackers._inputs import expand_inputs

#: what SQLite writes beside its database file (rollback journal, write-ahead log, its index)
_SQLITE_SIBLINGS = ("-journal", "-wal", "-shm")


def own_paths(
    store: str | os.PathLike[str] | Store | None,
    *,
    artifacts: str | os.PathLike[str] | None = None,
    checkpoints: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """The files and folders hpo itself writes beside a sweep recorded in ``store`` (a
    :class:`Store`, or what ``Store()`` takes: None for ``$HPO_STORE`` or ``./hpo.db``): a SQLite
    store's file and its ``-journal``/``-wal``/``-shm`` siblings, the store's artifact and
    checkpoint folders, and the sweep's own ``artifacts`` and ``checkpoints`` folders where given.
    Both the store's and the sweep's folders count: earlier sweeps of the same store may have
    used either. Git capture leaves them out, so hpo's own files never make a tree dirty."""
    if isinstance(store, Store):
        database = store.database_file()
        artifact_root = store.artifact_root
    else:
        try:
            url = resolve_url(store)
        except StoreError:
            url = None  # opening the store fails later, with this same message
        name = url.database if url is not None and url.get_backend_name() == "sqlite" else None
        # as Store.database_file: no file for an in-memory or a "file:" URI database
        database = (
            os.path.abspath(name)
            if name and name != ":memory:" and not name.startswith("file:")
            else None
        )
        artifact_root = default_artifact_root(database)
    paths = [artifact_root, default_checkpoint_root(database)]
    if database is not None:
        paths += [database + suffix for suffix in ("", *_SQLITE_SIBLINGS)]
    paths += [os.fspath(p) for p in (artifacts, checkpoints) if p is not None]
    return sorted({Path(os.path.abspath(p)) for p in paths})


def plan_from_config(
    cfg: SweepConfig,
    *,
    source: str = "<dict>",
    lines: Mapping[KeyPath, int] | None = None,
    base_dir: Path | None = None,
    name: str | None = None,
    environment: bool = True,
    store: str | os.PathLike[str] | Store | None = None,
    artifacts: str | os.PathLike[str] | None = None,
) -> SweepPlan:
    """Build the plan for ``cfg``. ``base_dir`` is where the config lives: objective import
    paths and command working directories are relative to it. ``name`` is the sweep's
    recorded name (the caller makes it unique in the store). ``store`` (default: the config's,
    else ``$HPO_STORE`` or ``./hpo.db``) and ``artifacts`` (an override of the config's) name
    where the sweep will be recorded, so that the environment's git capture leaves hpo's own
    files out (see :func:`own_paths`)."""
    lines = dict(lines or {})
    base = (base_dir or Path.cwd()).resolve()
    try:
        space = SearchSpace.from_dict(cfg.parameters)
    except SearchSpaceError as exc:
        raise locate(exc, ("parameters",), source, lines) from None
    goal = cfg.metric.goal
    # Draw the seed here when none is given, so the recorded seed reproduces the search.
    seed = cfg.seed if cfg.seed is not None else secrets.randbits(31)
    try:
        strategy = make_strategy(
            cfg.strategy.name, space, goal=goal, seed=seed, options=cfg.strategy.options
        )
    except StrategyError as exc:
        raise locate(exc, ("strategy",), source, lines) from None
    objective = build_objective(cfg, base, source, lines)
    try:
        objective.check(space.names)
    except ObjectiveError as exc:
        key = "function" if cfg.objective.function is not None else "command"
        raise locate(exc, ("objective", key), source, lines) from None
    trials = cfg.trials if cfg.trials is not None else strategy.default_trials
    if trials is None and strategy.name != "grid":
        raise ConfigError(
            f"'trials' is required for strategy {strategy.name!r}: add e.g. 'trials: 50'",
            source=source,
            line=line_of(lines, ()),
            path=("trials",),
        )
    if cfg.timeout is not None and cfg.executor.type == "inline" and cfg.objective.function:
        warnings.warn(
            "timeout is not enforced for Python functions on the inline executor; "
            "use 'executor: local' to enforce it",
            stacklevel=2,
        )
    if cfg.memory_limit is not None and cfg.executor.type != "local":
        warnings.warn(
            f"memory_limit is enforced by the local executor only, not {cfg.executor.type!r}",
            stacklevel=2,
        )
    stopping = None
    if cfg.early_terminate is not None:
        try:
            stopping = make_rule(cfg.early_terminate, goal)
        except ConfigError as exc:
            raise locate(exc, (), source, lines) from None
    if cfg.retries and strategy.max_budget is not None:
        raise ConfigError(
            f"retries are not supported by the multi-fidelity strategy {strategy.name!r}: a "
            "failed leg counts as the worst result of its rung; remove 'retries'",
            source=source,
            line=line_of(lines, ("retries",)),
            path=("retries",),
        )
    checkpoint_root = str(base / cfg.checkpoints) if cfg.checkpoints else None
    artifact_root = (
        os.path.abspath(artifacts)
        if artifacts is not None
        else str((base / os.path.expanduser(cfg.artifacts)).absolute())
        if cfg.artifacts
        else None
    )
    if environment:
        exclude = own_paths(
            store if store is not None else cfg.store,
            artifacts=artifact_root,
            checkpoints=checkpoint_root,
        )
        environment_ = _environment(cfg, base, source, lines, exclude)
    else:
        environment_ = None
        _check_inputs(cfg, base, source, lines)
    return SweepPlan(
        name=name or cfg.name or "sweep",
        strategy=strategy,
        objective=objective,
        executor=build_executor(cfg, source, lines),
        executor_name=cfg.executor.type,
        metric=cfg.metric.name,
        goal=goal,
        trials=trials,
        timeout=cfg.timeout,
        config=cfg.model_dump(mode="json", exclude_none=True),
        source=source,
        environment=environment_,
        seed=seed,
        memory_limit=cfg.memory_limit,
        retries=cfg.retries,
        rerun_interrupted=cfg.rerun_interrupted,
        stopping=stopping,
        checkpoints=checkpoint_root,
        artifacts=artifact_root,
    )


def reseed(plan: SweepPlan, cfg: SweepConfig, seed: int) -> None:
    """Give ``plan`` the seed of the recorded sweep it resumes: the strategy is the one part
    that depends on it, so only it is built again (the config already validated it)."""
    plan.seed = seed
    plan.strategy = make_strategy(
        cfg.strategy.name,
        plan.strategy.space,
        goal=cfg.metric.goal,
        seed=seed,
        options=cfg.strategy.options,
    )


def _environment(
    cfg: SweepConfig,
    base: Path,
    source: str,
    lines: Mapping[KeyPath, int],
    exclude: Sequence[Path],
) -> Snapshot:
    try:
        return capture_environment(
            cwd=base,
            argv=sys.argv,
            inputs=cfg.inputs,
            inputs_base=base,
            env_vars=cfg.env_vars,
            exclude=exclude,
        )
    except InputsError as exc:
        raise locate(exc, ("inputs",), source, lines) from None


def _check_inputs(cfg: SweepConfig, base: Path, source: str, lines: Mapping[KeyPath, int]) -> None:
    # Without a snapshot nothing is hashed, but a declared input must still exist.
    try:
        expand_inputs(cfg.inputs, base)
    except InputsError as exc:
        raise locate(exc, ("inputs",), source, lines) from None


def build_executor(cfg: SweepConfig, source: str, lines: Mapping[KeyPath, int]) -> Executor:
    try:
        return make_executor(cfg.executor.type, workers=cfg.workers, options=cfg.executor.options)
    except ValueError as exc:
        raise ConfigError(
            str(exc), source=source, line=line_of(dict(lines), ("executor",)), path=("executor",)
        ) from None


def build_objective(
    cfg: SweepConfig, base: Path, source: str, lines: Mapping[KeyPath, int]
) -> Objective:
    spec = cfg.objective
    metric = cfg.metric.name
    if spec.function is not None:
        try:
            return CallableObjective.from_import_path(spec.function, metric, base_dir=base)
        except ObjectiveError as exc:
            raise locate(exc, ("objective", "function"), source, lines) from None
    if spec.command is None:  # ObjectiveSpec's validator admits exactly one of the two
        raise ConfigError(
            "objective needs a 'function' (e.g. train:objective) or a 'command'",
            source=source,
            line=line_of(dict(lines), ("objective",)),
            path=("objective",),
        )
    cwd = base / spec.cwd if spec.cwd else base
    if not cwd.is_dir():
        raise ConfigError(
            f"working directory {cwd} does not exist",
            source=source,
            line=line_of(dict(lines), ("objective", "cwd")),
            path=("objective", "cwd"),
        )
    try:
        return CommandObjective(
            spec.command,
            metric,
            cwd=cwd,
            env=spec.env,
            **({"stop_grace": spec.stop_grace} if spec.stop_grace is not None else {}),
        )
    except ObjectiveError as exc:
        raise locate(exc, ("objective", "command"), source, lines) from None
