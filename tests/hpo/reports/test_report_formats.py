"""``hpo report --format md|csv``: Markdown and CSV of a real sweep, read back."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from report_sweeps import DEMO_TRIALS, RecordedSweep, hpo_cli

from hpo.reports._formats import md_escape


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("a|b", "a\\|b"),
        ("`code`", "\\`code\\`"),
        ("<script>x</script>", "\\<script\\>x\\</script\\>"),
        ("[link](http://x)", "\\[link\\](http://x)"),
        ("**bold** & ~strike~", "\\*\\*bold\\*\\* \\& \\~strike\\~"),
        ("two\nlines", "two lines"),
        ("learning_rate", "learning_rate"),  # "_" inside a word is no emphasis: kept readable
        ("_x_", "\\_x\\_"),
        ("back\\slash", "back\\\\slash"),
    ],
)
def test_md_escape_makes_every_markdown_special_literal(text: str, escaped: str) -> None:
    assert md_escape(text) == escaped


def _md_rows(text: str) -> list[list[str]]:
    """Cells of a Markdown table, split on unescaped pipes only."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("|"):
            continue
        cells, cell, i = [], "", 1
        while i < len(line):
            ch = line[i]
            if ch == "\\" and i + 1 < len(line):
                cell += line[i : i + 2]
                i += 2
                continue
            if ch == "|":
                cells.append(cell.strip())
                cell = ""
            else:
                cell += ch
            i += 1
        rows.append(cells)
    return rows


def test_markdown_table_is_ranked_escaped_and_says_what_it_leaves_out(
    demo_sweep: RecordedSweep,
) -> None:
    run = hpo_cli("report", demo_sweep.name, "--store", str(demo_sweep.store), "--format", "md")
    assert run.returncode == 0, run.stderr
    rows = _md_rows(run.stdout)
    head, align, body = rows[0], rows[1], rows[2:]
    assert head == ["rank", "trial", "loss", "lr", "opt", "layers", "momentum", "state", "duration"]
    assert all(set(a) <= set("-:") for a in align)
    assert len(body) == 25  # the table default
    assert f"25 of {DEMO_TRIALS} trials shown." in run.stdout
    assert all(len(r) == len(head) for r in body)
    values = [float(r[2]) for r in body if r[-2] == "completed"]
    assert values == sorted(values)
    assert [r[0] for r in body[:3]] == ["1", "2", "3"]

    every = hpo_cli(
        "report", demo_sweep.name, "--store", str(demo_sweep.store), "--format", "md", "--all"
    )
    rows = _md_rows(every.stdout)[2:]
    assert len(rows) == DEMO_TRIALS and "trials shown" not in every.stdout
    broken = [r for r in rows if r[-2] == "failed"]
    assert broken, "the demo sweep has failing trials"
    # The pipe inside the value is escaped, so the row keeps its column count.
    assert all(r[4] == "broken\\|pipe" and len(r) == len(head) for r in broken)


def test_csv_reads_back_to_the_same_trials_as_json(demo_sweep: RecordedSweep) -> None:
    args = ("report", demo_sweep.name, "--store", str(demo_sweep.store), "--format")
    run = hpo_cli(*args, "csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    trials = json.loads(hpo_cli(*args, "json").stdout)
    assert len(rows) == len(trials) == DEMO_TRIALS
    assert list(rows[0])[:4] == ["rank", "number", "state", "value"]
    assert {"params.lr", "params.opt", "params.layers", "params.momentum"} <= set(rows[0])
    assert {"metrics.loss", "metrics.acc", "duration", "error"} <= set(rows[0])
    for row, t in zip(rows, trials):
        assert int(row["number"]) == t["number"]
        assert row["state"] == t["status"]
        if t["value"] is None:
            assert row["value"] == "" and row["rank"] == ""
        else:
            assert float(row["value"]) == t["value"]  # exact: repr round-trips
            assert float(row["metrics.acc"]) == t["metrics"]["acc"]
        assert float(row["params.lr"]) == t["params"]["lr"]
        assert row["params.opt"] == t["params"]["opt"]
        assert int(row["params.layers"]) == t["params"]["layers"]
        # Inactive conditional params are empty cells, not zeros.
        momentum = t["params"].get("momentum")
        assert row["params.momentum"] == ("" if momentum is None else repr(momentum))
        assert row["error"] == (t["error"] or "")
    failed = [r for r in rows if r["state"] == "failed"]
    assert failed and all("RuntimeError: optimizer | exploded" in r["error"] for r in failed)
    ranks = [int(r["rank"]) for r in rows if r["rank"]]
    assert ranks == list(range(1, len(ranks) + 1))


def test_csv_top_limits_the_rows(demo_sweep: RecordedSweep) -> None:
    run = hpo_cli("report", "1", "--store", str(demo_sweep.store), "--format", "csv", "--top", "4")
    assert run.returncode == 0, run.stderr
    assert len(list(csv.DictReader(io.StringIO(run.stdout)))) == 4


def test_csv_header_is_the_sweeps_whatever_rows_are_shown(demo_sweep: RecordedSweep) -> None:
    # A tool reading the file must get the same columns with --top 1 or a filter that leaves
    # out every trial with the conditional parameter (momentum: only when opt == sgd).
    def header(*args: str) -> list[str]:
        run = hpo_cli("report", "1", "--store", str(demo_sweep.store), "--format", "csv", *args)
        assert run.returncode == 0, run.stderr
        return next(csv.reader(io.StringIO(run.stdout)))

    def params(columns: list[str]) -> list[str]:
        return [c for c in columns if c.startswith("params.")]

    full = header("--all")
    assert "params.momentum" in full
    assert header("--top", "1") == full
    assert header("--filter", "opt != 'sgd'") == full
    # no rows at all: still every param, and the sweep's metric (other metrics come from rows)
    empty = header("--filter", "number < 0")
    assert params(empty) == params(full)
    assert "metrics.loss" in empty


def test_html_and_a_printed_format_together_are_refused(
    demo_sweep: RecordedSweep, tmp_path
) -> None:
    out = tmp_path / "r.html"
    run = hpo_cli(
        "report", "demo", "--store", str(demo_sweep.store), "--html", str(out), "--format", "md"
    )
    assert run.returncode == 2
    assert "--html writes a file and --format md prints" in run.stderr
    assert "Traceback" not in run.stderr
    assert not out.exists()


def test_ls_keeps_its_two_formats(demo_sweep: RecordedSweep) -> None:
    run = hpo_cli("ls", "--store", str(demo_sweep.store), "--format", "csv")
    assert run.returncode == 2
    assert "'csv' is not one of 'table', 'json'" in run.stderr


def test_csv_defuses_text_a_spreadsheet_would_run_as_a_formula(tmp_path: Path) -> None:
    import hpo

    payloads = ['=HYPERLINK("http://x")', "+1+1", "@SUM(A1)", "-2+3", "plain"]

    def objective(tag: str) -> float:
        if tag == "plain":
            raise RuntimeError("=cmd|' /C calc'!A0")
        return 0.5 - payloads.index(tag)  # negative values too: numbers stay numbers

    store = tmp_path / "csv.db"
    hpo.sweep(
        objective,
        {"tag": {"values": payloads}},
        metric="loss",
        strategy="grid",
        store=str(store),
        name="csv-inj",
    )
    run = hpo_cli("report", "csv-inj", "--store", str(store), "--format", "csv")
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader(io.StringIO(run.stdout)))
    tags = sorted(r["params.tag"] for r in rows)
    assert tags == sorted("'" + p if p != "plain" else p for p in payloads)
    failed = [r for r in rows if r["state"] == "failed"]
    assert len(failed) == 1 and "=cmd|' /C calc'!A0" in failed[0]["error"]
    values = sorted(float(r["value"]) for r in rows if r["value"])
    assert values == [-2.5, -1.5, -0.5, 0.5]  # "-2.5" is a number: not prefixed
