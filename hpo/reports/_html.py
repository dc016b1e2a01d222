"""``hpo report SWEEP --html FILE``: one self-contained HTML page about a sweep.

The page embeds plotly.js once (no network, no server: it opens from a file) and draws the
figures of :mod:`hpo.reports._figures`. Every user string (names, params, tags, errors) reaches
the page escaped: through :func:`html.escape` in the markup, through plotly's entity-decoding
text in the figures, and as JSON with ``<``, ``>`` and ``&`` written as ``\\u003c``... inside
the ``<script>`` blocks, so no string can close a script or open a tag.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from hpo._errors import ReportError
from hpo.reports._collect import MAX_FAILED, SweepData, collect
from hpo.reports._figures import Plot, curves, history, importance, parallel, slices
from hpo.reports._importance import param_importance
from hpo.reports._tables import fmt_duration, fmt_time, fmt_value, sweep_state
from trackers import Store, TrialRecord, TrialState

#: Rows of the ranked table unless told otherwise.
HTML_TOP = 100
PLOTLY_MISSING = 'the HTML report needs plotly: pip install "hpo[report]"'
#: Characters of an error message and of a traceback shown per failed trial.
ERROR_CHARS = 2000
TRACEBACK_CHARS = 6000


@dataclass(frozen=True)
class HtmlReport:
    """What :func:`write_html_report` wrote."""

    path: Path
    size: int
    trials: int
    seconds: float


def write_html_report(
    store: Store,
    sweep_ref: int | str,
    path: str | os.PathLike[str],
    *,
    top: int | None = HTML_TOP,
) -> HtmlReport:
    """Write the report of sweep ``sweep_ref`` (name or id) to ``path``; the ranked table
    shows the best ``top`` trials (None: all)."""
    start = time.perf_counter()
    target = Path(path)
    if target.is_dir():
        raise ReportError(
            f"{target} is a directory: give a file name, e.g. {target / 'report.html'}"
        )
    plotly_js = _plotly_js()  # before any work: a missing extra fails at once
    data = collect(store, sweep_ref)
    page = render_html(data, plotly_js, top=top)
    try:
        target.write_text(page, encoding="utf-8")
    except OSError as exc:
        raise ReportError(
            f"cannot write the report to {target}: {exc.strerror or exc}; "
            "give a path in a writable directory"
        ) from None
    return HtmlReport(target, target.stat().st_size, data.total, time.perf_counter() - start)


def _plotly_js() -> tuple[str, str]:
    """plotly.js itself and its version."""
    try:
        from plotly.offline import get_plotlyjs, get_plotlyjs_version
    except ImportError:
        raise ReportError(PLOTLY_MISSING) from None
    return str(get_plotlyjs()), str(get_plotlyjs_version())


def render_html(data: SweepData, plotly_js: tuple[str, str], *, top: int | None = HTML_TOP) -> str:
    """The whole page as a string, with ``plotly_js`` (the script, its version) embedded; the
    ranked table has the best ``top`` trials (None: all)."""
    sw = data.sweep
    plots: list[Plot] = [history(data)]
    plots.append(importance(param_importance(data.trials, data.space, sw.goal)))
    plots += [parallel(data), slices(data), *curves(data)]
    sections = [_ranked_section(data, top)]
    sections += [_plot_section(p) for p in plots]
    sections += [_failed_section(data), _environment_section(data.environment)]
    nav = "".join(
        f'<a href="#{k}">{_e(title)}</a>'
        for k, title in [("best", "Best trials")]
        + [(p.key, p.title) for p in plots]
        + [("failed", "Failed trials"), ("environment", "Environment")]
    )
    version = _version("hpo")
    js, js_version = plotly_js
    made = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="hpo {_e(version)}">
<title>hpo report: {_e(sw.name)}</title>
<style>{_CSS}</style>
<script>{js}</script>
</head>
<body>
<header>
<h1>{_e(sw.name)}</h1>
{_header(data)}
<nav>{nav}</nav>
</header>
<main>
{"".join(sections)}
</main>
<footer>made by hpo {_e(version)} on {made}, with plotly.js {_e(js_version)} embedded:
this file needs no network and no server.</footer>
</body>
</html>
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _script_json(text: str) -> str:
    """JSON safe inside a ``<script>`` element whatever its strings hold."""
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(ch, esc)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _kv(rows: Iterable[tuple[str, Any]]) -> str:
    cells = "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows if v not in (None, "", [], {})
    )
    return f'<dl class="kv">{cells}</dl>'


def _header(data: SweepData) -> str:
    sw = data.sweep
    best = next((t for t in data.ranked if t.state is TrialState.COMPLETED), None)
    counts = ", ".join(f"{data.counts[s]:,} {s.value}" for s in TrialState if data.counts.get(s))
    options = ", ".join(f"{k}={v}" for k, v in sw.strategy_options.items())
    config = sw.config or {}
    tags = config.get("tags")
    rows = [
        ("id", sw.id),
        ("state", sweep_state(sw)),
        ("metric", f"{sw.metric} ({sw.goal.value})"),
        ("best", f"{fmt_value(best.value)} (trial {best.number})" if best else "-"),
        ("trials", f"{data.total:,}: {counts}" if counts else "none yet"),
        ("budget", sw.budget),
        ("strategy", f"{sw.strategy} ({options})" if options else sw.strategy),
        ("objective", sw.objective),
        ("executor", sw.executor),
        ("seed", sw.seed),
        ("created", fmt_time(sw.created_at)),
        ("updated", fmt_time(sw.updated_at)),
        ("source", sw.source),
        ("description", config.get("description")),
        ("tags", ", ".join(str(t) for t in tags) if isinstance(tags, list) else tags),
    ]
    return _kv(rows)


def _section(key: str, title: str, body: str, notes: Sequence[str] = ()) -> str:
    note = "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
    return f'<section id="{key}"><h2>{_e(title)}</h2>{note}{body}</section>\n'


def _ranked_section(data: SweepData, top: int | None) -> str:
    shown = data.ranked[:top] if top is not None else data.ranked
    names = data.param_names()
    head = ["rank", "trial", data.sweep.metric, *names, "state", "duration"]
    rows = []
    rank = 0
    for t in shown:
        done = t.state is TrialState.COMPLETED
        rank += done
        cells = [str(rank) if done else "", str(t.number), fmt_value(t.value)]
        cells += [fmt_value(t.params[n]) if n in t.params else "" for n in names]
        cells += [t.state.value, fmt_duration(t.duration)]
        rows.append(
            f'<tr class="{t.state.value}">' + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>"
        )
    notes = []
    if len(shown) < data.total:
        notes.append(f"the best {len(shown):,} of {data.total:,} trials: --top N for more")
    table = (
        '<div class="scroll"><table class="trials"><thead><tr>'
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )
    return _section("best", "Best trials", table if shown else "<p>no trials</p>", notes)


def _plot_section(plot: Plot) -> str:
    if plot.figure is None:
        return _section(plot.key, plot.title, f'<p class="empty">{_e(plot.empty)}</p>', plot.notes)
    div = f"plot-{plot.key}"
    figure = _script_json(plot.figure.to_json(validate=False))
    body = (
        f'<div class="plot" id="{div}"></div>\n<script>(function(){{var f={figure};'
        f'Plotly.newPlot("{div}",f.data,f.layout,{{responsive:true,displaylogo:false}});'
        "})();</script>"
    )
    return _section(plot.key, plot.title, body, plot.notes)


def _failed_section(data: SweepData) -> str:
    failed = data.failed
    if not failed:
        return _section("failed", "Failed trials", '<p class="empty">none</p>')
    shown = failed[-MAX_FAILED:]
    notes = []
    if len(shown) < len(failed):
        notes.append(f"the latest {len(shown)} of {len(failed):,} failed or timed-out trials")
    items = "".join(_failed_item(t) for t in shown)
    return _section("failed", "Failed trials", f'<div class="failed">{items}</div>', notes)


def _failed_item(t: TrialRecord) -> str:
    params = ", ".join(f"{k}={fmt_value(v)}" for k, v in t.params.items())
    error = (t.error or "(no message)")[:ERROR_CHARS]
    tb = ""
    if t.traceback:
        text = t.traceback[-TRACEBACK_CHARS:]
        tb = f"<details><summary>traceback</summary><pre>{_e(text)}</pre></details>"
    return (
        f'<div class="fail"><p><b>trial {t.number}</b> ({_e(t.state.value)}, '
        f"{_e(fmt_duration(t.duration))}): {_e(params)}</p>"
        f'<pre class="error">{_e(error)}</pre>{tb}</div>'
    )


def _environment_section(env: Mapping[str, Any] | None) -> str:
    if not env:
        return _section("environment", "Environment", '<p class="empty">not recorded</p>')
    git = env.get("git") or {}
    gpus = ", ".join(str(g.get("name", "?")) for g in env.get("gpus") or [])
    cpu = env.get("cpu") or {}
    memory = env.get("memory_bytes")
    rows = [
        ("python", (env.get("python") or {}).get("version")),
        ("os", (env.get("os") or {}).get("platform")),
        ("host", env.get("hostname")),
        ("cpu", f"{cpu.get('model') or '?'} ({cpu.get('logical_cores') or '?'} cores)"),
        ("memory", f"{memory / 2**30:.1f} GiB" if isinstance(memory, (int, float)) else None),
        ("gpus", gpus or "none"),
        ("git", (git.get("commit") or "-") + (" (dirty)" if git.get("dirty") else "")),
        ("branch", git.get("branch")),
        ("packages", f"{len(env.get('packages') or {})} recorded"),
        ("command", " ".join(str(a) for a in env.get("argv") or [])),
        ("directory", env.get("cwd")),
    ]
    return _section("environment", "Environment", _kv(rows))


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2933;
background:#f7f8fa}
header{background:#fff;border-bottom:1px solid #e1e4e8;padding:16px 28px 8px}
h1{margin:0 0 8px;font-size:22px;word-break:break-all}
h2{font-size:17px;margin:0 0 6px}
main{padding:8px 28px 28px}
section{background:#fff;border:1px solid #e1e4e8;border-radius:6px;padding:14px 18px;margin:14px 0}
nav{margin-top:8px}nav a{margin-right:14px;color:#0b63c5;text-decoration:none;font-size:13px}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:0}
dl.kv dt{font-weight:600;color:#52606d}dl.kv dd{margin:0;word-break:break-word}
.note{color:#616e7c;font-size:12.5px;margin:0 0 6px}.empty{color:#7b8794;font-style:italic}
.scroll{overflow-x:auto;max-height:640px;overflow-y:auto}
table.trials{border-collapse:collapse;font-size:13px;font-variant-numeric:tabular-nums}
table.trials th{position:sticky;top:0;background:#f0f2f5;text-align:right;padding:4px 10px;
white-space:nowrap}
table.trials td{padding:3px 10px;text-align:right;border-top:1px solid #eef0f3;white-space:nowrap}
tr.failed td,tr.timed_out td{color:#b42318}tr.pruned td{color:#8d6e00}
.plot{width:100%}
.fail{border-top:1px solid #eef0f3;padding:6px 0}.fail p{margin:0 0 4px;word-break:break-word}
pre{background:#f5f5f7;padding:6px 8px;border-radius:4px;white-space:pre-wrap;
word-break:break-word;margin:0 0 4px;font-size:12.5px}
pre.error{color:#b42318}
footer{color:#7b8794;font-size:12px;padding:0 28px 20px}
"""
