"""Kill the driver with SIGKILL at random moments, resume each time, and check that nothing
was lost or run twice."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from hpo.strategies import STRATEGIES

BUDGET = 60

OBJECTIVE = textwrap.dedent(
    """
    import time
    import hpo

    def f(x, y, trial):
        for step in range(3):
            hpo.report(step=step, loss=x + y + step)
            time.sleep(0.03)
        return (x - 0.3) ** 2 + (y - 0.6) ** 2
    """
)


def config(strategy: str) -> str:
    return textwrap.dedent(
        f"""\
        objective: obj:f
        metric: loss
        parameters:
          x: {{min: 0.0, max: 1.0}}
          y: {{min: 0.0, max: 1.0}}
        strategy: {strategy}
        trials: {BUDGET}
        workers: 2
        executor: local
        seed: 11
        """
    )


def cli(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hpo.cli", *args, "--no-progress", "--top", "0"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def metric_rows(db: Path) -> set[tuple]:
    if not db.exists():
        return set()
    con = sqlite3.connect(db)
    try:
        return set(
            con.execute(
                "SELECT t.number, m.name, m.step, m.value FROM metrics m "
                "JOIN trials t ON t.id = m.trial_id"
            )
        )
    except sqlite3.OperationalError:  # killed before the tables existed
        return set()
    finally:
        con.close()


def worker_pids(marker: str) -> list[int]:
    """Processes still running that were started for this test's sweep."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
        except OSError:
            continue
        if marker.encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.parametrize(
    ("strategy", "kills"),
    [("random", 20), *([("bayes", 10)] if "bayes" in STRATEGIES else [])],
)
def test_sigkill_the_driver_and_resume(tmp_path: Path, strategy: str, kills: int) -> None:
    (tmp_path / "obj.py").write_text(OBJECTIVE)
    (tmp_path / "sweep.yaml").write_text(config(strategy))
    db = tmp_path / "hpo.db"
    marker = f"HPO_CRASH_TEST={tmp_path}"
    os.environ["HPO_CRASH_TEST"] = str(tmp_path)  # inherited: finds leftover processes
    rng = random.Random(1234)
    seen: set[tuple] = set()
    try:
        for attempt in range(kills):
            args = ["sweep", "sweep.yaml"] + (["--resume"] if db.exists() else [])
            proc = cli(tmp_path, *args)
            time.sleep(rng.uniform(0.3, 2.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
            assert proc.returncode in (0, -signal.SIGKILL), (attempt, proc.stderr.read())
            # Every metric that reached the store before the kill must still be there.
            now = metric_rows(db)
            assert seen <= now, f"metrics lost after kill {attempt}"
            seen = now
        final = cli(tmp_path, "sweep", "sweep.yaml", "--resume")
        _, errs = final.communicate(timeout=300)
        assert final.returncode == 0, errs
    finally:
        os.environ.pop("HPO_CRASH_TEST", None)

    report = subprocess.run(
        [sys.executable, "-m", "hpo.cli", "report", "sweep", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    trials = sorted(json.loads(report.stdout), key=lambda r: r["number"])
    numbers = [t["number"] for t in trials]
    assert numbers == list(range(len(trials))), "every trial number exactly once"
    assert not [t for t in trials if t["status"] in ("running", "queued")]
    rerun = {t["rerun_of"] for t in trials if t["rerun_of"] is not None}
    final_attempts = [
        t for t in trials if t["number"] not in rerun and t["status"] != "interrupted"
    ]
    assert len(final_attempts) == BUDGET, "the finished count equals the budget"
    assert all(t["status"] == "completed" for t in final_attempts)
    assert seen <= metric_rows(db)
    by_number = {t["number"]: t for t in trials}
    for t in trials:
        if t["rerun_of"] is not None:
            original = by_number[t["rerun_of"]]
            assert (t["params"], t["seed"]) == (original["params"], original["seed"])
    assert worker_pids(marker) == [], "no worker outlives its driver"
