"""``hpo sweep`` and ``hpo resume``: running sweeps from the command line."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import click

from hpo._build import plan_from_config, reseed
from hpo._cli_artifacts import ARTIFACTS_OPTION
from hpo._cli_common import (
    EXIT_INTERRUPTED,
    STORE_OPTION,
    err,
    open_for_reading,
    out,
)
from hpo._config import SweepConfig, load_config, parse_config
from hpo._engine import Engine, SweepPlan
from hpo._errors import ConfigError, NotFoundError
from hpo.executors import ExecutorKind
from hpo.reports._progress import RichProgress
from hpo.reports._tables import fmt_value, trials_table
from trackers import Store, SweepRecord, TrialState


def _run_options(command: Callable[..., int]) -> Callable[..., int]:
    """The options `hpo sweep` and `hpo resume` share: where and how many trials run, and
    what is shown."""
    for option in reversed(
        [
            STORE_OPTION,
            click.option("--workers", type=click.IntRange(min=1), help="Trials run at once."),
            click.option(
                "--executor", type=click.Choice(get_args(ExecutorKind)), help="Where trials run."
            ),
            click.option(
                "--address", help="Ray cluster address for --executor ray (e.g. auto, HOST:PORT)."
            ),
            click.option(
                "--trials",
                type=click.IntRange(min=1),
                help="How many trials to run (when resuming: the new total).",
            ),
            click.option(
                "--top",
                type=click.IntRange(min=0),
                default=10,
                show_default=True,
                help="How many of the best trials to show at the end (0: none).",
            ),
            click.option("--no-progress", is_flag=True, help="No progress bar."),
            ARTIFACTS_OPTION,
        ]
    ):
        command = option(command)
    return command


@click.command()
@click.argument("config", type=click.Path(path_type=Path))
@_run_options
@click.option("--seed", type=int, help="Seed for a repeatable search.")
@click.option("--name", help="The sweep's name in the store (default: config name or file).")
@click.option("--resume", "mode", flag_value="resume", help="Continue the sweep of that name.")
@click.option("--new", "mode", flag_value="new", help="Start a new sweep even if one exists.")
def sweep(
    config: Path,
    store: str | None,
    workers: int | None,
    executor: str | None,
    address: str | None,
    trials: int | None,
    seed: int | None,
    name: str | None,
    mode: str | None,
    top: int,
    no_progress: bool,
    artifacts_dir: str | None = None,
) -> int:
    """Run the sweep described by CONFIG (a YAML file).

    If the store already has a sweep of that name, --resume continues it (finished trials are
    kept, trials a dead driver left running are run again) and --new starts another; on a
    terminal you are asked.
    """
    cfg, lines = load_config(config)
    cfg = _override(cfg, str(config), workers, executor, address, trials, seed)
    # Build (and so validate) everything before the store is touched: bad input writes nothing.
    plan = plan_from_config(
        cfg,
        source=str(config),
        lines=lines,
        base_dir=config.parent,
        store=store,
        artifacts=artifacts_dir,
    )
    if artifacts_dir is not None:
        plan.artifacts = os.path.abspath(artifacts_dir)
    wanted = name or cfg.name or config.stem
    with Store(store or cfg.store) as st:
        existing = st.find_sweep(wanted)
        if existing is None and mode == "resume":
            raise NotFoundError(f"no sweep named {wanted!r} to resume in {st.url}")
        if existing is not None and mode is None:
            mode = _ask_resume(existing.name, st)
        if existing is not None and mode == "resume":
            _check_same_search(existing, cfg, plan.strategy.space.to_json())
            # The recorded seed, so the strategy continues the same search.
            if existing.seed is not None:
                reseed(plan, cfg, existing.seed)
            plan.name = existing.name
            return _run(st, plan, top, no_progress, resume=existing.id)
        plan.name = st.available_name(wanted)
        return _run(st, plan, top, no_progress)


@click.command()
@click.argument("sweep_ref", metavar="SWEEP")
@_run_options
def resume(
    sweep_ref: str,
    store: str | None,
    workers: int | None,
    executor: str | None,
    address: str | None,
    trials: int | None,
    top: int,
    no_progress: bool,
    artifacts_dir: str | None = None,
) -> int:
    """Continue SWEEP (name or id) from the config recorded with it."""
    with open_for_reading(store) as st:
        existing = st.get_sweep(sweep_ref)
        if existing.source is None:
            raise ConfigError(
                f"sweep {existing.name!r} was started from Python, not from a config file: "
                "continue it from Python with the same call and resume=True"
            )
        source = f"the config recorded with sweep {existing.name!r}"
        base_dir = Path(existing.source).parent if existing.source else Path.cwd()
        cfg = parse_config(dict(existing.config), source=source)
        cfg = _override(cfg, source, workers, executor, address, trials, existing.seed)
        plan = plan_from_config(
            cfg, source=source, base_dir=base_dir, store=st, artifacts=artifacts_dir
        )
        if artifacts_dir is not None:
            plan.artifacts = os.path.abspath(artifacts_dir)
        plan.name = existing.name
        return _run(st, plan, top, no_progress, resume=existing.id)


def _override(
    cfg: SweepConfig,
    source: str,
    workers: int | None,
    executor: str | None,
    address: str | None,
    trials: int | None,
    seed: int | None,
) -> SweepConfig:
    """Apply command-line options to a config, validated like the file itself."""
    overrides: dict[str, Any] = {
        k: v
        for k, v in {"workers": workers, "trials": trials, "seed": seed}.items()
        if v is not None
    }
    if executor is not None or address is not None:
        # Options from the file stay unless the executor type changes.
        current = cfg.executor.model_dump()
        if executor is not None and executor != current["type"]:
            current = {"type": executor}
        if address is not None:
            current["address"] = address
        overrides["executor"] = current
    if not overrides:
        return cfg
    return parse_config(
        {**cfg.model_dump(exclude_unset=True), **overrides},
        source=f"{source} with command-line options",
    )


def _ask_resume(name: str, st: Store) -> str:
    if not sys.stdin.isatty():
        raise ConfigError(
            f"the store already has a sweep named {name!r}: pass --resume to continue it, or "
            f"--new to start another (it would be named {st.available_name(name)!r})"
        )
    summary = next(s for s in st.list_sweeps() if s.sweep.name == name)
    budget = f"/{summary.sweep.budget}" if summary.sweep.budget else ""
    done = summary.counts.get(TrialState.COMPLETED, 0)
    question = (
        f"Sweep {name!r} exists ({summary.sweep.state.value}, {done}{budget} completed). "
        "Resume it? (no starts a new sweep)"
    )
    return "resume" if click.confirm(question, default=True, err=True) else "new"


def _check_same_search(existing: SweepRecord, cfg: SweepConfig, space: dict[str, Any]) -> None:
    """Resuming with a different search would mix two experiments under one name."""
    changed = [
        what
        for what, same in (
            ("parameters", dict(existing.space) == space),
            ("metric", existing.metric == cfg.metric.name and existing.goal is cfg.metric.goal),
            ("strategy", existing.strategy == cfg.strategy.name),
        )
        if not same
    ]
    if changed:
        raise ConfigError(
            f"the config's {' and '.join(changed)} differ from those recorded with sweep "
            f"{existing.name!r}: resuming would mix two searches; use --new for a new sweep"
        )


def _run(
    st: Store, plan: SweepPlan, top: int, no_progress: bool, *, resume: int | None = None
) -> int:
    progress = None if no_progress else RichProgress(plan.name, plan.metric, plan.goal, err)
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        result = Engine(plan, st, progress=progress, resume=resume).run()
    finally:
        signal.signal(signal.SIGTERM, previous)
    ranked = result.ranked()
    if top:
        out.print(trials_table(ranked[:top], plan.metric, title=f"Best trials of {plan.name}"))
    counts = ", ".join(f"{n} {state.value}" for state in TrialState if (n := result.count(state)))
    best = result.best
    n = len(result.trials)
    out.print(f"{n} trial{'s' * (n != 1)}: {counts or 'none'}")
    if best is not None:
        out.print(
            f"best {plan.metric} = {fmt_value(best.value)} (trial {best.number}: "
            f"{', '.join(f'{k}={fmt_value(v)}' for k, v in best.params.items())})"
        )
    out.print(f"sweep {plan.name!r} (id {result.sweep_id}) recorded in {st.url}")
    if result.interrupted:
        err.print(
            "interrupted: running trials were recorded as interrupted; "
            f"`hpo resume {plan.name}` continues the sweep"
        )
        return EXIT_INTERRUPTED
    return 0 if best is not None else 1


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
