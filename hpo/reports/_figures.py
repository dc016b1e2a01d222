"""The report's plots, as plotly figures: history, parallel coordinates, slices, importance,
learning curves.

Every string that came from the user (parameter names, categorical values, metric names)
passes through :func:`ptext` before it enters a figure: plotly draws text through its own small
HTML-like markup, which decodes entities, so escaped text shows literally and no tag of the
user's is ever interpreted. Large sweeps are sampled (the caps below) and each plot says so.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hpo.reports._collect import SweepData, plot_sample
from hpo.reports._importance import Importance
from search_spaces import Categorical, Float, Int
from trackers import Goal, TrialRecord

if TYPE_CHECKING:  # plotly is the report extra: imported only when a report is made
    import plotly.graph_objects as go

#: Points in the optimisation history's scatter (the best-so-far line uses every trial).
HISTORY_POINTS = 5000
#: Trials in each slice plot and lines in the parallel-coordinates plot.
SLICE_POINTS = 1000
PARCOORDS_LINES = 1000
#: Parameters drawn (slice plots; parallel coordinates), in the space's order.
MAX_PARAMS = 24
#: Points per learning curve (evenly spaced steps past that) and series names drawn.
CURVE_POINTS = 500
MAX_CURVE_METRICS = 4
TEMPLATE = "plotly_white"


@dataclass
class Plot:
    """One section of the report: a figure (None when there is nothing to draw) and notes on
    what it leaves out; ``empty`` says why there is no figure."""

    key: str
    title: str
    figure: go.Figure | None = None
    notes: list[str] = field(default_factory=list)
    empty: str | None = None


def ptext(value: Any) -> str:
    """A user string made safe (and literal) for plotly's text markup."""
    return html.escape(str(value), quote=False)


def _sampled_note(shown: int, total: int, what: str) -> list[str]:
    if shown >= total:
        return []
    return [
        f"{what} {shown:,} of {total:,} completed trials: the best {shown // 5:,} and a random "
        "sample of the others"
    ]


def history(data: SweepData) -> Plot:
    """Each completed trial's value by trial number, and the best value so far."""
    import plotly.graph_objects as go

    sw = data.sweep
    plot = Plot("history", "Optimisation history")
    done = data.completed
    # Every completed trial has its value; the filter only tells mypy so.
    points = [(t.number, t.value) for t in done if t.value is not None]
    if not points:
        plot.empty = "no completed trial yet"
        return plot
    better = sw.goal.better
    best = points[0][1]
    steps_x, steps_y = [points[0][0]], [best]
    for number, value in points[1:]:
        if better(value, best):
            best = value
            steps_x.append(number)
            steps_y.append(best)
    steps_x.append(done[-1].number)
    steps_y.append(best)
    shown = plot_sample(done, HISTORY_POINTS, sw.goal)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[t.number for t in shown],
            y=[t.value for t in shown],
            mode="markers",
            name=ptext(sw.metric),
            marker={"size": 5, "opacity": 0.6},
            hovertemplate="trial %{x}<br>%{y:.6g}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=steps_x,
            y=steps_y,
            mode="lines",
            line={"shape": "hv", "width": 2},
            name="best so far",
            hovertemplate="trial %{x}<br>best %{y:.6g}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        height=420,
        margin={"t": 30, "l": 60, "r": 20, "b": 50},
        xaxis_title="trial",
        yaxis_title=ptext(sw.metric),
        legend={"orientation": "h", "y": 1.08},
    )
    plot.figure = fig
    plot.notes = _sampled_note(len(shown), len(done), "points for")
    return plot


def _kind(data: SweepData, name: str, values: Sequence[Any]) -> tuple[bool, bool, list[Any]]:
    """(categorical, log scale, category order) of parameter ``name``."""
    p = data.space.params.get(name) if data.space is not None else None
    if isinstance(p, Categorical):
        return True, False, list(p.choices)
    if isinstance(p, (Float, Int)):
        return False, p.log, []
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
    return (not numeric), False, list(dict.fromkeys(values)) if not numeric else []


def _params(data: SweepData, notes: list[str]) -> list[str]:
    varying = []
    for name in data.param_names():
        first: str | None = None
        for t in data.trials:  # stops at the second distinct value: a short scan as a rule
            if name in t.params:
                value = repr(t.params[name])
                if first is None:
                    first = value
                elif value != first:
                    varying.append(name)
                    break
    if len(varying) > MAX_PARAMS:
        notes.append(f"the first {MAX_PARAMS} of {len(varying)} varying parameters")
    return varying[:MAX_PARAMS]


def slices(data: SweepData) -> Plot:
    """The metric against each parameter, one panel per parameter."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    sw = data.sweep
    plot = Plot("slices", "Slice plots")
    done = data.completed
    names = _params(data, plot.notes)
    if not done or not names:
        plot.empty = "no completed trial yet" if not done else "no parameter varies"
        return plot
    shown = plot_sample(done, SLICE_POINTS, sw.goal)
    plot.notes += _sampled_note(len(shown), len(done), "each panel shows")
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=[ptext(n) for n in names],
        horizontal_spacing=0.08,
        vertical_spacing=min(0.12, 0.5 / rows),
    )
    for i, name in enumerate(names):
        having = [t for t in shown if name in t.params]
        xs = [t.params[name] for t in having]
        categorical, log, order = _kind(data, name, xs)
        row, col = i // cols + 1, i % cols + 1
        fig.add_trace(
            go.Scatter(
                x=[ptext(x) for x in xs] if categorical else xs,
                y=[t.value for t in having],
                mode="markers",
                showlegend=False,
                marker={
                    "size": 5,
                    "opacity": 0.7,
                    "color": [t.number for t in having],
                    "coloraxis": "coloraxis",
                },
                customdata=[t.number for t in having],
                hovertemplate="trial %{customdata}<br>%{x}<br>%{y:.6g}<extra></extra>",
            ),
            row=row,
            col=col,
        )
        if categorical:
            fig.update_xaxes(
                type="category",
                categoryorder="array",
                categoryarray=[ptext(c) for c in order],
                row=row,
                col=col,
            )
        elif log:
            fig.update_xaxes(type="log", row=row, col=col)
        if col == 1:
            fig.update_yaxes(title_text=ptext(sw.metric), row=row, col=col)
    fig.update_layout(
        template=TEMPLATE,
        height=max(320, 280 * rows),
        margin={"t": 40, "l": 60, "r": 20, "b": 40},
        # Light to dark blue by trial number; the first trials stay visible on white.
        coloraxis={
            "colorscale": [[0.0, "#9ecae1"], [1.0, "#08306b"]],
            "colorbar": {"title": {"text": "trial"}},
        },
    )
    plot.figure = fig
    return plot


def parallel(data: SweepData) -> Plot:
    """Parallel coordinates: one axis per parameter and one for the metric, a line per trial
    coloured by the metric (bright = good)."""
    import plotly.graph_objects as go

    sw = data.sweep
    plot = Plot("parallel", "Parallel coordinates")
    done = data.completed
    names = _params(data, plot.notes)
    if not done:
        plot.empty = "no completed trial yet"
        return plot
    if len(names) < 2:
        plot.empty = "needs two or more varying parameters (the slice plot shows one)"
        return plot
    shown = plot_sample(done, PARCOORDS_LINES, sw.goal)
    plot.notes += _sampled_note(len(shown), len(done), "lines for")
    dims = [_dimension(data, name, shown) for name in names]
    values = [t.value for t in shown]
    dims.append({"label": ptext(sw.metric), "values": values})
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line={
                "color": values,
                "colorscale": "Viridis",
                "reversescale": sw.goal is Goal.MINIMIZE,
                "showscale": True,
                "colorbar": {"title": {"text": ptext(sw.metric)}},
            },
            labelangle=-20,
        )
    )
    fig.update_layout(template=TEMPLATE, height=460, margin={"t": 70, "l": 60, "r": 40, "b": 30})
    plot.figure = fig
    return plot


def _dimension(data: SweepData, name: str, trials: Sequence[TrialRecord]) -> dict[str, Any]:
    """One parcoords axis. Categories become their index; trials where a conditional
    parameter is inactive sit on an extra "(inactive)" tick below the range."""
    present = [t.params[name] for t in trials if name in t.params]
    categorical, log, order = _kind(data, name, present)
    missing = len(present) < len(trials)
    label = ptext(f"log10({name})" if log else name)
    if categorical:
        index = {repr(c): i for i, c in enumerate(order)}
        for v in present:
            index.setdefault(repr(v), len(index))
            if len(order) < len(index):
                order.append(v)
        # Parcoords draws tick labels as plain text (no markup, no entities), so raw.
        text = [str(c) for c in order]
        values = [index[repr(t.params[name])] if name in t.params else -1 for t in trials]
        ticks = list(range(len(order)))
        if missing:
            ticks, text = [-1, *ticks], ["(inactive)", *text]
        return {"label": label, "values": values, "tickvals": ticks, "ticktext": text}
    nums = np.array(present, dtype=float)
    if log:
        nums = np.log10(np.maximum(nums, np.finfo(float).tiny))
    if not missing:
        return {"label": label, "values": nums.tolist()}
    lo, hi = (float(nums.min()), float(nums.max())) if len(nums) else (0.0, 1.0)
    span = (hi - lo) or 1.0
    placeholder = lo - 0.15 * span
    it = iter(nums.tolist())
    placed = [next(it) if name in t.params else placeholder for t in trials]
    ticks = np.linspace(lo, hi, 5).tolist()
    return {
        "label": label,
        "values": placed,
        "range": [placeholder, hi],
        "tickvals": [placeholder, *ticks],
        "ticktext": ["(inactive)", *(f"{v:.3g}" for v in ticks)],
    }


def importance(result: Importance) -> Plot:
    """A bar per rated parameter: its share of the metric's variance."""
    import plotly.graph_objects as go

    plot = Plot("importance", "Parameter importance", notes=list(result.notes))
    if result.unavailable is not None or not result.scores:
        plot.empty = result.unavailable or "no parameter could be rated"
        return plot
    plot.notes.insert(0, f"{result.method}, on {result.trials_used:,} completed trials")
    items = sorted(result.scores.items(), key=lambda kv: kv[1])
    fig = go.Figure(
        go.Bar(
            x=[v for _, v in items],
            y=[ptext(k) for k, _ in items],
            orientation="h",
            hovertemplate="%{y}: %{x:.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        template=TEMPLATE,
        height=max(220, 40 + 32 * len(items)),
        margin={"t": 20, "l": 140, "r": 20, "b": 40},
        xaxis={"title": {"text": "share of variance"}, "range": [0, 1]},
    )
    plot.figure = fig
    return plot


def curves(data: SweepData) -> list[Plot]:
    """Learning curves: each reported series of the best trials, one figure per name (the
    sweep's metric first)."""
    import plotly.colors
    import plotly.graph_objects as go

    sw = data.sweep
    names: list[str] = []
    for per_trial in data.series.values():
        names.extend(n for n in per_trial if n not in names)
    if not names:
        plot = Plot("curves", "Learning curves")
        plot.empty = "no trial reported a step series (trial.report / hpo.report)"
        return [plot]
    names.sort(key=lambda n: n != sw.metric)
    plots = []
    numbers = list(data.series)  # best first
    colours = plotly.colors.sample_colorscale("Viridis", max(2, len(numbers)))
    for k, name in enumerate(names[:MAX_CURVE_METRICS]):
        plot = Plot(f"curves-{k}", f"Learning curves: {name}")
        fig = go.Figure()
        for rank, number in enumerate(numbers):
            points = data.series[number].get(name)
            if not points:
                continue
            xs = [p.step if p.step is not None else i for i, p in enumerate(points)]
            ys = [p.value if math.isfinite(p.value) else None for p in points]
            if len(points) > CURVE_POINTS:
                keep = np.linspace(0, len(points) - 1, CURVE_POINTS, dtype=int)
                xs, ys = [xs[i] for i in keep], [ys[i] for i in keep]
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    name=f"trial {number}",
                    line={"color": colours[rank], "width": 1.5},
                    hovertemplate=f"trial {number}<br>step %{{x}}<br>%{{y:.6g}}<extra></extra>",
                )
            )
        fig.update_layout(
            template=TEMPLATE,
            height=400,
            showlegend=len(fig.data) <= 10,
            margin={"t": 20, "l": 60, "r": 20, "b": 50},
            xaxis_title="step",
            yaxis_title=ptext(name),
        )
        plot.figure = fig
        plot.notes = [
            f"the best {len(numbers)} completed trials that reported series; darker is better"
        ]
        plots.append(plot)
    if len(names) > MAX_CURVE_METRICS:
        plots[-1].notes.append(f"{len(names) - MAX_CURVE_METRICS} more series not drawn")
    return plots
