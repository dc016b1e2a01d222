# ruff: noqa: E402 - thread limits must be set before numpy is imported
"""Sample efficiency of ``strategy: bayes`` side by side with its peers, in one run.

Same problems, budget and seeds for every method; peers at their documented defaults. Prints
the median simple regret (loss for the real tasks) after 20 and after the full budget, per
problem, the average rank of each method (ranked per problem by median final regret), and the
strategy's own time per suggestion; ``--json`` writes every run's best-so-far curve.

    python benchmarks/sample_efficiency.py --seeds 10 --budget 50 --workers 2 --json out.json
    python benchmarks/sample_efficiency.py --problems branin,hartmann6 --methods bayes,optuna-gp
    python benchmarks/sample_efficiency.py --overhead 50,200,1000   # time per suggestion

Methods: bayes (auto), bayes-gp, bayes-tpe, bayes-skopt, random, optuna-tpe,
optuna-tpe-mv (multivariate), optuna-gp (GPSampler; needs torch), skopt-gp (gp_minimize),
hyperopt (TPE). Methods whose package is missing are skipped with a printed note. Spaces with
conditions are given to Optuna define-by-run; skopt and hyperopt get every parameter and the
objective sees only the active ones.
"""

from __future__ import annotations

import os

# One thread per run: runs are parallel across processes, and BLAS or torch threads would make
# timings depend on what else is running.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse
import importlib.util
import json
import math
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from problems import PROBLEMS, Problem, optuna_params

from hpo.strategies import Observation, TrialState, make_strategy
from search_spaces import Categorical, Int, SearchSpace, as_space
from search_spaces._common import compile_when, conditions_hold

METHODS = [
    "bayes",
    "bayes-gp",
    "bayes-tpe",
    "bayes-skopt",
    "random",
    "optuna-tpe",
    "optuna-tpe-mv",
    "optuna-gp",
    "skopt-gp",
    "hyperopt",
]
NEEDS = {"optuna-gp": "torch", "skopt-gp": "skopt", "bayes-skopt": "skopt", "hyperopt": "hyperopt"}


def _active(space: SearchSpace, full: Mapping[str, Any]) -> dict[str, Any]:
    """The active part of an all-parameters config (for peers without conditions)."""
    out: dict[str, Any] = {}
    for p in space:
        conds = compile_when(p.when) if p.when else None
        if conds is None or conditions_hold(conds, out):
            out[p.name] = full[p.name]
    return out


class Timer:
    """Wraps the objective so its own time can be taken out of the method's."""

    def __init__(self, func: Callable[[Mapping[str, Any]], float]) -> None:
        self.func, self.spent, self.values = func, 0.0, []

    def __call__(self, params: Mapping[str, Any]) -> float:
        t = time.perf_counter()
        v = float(self.func(params))
        self.spent += time.perf_counter() - t
        self.values.append(v)
        return v


def run_hpo(
    space: SearchSpace, f: Timer, budget: int, seed: int, strategy: str, opts: dict
) -> None:
    s = make_strategy(strategy, space, seed=seed, options=opts)
    for i in range(budget):
        params = s.ask().params
        s.tell(Observation(i, params, TrialState.COMPLETED, f(params)))


def run_optuna(space: SearchSpace, f: Timer, budget: int, seed: int, which: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if which == "optuna-gp":
        import torch

        torch.set_num_threads(1)
        sampler = optuna.samplers.GPSampler(seed=seed)
    elif which == "optuna-tpe-mv":
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed)
    study = optuna.create_study(sampler=sampler)

    def objective(trial: Any) -> float:
        return f(optuna_params(trial, space))

    study.optimize(objective, n_trials=budget)


def run_skopt(space: SearchSpace, f: Timer, budget: int, seed: int) -> None:
    from skopt import gp_minimize
    from skopt.space import Categorical as C
    from skopt.space import Integer, Real

    dims, names = [], []
    for p in space:
        names.append(p.name)
        if isinstance(p, Categorical):
            dims.append(C(list(p.choices)))
        elif isinstance(p, Int):
            dims.append(Integer(p.low, p.high, prior="log-uniform" if p.log else "uniform"))
        else:
            dims.append(Real(p.low, p.high, prior="log-uniform" if p.log else "uniform"))

    def objective(x: list[Any]) -> float:
        full = {n: (v.item() if hasattr(v, "item") else v) for n, v in zip(names, x)}
        return f(_active(space, full))

    gp_minimize(objective, dims, n_calls=budget, random_state=seed)


def run_hyperopt(space: SearchSpace, f: Timer, budget: int, seed: int) -> None:
    import hyperopt
    from hyperopt import hp

    hspace: dict[str, Any] = {}
    for p in space:
        if isinstance(p, Categorical):
            hspace[p.name] = hp.choice(p.name, list(p.choices))
        elif isinstance(p, Int):
            lo, hi = (math.log(p.low), math.log(p.high)) if p.log else (p.low, p.high)
            dist = hp.qloguniform if p.log else hp.quniform
            hspace[p.name] = dist(p.name, lo, hi, 1)
        elif p.log:
            hspace[p.name] = hp.loguniform(p.name, math.log(p.low), math.log(p.high))
        else:
            hspace[p.name] = hp.uniform(p.name, p.low, p.high)

    def objective(full: dict[str, Any]) -> float:
        cfg = {}
        for p in space:
            v = full[p.name]
            if isinstance(p, Int):
                v = int(min(max(round(v), p.low), p.high))
            cfg[p.name] = v
        return f(_active(space, cfg))

    hyperopt.fmin(
        objective,
        hspace,
        algo=hyperopt.tpe.suggest,
        max_evals=budget,
        rstate=np.random.default_rng(seed),
        show_progressbar=False,
    )


def run_one(problem_name: str, method: str, seed: int, budget: int) -> dict[str, Any]:
    """One (problem, method, seed) run: its best-so-far curve and its own time."""
    warnings.simplefilter("ignore")
    problem: Problem = PROBLEMS[problem_name]
    space = as_space(problem.space)
    f = Timer(problem.func)
    start = time.perf_counter()
    if method == "random":
        run_hpo(space, f, budget, seed, "random", {})
    elif method.startswith("bayes"):
        backend = method.partition("-")[2] or "auto"
        run_hpo(space, f, budget, seed, "bayes", {"backend": backend})
    elif method.startswith("optuna"):
        run_optuna(space, f, budget, seed, method)
    elif method == "skopt-gp":
        run_skopt(space, f, budget, seed)
    elif method == "hyperopt":
        run_hyperopt(space, f, budget, seed)
    total = time.perf_counter() - start
    offset = problem.optimum if problem.optimum is not None else 0.0
    curve = np.minimum.accumulate(np.array(f.values[:budget]) - offset).tolist()
    return {
        "problem": problem_name,
        "method": method,
        "seed": seed,
        "curve": curve,
        "strategy_s_per_trial": (total - f.spent) / max(len(f.values), 1),
    }


def available(method: str) -> bool:
    mod = NEEDS.get(method)
    return mod is None or importlib.util.find_spec(mod) is not None


def table(results: list[dict], problems: list[str], methods: list[str], at: list[int]) -> str:
    lines = []
    med: dict[tuple[str, str, int], float] = {}
    spread: dict[tuple[str, str], float] = {}
    for p in problems:
        for m in methods:
            runs = [r for r in results if r["problem"] == p and r["method"] == m]
            if not runs:
                continue
            for n in at:
                med[p, m, n] = statistics.median(r["curve"][n - 1] for r in runs)
            finals = [r["curve"][at[-1] - 1] for r in runs]
            q = np.percentile(finals, [25, 75])
            spread[p, m] = float(q[1] - q[0])
    head = f"{'problem':<20}" + "".join(f"{m:>16}" for m in methods)
    for n in at:
        lines.append(f"\nmedian simple regret (loss for real tasks) after {n} evaluations")
        lines.append(head)
        for p in problems:
            row = f"{p:<20}"
            for m in methods:
                v = med.get((p, m, n))
                row += f"{'-' if v is None else f'{v:.4g}':>16}"
            lines.append(row)
    ranks: dict[str, list[float]] = {m: [] for m in methods}
    for p in problems:
        vals = {m: med[p, m, at[-1]] for m in methods if (p, m, at[-1]) in med}
        order = sorted(vals.values())
        for m, v in vals.items():
            # Ties share the mean of their ranks.
            first = order.index(v) + 1
            last = len(order) - order[::-1].index(v)
            ranks[m].append((first + last) / 2)
    lines.append(f"\naverage rank by median regret after {at[-1]} (1 = best)")
    for m in sorted(methods, key=lambda m: np.mean(ranks[m]) if ranks[m] else 99):
        if ranks[m]:
            lines.append(f"  {m:<16}{np.mean(ranks[m]):6.2f}")
    lines.append("\ninterquartile range of the final regret over seeds (the seeds' spread)")
    lines.append(head)
    for p in problems:
        lines.append(
            f"{p:<20}" + "".join(f"{spread.get((p, m), float('nan')):>16.4g}" for m in methods)
        )
    lines.append("\nstrategy's own time per suggestion, ms (median over runs)")
    lines.append(head)
    for p in problems:
        row = f"{p:<20}"
        for m in methods:
            ts = [
                r["strategy_s_per_trial"] for r in results if r["problem"] == p and r["method"] == m
            ]
            row += f"{(1000 * statistics.median(ts)) if ts else float('nan'):>16.1f}"
        lines.append(row)
    return "\n".join(lines)


def overhead(sizes: list[int], methods: list[str]) -> None:
    """Strategy time per suggestion after n trials, on a cheap 4-d problem (Styblinski-Tang).

    Each method is given n-11 finished trials (restored for hpo, added to the study for
    Optuna), then asked and told 11 times. The first ask is timed alone: it is where a model is
    fitted from scratch (a resumed sweep pays it once). The next 10 give the steady cost per
    suggestion of a running sweep at n trials.
    """
    problem = PROBLEMS["styblinski_tang4"]
    print(
        f"\ntime per suggestion (ms) at n trials, {problem.name}: steady (mean of 10 asks in a "
        "running sweep) / first ask after loading the history"
    )
    for method in methods:
        row = f"{method:<16}"
        for n in sizes:
            first, steady = run_one_timed(problem.name, method, n)
            row += f"  n={n}: {steady:8.1f} / {first:7.1f}"
        print(row, flush=True)


def run_one_timed(problem_name: str, method: str, n: int) -> tuple[float, float]:
    """(ms of the first ask after n-11 loaded trials, mean ms of the 10 asks after it)."""
    problem = PROBLEMS[problem_name]
    space = as_space(problem.space)
    rng = np.random.default_rng(0)
    history = [space.sample(rng) for _ in range(n - 11)]
    times: list[float] = []
    if method.startswith("bayes"):
        s = make_strategy(
            "bayes", space, seed=0, options={"backend": method.partition("-")[2] or "auto"}
        )
        obs = [
            Observation(i, p, TrialState.COMPLETED, problem.func(p)) for i, p in enumerate(history)
        ]
        s.restore(obs)
        for i in range(11):
            t = time.perf_counter()
            p = s.ask().params
            times.append(time.perf_counter() - t)
            s.tell(Observation(n - 11 + i, p, TrialState.COMPLETED, problem.func(p)))
        return times[0] * 1000, sum(times[1:]) * 100
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if method == "optuna-gp":
        import torch

        torch.set_num_threads(1)
        sampler = optuna.samplers.GPSampler(seed=0)
    else:
        sampler = optuna.samplers.TPESampler(seed=0)
    study = optuna.create_study(sampler=sampler)
    dists = {k: optuna.distributions.FloatDistribution(-5, 5) for k in space.names}
    for p in history:
        study.add_trial(
            optuna.trial.create_trial(params=p, distributions=dists, value=problem.func(p))
        )
    for _ in range(11):
        t = time.perf_counter()
        trial = study.ask(dists)
        times.append(time.perf_counter() - t)
        study.tell(trial, problem.func(trial.params))
    return times[0] * 1000, sum(times[1:]) * 100


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--problems", default=",".join(PROBLEMS))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--partial", type=Path, help="append each finished run here (JSON lines)")
    ap.add_argument("--table", type=Path, help="print the tables of a --partial file and exit")
    ap.add_argument("--overhead", help="comma-separated trial counts: time per suggestion only")
    args = ap.parse_args()
    methods = [m for m in args.methods.split(",") if m]
    for m in list(methods):
        if m not in METHODS:
            ap.error(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
        if not available(m):
            print(f"note: {m} skipped, {NEEDS[m]} is not installed")
            methods.remove(m)
    if args.overhead:
        overhead([int(x) for x in args.overhead.split(",")], methods)
        return
    problems = [p for p in args.problems.split(",") if p]
    if args.table:
        results = [json.loads(line) for line in args.table.read_text().splitlines() if line]
        problems = [p for p in problems if any(r["problem"] == p for r in results)]
        methods = [m for m in methods if any(r["method"] == m for r in results)]
        print(table(results, problems, methods, sorted({min(20, args.budget), args.budget})))
        return
    for p in problems:
        if p not in PROBLEMS:
            ap.error(f"unknown problem {p!r}; choose from {', '.join(PROBLEMS)}")
    # Seed-major order, so that a run cut short still has every (problem, method) at the
    # first seeds; --partial keeps each finished run as a JSON line.
    jobs = [(p, m, s, args.budget) for s in range(args.seeds) for p in problems for m in methods]
    # A --partial file from an earlier, cut-short run: keep its finished runs, do the rest.
    results: list[dict] = []
    if args.partial and args.partial.exists():
        wanted = {(p, m, s) for p, m, s, _ in jobs}
        for line in args.partial.read_text().splitlines():
            r = json.loads(line) if line.strip() else None
            key = r and (r["problem"], r["method"], r["seed"])
            if key in wanted and len(r["curve"]) >= args.budget:
                results.append(r)
                wanted.discard(key)
        jobs = [j for j in jobs if (j[0], j[1], j[2]) in wanted]
    print(
        f"{len(jobs)} runs to do ({len(results)} already in --partial) on {args.workers} "
        "processes; "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}",
        flush=True,
    )
    start = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        for r in pool.map(run_one, *zip(*jobs)):
            results.append(r)
            if args.partial:
                with args.partial.open("a") as fh:
                    fh.write(json.dumps(r) + "\n")
    print(f"done in {time.time() - start:.0f} s")
    at = sorted({min(20, args.budget), args.budget})
    print(table(results, problems, methods, at))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "budget": args.budget,
                    "seeds": args.seeds,
                    "problems": problems,
                    "methods": methods,
                    "machine": {
                        "platform": platform.platform(),
                        "cpus": os.cpu_count(),
                        "python": platform.python_version(),
                    },
                    "runs": results,
                }
            )
        )


if __name__ == "__main__":
    main()
