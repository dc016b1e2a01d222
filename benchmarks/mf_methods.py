"""The methods of benchmarks/multifidelity.py: one runner per framework, all training through
the same :class:`~mf_tasks.Ledger` (it counts the epochs and records finished evaluations).

Every runner is sequential (one trial at a time) and ends when the ledger's cap is spent: the
objective raises :class:`~mf_tasks.CapReached` before an epoch past it, the trial in progress
is dropped (it is not a finished evaluation) and the run returns.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mf_tasks import CapReached, Ledger, Task, load, save
from problems import optuna_params

from hpo._engine import trial_seed
from search_spaces import Categorical, Int, SearchSpace

__all__ = ["METHODS", "Method", "available", "run_method"]

# Hyperband's ladder for every multi-fidelity method: epochs 1, 3, 9, 27.
MIN_EPOCHS, ETA = 1, 3


@dataclass(frozen=True)
class Method:
    """One row of the table: a framework and its settings."""

    name: str
    framework: str  # "hpo", "optuna" or "ray"
    options: Mapping[str, Any] = field(default_factory=dict)
    needs: str | None = None  # a module that must import, or the method is skipped


def _hpo_mf(strategy: str) -> dict[str, Any]:
    return {"strategy": strategy, "multi_fidelity": True}


METHODS: dict[str, Method] = {
    m.name: m
    for m in [
        Method("random-full", "hpo", {"strategy": "random", "full_trials": 40}),
        Method("hyperband", "hpo", _hpo_mf("hyperband")),
        Method("asha", "hpo", _hpo_mf("asha")),
        Method("bohb", "hpo", _hpo_mf("bohb")),
        Method("random+median-stop", "hpo", {"strategy": "random", "stop": {"type": "median"}}),
        Method(
            "random+hyperband-stop",
            "hpo",
            {"strategy": "random", "stop": {"type": "hyperband", "min_iter": 1, "eta": 3}},
        ),
        Method("optuna-random+sha", "optuna", {"sampler": "random", "pruner": "sha"}),
        Method("optuna-tpe+sha", "optuna", {"sampler": "tpe", "pruner": "sha"}),
        Method("optuna-random+hb", "optuna", {"sampler": "random", "pruner": "hyperband"}),
        Method("optuna-tpe+hb", "optuna", {"sampler": "tpe", "pruner": "hyperband"}),
        Method("optuna-tpe+median", "optuna", {"sampler": "tpe", "pruner": "median"}),
        Method("ray-asha", "ray", {}, needs="ray"),
    ]
}


def available(method: str) -> bool:
    """True when the method's optional package imports."""
    need = METHODS[method].needs
    return need is None or importlib.util.find_spec(need) is not None


def run_method(task: Task, method: str, seed: int, ledger: Ledger) -> int:
    """Run ``method`` on ``task`` with sweep seed ``seed`` until the ledger's cap (or, for
    random-full, its trials) is spent; returns the number of configurations started."""
    m = METHODS[method]
    runner = {"hpo": _run_hpo, "optuna": _run_optuna, "ray": _run_ray}[m.framework]
    try:
        return runner(task, m, seed, ledger)
    except CapReached:  # a runner that lets it out still ended at the cap
        return -1


# --- the objective, shared ---------------------------------------------------------------------


def _train(
    task: Task,
    ledger: Ledger,
    model: Any,
    done: int,
    until: int,
    report: Callable[[int, float], bool],
) -> tuple[float, int]:
    """Train ``model`` from epoch ``done`` to ``until``, scoring after each epoch and asking
    ``report(epoch, score)`` whether to stop; returns (score, epochs done)."""
    score = model.score() if done else float("nan")
    for epoch in range(done, until):
        ledger.train(model)
        done = epoch + 1
        score = model.score()
        if report(done, score):
            break
    return score, done


# --- hpo ---------------------------------------------------------------------------------------


def _run_hpo(task: Task, m: Method, seed: int, ledger: Ledger) -> int:
    import hpo

    opts = dict(m.options)
    started: set[int] = set()

    def train(params: dict[str, Any], trial: hpo.Trial) -> dict[str, float]:
        started.add(trial.number)
        until = task.max_epochs if trial.budget is None else round(trial.budget)
        path = trial.checkpoint_dir / "model.pkl" if trial.budget is not None else None
        if path is not None and path.exists():  # a promotion continues the paused model
            model, done = load(path)
        else:
            model, done = task.make(params, trial.seed), 0

        def report(step: int, score: float) -> bool:
            trial.report(step=step, accuracy=score)
            return trial.should_stop()

        score, done = _train(task, ledger, model, done, until, report)
        if path is not None and done < task.max_epochs:
            save(path, model, done)
        ledger.finished(score)
        return {"accuracy": score}

    kwargs: dict[str, Any] = {}
    if opts.get("multi_fidelity"):
        kwargs["strategy_options"] = {
            "min_budget": MIN_EPOCHS,
            "max_budget": task.max_epochs,
            "eta": ETA,
        }
    if "stop" in opts:
        kwargs["early_terminate"] = opts["stop"]
    # Every configuration trains at least one epoch, so the cap ends the run before the trials.
    trials = opts.get("full_trials", ledger.cap)
    with tempfile.TemporaryDirectory(prefix="mf-hpo-") as tmp:
        cwd = os.getcwd()
        os.chdir(tmp)  # whatever the sweep leaves on disk (checkpoints) goes away with it
        try:
            hpo.sweep(
                train,
                task.space,
                metric="accuracy",
                goal="maximize",
                strategy=opts["strategy"],
                trials=trials,
                seed=seed,
                track=False,
                **kwargs,
            )
        finally:
            os.chdir(cwd)
    return len(started)


# --- Optuna ------------------------------------------------------------------------------------


def _run_optuna(task: Task, m: Method, seed: int, ledger: Ledger) -> int:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # not the cap-cut trial
    sampler = (
        optuna.samplers.TPESampler(seed=seed)
        if m.options["sampler"] == "tpe"
        else optuna.samplers.RandomSampler(seed=seed)
    )
    pruner = {
        # SuccessiveHalvingPruner and MedianPruner at their defaults (min_resource "auto",
        # reduction_factor 4; 5 startup trials): as a user would first run them.
        "sha": lambda: optuna.pruners.SuccessiveHalvingPruner(),
        "hyperband": lambda: optuna.pruners.HyperbandPruner(
            min_resource=MIN_EPOCHS, max_resource=task.max_epochs, reduction_factor=ETA
        ),
        "median": lambda: optuna.pruners.MedianPruner(),
    }[m.options["pruner"]]()
    # HyperbandPruner puts a trial in a bracket by a hash of the study's name: a fixed name keeps
    # the run repeatable (the default name is a fresh UUID).
    study = optuna.create_study(
        study_name=f"mf-{seed}", direction="maximize", sampler=sampler, pruner=pruner
    )

    def objective(trial: optuna.Trial) -> float:
        params = optuna_params(trial, task.space)
        model = task.make(params, trial_seed(seed, trial.number))

        def report(step: int, score: float) -> bool:
            trial.report(score, step)
            return trial.should_prune()

        score, done = _train(task, ledger, model, 0, task.max_epochs, report)
        ledger.finished(score)
        if done < task.max_epochs:
            raise optuna.TrialPruned()
        return score

    with contextlib.suppress(CapReached):
        study.optimize(objective, n_trials=ledger.cap)
    return len(study.trials)


# --- Ray Tune ----------------------------------------------------------------------------------


def _ray_space(space: SearchSpace) -> dict[str, Any]:
    """Every parameter, conditions dropped (the digits model ignores momentum under adam)."""
    from ray import tune

    out: dict[str, Any] = {}
    for p in space:
        if isinstance(p, Categorical):
            out[p.name] = tune.choice(list(p.choices))
        elif isinstance(p, Int):
            # Ray's integer bounds exclude the upper one.
            out[p.name] = (tune.lograndint if p.log else tune.randint)(p.low, p.high + 1)
        else:
            out[p.name] = (tune.loguniform if p.log else tune.uniform)(p.low, p.high)
    out["_seed"] = tune.randint(0, 2**31 - 1)  # the trial's seed, drawn by the seeded sampler
    return out


def _run_ray(task: Task, m: Method, seed: int, ledger: Ledger) -> int:
    """ASHAScheduler with random search, one trial at a time. Ray runs trials in its own worker
    processes, so epochs and evaluations are counted here from the results that come back (one
    per epoch: ASHA stops trials, it never continues them)."""
    import ray
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.basic_variant import BasicVariantGenerator

    here = str(Path(__file__).resolve().parent)
    root = str(Path(here).parent)
    # Ray's workers import the trainable's modules: they must find benchmarks/ and the repo.
    os.environ["PYTHONPATH"] = os.pathsep.join([here, root, os.environ.get("PYTHONPATH", "")])
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # no experiment banner per run
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level="ERROR")
    last: dict[str, float] = {}

    class Count(tune.Callback):
        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **_: Any):
            ledger.epochs += 1
            last[trial.trial_id] = result["accuracy"]

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **_: Any) -> None:
            if trial.trial_id in last and ledger.epochs <= ledger.cap:
                ledger.finished(last[trial.trial_id])

    class Cap(tune.Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            return ledger.epochs >= ledger.cap

    make, max_epochs = task.make, task.max_epochs

    def trainable(config: dict[str, Any]) -> None:
        params = {k: v for k, v in config.items() if k != "_seed"}
        model = make(params, config["_seed"])
        for _ in range(max_epochs):
            model.train_epoch()
            tune.report({"accuracy": model.score()})

    try:
        with tempfile.TemporaryDirectory(prefix="mf-ray-") as tmp:
            ledger.start = time.perf_counter()  # Ray's own start-up (ray.init) left out
            tuner = tune.Tuner(
                trainable,
                param_space=_ray_space(task.space),
                tune_config=tune.TuneConfig(
                    metric="accuracy",
                    mode="max",
                    num_samples=ledger.cap,
                    max_concurrent_trials=1,
                    reuse_actors=True,
                    search_alg=BasicVariantGenerator(random_state=seed),
                    scheduler=ASHAScheduler(
                        time_attr="training_iteration",
                        max_t=max_epochs,
                        grace_period=MIN_EPOCHS,
                        reduction_factor=ETA,
                    ),
                ),
                run_config=tune.RunConfig(
                    storage_path=tmp, stop=Cap(), verbose=0, callbacks=[Count()]
                ),
            )
            tuner.fit()
    finally:
        ray.shutdown()
    ledger.epochs = min(ledger.epochs, ledger.cap)
    return len(last)
