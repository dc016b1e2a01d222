"""Speedup with the number of workers, and overhead over the ideal wall time, in one run.

For each worker count W (1, 2, 4, ... up to the machine's cores), each objective and each
system, N trials of D seconds run with W at a time; the ideal wall time is ceil(N / W) * D.
Reported: wall time, overhead over ideal, and speedup over the same system with one worker.

    python benchmarks/scaling.py                                  # quick: 20 trials of 0.5 s
    python benchmarks/scaling.py --trials 200 --duration 1 --workers 2 --objectives sleep \\
        --systems local,ray                                        # the 5% bar on 2 cores

Objectives: ``sleep`` (fixed duration: what overhead costs when cores are free) and ``cpu``
(a busy loop for D seconds of the process's own CPU time: contention shows up here).

Systems: ``local`` (hpo, worker processes) and ``ray`` (hpo, Ray actors) both record every
trial to a SQLite store, with the environment snapshot; ``tune`` is Ray Tune's Tuner with
``max_concurrent_trials=W`` and ``reuse_actors=True`` (its fastest setting; ``--tune-defaults``
for its defaults). Ray runs as one local instance with a CPU per core, started before the
timings and shared by hpo ray and Ray Tune.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from overhead import machine

import hpo


def sleep_objective(duration: float, x: float) -> float:
    time.sleep(duration)
    return x


def cpu_objective(duration: float, x: float) -> float:
    start = time.process_time()
    n = 0
    while time.process_time() - start < duration:
        n += sum(range(1000))
    return x + (n % 2) * 0.0


OBJECTIVES = {"sleep": sleep_objective, "cpu": cpu_objective}


def hpo_wall(
    system: str, objective: str, trials: int, duration: float, workers: int, store: Path
) -> float:
    from hpo.executors import make_executor

    if system == "ray":
        executor: object = make_executor("ray", options={"max_concurrent": workers})
    else:
        executor = make_executor("local", workers=workers)
    start = time.perf_counter()
    result = hpo.sweep(
        OBJECTIVES[objective],
        {"duration": {"value": duration}, "x": {"min": 0.0, "max": 1.0}},
        metric="loss",
        trials=trials,
        seed=0,
        executor=executor,  # type: ignore[arg-type]
        store=store,
    )
    wall = time.perf_counter() - start
    done = result.count(hpo.TrialState.COMPLETED)
    if done != trials:
        raise SystemExit(f"hpo {system} completed {done} of {trials} trials")
    return wall


def tune_trainable(config: dict[str, float]) -> None:
    from ray import tune

    x = OBJECTIVES[str(config["objective"])](float(config["duration"]), float(config["x"]))
    tune.report({"loss": x})


def tune_wall(
    objective: str, trials: int, duration: float, workers: int, storage: Path, reuse: bool
) -> float:
    from ray import tune

    tuner = tune.Tuner(
        tune_trainable,
        param_space={"objective": objective, "duration": duration, "x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(
            metric="loss",
            mode="min",
            num_samples=trials,
            max_concurrent_trials=workers,
            reuse_actors=reuse,
        ),
        run_config=tune.RunConfig(storage_path=str(storage), verbose=0),
    )
    start = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - start
    done = sum(1 for r in results if r.error is None)
    if done != trials:
        raise SystemExit(f"ray tune completed {done} of {trials} trials")
    return wall


def default_workers() -> list[int]:
    cores = os.cpu_count() or 1
    counts = [1]
    while counts[-1] * 2 <= cores:
        counts.append(counts[-1] * 2)
    if counts[-1] != cores:
        counts.append(cores)
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--duration", type=float, default=0.5, help="seconds per trial")
    parser.add_argument("--workers", default=",".join(map(str, default_workers())))
    parser.add_argument("--objectives", default="sleep,cpu")
    parser.add_argument("--systems", default="local,ray,tune")
    parser.add_argument("--tune-defaults", action="store_true", help="Tune without reuse_actors")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    counts = [int(w) for w in args.workers.split(",")]
    systems = args.systems.split(",")
    objectives = args.objectives.split(",")
    versions: dict[str, str] = {}
    if "ray" in systems or "tune" in systems:
        import ray

        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        versions["ray"] = ray.__version__
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for objective in objectives:
            for system in systems:
                base: float | None = None
                for w in counts:
                    where = Path(tmp) / f"{system}-{objective}-{w}"
                    if system == "tune":
                        wall = tune_wall(
                            objective, args.trials, args.duration, w, where, not args.tune_defaults
                        )
                    else:
                        wall = hpo_wall(system, objective, args.trials, args.duration, w, where)
                    ideal = math.ceil(args.trials / w) * args.duration
                    base = wall if w == 1 else base
                    row = {
                        "objective": objective,
                        "system": system,
                        "workers": w,
                        "wall_s": wall,
                        "ideal_s": ideal,
                        "overhead": wall / ideal - 1,
                        "speedup": (base / wall) if base else None,
                    }
                    rows.append(row)
                    print(
                        f"  {objective:<5} {system:<5} x{w:<3} {wall:8.2f} s "
                        f"(ideal {ideal:.1f}, overhead {100 * (wall / ideal - 1):+.1f}%)",
                        file=sys.stderr,
                    )
    info = machine()
    print(
        f"\nmachine: {info['cpu']}, {info['cores']} cores, Python {info['python']}"
        + "".join(f", {k} {v}" for k, v in versions.items())
        + f"; {args.trials} trials of {args.duration:g} s"
    )
    print(
        "\n| objective | system | workers | wall s | ideal s | overhead | speedup |\n"
        "|---|---|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        speedup = f"{r['speedup']:.2f}x" if r["speedup"] else "-"
        print(
            f"| {r['objective']} | {r['system']} | {r['workers']} | {r['wall_s']:.2f} | "
            f"{r['ideal_s']:.1f} | {100 * r['overhead']:+.1f}% | {speedup} |"  # type: ignore[operator]
        )
    if args.json:
        args.json.write_text(json.dumps({"machine": info, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
