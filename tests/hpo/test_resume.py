"""Resuming sweeps: after Ctrl-C, after a dead driver, with retries, and the refusals."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

OBJECTIVE = textwrap.dedent(
    """
    import os, time
    import hpo

    def f(x, trial):
        hpo.report(step=0, loss=x)
        if os.environ.get("HPO_TEST_SLOW") and x > 0.5:
            time.sleep(60)
        return x

    def flaky_once(x, trial):
        # Fails the first time each x is tried: a retry with the same params succeeds.
        marker = f"tried-{x!r}"
        if not os.path.exists(marker):
            open(marker, "w").close()
            raise RuntimeError("first attempt fails")
        return x
    """
)


def hpo(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


def rows(cwd: Path, name: str) -> list[dict]:
    run = hpo("report", name, "--format", "json", cwd=cwd)
    assert run.returncode == 0, run.stderr
    return sorted(json.loads(run.stdout), key=lambda r: r["number"])


def setup(tmp_path: Path, body: str) -> Path:
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(textwrap.dedent(body))
    return tmp_path


RANDOM = """\
    objective: obj:f
    metric: loss
    parameters:
      x: {min: 0.0, max: 1.0}
    trials: 10
    executor: inline
    seed: 3
"""


def test_existing_sweep_needs_resume_or_new(tmp_path: Path) -> None:
    cwd = setup(tmp_path, RANDOM)
    assert hpo("sweep", "sweep.yaml", "--trials", "4", cwd=cwd).returncode == 0
    again = hpo("sweep", "sweep.yaml", cwd=cwd)
    assert again.returncode == 2
    assert "already has a sweep named 'sweep': pass --resume" in again.stderr
    assert "'sweep-2'" in again.stderr
    new = hpo("sweep", "sweep.yaml", "--new", cwd=cwd)
    assert new.returncode == 0 and "sweep 'sweep-2'" in new.stdout
    missing = hpo("sweep", "sweep.yaml", "--resume", "--name", "nope", cwd=cwd)
    assert missing.returncode == 2 and "no sweep named 'nope' to resume" in missing.stderr


def test_resume_extends_and_continues_the_same_search(tmp_path: Path) -> None:
    cwd = setup(tmp_path, RANDOM)
    assert hpo("sweep", "sweep.yaml", "--name", "full", cwd=cwd).returncode == 0
    assert hpo("sweep", "sweep.yaml", "--name", "part", "--trials", "4", cwd=cwd).returncode == 0
    more = hpo("sweep", "sweep.yaml", "--name", "part", "--resume", cwd=cwd)
    assert more.returncode == 0, more.stderr
    full, part = rows(cwd, "full"), rows(cwd, "part")
    assert [r["number"] for r in part] == list(range(10))
    assert [r["params"] for r in part] == [r["params"] for r in full]
    assert [r["seed"] for r in part] == [r["seed"] for r in full]
    listing = json.loads(hpo("ls", "--format", "json", cwd=cwd).stdout)
    assert {s["name"]: s["state"] for s in listing}["part"] == "completed"


def test_resume_refuses_a_changed_search(tmp_path: Path) -> None:
    cwd = setup(tmp_path, RANDOM)
    assert hpo("sweep", "sweep.yaml", "--trials", "2", cwd=cwd).returncode == 0
    (cwd / "sweep.yaml").write_text(textwrap.dedent(RANDOM).replace("max: 1.0", "max: 2.0"))
    run = hpo("sweep", "sweep.yaml", "--resume", cwd=cwd)
    assert run.returncode == 2
    assert "parameters differ from those recorded with sweep 'sweep'" in run.stderr


def test_interrupted_trials_are_rerun_with_the_same_params_and_seed(tmp_path: Path) -> None:
    cwd = setup(
        tmp_path,
        """\
        objective: obj:f
        metric: loss
        parameters:
          x: {values: [0.1, 0.2, 0.9, 0.95, 0.3]}
        strategy: grid
        workers: 2
        executor: local
        """,
    )
    proc = start_slow_sweep(cwd, stderr=subprocess.PIPE)
    wait_for(cwd / "hpo.db", lambda states: states.count("running") == 2)
    proc.send_signal(signal.SIGINT)
    _, errs = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "hpo resume sweep" in errs
    before = rows(cwd, "sweep")
    interrupted = {r["number"]: r for r in before if r["status"] == "interrupted"}
    assert len(interrupted) == 2
    # Resume without the slow switch: the reruns now finish.
    run = hpo("resume", "sweep", "--no-progress", cwd=cwd)
    assert run.returncode == 0, run.stderr
    after = rows(cwd, "sweep")
    assert [r["number"] for r in after] == list(range(len(after)))
    reruns = {r["rerun_of"]: r for r in after if r["rerun_of"] is not None}
    assert set(reruns) == set(interrupted)
    for number, rerun in reruns.items():
        assert rerun["params"] == interrupted[number]["params"]
        assert rerun["seed"] == interrupted[number]["seed"]
        assert rerun["status"] == "completed"
    assert sorted(r["params"]["x"] for r in after if r["status"] == "completed") == [
        0.1,
        0.2,
        0.3,
        0.9,
        0.95,
    ]


def test_resume_is_refused_while_the_driver_lives(tmp_path: Path) -> None:
    cwd = setup(
        tmp_path,
        """\
        objective: obj:f
        metric: loss
        parameters:
          x: {values: [0.9]}
        strategy: grid
        executor: local
        """,
    )
    proc = start_slow_sweep(cwd)
    try:
        wait_for(cwd / "hpo.db", lambda states: states.count("running") == 1)
        run = hpo("resume", "sweep", cwd=cwd)
        assert run.returncode == 2
        assert "is being run by driver" in run.stderr and str(proc.pid) in run.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)


def test_failed_trials_are_retried_when_configured(tmp_path: Path) -> None:
    cwd = setup(
        tmp_path,
        """\
        objective: obj:flaky_once
        metric: loss
        parameters:
          x: {values: [0.1, 0.2, 0.3]}
        strategy: grid
        executor: inline
        retries: 1
        """,
    )
    run = hpo("sweep", "sweep.yaml", "--no-progress", cwd=cwd)
    assert run.returncode == 0, run.stderr
    result = rows(cwd, "sweep")
    failed = [r for r in result if r["status"] == "failed"]
    done = [r for r in result if r["status"] == "completed"]
    assert len(failed) == 3 and len(done) == 3
    assert {r["rerun_of"] for r in done} == {r["number"] for r in failed}
    assert all("first attempt fails" in r["error"] for r in failed)


def start_slow_sweep(cwd: Path, stderr: int = subprocess.DEVNULL) -> subprocess.Popen:
    """`hpo sweep sweep.yaml` in the background, with trials of x > 0.5 sleeping a minute."""
    return subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", "sweep", "sweep.yaml", "--no-progress"],
        cwd=cwd,
        env={**os.environ, "HPO_TEST_SLOW": "1"},
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def wait_for(db: Path, ready: Callable[[list[str]], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if not db.exists():
            continue
        try:
            con = sqlite3.connect(db)
            states = [s for (s,) in con.execute("SELECT state FROM trials")]
            con.close()
        except sqlite3.Error:
            continue
        if ready(states):
            return
    raise AssertionError("the sweep never reached the expected state")


def test_on_a_terminal_hpo_asks_whether_to_resume(tmp_path: Path) -> None:
    import pty

    cwd = setup(tmp_path, RANDOM)
    assert hpo("sweep", "sweep.yaml", "--trials", "3", cwd=cwd).returncode == 0
    for answer, shown, expected_name in (("y", "3/3", "sweep"), ("n", "10/10", "sweep-2")):
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "hpo.cli", "sweep", "sweep.yaml", "--no-progress"],
            cwd=cwd,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=slave,
            text=True,
        )
        os.close(slave)
        seen = b""
        deadline = time.monotonic() + 60
        while b"Resume it?" not in seen and time.monotonic() < deadline:
            seen += os.read(master, 1024)
        assert f"Sweep 'sweep' exists (completed, {shown} completed)".encode() in seen
        os.write(master, f"{answer}\n".encode())
        out, _ = proc.communicate(timeout=120)
        os.close(master)
        assert proc.returncode == 0
        assert f"sweep {expected_name!r}" in out
        assert len(rows(cwd, expected_name)) == 10


def test_a_killed_driver_shows_as_crashed_and_resumes(tmp_path: Path) -> None:
    cwd = setup(
        tmp_path,
        """\
        objective: obj:f
        metric: loss
        parameters:
          x: {values: [0.1, 0.9]}
        strategy: grid
        executor: local
        """,
    )
    proc = start_slow_sweep(cwd)
    wait_for(cwd / "hpo.db", lambda states: "running" in states and "completed" in states)
    proc.kill()
    proc.wait()
    listing = json.loads(hpo("ls", "--format", "json", cwd=cwd).stdout)
    assert listing[0]["state"] == "crashed"
    assert "crashed" in hpo("ls", cwd=cwd).stdout
    run = hpo("resume", "sweep", "--no-progress", cwd=cwd)
    assert run.returncode == 0, run.stderr
    after = rows(cwd, "sweep")
    assert [(r["status"], r["rerun_of"]) for r in after] == [
        ("completed", None),
        ("interrupted", None),
        ("completed", 1),
    ]
    assert "the driver stopped" in after[1]["error"]
    assert json.loads(hpo("ls", "--format", "json", cwd=cwd).stdout)[0]["state"] == "completed"


def test_hpo_resume_explains_a_sweep_started_from_python(tmp_path: Path) -> None:
    script = "import hpo\nhpo.sweep(lambda x: x, {'x': [1, 2]}, strategy='grid', name='py')\n"
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, check=True, timeout=120)
    run = hpo("resume", "py", cwd=tmp_path)
    assert run.returncode == 2
    assert "was started from Python" in run.stderr and "resume=True" in run.stderr
