"""The engine's own cost per trial, side by side with Optuna, in one run.

A trivial objective (two floats and a categorical, no work) makes the sweep machinery the
whole cost. Each configuration runs a full sweep from a cold start (sweep creation and the
environment snapshot included) and reports trials per second; ratios are taken within this
one run, so a busy or slow machine moves both sides alike.

    python benchmarks/overhead.py                # default sizes
    python benchmarks/overhead.py --trials 5000 --optuna-sqlite-trials 500 --json out.json
    python benchmarks/overhead.py --no-ray       # without Ray (hpo ray, Ray Tune left out)
    python benchmarks/overhead.py --growth       # 100,000 trials: is the per-trial cost flat?

Configurations:
  hpo inline, no store     the loop itself: strategy, executor, bookkeeping
  hpo inline, SQLite       + full tracking (params, metrics, events, environment) to a WAL file
  hpo local xW, SQLite     + W worker processes and the pipes to them (W: cores)
  hpo ray xW, SQLite       + W Ray actors on a Ray instance started once for this benchmark
  optuna memory            RandomSampler, InMemoryStorage
  optuna SQLite            RandomSampler, RDBStorage on a SQLite file
  optuna journal file      RandomSampler, JournalStorage(JournalFileBackend)
  ray tune (defaults)      Tuner with its default search (random) on the same Ray instance
  ray tune reuse_actors    the same with TuneConfig(reuse_actors=True)

The Ray instance (one CPU per core) is started before the Ray rows and shared by them, so
neither hpo nor Ray Tune pays for the cluster's start, and both pay for their own actors.

--growth runs one sweep of --growth-trials (100,000) trials, inline with the SQLite store, and
compares the time per trial over trials 1,000-2,000 with trials 99,000-100,000 (from the
trials' recorded end times); then it times ``hpo ls``, ``hpo report SWEEP`` and
``hpo report SWEEP --format json --top 10`` on that store as real subprocesses, beside
``hpo --help`` (the interpreter's and the CLI's start alone).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
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


@hpo.objective(metric="loss")
def trivial_clocked(x: float, y: float, kind: str) -> dict[str, float]:
    """``trivial``, also returning the driver's CPU clock (inline: the objective runs in the
    driver), so per-trial cost can be read as CPU time too, which other processes' load on a
    shared machine inflates far less than wall time."""
    return {"loss": x * x + y, "cpu_s": time.process_time()}


def optuna_objective(trial) -> float:
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_float("y", 1e-3, 1e3, log=True)
    trial.suggest_categorical("kind", ["a", "b", "c"])
    return x * x + y


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def hpo_run(trials: int, *, store: Path | None, workers: int, executor: str | None = None) -> int:
    if executor == "ray":
        from hpo.executors import make_executor

        exe = make_executor("ray", options={"max_concurrent": workers})
    else:
        exe = executor or ("inline" if workers == 1 else "local")
    result = trivial.sweep(
        space=SPACE,
        trials=trials,
        seed=0,
        workers=workers,
        executor=exe,  # type: ignore[arg-type]
        store=store,
        track=store is not None,
    )
    done = result.count(hpo.TrialState.COMPLETED)
    if done != trials:
        raise SystemExit(f"hpo completed {done} of {trials} trials")
    return done


def optuna_run(trials: int, *, storage: object) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(storage=storage, sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(optuna_objective, n_trials=trials)
    return len(study.trials)


def optuna_journal(path: Path) -> object:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    return JournalStorage(JournalFileBackend(str(path)))


def tune_trainable(config: dict[str, object]) -> None:
    from ray import tune

    x, y = float(config["x"]), float(config["y"])  # type: ignore[arg-type]
    tune.report({"loss": x * x + y})


def tune_run(trials: int, *, storage: Path, reuse_actors: bool) -> int:
    """Ray Tune's Tuner on the same space, its default search (random), nothing else set but
    quiet output and where its results go."""
    from ray import tune

    tuner = tune.Tuner(
        tune_trainable,
        param_space={
            "x": tune.uniform(-10.0, 10.0),
            "y": tune.loguniform(1e-3, 1e3),
            "kind": tune.choice(["a", "b", "c"]),
        },
        tune_config=tune.TuneConfig(
            metric="loss", mode="min", num_samples=trials, reuse_actors=reuse_actors
        ),
        run_config=tune.RunConfig(storage_path=str(storage), verbose=0),
    )
    results = tuner.fit()
    done = sum(1 for r in results if r.error is None)
    if done != trials:
        raise SystemExit(f"ray tune completed {done} of {trials} trials")
    return done


def start_ray(cpus: int) -> str:
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    return ray.__version__


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


def rates(args: argparse.Namespace) -> None:
    import optuna

    workers = args.workers
    rows: list[dict[str, object]] = []
    versions = {"optuna": optuna.__version__}
    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        runs: list[tuple[str, Callable[[], int]]] = [
            ("hpo inline, no store", lambda: hpo_run(args.trials, store=None, workers=1)),
            ("hpo inline, SQLite", lambda: hpo_run(args.trials, store=tmpdir / "a.db", workers=1)),
            (
                f"hpo local x{workers}, SQLite",
                lambda: hpo_run(args.trials, store=tmpdir / "b.db", workers=workers),
            ),
            ("optuna memory", lambda: optuna_run(args.trials, storage=None)),
            (
                "optuna SQLite",
                lambda: optuna_run(
                    args.optuna_sqlite_trials, storage=f"sqlite:///{tmpdir / 'optuna.db'}"
                ),
            ),
            (
                "optuna journal file",
                lambda: optuna_run(
                    args.optuna_journal_trials, storage=optuna_journal(tmpdir / "optuna.log")
                ),
            ),
        ]
        if not args.no_ray:
            runs += [
                ("(start Ray for the rows below)", lambda: start_ray(os.cpu_count() or 1) and 0),
                (
                    f"hpo ray x{workers}, SQLite",
                    lambda: hpo_run(
                        args.ray_trials, store=tmpdir / "c.db", workers=workers, executor="ray"
                    ),
                ),
                (
                    "ray tune (defaults)",
                    lambda: tune_run(args.tune_trials, storage=tmpdir / "t1", reuse_actors=False),
                ),
                (
                    "ray tune reuse_actors",
                    lambda: tune_run(
                        args.tune_reuse_trials, storage=tmpdir / "t2", reuse_actors=True
                    ),
                ),
            ]
        for name, fn in runs:
            seconds, n = timed(fn)
            if name.startswith("("):
                import ray

                versions["ray"] = ray.__version__
                print(f"  {name:<30} {seconds:7.2f} s", file=sys.stderr)
                continue
            rows.append({"name": name, "trials": n, "seconds": seconds, "per_s": n / seconds})
            print(f"  {name:<30} {n:>6} trials in {seconds:7.2f} s", file=sys.stderr)
    rate = {r["name"]: r["per_s"] for r in rows}
    ratios = {
        "hpo inline SQLite / optuna SQLite": rate["hpo inline, SQLite"] / rate["optuna SQLite"],
        f"hpo local x{workers} SQLite / optuna SQLite": rate[f"hpo local x{workers}, SQLite"]
        / rate["optuna SQLite"],
        f"hpo local x{workers} SQLite / optuna journal": rate[f"hpo local x{workers}, SQLite"]
        / rate["optuna journal file"],
        "hpo inline no store / optuna memory": rate["hpo inline, no store"] / rate["optuna memory"],
    }
    if not args.no_ray:
        hpo_ray = rate[f"hpo ray x{workers}, SQLite"]
        ratios[f"hpo ray x{workers} / ray tune (defaults)"] = hpo_ray / rate["ray tune (defaults)"]
        ratios[f"hpo ray x{workers} / ray tune reuse_actors"] = (
            hpo_ray / rate["ray tune reuse_actors"]
        )
    info = machine()
    print(
        f"\nmachine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
    )
    print("\n| configuration | trials | trials/s | ms/trial |\n|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['name']} | {r['trials']} | {r['per_s']:,.0f} | {1000 / r['per_s']:.3f} |")
    print("\n| ratio (same run) | value |\n|---|---:|")
    for k, v in ratios.items():
        print(f"| {k} | {v:.1f}x |")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"machine": info, "versions": versions, "rows": rows, "ratios": ratios}, indent=2
            )
        )


def cli_seconds(args: list[str], store: Path, repeat: int = 3) -> float:
    """Best wall time of ``hpo ARGS --store STORE`` as a subprocess (answer checked); a
    command slower than 5 s runs once."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "hpo.cli", *args, *(["--store", str(store)] if store else [])],
            capture_output=True,
            text=True,
            env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
            timeout=600,
        )
        best = min(best, time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"hpo {' '.join(args)} failed: {done.stderr}")
        if best > 5:
            break
    return best


def growth(args: argparse.Namespace) -> None:
    n = args.growth_trials
    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "growth.db"
        start = time.perf_counter()
        cpu0 = time.process_time()
        result = trivial_clocked.sweep(
            space=SPACE, trials=n, seed=0, executor="inline", store=store, name="growth"
        )
        total = time.perf_counter() - start
        cpu_total = time.process_time() - cpu0
        trials = sorted(result.trials, key=lambda t: t.number)
        if len(trials) != n:
            raise SystemExit(f"hpo recorded {len(trials)} of {n} trials")
        end = [t.ended_at for t in trials]
        cpu = [t.metrics["cpu_s"] for t in trials]

        def per_trial(a: int, b: int) -> float:  # wall seconds per trial over trials a..b
            return (end[b - 1] - end[a - 1]) / (b - a)

        def cpu_per_trial(a: int, b: int) -> float:  # the driver's CPU seconds per trial
            return (cpu[b - 1] - cpu[a - 1]) / (b - a)

        early = per_trial(1000, 2000)
        late = per_trial(n - 1000, n)
        cpu_ratio = cpu_per_trial(n - 1000, n) / cpu_per_trial(1000, 2000)
        windows = [(a, a + 1000) for a in (1000, n // 10, n // 4, n // 2, 3 * n // 4, n - 1000)]
        size_mb = store.stat().st_size / 1e6
        print(
            f"\n{n:,} trials (inline, SQLite store) in {total:.1f} s wall, {cpu_total:.1f} s CPU; "
            f"store {size_mb:.0f} MB"
        )
        print("\n| trials | wall ms/trial | CPU ms/trial |\n|---|---:|---:|")
        for a, b in windows:
            wall_ms, cpu_ms = 1000 * per_trial(a, b), 1000 * cpu_per_trial(a, b)
            print(f"| {a:,}-{b:,} | {wall_ms:.3f} | {cpu_ms:.3f} |")
        print(
            f"\nlate/early per-trial time: wall {late / early:.2f}x, CPU {cpu_ratio:.2f}x "
            "(bar: <= 1.5x)"
        )
        timings = {
            "hpo --help (start-up alone)": cli_seconds(["--help"], None),  # type: ignore[arg-type]
            "hpo ls": cli_seconds(["ls"], store),
            "hpo report growth": cli_seconds(["report", "growth"], store),
            "hpo report growth --format json --top 10": cli_seconds(
                ["report", "growth", "--format", "json", "--top", "10"], store
            ),
        }
        print("\n| command (subprocess, best of 3) | seconds |\n|---|---:|")
        for k, v in timings.items():
            print(f"| `{k}` | {v:.2f} |")
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "machine": machine(),
                        "trials": n,
                        "seconds": total,
                        "ms_per_trial": {f"{a}-{b}": 1000 * per_trial(a, b) for a, b in windows},
                        "cpu_ms_per_trial": {
                            f"{a}-{b}": 1000 * cpu_per_trial(a, b) for a, b in windows
                        },
                        "late_over_early": late / early,
                        "cpu_late_over_early": cpu_ratio,
                        "cli_seconds": timings,
                    },
                    indent=2,
                )
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--trials", type=int, default=3000, help="trials for hpo and in-memory optuna"
    )
    parser.add_argument("--optuna-sqlite-trials", type=int, default=300)
    parser.add_argument("--optuna-journal-trials", type=int, default=1000)
    parser.add_argument("--ray-trials", type=int, default=3000, help="trials for hpo ray")
    parser.add_argument("--tune-trials", type=int, default=30, help="Ray Tune, defaults")
    parser.add_argument("--tune-reuse-trials", type=int, default=300, help="Ray Tune, reuse")
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="for hpo local and hpo ray"
    )
    parser.add_argument("--no-ray", action="store_true", help="leave out hpo ray and Ray Tune")
    parser.add_argument("--growth", action="store_true", help="the 100,000-trial growth run")
    parser.add_argument("--growth-trials", type=int, default=100_000)
    parser.add_argument("--json", type=Path, help="write the raw results here")
    args = parser.parse_args()
    if args.growth:
        growth(args)
    else:
        rates(args)


if __name__ == "__main__":
    main()
