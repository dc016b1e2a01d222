# ruff: noqa: E402 - thread limits must be set before numpy is imported
"""Multi-fidelity strategies side by side in one run: hpo's hyperband, asha and bohb, hpo's
stopping rules, Optuna's pruners and Ray Tune's ASHA, against full-budget random search.

Same task, space, seeds and training code for every method; one trial at a time, so that the
order of events (and so the measure) is deterministic.

    python benchmarks/multifidelity.py --task synthetic --seeds 2
    nice -n 5 python benchmarks/multifidelity.py --task digits --seeds 16 \\
        --partial benchmarks/results/mf-digits.jsonl     # resumable: rerun the same line
    python benchmarks/multifidelity.py --task digits --table benchmarks/results/mf-digits.jsonl
    python benchmarks/multifidelity.py --task digits-deep --density 200 --workers 2

The measures, identical for every method:

- Every epoch any trial trains counts, counted by the objective itself (its calls to train
  one epoch), never by a strategy's budget arithmetic; a trial that continues from a
  checkpoint counts only the epochs it trains.
- A *finished evaluation* is the end of a trial run: completed, pruned or stopped, or paused
  at a rung (the model exists in that state). The *target* of a seed is ``(1 - tol)`` times
  the best final score of ``random-full`` (hpo's random strategy, 40 trials of the full 27
  epochs) with that seed; ``--tol`` defaults to 0.01 (within 1%).
- Epochs-to-target: the epochs trained by all trials up to the first finished evaluation at
  or above the target; wall-to-target the seconds from the method's start to it (Ray's own
  start-up, ``ray.init``, is left out).
- Every method is capped at the baseline's total, 40 x 27 = 1080 epochs; the trial running
  when the cap is reached is dropped. A method that does not reach the target within the cap
  has epochs-to-target inf (speedup 0, shown as "-"), and counts as such in the median.
- Speedup = baseline epochs-to-target / method epochs-to-target, per seed; the table shows
  its median over seeds and interquartile range, and the median best score of the finished
  evaluations within fixed totals of epochs (``--at``).
- After the table: the measure's ceiling (the median speedup of an oracle that trains one
  full-budget configuration, the one at the target) and, for each pair of ``--paired``, in how
  many seeds the first method needs fewer, the same or more epochs than the second.

Methods (``--methods``): random-full; hpo hyperband, asha, bohb (min_budget 1, max_budget 27,
eta 3, promotions continue from the trial's checkpoint); random with hpo's median and
hyperband stopping rules; Optuna RandomSampler / TPESampler with SuccessiveHalvingPruner
(defaults) and HyperbandPruner (1, 27, 3), TPE with MedianPruner (defaults); Ray Tune's
ASHAScheduler (grace 1, max_t 27, reduction 3) with random search: only when named in
``--methods`` (its start-up costs about a minute a run) and Ray is installed.
Tasks (``--task``): see benchmarks/mf_tasks.py.
"""

from __future__ import annotations

import os

# One thread per run: BLAS threads would make timings depend on what else runs.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import json
import math
import platform
import statistics
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from mf_methods import METHODS, available, run_method
from mf_tasks import TASKS, Ledger

BASELINE = "random-full"
RESULTS = Path(__file__).resolve().parent / "results"


def run_one(task_name: str, method: str, seed: int, cap: int) -> dict[str, Any]:
    """One (task, method, seed) run: its finished evaluations and totals."""
    warnings.simplefilter("ignore")
    ledger = Ledger(cap)
    t0 = time.perf_counter()
    configs = run_method(TASKS[task_name], method, seed, ledger)
    return {
        "task": task_name,
        "method": method,
        "seed": seed,
        "cap": cap,
        "evals": ledger.evals,  # [epochs so far, seconds so far, score]
        "epochs": ledger.epochs,
        "configs": configs,
        "seconds": time.perf_counter() - t0,
    }


def to_target(run: dict[str, Any], target: float) -> tuple[float, float]:
    """(epochs, seconds) at the run's first finished evaluation >= target; inf when none."""
    for epochs, seconds, score in run["evals"]:
        if epochs > run["cap"]:
            break
        if score >= target:
            return float(epochs), float(seconds)
    return math.inf, math.inf


def best_within(run: dict[str, Any], total: int) -> float:
    """The best score among the run's finished evaluations within ``total`` epochs."""
    scores = [s for e, _, s in run["evals"] if e <= min(total, run["cap"])]
    return max(scores) if scores else math.nan


def _q(values: list[float]) -> tuple[float, float, float]:
    lo, med, hi = np.percentile(values, [25, 50, 75])
    return float(lo), float(med), float(hi)


def _fmt(x: float, spec: str = ".0f") -> str:
    return "-" if not math.isfinite(x) or x == 0 else format(x, spec)


def _targets(results: list[dict[str, Any]], tol: float) -> dict[int, float]:
    """Per seed with a baseline run: ``(1 - tol)`` times the baseline's best final score."""
    return {
        r["seed"]: (1 - tol) * max(x[2] for x in r["evals"])
        for r in results
        if r["method"] == BASELINE
    }


def table(results: list[dict[str, Any]], methods: list[str], tol: float, at: list[int]) -> str:
    """The table: per method, medians over the seeds that have a baseline run."""
    base = {r["seed"]: r for r in results if r["method"] == BASELINE}
    targets = _targets(results, tol)
    base_to = {s: to_target(base[s], t) for s, t in targets.items()}
    lines = [
        f"target: within {tol:.1%} of random-full's best final score, per seed "
        f"(median target {statistics.median(targets.values()):.4f} over {len(targets)} seeds)",
        "epochs: epochs trained by all trials up to the first finished evaluation at the "
        "target (cap 1080; '-': not reached); speedup: random-full's epochs / the method's, "
        "per seed, median [IQR]; wall: median seconds to the target (1 trial at a time)",
        "",
        f"{'method':<24}{'reached':>8}{'epochs':>8}{'speedup':>8}{'  [IQR]':<14}"
        f"{'wall s':>8}{'wall x':>8}{'configs':>8}"
        + "".join(f"{'best@' + str(n):>10}" for n in at),
    ]
    for m in methods:
        runs = {r["seed"]: r for r in results if r["method"] == m and r["seed"] in base}
        if not runs:
            continue
        ett, wtt, speed, wspeed = [], [], [], []
        for s, r in runs.items():
            e, w = to_target(r, targets[s])
            be, bw = base_to[s]
            ett.append(e)
            wtt.append(w)
            speed.append(be / max(e, 1.0) if math.isfinite(e) else 0.0)
            wspeed.append(bw / w if math.isfinite(w) and w > 0 else 0.0)
        lo, med, hi = _q(speed)
        reached = sum(math.isfinite(e) for e in ett)
        row = (
            f"{m:<24}{f'{reached}/{len(runs)}':>8}{_fmt(statistics.median(ett)):>8}"
            f"{_fmt(med, '.2f'):>8}  [{lo:.2f}, {hi:.2f}]".ljust(54)
            + f"{_fmt(statistics.median(wtt), '.1f'):>8}{_fmt(statistics.median(wspeed), '.2f'):>8}"
            f"{statistics.median(r['configs'] for r in runs.values()):>8.0f}"
        )
        for n in at:
            row += f"{statistics.median(best_within(r, n) for r in runs.values()):>10.4f}"
        lines.append(row)
    return "\n".join(lines)


def _epochs_to_target(results: list[dict[str, Any]], tol: float) -> dict[str, dict[int, float]]:
    """Per method, per seed that has a baseline run: epochs to that seed's target."""
    targets = _targets(results, tol)
    out: dict[str, dict[int, float]] = {}
    for r in results:
        if r["seed"] in targets:
            out.setdefault(r["method"], {})[r["seed"]] = to_target(r, targets[r["seed"]])[0]
    return out


def ceiling(results: list[dict[str, Any]], tol: float, max_epochs: int) -> str:
    """What the measure allows at best: an oracle trains one full-budget configuration, the
    one at the target, so it spends ``max_epochs`` in every seed."""
    base = sorted(_epochs_to_target(results, tol).get(BASELINE, {}).values())
    if not base:
        return ""
    lucky = sum(e <= 2 * max_epochs for e in base)
    oracle = statistics.median(e / max_epochs for e in base)
    return (
        f"ceiling: {BASELINE} reaches the target within two full trials in {lucky} of "
        f"{len(base)} seeds (median {statistics.median(base):.0f} epochs); an oracle that "
        f"trains one full-budget configuration at the target ({max_epochs} epochs) has a "
        f"median speedup of {oracle:.2f}x"
    )


def paired(results: list[dict[str, Any]], tol: float, pairs: list[tuple[str, str]]) -> str:
    """Seed by seed, which of two methods needs fewer epochs to the target."""
    ett = _epochs_to_target(results, tol)
    lines = []
    for a, b in pairs:
        seeds = sorted(set(ett.get(a, {})) & set(ett.get(b, {})))
        if not seeds:
            continue
        pa, pb = ett[a], ett[b]
        fewer = sum(pa[s] < pb[s] for s in seeds)
        same = sum(pa[s] == pb[s] for s in seeds)
        lines.append(
            f"{a} against {b}, seed by seed: fewer epochs to the target in {fewer} of "
            f"{len(seeds)} seeds, the same in {same}, more in {len(seeds) - fewer - same} "
            f"(median {_fmt(statistics.median(pa[s] for s in seeds))} against "
            f"{_fmt(statistics.median(pb[s] for s in seeds))})"
        )
    return "\n".join(lines)


def report(
    results: list[dict[str, Any]], methods: list[str], args: argparse.Namespace, at: list[int]
) -> str:
    """The table, the ceiling of the measure and the paired comparisons."""
    pairs = [(a, b) for a, _, b in (x.partition(":") for x in args.paired.split(",")) if b]
    parts = [
        table(results, methods, args.tol, at),
        ceiling(results, args.tol, TASKS[args.task].max_epochs),
        paired(results, args.tol, pairs),
    ]
    return "\n\n".join(p for p in parts if p)


def _final_score(task_name: str, seed: int) -> float:
    """The final score of the ``seed``-th random configuration trained for the full budget."""
    warnings.simplefilter("ignore")
    task = TASKS[task_name]
    model = task.make(task.space.sample(np.random.default_rng([seed, 7])), seed)
    for _ in range(task.max_epochs):
        model.train_epoch()
    return model.score()


def density(task_name: str, n: int, tol: float, workers: int) -> str:
    """How rare good configurations are: train ``n`` random ones at full budget, then over
    draws of 40 of them, the share within ``tol`` of the draw's best and the draw's trials
    to its target (what the baseline's epochs-to-target depends on)."""
    with ProcessPoolExecutor(workers) as pool:
        finals = np.array(list(pool.map(_final_score, [task_name] * n, range(n))))
    rng = np.random.default_rng(0)
    shares, trials = [], []
    for _ in range(2000):
        draw = rng.permutation(finals)[:40]
        hit = draw >= (1 - tol) * draw.max()
        shares.append(hit.mean())
        trials.append(int(np.argmax(hit)) + 1)
    return (
        f"{task_name}: {n} random configurations at full budget; in draws of 40, "
        f"{np.mean(shares):.1%} land within {tol:.1%} of the draw's best, and the first of "
        f"them is trial {statistics.median(trials):.0f} in the median draw"
    )


def _load_partial(path: Path, wanted: set[tuple[str, str, int]]) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines():
        r = json.loads(line) if line.strip() else None
        key = r and (r["task"], r["method"], r["seed"])
        if key in wanted:
            out.append(r)
            wanted.discard(key)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--task", choices=sorted(TASKS), default="synthetic")
    ap.add_argument("--seeds", type=int, default=16, help="sweep seeds 0..N-1 for every method")
    # Ray is opt-in: its start-up costs about a minute a run.
    default = ",".join(m for m, spec in METHODS.items() if spec.framework != "ray")
    ap.add_argument("--methods", default=default, help="comma-separated; add ray-asha for Ray")
    ap.add_argument("--tol", type=float, default=0.01, help="relative tolerance of the target")
    ap.add_argument("--cap", type=int, default=40 * 27, help="epochs per run (40 x 27)")
    ap.add_argument("--at", default="100,300,1080", help="totals for the best-score columns")
    ap.add_argument(
        "--paired",
        default="bohb:hyperband,asha:hyperband,asha:ray-asha,asha:optuna-random+sha",
        help="A:B,... compare seed by seed (fewer, same or more epochs to the target)",
    )
    ap.add_argument("--workers", type=int, default=1, help="runs at once (each sequential)")
    ap.add_argument("--json", type=Path, help="write every run here (default results/)")
    ap.add_argument("--partial", type=Path, help="append each finished run here (JSON lines)")
    ap.add_argument("--table", type=Path, help="print the table of a --partial file and exit")
    ap.add_argument(
        "--density",
        type=int,
        metavar="N",
        help="train N random configurations, say how many "
        "land near the best, and exit (how hard the task is for random search)",
    )
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    for m in list(methods):
        if m not in METHODS:
            ap.error(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
        if not available(m):
            print(f"note: {m} skipped, {METHODS[m].needs} is not installed")
            methods.remove(m)
    if BASELINE not in methods:
        methods.insert(0, BASELINE)  # every measure is relative to it
    at = [int(x) for x in args.at.split(",") if x]
    if args.density:
        print(density(args.task, args.density, args.tol, args.workers))
        return
    if args.table:
        results = [json.loads(line) for line in args.table.read_text().splitlines() if line]
        results = [r for r in results if r["task"] == args.task]
        methods = [m for m in methods if any(r["method"] == m for r in results)]
        print(report(results, methods, args, at))
        return
    # Seed-major, baseline first: a run cut short has every method at the first seeds.
    jobs = [(args.task, m, s, args.cap) for s in range(args.seeds) for m in methods]
    results: list[dict[str, Any]] = []
    if args.partial and args.partial.exists():
        results = _load_partial(args.partial, {(t, m, s) for t, m, s, _ in jobs})
        done = {(r["method"], r["seed"]) for r in results}
        jobs = [j for j in jobs if (j[1], j[2]) not in done]
    print(
        f"{args.task}: {len(jobs)} runs to do ({len(results)} already in --partial) on "
        f"{args.workers} process(es); {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    start = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        for r in pool.map(run_one, *zip(*jobs)) if jobs else []:
            results.append(r)
            print(
                f"  seed {r['seed']:>2} {r['method']:<24} {r['epochs']:>5} epochs "
                f"{r['configs']:>4} configs {r['seconds']:7.1f} s",
                flush=True,
            )
            if args.partial:
                with args.partial.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")
    print(f"done in {time.time() - start:.0f} s\n")
    print(report(results, methods, args, at))
    out = args.json or RESULTS / f"multifidelity-{args.task}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"platform": platform.platform(), "cpus": os.cpu_count()}
    out.write_text(
        json.dumps(
            {
                "task": args.task,
                "seeds": args.seeds,
                "tol": args.tol,
                "cap": args.cap,
                "methods": methods,
                "machine": meta,
                "runs": results,
            }
        )
    )
    print(f"\nruns written to {out}")


if __name__ == "__main__":
    main()
