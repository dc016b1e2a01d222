"""``hpo ls``, ``hpo show`` and ``hpo report``: reading the store."""

from __future__ import annotations

import click
from rich.text import Text

from hpo._cli_common import FORMAT_OPTION, STORE_OPTION, open_for_reading, out
from hpo.reports._tables import (
    dumps,
    fmt_duration,
    fmt_time,
    fmt_value,
    kv_table,
    state_text,
    sweep_state,
    sweeps_table,
    trial_json,
    trials_table,
)

#: Rows `hpo report` shows in a table unless told otherwise.
TABLE_TOP = 25


@click.command(name="ls")
@STORE_OPTION
@FORMAT_OPTION
def ls(store: str | None, fmt: str) -> int:
    """List the sweeps in the store."""
    with open_for_reading(store) as st:
        summaries = st.list_sweeps()
        if fmt == "json":
            write_json(
                [
                    {
                        "id": s.sweep.id,
                        "name": s.sweep.name,
                        "state": sweep_state(s.sweep),
                        "strategy": s.sweep.strategy,
                        "metric": s.sweep.metric,
                        "goal": s.sweep.goal.value,
                        "best_value": s.best_value,
                        "trials": {k.value: v for k, v in s.counts.items()},
                        "created_at": s.sweep.created_at,
                    }
                    for s in summaries
                ]
            )
        elif not summaries:
            out.print(f"no sweeps in {st.url}")
        else:
            out.print(sweeps_table(summaries))
    return 0


@click.command()
@click.argument("trial")
@STORE_OPTION
@FORMAT_OPTION
def show(trial: str, store: str | None, fmt: str) -> int:
    """Show one trial whole: TRIAL is its id or SWEEP:NUMBER."""
    with open_for_reading(store) as st:
        t = st.get_trial(trial)
        sweep_rec = st.get_sweep(t.sweep_id)  # type: ignore[arg-type]
        series = st.metric_series(t.id)  # type: ignore[arg-type]
        env = st.get_environment(t.environment_id) if t.environment_id else None
    if fmt == "json":
        write_json(
            trial_json(
                t,
                sweep=sweep_rec.name,
                traceback=t.traceback,
                series={
                    k: [{"step": p.step, "value": p.value, "time": p.time} for p in v]
                    for k, v in series.items()
                },
                environment=env,
            )
        )
        return 0
    out.print(
        kv_table(
            {
                "trial": f"{sweep_rec.name}:{t.number} (id {t.id})",
                "state": state_text(t.state),
                sweep_rec.metric: fmt_value(t.value),
                "started": fmt_time(t.started_at),
                "duration": fmt_duration(t.duration),
                "seed": t.seed,
                "host": t.host,
                "objective": sweep_rec.objective,
            },
            title="Trial",
        )
    )
    out.print(kv_table({k: fmt_value(v) for k, v in t.params.items()}, title="\nParams"))
    if t.metrics:
        out.print(kv_table({k: fmt_value(v) for k, v in t.metrics.items()}, title="\nMetrics"))
    if series:
        out.print(
            kv_table(
                {
                    k: f"{len(v)} points, last {fmt_value(v[-1].value)} at step "
                    f"{fmt_value(v[-1].step)}"
                    for k, v in series.items()
                },
                title="\nReported series",
            )
        )
    if env:
        git = env.get("git") or {}
        out.print(
            kv_table(
                {
                    "python": (env.get("python") or {}).get("version"),
                    "os": (env.get("os") or {}).get("platform"),
                    "cpu": (env.get("cpu") or {}).get("model"),
                    "gpus": ", ".join(g.get("name", "?") for g in env.get("gpus") or []) or "-",
                    "git": (git.get("commit") or "-") + (" (dirty)" if git.get("dirty") else ""),
                    "packages": f"{len(env.get('packages') or {})} recorded",
                    "command": " ".join(env.get("argv") or []),
                },
                title="\nEnvironment",
            )
        )
    if t.error:
        out.print(Text("\nError: ", style="bold red") + Text(t.error))
    if t.traceback:
        out.print(Text(t.traceback.rstrip(), style="dim"))
    return 0


@click.command()
@click.argument("sweep_ref", metavar="SWEEP")
@STORE_OPTION
@FORMAT_OPTION
@click.option(
    "--top",
    type=click.IntRange(min=1),
    help=f"Only the N best trials (table default: {TABLE_TOP}; JSON default: all).",
)
@click.option("--all", "show_all", is_flag=True, help="Every trial, also in the table.")
def report(sweep_ref: str, store: str | None, fmt: str, top: int | None, show_all: bool) -> int:
    """The trials of SWEEP (name or id), ranked by the sweep's metric."""
    if top is None and fmt == "table" and not show_all:
        top = TABLE_TOP  # a terminal table of 100,000 rows helps nobody
    with open_for_reading(store) as st:
        sw = st.get_sweep(sweep_ref)
        trials = st.trials(sw.id, ranked=True, limit=None if show_all else top)
        total = sum(st.counts(sw.id).values()) if fmt == "table" else len(trials)
    if fmt == "json":
        write_json([trial_json(t) for t in trials])
        return 0
    out.print(trials_table(trials, sw.metric, title=f"{sw.name}: {sw.metric} ({sw.goal.value})"))
    if len(trials) < total:
        out.print(f"{len(trials)} of {total} trials shown: --top N or --all for more")
    return 0


def write_json(obj: object) -> None:
    """Plain JSON on stdout: no terminal markup, and fast for large listings."""
    click.echo(dumps(obj))
