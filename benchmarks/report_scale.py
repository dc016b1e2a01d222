"""Time and size of ``hpo report`` (HTML, CSV, Markdown) and of ``hpo export`` / ``hpo import``
on a large sweep.

Writes a synthetic sweep straight into a SQLite store (no objective runs: rows as the engine
writes them, in batches), with a float on a log scale, an int, a categorical, a conditional
float, a few failed trials and a step series per trial, then times the report commands as a
user runs them (a fresh process each).

    python benchmarks/report_scale.py                      # 100,000 trials, 10 steps each
    python benchmarks/report_scale.py --trials 10000 --keep /tmp/report-10k
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search_spaces import SearchSpace
from trackers import Goal, Store, SweepState, TrialState, WriteBatch

SPACE = {
    "lr": {"min": 1e-5, "max": 1e-1, "distribution": "log_uniform_values"},
    "layers": {"min": 1, "max": 8},
    "optimizer": {"values": ["sgd", "adam", "rmsprop"]},
    "momentum": {"min": 0.0, "max": 0.99, "when": {"optimizer": "sgd"}},
    "dropout": {"min": 0.0, "max": 0.5},
}
BATCH = 1000


def loss(p: dict, rng: np.random.Generator) -> float:
    x = (math.log10(p["lr"]) + 3) ** 2 + 0.05 * (p["layers"] - 4) ** 2 + p["dropout"]
    x += {"sgd": 0.3 - 0.2 * p.get("momentum", 0.0), "adam": 0.0, "rmsprop": 0.1}[p["optimizer"]]
    return float(x + 0.05 * rng.standard_normal())


def build(path: Path, trials: int, steps: int) -> float:
    """Write the sweep; returns the seconds it took."""
    start = time.perf_counter()
    space = SearchSpace.from_dict(SPACE)
    rng = np.random.default_rng(0)
    with Store(path) as store:
        sweep_id = store.create_sweep(
            name="big",
            metric="loss",
            goal=Goal.MINIMIZE,
            strategy="random",
            strategy_options={},
            space=space.to_json(),
            config={"tags": ["benchmark"]},
            objective="synthetic",
            executor="inline",
            budget=trials,
        )
        now = time.time()
        for first in range(0, trials, BATCH):
            batch = WriteBatch(sweep_id)
            numbers = range(first, min(trials, first + BATCH))
            params = {n: space.sample(rng) for n in numbers}
            for n in numbers:
                batch.trial_started(n, params[n], seed=n, at=now)
            store.write(batch)
            batch.clear()
            for n in numbers:
                if n % 97 == 13:
                    batch.trial_finished(
                        n, TrialState.FAILED, value=None, metrics={}, started_at=now,
                        ended_at=now + 0.5, error=f"RuntimeError: diverged at trial {n}",
                    )  # fmt: skip
                    continue
                v = loss(params[n], rng)
                for s in range(steps):
                    batch.metric(n, "loss", s, v + 1.0 / (s + 1), now + s)
                batch.trial_finished(
                    n, TrialState.COMPLETED, value=v, metrics={"loss": v}, started_at=now,
                    ended_at=now + 1.0,
                )  # fmt: skip
            store.write(batch)
        store.set_sweep_state(sweep_id, SweepState.COMPLETED)
    return time.perf_counter() - start


def timed(args: list[str], out: Path | None = None) -> tuple[float, int]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args], capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    size = out.stat().st_size if out is not None else len(proc.stdout.encode())
    return seconds, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=10, help="series points per trial")
    parser.add_argument("--keep", type=Path, help="a directory to keep the store and report in")
    args = parser.parse_args()
    where = args.keep or Path(tempfile.mkdtemp(prefix="hpo-report-scale-"))
    where.mkdir(parents=True, exist_ok=True)
    db = where / "big.db"
    if db.exists():
        print(f"reusing {db}")
    else:
        seconds = build(db, args.trials, args.steps)
        print(f"wrote {args.trials:,} trials x {args.steps} steps in {seconds:.1f} s")
    html = where / "report.html"
    base = ["report", "big", "--store", str(db)]
    for label, extra, out in [
        ("html", ["--html", str(html)], html),
        ("csv (all trials)", ["--format", "csv"], None),
        ("md (top 25)", ["--format", "md"], None),
        ("json (all trials)", ["--format", "json"], None),
    ]:
        seconds, size = timed(base + extra, out)
        print(f"{label:18s} {seconds:6.1f} s  {size / 2**20:7.2f} MiB")
    exported, target = where / "big.hpo.json.gz", where / "imported.db"
    target.unlink(missing_ok=True)
    for label, cmd, out in [
        ("export (gzip)", ["export", "big", "--store", str(db), "-o", str(exported)], exported),
        ("import", ["import", str(exported), "--store", str(target)], target),
    ]:
        seconds, size = timed(cmd, out)
        print(f"{label:18s} {seconds:6.1f} s  {size / 2**20:7.2f} MiB")
    print(f"report: {html}")


if __name__ == "__main__":
    main()
