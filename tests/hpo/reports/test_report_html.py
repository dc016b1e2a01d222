"""``hpo report --html``: the page's structure, figures, sampling and escaping, read as text.
(tests in test_report_chromium.py open it in a real browser.)"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from report_sweeps import DEMO_TRIALS, PAYLOADS, XSS_SWEEP, RecordedSweep, hpo_cli

import hpo
from hpo._errors import ReportError
from hpo.reports import _collect, _figures
from hpo.reports._collect import plot_sample
from hpo.reports._html import write_html_report
from hpo.reports._importance import MISSING, param_importance
from trackers import Goal, Store, TrialRecord, TrialState


def figures(page: str) -> dict[str, Any]:
    """The plotly figures of a page, by section key, parsed from their scripts."""
    found = re.findall(r'var f=(\{.*?\});Plotly\.newPlot\("plot-([\w-]+)"', page)
    return {key: json.loads(text) for text, key in found}


def notes(page: str, key: str) -> str:
    section = re.search(rf'<section id="{key}">(.*?)</section>', page, re.S)
    assert section is not None, key
    return section.group(1)


def test_the_page_is_one_offline_file_with_every_section(
    demo_sweep: RecordedSweep, tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    run = hpo_cli("report", "demo", "--store", str(demo_sweep.store), "--html", str(out))
    assert run.returncode == 0, run.stderr
    assert f"wrote {out} (" in run.stdout and f"{DEMO_TRIALS} trials)" in run.stdout
    page = out.read_text()
    # Self-contained: no element loads anything from elsewhere, plotly.js is inline once.
    assert re.search(r"<(script|img|iframe)[^>]*\ssrc=", page) is None
    assert "<link" not in page
    assert len(re.findall(r"\* plotly\.js v\d", page)) == 1
    ids = re.findall(r'<section id="([\w-]+)">', page)
    assert ids == [
        "best",
        "history",
        "importance",
        "parallel",
        "slices",
        "curves-0",
        "curves-1",
        "failed",
        "environment",
    ]
    figs = figures(page)
    assert set(figs) == {"history", "importance", "parallel", "slices", "curves-0", "curves-1"}

    with Store(demo_sweep.store) as st:
        trials = st.trials(1)
    done = [t for t in trials if t.state is TrialState.COMPLETED]
    failed = [t for t in trials if t.state is TrialState.FAILED]
    assert done and failed

    points, best = figs["history"]["data"]
    assert sorted(points["x"]) == sorted(t.number for t in done)
    assert best["y"] == sorted(best["y"], reverse=True)  # minimize: best so far only falls
    assert best["y"][-1] == min(t.value for t in done)  # type: ignore[type-var]

    rated = figs["importance"]["data"][0]
    assert set(rated["y"]) == {"lr", "opt", "layers"}
    assert abs(sum(rated["x"]) - 1) < 1e-6
    assert "momentum" in notes(page, "importance")  # conditional: said, not rated

    dims = {d["label"]: d for d in figs["parallel"]["data"][0]["dimensions"]}
    assert list(dims) == ["log10(lr)", "opt", "layers", "momentum", "loss"]
    assert "(inactive)" in dims["momentum"]["ticktext"]
    assert len(dims["loss"]["values"]) == len(done)

    titles = [a["text"] for a in figs["slices"]["layout"]["annotations"]]
    assert titles == ["lr", "opt", "layers", "momentum"]
    assert figs["slices"]["layout"]["xaxis"]["type"] == "log"

    curves = figs["curves-0"]["data"]
    assert figs["curves-0"]["layout"]["yaxis"]["title"]["text"] == "loss"
    assert len(curves) == len(done) and all(c["x"] == [0, 1, 2, 3, 4] for c in curves)
    assert curves[0]["name"] == f"trial {min(done, key=lambda t: t.value).number}"  # type: ignore

    assert len(re.findall(r'<tr class="', page)) == DEMO_TRIALS
    assert page.count('<pre class="error">RuntimeError: optimizer | exploded') == len(failed)
    assert "python" in notes(page, "environment")


def test_top_sets_the_table_length_and_says_so(demo_sweep: RecordedSweep, tmp_path: Path) -> None:
    with Store(demo_sweep.store) as st:
        done = write_html_report(st, "demo", tmp_path / "r.html", top=5)
    page = done.path.read_text()
    assert done.trials == DEMO_TRIALS and done.size == len(page.encode())
    assert len(re.findall(r'<tr class="', page)) == 5
    assert f"the best 5 of {DEMO_TRIALS} trials" in page


def test_large_sweeps_are_sampled_and_the_page_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def f(x: float, y: float, trial: Any) -> float:
        for step in range(6):
            trial.report(step=step, loss=x / (step + 1))
        return (x - 0.3) ** 2 + y

    hpo.sweep(
        f, {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 0.1}},
        metric="loss", trials=200, seed=1, store=tmp_path / "hpo.db", name="big",
    )  # fmt: skip
    monkeypatch.setattr(_figures, "HISTORY_POINTS", 50)
    monkeypatch.setattr(_figures, "SLICE_POINTS", 40)
    monkeypatch.setattr(_figures, "PARCOORDS_LINES", 30)
    monkeypatch.setattr(_figures, "CURVE_POINTS", 4)
    monkeypatch.setattr(_collect, "MAX_CURVES", 7)
    with Store(tmp_path / "hpo.db") as st:
        page = write_html_report(st, "big", tmp_path / "r.html").path.read_text()
        best = st.trials(1, ranked=True, limit=1)[0]
    figs = figures(page)
    points = figs["history"]["data"][0]
    assert len(points["x"]) == 50 and best.number in points["x"]
    assert points["x"] == sorted(points["x"])
    assert "50 of 200 completed trials" in notes(page, "history")
    assert len(figs["parallel"]["data"][0]["dimensions"][0]["values"]) == 30
    assert "30 of 200" in notes(page, "parallel")
    assert len(figs["slices"]["data"][0]["x"]) == 40
    assert len(figs["curves-0"]["data"]) == 7
    assert all(c["x"] == [0, 1, 3, 5] for c in figs["curves-0"]["data"])  # first and last kept
    assert "the best 7 completed trials" in notes(page, "curves-0")


def _trial(number: int, value: float | None) -> TrialRecord:
    state = TrialState.COMPLETED if value is not None else TrialState.FAILED
    return TrialRecord(
        id=number, sweep_id=1, number=number, state=state, params={"x": number}, value=value,
        metrics={}, budget=None, seed=None, host=None, environment_id=None, queued_at=0.0,
        started_at=None, ended_at=None, duration=None, error=None,
    )  # fmt: skip


def test_plot_sample_keeps_the_best_and_is_bounded_and_repeatable() -> None:
    trials = [_trial(n, float((n * 7919) % 1000)) for n in range(1000)]
    sample = plot_sample(trials, 100, Goal.MINIMIZE)
    assert len(sample) == 100
    assert [t.number for t in sample] == sorted(t.number for t in sample)
    best20 = sorted(trials, key=lambda t: t.value)[:20]  # type: ignore[arg-type, return-value]
    assert {t.number for t in best20} <= {t.number for t in sample}
    assert sample == plot_sample(trials, 100, Goal.MINIMIZE)
    top = plot_sample(trials, 100, Goal.MAXIMIZE)
    assert max(trials, key=lambda t: t.value).number in {t.number for t in top}  # type: ignore
    assert plot_sample(trials[:10], 100, Goal.MINIMIZE) == trials[:10]


def test_every_user_string_is_escaped_in_the_page_source(
    xss_sweep: RecordedSweep, tmp_path: Path
) -> None:
    with Store(xss_sweep.store) as st:
        page = write_html_report(st, xss_sweep.name, tmp_path / "r.html").path.read_text()
    for payload in PAYLOADS:
        assert payload not in page, payload
    # Every script element is one of ours: a payload's "</script>" never closed one early.
    assert page.count("<script>") == page.count("</script>") == 1 + len(figures(page))
    title = re.search(r"<title>(.*?)</title>", page)
    assert title is not None
    assert title.group(1) == "hpo report: " + html.escape(XSS_SWEEP)
    # Shown literally: escaped in the markup (header, tags, table, errors) and in figures.
    assert "&lt;iframe src=&quot;javascript:" in page  # a tag
    assert "&lt;img src=x onerror=&quot;document.title=&#x27;PWNED-img&#x27;&quot;&gt;" in page
    figs = figures(page)
    slices = figs["slices"]
    assert "&lt;i onmouseover=\"document.title='PWNED-param'\"&gt;knob&lt;/i&gt;" in [
        a["text"] for a in slices["layout"]["annotations"]
    ]
    categories = {x for trace in slices["data"] for x in trace["x"] if isinstance(x, str)}
    assert "&lt;/script&gt;&lt;script&gt;document.title='PWNED-breakout'&lt;/script&gt;" in (
        categories
    )


def test_a_missing_plotly_is_one_clear_line(demo_sweep: RecordedSweep, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    code = (
        "import sys; sys.modules['plotly'] = None\n"
        "from hpo.cli import main\n"
        f"main(['report', 'demo', '--store', {str(demo_sweep.store)!r}, '--html', {str(out)!r}])"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert 'the HTML report needs plotly: pip install "hpo[report]"' in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


def test_a_missing_optuna_is_said_in_the_report_not_fatal(
    demo_sweep: RecordedSweep, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with Store(demo_sweep.store) as st:
        trials = st.trials(1)
        assert param_importance(trials, None, Goal.MINIMIZE).unavailable == MISSING
        page = write_html_report(st, "demo", tmp_path / "r.html").path.read_text()
    assert "needs Optuna and scikit-learn: pip install &quot;hpo[report]&quot;" in notes(
        page, "importance"
    )
    assert "importance" not in figures(page) and "history" in figures(page)


def test_small_and_failed_sweeps_still_make_a_page(tmp_path: Path) -> None:
    db = tmp_path / "hpo.db"

    def one(x: float) -> float:
        return x * x

    def never(x: float) -> float:
        raise ValueError("no luck")

    hpo.sweep(one, {"x": {"min": -1.0, "max": 1.0}}, trials=12, seed=0, store=db, name="one")
    hpo.sweep(never, {"x": {"min": -1.0, "max": 1.0}}, trials=3, store=db, name="never")
    with Store(db) as st:
        one_page = write_html_report(st, "one", tmp_path / "one.html").path.read_text()
        never_page = write_html_report(st, "never", tmp_path / "never.html").path.read_text()
    assert "needs two or more varying parameters" in notes(one_page, "parallel")
    assert set(figures(one_page)) == {"history", "importance", "slices"}
    assert "no trial reported a step series" in notes(one_page, "curves")
    assert figures(never_page) == {}
    assert "no completed trial yet" in notes(never_page, "history")
    assert never_page.count('<pre class="error">ValueError: no luck') == 3


def test_unwritable_and_directory_paths_are_report_errors(
    demo_sweep: RecordedSweep, tmp_path: Path
) -> None:
    with Store(demo_sweep.store) as st:
        with pytest.raises(ReportError, match="is a directory: give a file name"):
            write_html_report(st, "demo", tmp_path)
        with pytest.raises(ReportError, match="give a path in a writable directory"):
            write_html_report(st, "demo", tmp_path / "missing" / "r.html")
