"""``hpo ls``, ``hpo show`` and ``hpo report``: reading the store."""

from __future__ import annotations

from typing import Any

import click
from rich.text import Text

from hpo._cli_common import (
    FORMAT_OPTION,
    STORE_OPTION,
    OutputFormat,
    err,
    format_option,
    open_for_reading,
    out,
)
from hpo._cli_compare import show_lineage
from hpo._lineage_summary import artifact_text
from hpo._query import select, select_sweeps
from hpo._query_fields import config_tags
from hpo.reports._formats import csv_table, markdown_table
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
from search_spaces import SearchSpace
from trackers import NotFoundError, Store, SweepRecord, TrialRecord, TrialState, resolve_code

#: Rows `hpo report` shows in a table unless told otherwise.
TABLE_TOP = 25
_QUERY_HELP = "Field names, operators and examples: `hpo.select` in Python, or the README."


def _sort_option(default: str) -> Any:
    return click.option(
        "--sort",
        "sort_text",
        metavar="KEYS",
        help=f"Order by fields, comma-separated, '-' for descending (default: {default}).",
    )


@click.command(name="ls")
@STORE_OPTION
@FORMAT_OPTION
@click.option(
    "--filter",
    "filter_text",
    metavar="EXPR",
    help="Only the sweeps matching EXPR, e.g. \"state == completed and 'prod' in tags\" "
    "(fields: name, state, strategy, metric, goal, best, trials, trials.failed, created, tags, "
    "...).",
)
@_sort_option("newest first")
@click.option("--top", type=click.IntRange(min=1), help="Only the first N (after --filter/--sort).")
def ls(
    store: str | None, fmt: str, filter_text: str | None, sort_text: str | None, top: int | None
) -> int:
    """List the sweeps in the store."""
    with open_for_reading(store) as st:
        every = st.list_sweeps()
        matched = select_sweeps(every, filter_text, sort_text)
        summaries = matched[:top] if top else matched
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
        elif not every:
            out.print(f"no sweeps in {st.url}")
        else:
            if summaries:
                out.print(sweeps_table(summaries))
            if filter_text:
                out.print(f"{len(matched)} of {len(every)} sweeps match")
    return 0


@click.command()
@click.argument("trial")
@STORE_OPTION
@FORMAT_OPTION
@click.option(
    "--lineage",
    is_flag=True,
    help="How the trial was built: code version and diff, environment, command, params, "
    "seed, timings, artifacts.",
)
@click.option(
    "--diff",
    "show_diff",
    is_flag=True,
    help="Print the full uncommitted diff of the trial's git tree, as recorded (for git apply).",
)
def show(
    trial: str, store: str | None, fmt: str, lineage: bool = False, show_diff: bool = False
) -> int:
    """Show one trial whole: TRIAL is its id or SWEEP:NUMBER."""
    if show_diff:
        return _print_diff(trial, store)
    if lineage:
        return show_lineage(trial, store, OutputFormat(fmt))
    with open_for_reading(store) as st:
        t = st.get_trial(trial)
        trial_id, sweep_id = t.stored_ids()
        sweep_rec = st.get_sweep(sweep_id)
        series = st.metric_series(trial_id)
        env = st.get_environment(t.environment_id) if t.environment_id else None
        artifacts = st.artifacts(trial_id)
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
                artifacts=[
                    {"name": a.name, "size": a.size, "sha256": a.sha256, "created_at": a.created_at}
                    for a in artifacts
                ],
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
                **({"budget": fmt_value(t.budget)} if t.budget is not None else {}),
                **({"stopped at step": t.step} if t.state is TrialState.PRUNED else {}),
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
    if artifacts:
        rows = {a.name: artifact_text(a) for a in artifacts}
        out.print(kv_table(rows, title="\nArtifacts"))
    if t.error:
        label = "\nPruned: " if t.state is TrialState.PRUNED else "\nError: "
        style = "bold yellow" if t.state is TrialState.PRUNED else "bold red"
        out.print(Text(label, style=style) + Text(t.error))
    if t.traceback:
        out.print(Text(t.traceback.rstrip(), style="dim"))
    return 0


@click.command()
@click.argument("sweep_ref", metavar="SWEEP")
@STORE_OPTION
@format_option(
    *OutputFormat,
    help=f"table and md (Markdown): the best {TABLE_TOP}; json and csv: every trial.",
)
@click.option(
    "--top",
    type=click.IntRange(min=1),
    help=f"Only the N best trials (table, md default: {TABLE_TOP}; json, csv default: all; "
    "--html: 100 in its table).",
)
@click.option("--all", "show_all", is_flag=True, help="Every trial, also in the table.")
@click.option(
    "--filter",
    "filter_text",
    metavar="EXPR",
    help='Only the trials matching EXPR, e.g. "lr < 0.01 and state == completed", '
    '"metrics.acc >= 0.9", "started > 2h ago". ' + _QUERY_HELP,
)
@_sort_option("the sweep's ranking")
@click.option(
    "--html",
    "html_path",
    type=click.Path(dir_okay=False, writable=True),
    metavar="FILE",
    help="Write a self-contained HTML report (plots, importance, learning curves) to FILE.",
)
def report(
    sweep_ref: str,
    store: str | None,
    fmt: OutputFormat,
    top: int | None,
    show_all: bool,
    html_path: str | None,
    filter_text: str | None,
    sort_text: str | None,
) -> int:
    """The trials of SWEEP (name or id), ranked by the sweep's metric."""
    if html_path is not None and (filter_text or sort_text):
        raise click.UsageError("--filter and --sort choose what is printed, not what --html writes")
    if html_path is not None:
        return _write_html(sweep_ref, store, html_path, fmt, top, show_all)
    paged = fmt in (OutputFormat.TABLE, OutputFormat.MD)
    if top is None and paged and not show_all:
        top = TABLE_TOP  # a terminal table of 100,000 rows helps nobody
    with open_for_reading(store) as st:
        sw = st.get_sweep(sweep_ref)
        if filter_text or sort_text:
            trials, total, matched = _queried(st, sw, filter_text, sort_text, top, show_all)
        else:
            trials = st.trials(sw.id, ranked=True, limit=None if show_all else top)
            total = sum(st.counts(sw.id).values()) if paged else len(trials)
            matched = None
    if fmt == "json":
        write_json([trial_json(t) for t in trials])
        return 0
    if fmt is OutputFormat.CSV:
        click.echo(csv_table(trials, _space_names(sw), sw.metric), nl=False)
        return 0
    if fmt is OutputFormat.MD:
        click.echo(markdown_table(trials, sw.metric, _space_names(sw)), nl=False)
        if matched is not None:
            click.echo(f"\n{_shown_note(len(trials), total, matched)}")
        elif len(trials) < total:
            click.echo(f"\n{len(trials)} of {total} trials shown.")
        return 0
    if trials or matched is None:  # no empty table for a filter that matched nothing
        title = f"{sw.name}: {sw.metric} ({sw.goal.value})"
        out.print(trials_table(trials, sw.metric, title=title))
    note = _shown_note(len(trials), total, matched)
    if note:
        out.print(note)
    return 0


def _queried(
    st: Store,
    sw: SweepRecord,
    filter_text: str | None,
    sort_text: str | None,
    top: int | None,
    show_all: bool,
) -> tuple[list[TrialRecord], int, int | None]:
    """``report --filter/--sort``: every trial row is read (never the metric series) and
    filtered in Python; returns the trials to show, how many there are, how many match."""
    everything = st.trials(sw.id, ranked=True)
    chosen = select(
        everything,
        filter_text,
        sort_text,
        metric=sw.metric,
        tags=config_tags(sw.config),
        space=sw.space,
    )
    shown = chosen if show_all or top is None else chosen[:top]
    return shown, len(everything), len(chosen) if filter_text else None


def _space_names(sweep: SweepRecord) -> tuple[str, ...]:
    """The sweep's parameters, in its space's order: the report's columns, whatever is shown."""
    return SearchSpace.from_json(sweep.space).names


def _shown_note(shown: int, total: int, matched: int | None) -> str | None:
    """The line under a table: how many trials match, and how many of them are shown."""
    more = "--top N or --all for more"
    if matched is None:
        return f"{shown} of {total} trials shown: {more}" if shown < total else None
    note = f"{matched} of {total} trials match"
    return note + (f"; {shown} shown: {more}" if shown < matched else "")


def _write_html(
    sweep_ref: str, store: str | None, path: str, fmt: OutputFormat, top: int | None, every: bool
) -> int:
    from hpo.reports._html import HTML_TOP, write_html_report

    if fmt is not OutputFormat.TABLE:
        raise click.UsageError(
            f"--html writes a file and --format {fmt.value} prints to the terminal: give one"
        )
    with open_for_reading(store) as st:
        done = write_html_report(st, sweep_ref, path, top=None if every else top or HTML_TOP)
    out.print(f"wrote {done.path} ({done.size / 2**20:.1f} MiB, {done.trials:,} trials)")
    return 0


def _print_diff(ref: str, store: str | None) -> int:
    """The recorded dirty diff of trial ``ref`` on stdout, exactly (nothing else: pipe it)."""
    with open_for_reading(store) as st:
        t = st.get_trial(ref)
        env = st.get_environment(t.environment_id) if t.environment_id else {}
        git = resolve_code(env, st.get_blob).get("git") or {}
    if not git:
        raise NotFoundError(f"trial {ref!r} recorded no git tree: there is no diff to show")
    if git.get("diff_missing"):
        raise NotFoundError(
            f"trial {ref!r} recorded its diff by hash ({git.get('diff_sha256')}), but the "
            "store does not hold it; import the sweep's export again"
        )
    click.echo(git.get("diff") or "", nl=False)
    if git.get("diff_truncated"):
        err.print("warning: the diff was truncated when it was recorded")
    return 0


def write_json(obj: object) -> None:
    """Plain JSON on stdout: no terminal markup, and fast for large listings."""
    click.echo(dumps(obj))
