"""Terminal tables (rich) and machine-readable forms of sweeps and trials."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from trackers import SweepRecord, SweepState, SweepSummary, TrialRecord, TrialState
from trackers._codec import float_to_json
from trackers._drivers import driver_alive

_STATE_STYLE = {
    TrialState.COMPLETED: "green",
    TrialState.RUNNING: "cyan",
    TrialState.QUEUED: "cyan",
    TrialState.PRUNED: "yellow",
    TrialState.PAUSED: "yellow",
    TrialState.FAILED: "red",
    TrialState.TIMED_OUT: "red",
    TrialState.INTERRUPTED: "magenta",
}


def fmt_value(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def fmt_time(t: float | None, *, seconds: bool = True) -> str:
    if t is None:
        return "-"
    return dt.datetime.fromtimestamp(t).strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else ""))


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return str(dt.timedelta(seconds=round(seconds)))


def state_text(state: TrialState) -> Text:
    return Text(state.value, style=_STATE_STYLE.get(state, ""))


def trials_table(trials: Sequence[TrialRecord], metric: str, *, title: str | None = None) -> Table:
    """A ranked table: rank, trial number, metric value, each param, state, duration; and,
    when trials had budgets (multi-fidelity), the budget reached and the last step."""
    names: list[str] = []
    for t in trials:
        names.extend(k for k in t.params if k not in names)
    budgets = any(t.budget is not None for t in trials)
    steps = budgets or any(t.state is TrialState.PRUNED and t.step is not None for t in trials)
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("rank", justify="right")
    table.add_column("trial", justify="right")
    table.add_column(metric, justify="right", style="bold")
    for n in names:
        table.add_column(n, justify="right")
    table.add_column("state")
    if budgets:
        table.add_column("budget", justify="right")
    if steps:
        table.add_column("step", justify="right")
    table.add_column("duration", justify="right")
    rank = 0
    for t in trials:
        done = t.state is TrialState.COMPLETED
        rank += done
        extra = [fmt_value(t.budget)] if budgets else []
        if steps:
            extra.append(fmt_value(t.step))
        table.add_row(
            str(rank) if done else "",
            str(t.number),
            fmt_value(t.value),
            *(fmt_value(t.params.get(n)) for n in names),
            state_text(t.state),
            *extra,
            fmt_duration(t.duration),
        )
    return table


def sweeps_table(summaries: Iterable[SweepSummary]) -> Table:
    summaries = list(summaries)

    def failed(s: SweepSummary) -> int:
        return s.counts.get(TrialState.FAILED, 0) + s.counts.get(TrialState.TIMED_OUT, 0)

    show_failed = any(failed(s) for s in summaries)
    table = Table(header_style="bold", box=box.SIMPLE_HEAD, collapse_padding=True, pad_edge=False)
    columns = ["id", "name", "state", "strategy", "metric", "goal", "best", "done"]
    columns += ["failed"] if show_failed else []
    for col in [*columns, "created"]:
        right = col in ("id", "best", "done", "failed")
        table.add_column(
            col, justify="right" if right else "left", no_wrap=col in ("created", "name", "state")
        )
    for s in summaries:
        sw = s.sweep
        budget = f"/{sw.budget}" if sw.budget else ""
        cells = [
            str(sw.id),
            sw.name,
            sweep_state(sw),
            sw.strategy,
            sw.metric,
            sw.goal.value[:3],
            fmt_value(s.best_value),
            f"{s.counts.get(TrialState.COMPLETED, 0)}{budget}",
        ]
        if show_failed:
            cells.append(str(failed(s) or ""))
        table.add_row(*cells, fmt_time(sw.created_at, seconds=False))
    return table


def sweep_state(sweep: SweepRecord, now: float | None = None) -> str:
    """The sweep's state as a person needs it: a sweep recorded as running whose driver is
    gone (killed, crashed) shows as ``crashed`` (``hpo resume`` continues it)."""
    if sweep.state is SweepState.RUNNING and not driver_alive(
        sweep.driver, sweep.heartbeat_at, time.time() if now is None else now
    ):
        return "crashed"
    return sweep.state.value


def trial_json(trial: TrialRecord, **extra: Any) -> dict[str, Any]:
    return {**trial.to_dict(), **extra}


def dumps(obj: Any) -> str:
    """Strict JSON for other tools: non-finite floats anywhere become "nan", "inf", "-inf"."""
    return json.dumps(_finite(obj), indent=2, allow_nan=False, default=str)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return float_to_json(obj)
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def kv_table(rows: Mapping[str, Any], *, title: str | None = None) -> Table:
    table = Table(show_header=False, title=title, title_justify="left", box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for k, v in rows.items():
        table.add_row(k, v if isinstance(v, Text) else fmt_value(v))
    return table
