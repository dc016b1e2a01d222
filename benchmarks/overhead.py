"""The engine's own cost per trial, side by side with Optuna, in one run.

A trivial objective (two floats and a categorical, no work) makes the sweep machinery the
whole cost. Each configuration runs a full sweep from a cold start (sweep creation and the
environment snapshot included) and reports trials per second; ratios are taken within this
one run, so a busy or slow machine moves both sides alike.

    python benchmarks/overhead.py                # default sizes
    python benchmarks/overhead.py --trials 5000 --optuna-sqlite-trials 500 --json out.json

Configurations:
  hpo inline, no store     the loop itself: strategy, executor, bookkeeping
  hpo inline, SQLite       + full tracking (params, metrics, events, environment) to a WAL file
  hpo local x2, SQLite     + two worker processes and the pipes to them
  optuna memory            RandomSampler, InMemoryStorage
  optuna SQLite            RandomSampler, RDBStorage on a SQLite file
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hpo

SPACE = {
    "x": {"min": -10.0, "max": 10.0},
    "y": {"min": 1e-3, "max": 1e3, "distribution": "log_uniform_values"},
    "kind": {"values": ["a", "b", "c"]},
}


@hpo.objective(metric="loss")
def trivial(x: float, y: float, kind: str) -> float:
    return x * x + y


def optuna_objective(trial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", 1e-3, 1e3, log=True)
    trial.suggest_categorical("kind", ["a", "b", "c"])
    return x * x + y


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def hpo_run(trials: int, *, store: Path | None, workers: int) -> int:
    result = trivial.sweep(
        space=SPACE,
        trials=trials,
        seed=0,
        workers=workers,
        executor="inline" if workers == 1 else "local",
        store=store,
        track=store is not None,
    )
    done = result.count(hpo.TrialState.COMPLETED)
    if done != trials:
        raise SystemExit(f"hpo completed {done} of {trials} trials")
    return done


def optuna_run(trials: int, *, storage: str | None) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(optuna_objective, n_trials=trials)
    return len(study.trials)


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--trials", type=int, default=3000, help="trials for hpo and in-memory optuna"
    )
    parser.add_argument("--optuna-sqlite-trials", type=int, default=300)
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    import optuna

    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        runs: list[tuple[str, Callable[[], int]]] = [
            ("hpo inline, no store", lambda: hpo_run(args.trials, store=None, workers=1)),
            ("hpo inline, SQLite", lambda: hpo_run(args.trials, store=tmpdir / "a.db", workers=1)),
            (
                "hpo local x2, SQLite",
                lambda: hpo_run(args.trials, store=tmpdir / "b.db", workers=2),
            ),
            ("optuna memory", lambda: optuna_run(args.trials, storage=None)),
            (
                "optuna SQLite",
                lambda: optuna_run(
                    args.optuna_sqlite_trials, storage=f"sqlite:///{tmpdir / 'optuna.db'}"
                ),
            ),
        ]
        for name, fn in runs:
            seconds, n = timed(fn)
            rows.append({"name": name, "trials": n, "seconds": seconds, "per_s": n / seconds})
            print(f"  {name:<22} {n:>6} trials in {seconds:7.2f} s", file=sys.stderr)
    rate = {r["name"]: r["per_s"] for r in rows}
    ratios = {
        "hpo inline SQLite / optuna SQLite": rate["hpo inline, SQLite"] / rate["optuna SQLite"],
        "hpo local x2 SQLite / optuna SQLite": rate["hpo local x2, SQLite"] / rate["optuna SQLite"],
        "hpo inline no store / optuna memory": rate["hpo inline, no store"] / rate["optuna memory"],
    }
    info = machine()
    print(
        f"\nmachine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"optuna {optuna.__version__}"
    )
    print("\n| configuration | trials | trials/s | ms/trial |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['trials']} | {r['per_s']:,.0f} | {1000 / r['per_s']:.3f} |")
    print("\n| ratio (same run) | value |\n|---|---:|")
    for k, v in ratios.items():
        print(f"| {k} | {v:.1f}x |")
    if args.json:
        args.json.write_text(
            json.dumps({"machine": info, "rows": rows, "ratios": ratios}, indent=2)
        )


if __name__ == "__main__":
    main()
