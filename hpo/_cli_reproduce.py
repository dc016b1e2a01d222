"""``hpo reproduce TRIAL``: run a recorded trial again and say whether its result holds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import get_args

import click
from rich.text import Text

from hpo._cli_common import STORE_OPTION, err, open_for_reading, out
from hpo._reproduce import Reproduction, prepare_reproduction
from hpo._reproduce_run import run_reproduction
from hpo.executors import ExecutorKind
from hpo.reports._tables import fmt_value
from trackers import TrialState

#: Exit status when the rerun's value differs from the original's (beyond --tolerance).
EXIT_DIFFERS = 1
# Ray would need a cluster for one trial: the two local kinds are enough to rerun one.
_KINDS = tuple(k for k in get_args(ExecutorKind) if k != "ray")


@click.command()
@click.argument("trial_ref", metavar="TRIAL")
@STORE_OPTION
@click.option("--yes", "-y", is_flag=True, help="Run without asking, even if things differ.")
@click.option(
    "--executor",
    type=click.Choice(_KINDS),
    default="inline",
    show_default=True,
    help="Run in this process, or in a worker process (local) for isolation and timeouts.",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Largest absolute difference of the metric that still counts as a match.",
)
@click.option(
    "--cwd",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="Folder the objective's paths are relative to (default: where the sweep ran).",
)
def reproduce(
    trial_ref: str,
    store: str | None,
    yes: bool,
    executor: ExecutorKind,
    tolerance: float,
    cwd: Path | None,
) -> int:
    """Run TRIAL (SWEEP:NUMBER or a trial id) again with the same params, seed and budget.

    Every difference in code, packages and machine from when it ran is shown first; the
    rerun is recorded as a new trial of the same sweep (its rerun_of names TRIAL). Exits 0
    when the metric matches (within --tolerance), 1 when it does not, 2 for bad input.
    """
    with open_for_reading(store) as st:
        repro = prepare_reproduction(st, trial_ref, cwd=cwd)
        _show_differences(repro)
        if repro.differences and not yes and sys.stdin.isatty():
            click.confirm("Run it anyway?", default=True, abort=True, err=True)
        run_reproduction(st, repro, executor=executor)
        if repro.rerun is not None and repro.rerun.state is TrialState.INTERRUPTED:
            raise KeyboardInterrupt  # recorded as interrupted; the CLI exits as for Ctrl-C
        _show_outcome(repro, tolerance)
        return 0 if repro.matches(tolerance) else EXIT_DIFFERS


def _show_differences(repro: Reproduction) -> None:
    o = repro.original
    label = f"{repro.sweep.name}:{o.number}"
    params = ", ".join(f"{k}={fmt_value(v)}" for k, v in o.params.items())
    budget = f", budget {fmt_value(o.budget)}" if o.budget is not None else ""
    out.print(f"reproducing trial {label} ({params}; seed {o.seed}{budget})")
    if repro.recorded_argv:
        out.print(f"it ran under: {' '.join(repro.recorded_argv)}")
    for difference in repro.differences:
        err.print(Text("warning: ", style="yellow") + Text(str(difference)))
    if not repro.differences:
        out.print("no differences in code, packages or machine from when it ran")


def _show_outcome(repro: Reproduction, tolerance: float) -> None:
    o, r = repro.original, repro.rerun
    assert r is not None  # run_reproduction fills it
    metric = repro.sweep.metric
    out.print(f"recorded as trial {repro.sweep.name}:{r.number} (rerun of {o.number})")
    out.print(f"original {metric} = {_value(o.value, o.state.value)}")
    out.print(f"rerun    {metric} = {_value(r.value, r.state.value)}")
    if r.error:
        out.print(f"rerun error: {r.error}")
    diff, rel = repro.difference, repro.relative
    if diff is not None:
        relative = f" ({rel:+.3%})" if rel is not None else ""
        out.print(f"difference {diff:+.6g}{relative}")
    if repro.matches(tolerance):
        out.print("matches" + (f" (within {tolerance:g})" if tolerance else ""))
    else:
        out.print(Text("does not match", style="bold red"))


def _value(value: float | None, state: str) -> str:
    # In full: a match is exact by default, and six digits could hide a difference.
    return repr(value) if value is not None else f"none ({state})"
