"""The Python face: ``@hpo.objective`` on a function, then ``.sweep(...)``."""

from __future__ import annotations

import functools
import multiprocessing
import os
import secrets
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar, overload

from hpo._build import own_paths
from hpo._config import parse_memory
from hpo._engine import Engine, SweepPlan
from hpo._errors import ObjectiveError
from hpo._objective import CallableObjective
from hpo._result import SweepResult
from hpo._stopping import make_rule
from hpo.executors import Executor, make_executor
from hpo.strategies import Strategy, make_strategy
from search_spaces import SearchSpace, as_space
from trackers import Goal, Store, capture_environment
from trackers._inputs import expand_inputs

R = TypeVar("R")
GoalLike = Goal | Literal["minimize", "maximize"]


class ObjectiveFunction(Generic[R]):
    """A function marked as an objective. Calling it calls the function unchanged; ``sweep``
    searches its parameters. Made by :func:`objective`."""

    def __init__(self, func: Callable[..., R], metric: str, goal: GoalLike) -> None:
        functools.update_wrapper(self, func)
        self.func = func
        self.metric = metric
        self.goal = Goal(goal)

    def __call__(self, *args: Any, **kwargs: Any) -> R:
        return self.func(*args, **kwargs)

    def __reduce__(self) -> str | tuple[Any, ...]:
        # Pickle by reference (worker processes import it), like a plain module-level function.
        return self.func.__qualname__

    def sweep(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        strategy: str | Strategy = "random",
        strategy_options: Mapping[str, Any] | None = None,
        trials: int | None = None,
        workers: int = 1,
        executor: Literal["inline", "local", "ray"] | Executor | None = None,
        timeout: float | None = None,
        memory_limit: int | str | None = None,
        retries: int = 0,
        early_terminate: Mapping[str, Any] | str | None = None,
        checkpoints: str | os.PathLike[str] | None = None,
        artifacts: str | os.PathLike[str] | None = None,
        inputs: Sequence[str] = (),
        env_vars: Sequence[str] = (),
        seed: int | None = None,
        store: str | os.PathLike[str] | Store | None = None,
        track: bool = True,
        name: str | None = None,
        resume: bool = False,
        progress: bool = False,
    ) -> SweepResult:
        """Search this objective's parameters; see :func:`sweep` for the arguments."""
        return sweep(
            self,
            space,
            metric=self.metric,
            goal=self.goal,
            strategy=strategy,
            strategy_options=strategy_options,
            trials=trials,
            workers=workers,
            executor=executor,
            timeout=timeout,
            memory_limit=memory_limit,
            retries=retries,
            early_terminate=early_terminate,
            checkpoints=checkpoints,
            artifacts=artifacts,
            inputs=inputs,
            env_vars=env_vars,
            seed=seed,
            store=store,
            track=track,
            name=name,
            resume=resume,
            progress=progress,
        )


@overload
def objective(func: Callable[..., R], /) -> ObjectiveFunction[R]: ...
@overload
def objective(
    *, metric: str = "value", goal: GoalLike = Goal.MINIMIZE
) -> Callable[[Callable[..., R]], ObjectiveFunction[R]]: ...
def objective(
    func: Callable[..., R] | None = None,
    /,
    *,
    metric: str = "value",
    goal: GoalLike = Goal.MINIMIZE,
) -> ObjectiveFunction[R] | Callable[[Callable[..., R]], ObjectiveFunction[R]]:
    """Mark a function as an objective::

        @hpo.objective(metric="val_loss", goal="minimize")
        def train(lr: float, layers: int, trial: hpo.Trial) -> float: ...

        result = train.sweep(space={"lr": {"min": 1e-4, "max": 1e-1, "log": True},
                                    "layers": {"values": [1, 2, 3]}}, trials=50)

    The function receives the params as keyword arguments (or one dict), and the trial
    handle when it has a ``trial`` parameter; it returns a number or a dict of metrics.
    """

    def wrap(f: Callable[..., R]) -> ObjectiveFunction[R]:
        return ObjectiveFunction(f, metric, goal)

    return wrap(func) if func is not None else wrap


def sweep(
    func: Callable[..., Any],
    space: SearchSpace | Mapping[str, Any],
    *,
    metric: str = "value",
    goal: GoalLike = Goal.MINIMIZE,
    strategy: str | Strategy = "random",
    strategy_options: Mapping[str, Any] | None = None,
    trials: int | None = None,
    workers: int = 1,
    executor: Literal["inline", "local", "ray"] | Executor | None = None,
    timeout: float | None = None,
    memory_limit: int | str | None = None,
    retries: int = 0,
    early_terminate: Mapping[str, Any] | str | None = None,
    checkpoints: str | os.PathLike[str] | None = None,
    artifacts: str | os.PathLike[str] | None = None,
    inputs: Sequence[str] = (),
    env_vars: Sequence[str] = (),
    seed: int | None = None,
    store: str | os.PathLike[str] | Store | None = None,
    track: bool = True,
    name: str | None = None,
    resume: bool = False,
    progress: bool = False,
) -> SweepResult:
    """Run a sweep of ``func`` over ``space`` and return its :class:`SweepResult`.

    ``space`` is a :class:`SearchSpace` or a mapping in the config file's format.
    ``trials`` is required except for ``strategy="grid"`` (which runs until exhausted).
    ``executor`` defaults to ``inline`` (same process) for one worker and ``local`` (worker
    processes: isolation and timeouts) for more. Trials are recorded in ``store`` (a URL, a
    SQLite path, a :class:`Store`; default ``$HPO_STORE`` or ``./hpo.db``) unless ``track``
    is False. ``seed`` makes the search repeatable; without one a seed is drawn and recorded.
    Multi-fidelity strategies (``"hyperband"``, ``"asha"``, ``"bohb"``; options ``min_budget``,
    ``max_budget``, ``eta``...) give each trial ``trial.budget``; ``early_terminate``
    (``"median"`` or e.g. ``{"type": "hyperband", "min_iter": 1, "eta": 3}``) stops trials
    whose reported curve falls behind, with any strategy. ``checkpoints`` is where trials'
    ``trial.checkpoint_dir`` directories go (default: beside a SQLite store, else a temporary
    folder). ``artifacts`` is the folder ``trial.log_artifact`` copies files into (default:
    ``$HPO_ARTIFACTS``, else ``<store>-artifacts/`` beside a SQLite store, else
    ``~/.local/share/hpo/artifacts``); with ``track=False`` logging an artifact fails the
    trial, as there is no store to record it in. ``inputs`` (paths or globs relative to the
    working directory) are hashed into the recorded environment (a pattern matching nothing is
    an error) and ``env_vars`` names the environment variables recorded with it (only those:
    never the whole environment).
    ``timeout`` (seconds) and ``memory_limit`` (a number of MiB, or a string with its unit:
    ``"2GB"`` is 2*10**9 bytes, ``"2GiB"`` 2*2**30) bound each trial on the local executor;
    ``retries`` reruns a failed or timed-out trial that often.
    ``name`` names the sweep (default: the function's name, made unique). With ``resume``, a
    recorded sweep of that name is continued instead: finished trials are kept, trials left
    running by a dead driver run again, and ``trials`` is the new total budget.
    """
    if isinstance(inputs, str) or isinstance(env_vars, str):
        raise TypeError("inputs and env_vars are lists of strings, e.g. inputs=['data/*.csv']")
    _refuse_in_bootstrapping_worker()
    if inputs and not track:
        expand_inputs(list(inputs), Path.cwd())  # a declared input must exist even untracked
    search_space = as_space(space)
    goal = Goal(goal)
    objective_ = CallableObjective(func, metric)
    objective_.check(search_space.names)
    own_store = track and not isinstance(store, Store)
    the_store = (store if isinstance(store, Store) else Store(store)) if track else None
    try:
        base = name or str(getattr(func, "__name__", "sweep"))
        previous = the_store.find_sweep(base) if (resume and the_store is not None) else None
        if previous is not None:
            if dict(previous.space) != search_space.to_json():
                raise ValueError(
                    f"the space differs from the one recorded with sweep {previous.name!r}: "
                    "resuming would mix two searches; pass another name to start a new sweep"
                )
            seed = previous.seed  # the recorded seed: the strategy continues the same search
        # Draw the seed here when none is given, so the recorded seed reproduces the search.
        seed = seed if seed is not None else secrets.randbits(31)
        strat = (
            strategy
            if isinstance(strategy, Strategy)
            else make_strategy(
                strategy, search_space, goal=goal, seed=seed, options=strategy_options
            )
        )
        if trials is None:
            trials = strat.default_trials
        if trials is None and strat.name != "grid":
            raise ValueError(f"trials is required for strategy {strat.name!r}: e.g. trials=50")
        if retries and strat.max_budget is not None:
            raise ValueError(
                f"retries are not supported by the multi-fidelity strategy {strat.name!r}: a "
                "failed leg counts as the worst result of its rung"
            )
        stopping = make_rule(early_terminate, goal) if early_terminate is not None else None
        if isinstance(executor, Executor):
            exe, exe_name = executor, type(executor).__name__
        else:
            exe_name = executor or ("inline" if workers == 1 else "local")
            exe = make_executor(exe_name, workers=workers)
        if previous is not None:
            sweep_name = previous.name
        elif the_store is not None:
            sweep_name = the_store.available_name(base)
        else:
            sweep_name = base
        plan = SweepPlan(
            name=sweep_name,
            strategy=strat,
            objective=objective_,
            executor=exe,
            executor_name=exe_name,
            metric=metric,
            goal=goal,
            trials=trials,
            timeout=timeout,
            memory_limit=parse_memory(memory_limit),
            retries=retries,
            config={
                "objective": objective_.describe(),
                "metric": {"name": metric, "goal": goal.value},
                "parameters": search_space.to_json(),
                "strategy": {"name": strat.name, **strat.options()},
                "trials": trials,
                "workers": workers,
                "executor": exe_name,
                "timeout": timeout,
                **({"early_terminate": stopping.options()} if stopping is not None else {}),
            },
            source=None,
            environment=capture_environment(
                cwd=Path.cwd(),
                argv=sys.argv,
                inputs=list(inputs),
                env_vars=list(env_vars),
                # hpo's own store, artifact and checkpoint files do not make the code dirty
                exclude=own_paths(the_store, artifacts=artifacts, checkpoints=checkpoints),
            )
            if the_store is not None
            else None,
            seed=seed,
            stopping=stopping,
            checkpoints=os.fspath(checkpoints) if checkpoints is not None else None,
            artifacts=os.path.abspath(artifacts) if artifacts is not None else None,
        )
        bar = None
        if progress:
            from hpo.reports._progress import RichProgress

            bar = RichProgress(plan.name, metric, goal)
        resume_id = previous.id if previous is not None else None
        return Engine(plan, the_store, progress=bar, resume=resume_id).run()
    finally:
        if own_store and the_store is not None:
            the_store.close()


def _refuse_in_bootstrapping_worker() -> None:
    # A worker process (spawn) imports the main script to find the objective. A script that
    # starts its sweep at import would start another sweep, with its own workers and its own
    # failed record in the store, in every worker: refuse before anything is recorded.
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        raise ObjectiveError(
            "hpo.sweep was called while a worker process was importing the main script: a "
            "script that runs a sweep with worker processes must start it under "
            "'if __name__ == \"__main__\":', so that workers can import the objective "
            "without running the sweep again"
        )
