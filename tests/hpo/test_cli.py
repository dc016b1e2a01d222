"""The `hpo` command, run as a real subprocess against real SQLite files."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from cli_runner import run_hpo as hpo

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def test_quadratic_example_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "hpo.db"
    run = hpo("sweep", str(EXAMPLES / "quadratic" / "sweep.yaml"), "--store", str(db))
    assert run.returncode == 0, run.stderr
    assert "Best trials of quadratic" in run.stdout
    assert "200 trials: 200 completed" in run.stdout
    assert f"recorded in sqlite:///{db}" in run.stdout

    ls = hpo("ls", "--store", str(db))
    assert ls.returncode == 0 and "quadratic" in ls.stdout and "completed" in ls.stdout

    rep = hpo("report", "quadratic", "--store", str(db), "--format", "json")
    assert rep.returncode == 0, rep.stderr
    rows = json.loads(rep.stdout)
    assert len(rows) == 200
    assert {"id", "number", "status", "params", "metrics", "value", "duration"} <= set(rows[0])
    values = [r["value"] for r in rows]
    assert values == sorted(values)
    assert rows[0]["metrics"]["loss"] == rows[0]["value"]

    top = hpo("report", "quadratic", "--store", str(db), "--format", "json", "--top", "3")
    assert [r["number"] for r in json.loads(top.stdout)] == [r["number"] for r in rows[:3]]

    table = hpo("report", "1", "--store", str(db))
    assert table.returncode == 0 and "rank" in table.stdout

    show = hpo("show", f"quadratic:{rows[0]['number']}", "--store", str(db))
    assert show.returncode == 0, show.stderr
    for word in ("Params", "Metrics", "Environment", "python", "shape"):
        assert word in show.stdout
    show_json = json.loads(
        hpo("show", str(rows[0]["id"]), "--store", str(db), "--format", "json").stdout
    )
    assert show_json["series"]["loss"][0]["value"] == rows[0]["value"]
    assert show_json["environment"]["python"]["version"]


def test_command_example_with_local_workers(tmp_path: Path) -> None:
    db = tmp_path / "cmd.db"
    run = hpo(
        "sweep", str(EXAMPLES / "command" / "sweep.yaml"), "--store", str(db), "--trials", "6"
    )
    assert run.returncode == 0, run.stderr
    assert "6 trials: 6 completed" in run.stdout
    rows = json.loads(hpo("report", "command", "--store", str(db), "--format", "json").stdout)
    assert all(r["status"] == "completed" for r in rows)
    detail = json.loads(hpo("show", "command:0", "--store", str(db), "--format", "json").stdout)
    assert [p["step"] for p in detail["series"]["val_loss"]] == list(range(20))


def test_sklearn_example(tmp_path: Path) -> None:
    pytest.importorskip("sklearn")
    db = tmp_path / "sk.db"
    run = hpo(
        "sweep", str(EXAMPLES / "sklearn" / "sweep.yaml"), "--store", str(db), "--trials", "4"
    )
    assert run.returncode == 0, run.stderr
    rows = json.loads(hpo("report", "digits-svc", "--store", str(db), "--format", "json").stdout)
    assert len(rows) == 4
    assert all(0.0 < r["value"] <= 1.0 for r in rows if r["status"] == "completed")
    values = [r["value"] for r in rows if r["status"] == "completed"]
    assert values == sorted(values, reverse=True)


BASE = """\
objective: obj:f
metric: loss
parameters:
  x: {min: 0.0, max: 1.0}
trials: 3
executor: inline
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nparameters: [\n", "YAML syntax error"),
        (
            BASE + "trails: 3\n",
            "sweep.yaml:7: trails: unknown key 'trails' (did you mean 'trials'?)",
        ),
        (
            BASE.replace("{min: 0.0, max: 1.0}", "{min: 0.0, max: 1.0, distribution: gaussian}"),
            "sweep.yaml:4: parameters.x",
        ),
        (
            BASE.replace("{min: 0.0, max: 1.0}", "{min: 2.0, max: 1.0}"),
            "sweep.yaml:4: parameters.x.min",
        ),
        (
            BASE.replace(
                "{min: 0.0, max: 1.0}", "{min: 0.0, max: 1.0, distribution: log_uniform_values}"
            ),
            "sweep.yaml:4: parameters.x.min",
        ),
        (
            BASE.replace("{min: 0.0, max: 1.0}", "{min: 0.0, max: 1.0, when: {y: 1}}"),
            "parameters.x.when",
        ),
        (BASE + "strategy: randm\n", "sweep.yaml:7: strategy: unknown strategy 'randm'"),
        (BASE.replace("obj:f", "nosuchmodule:f"), "sweep.yaml:1: objective.function"),
        (BASE.replace("obj:f", "obj:nosuch"), "sweep.yaml:1: objective.function"),
        (BASE.replace("obj:f", "obj:g"), "objective.function"),
        (
            BASE.replace("objective: obj:f", "objective: {command: 'nosuchprogram-xyz {x}'}"),
            "objective.command",
        ),
        (BASE.replace("trials: 3\n", ""), "'trials' is required"),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "obj.py").write_text("def f(x):\n    return x\n\ndef g(y):\n    return y\n")
    (tmp_path / "sweep.yaml").write_text(text)
    run = hpo("sweep", "sweep.yaml", cwd=tmp_path)
    assert run.returncode == 2, (run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    assert expected in run.stderr.replace("\n", " ") or expected in run.stderr, run.stderr
    assert not (tmp_path / "hpo.db").exists()


def test_an_error_is_one_line_in_a_narrow_pipe(tmp_path: Path) -> None:
    # Logs are grepped: a long message must not be hard-wrapped at the terminal's width.
    (tmp_path / "obj.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "sweep.yaml").write_text(BASE + "no_such_key_at_all: 1\n")
    run = hpo("sweep", "sweep.yaml", cwd=tmp_path, env={"COLUMNS": "60"})
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and len(lines[0]) > 60, run.stderr
    assert lines[0].startswith("error: sweep.yaml:7: no_such_key_at_all: unknown key"), lines


def test_missing_config_file(tmp_path: Path) -> None:
    run = hpo("sweep", "nope.yaml", cwd=tmp_path)
    assert run.returncode == 2
    assert "config file not found: nope.yaml" in run.stderr
    assert "Traceback" not in run.stderr


def test_read_commands_on_missing_store_and_sweep(tmp_path: Path) -> None:
    run = hpo("ls", cwd=tmp_path)
    assert run.returncode == 2 and "no store at" in run.stderr
    assert not (tmp_path / "hpo.db").exists()
    (tmp_path / "obj.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "sweep.yaml").write_text(BASE)
    assert hpo("sweep", "sweep.yaml", "--no-progress", cwd=tmp_path).returncode == 0
    missing = hpo("report", "swep", cwd=tmp_path)
    assert missing.returncode == 2 and "did you mean 'sweep'" in missing.stderr
    bad = hpo("show", "sweep:99", cwd=tmp_path)
    assert bad.returncode == 2 and "no trial 'sweep:99'" in bad.stderr


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    run = hpo("sweep", "x.yaml", "--workers", "0", cwd=tmp_path)
    assert run.returncode == 2 and "Traceback" not in run.stderr


def test_ctrl_c_marks_running_trials_interrupted(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        textwrap.dedent(
            """
            import time
            def f(x):
                if x > 0.5:
                    time.sleep(60)
                return x
            """
        )
    )
    (tmp_path / "sweep.yaml").write_text(
        "objective: slow:f\nmetric: loss\nparameters:\n  x: {values: [0.1, 0.2, 0.9, 0.95]}\n"
        "strategy: grid\nworkers: 2\nexecutor: local\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "sweep", "sweep.yaml", "--no-progress"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    db = tmp_path / "hpo.db"
    import sqlite3

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        time.sleep(0.2)
        if not db.exists():
            continue
        try:
            con = sqlite3.connect(db)
            states = [s for (s,) in con.execute("SELECT state FROM trials ORDER BY number")]
            con.close()
        except sqlite3.Error:
            continue
        if states.count("running") == 2 and states.count("completed") == 2:
            break
    proc.send_signal(signal.SIGINT)
    _, errs = proc.communicate(timeout=60)
    assert proc.returncode == 130, errs
    assert "Traceback" not in errs
    rows = json.loads(hpo("report", "sweep", "--format", "json", cwd=tmp_path).stdout)
    by_state = sorted((r["number"], r["status"]) for r in rows)
    assert by_state == [(0, "completed"), (1, "completed"), (2, "interrupted"), (3, "interrupted")]
    ls = json.loads(hpo("ls", "--format", "json", cwd=tmp_path).stdout)
    assert ls[0]["state"] == "interrupted"


def test_failing_trials_are_recorded_with_reasons_and_the_sweep_finishes(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text(
        textwrap.dedent(
            """
            import os, signal, time
            def f(mode):
                if mode == "raise":
                    raise RuntimeError("broken on purpose")
                if mode == "nan":
                    return float("nan")
                if mode == "text":
                    return "not a number"
                if mode == "exit":
                    os._exit(3)
                if mode == "segv":
                    os.kill(os.getpid(), signal.SIGSEGV)
                if mode == "hang":
                    time.sleep(60)
                return 1.0
            """
        )
    )
    (tmp_path / "sweep.yaml").write_text(
        "objective: bad:f\nmetric: loss\nstrategy: grid\nworkers: 2\nexecutor: local\n"
        "timeout: 2\nparameters:\n"
        "  mode: {values: [ok, raise, nan, text, exit, segv, hang, fine]}\n"
    )
    run = hpo("sweep", "sweep.yaml", "--no-progress", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    rows = json.loads(hpo("report", "sweep", "--format", "json", cwd=tmp_path).stdout)
    outcome = {r["params"]["mode"]: (r["status"], r["error"] or "") for r in rows}
    assert outcome["ok"] == ("completed", "")
    assert (
        outcome["raise"][0] == "failed" and "RuntimeError: broken on purpose" in outcome["raise"][1]
    )
    assert outcome["nan"][0] == "failed" and "nan" in outcome["nan"][1]
    assert outcome["text"][0] == "failed" and "str" in outcome["text"][1]
    assert outcome["exit"] == ("failed", "worker process exited with status 3")
    assert outcome["segv"][0] == "failed" and "SIGSEGV" in outcome["segv"][1]
    assert outcome["hang"][0] == "timed_out" and "timeout" in outcome["hang"][1]
    assert outcome["fine"] == ("completed", "")
    assert len(rows) == 8


def test_unknown_executor_option_is_located(tmp_path: Path) -> None:
    (tmp_path / "obj.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "sweep.yaml").write_text(
        BASE.replace("executor: inline", "executor: {type: local, adress: x}")
    )
    run = hpo("sweep", "sweep.yaml", cwd=tmp_path)
    assert run.returncode == 2
    assert (
        "sweep.yaml:6: executor: executor 'local' takes no options, but got: adress" in run.stderr
    )
    assert not (tmp_path / "hpo.db").exists()


def test_non_finite_values_come_out_as_strict_json(tmp_path: Path) -> None:
    (tmp_path / "obj.py").write_text(
        "import hpo\n"
        "def f(x):\n"
        "    hpo.report(step=0, loss=float('nan'), grad=float('inf'))\n"
        "    return {'loss': x, 'aux': float('-inf')}\n"
    )
    (tmp_path / "sweep.yaml").write_text(BASE)
    assert hpo("sweep", "sweep.yaml", "--no-progress", cwd=tmp_path).returncode == 0
    show = hpo("show", "sweep:0", "--format", "json", cwd=tmp_path)
    assert show.returncode == 0, show.stderr
    detail = json.loads(show.stdout)  # strict: no bare NaN tokens
    assert detail["series"]["loss"][0]["value"] == "nan"
    assert detail["series"]["grad"][0]["value"] == "inf"
    assert detail["metrics"]["aux"] == "-inf"
    rows = json.loads(hpo("report", "sweep", "--format", "json", cwd=tmp_path).stdout)
    assert rows[0]["metrics"]["aux"] == "-inf"


def test_report_table_shows_the_best_and_says_how_many_more(tmp_path: Path) -> None:
    (tmp_path / "obj.py").write_text("def f(x):\n    return x\n")
    (tmp_path / "sweep.yaml").write_text(BASE.replace("trials: 3", "trials: 30"))
    assert hpo("sweep", "sweep.yaml", "--no-progress", cwd=tmp_path).returncode == 0
    table = hpo("report", "sweep", cwd=tmp_path)
    assert "25 of 30 trials shown: --top N or --all for more" in table.stdout
    assert "trials shown" not in hpo("report", "sweep", "--all", cwd=tmp_path).stdout
    assert len(json.loads(hpo("report", "sweep", "--format", "json", cwd=tmp_path).stdout)) == 30
