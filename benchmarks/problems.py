"""The problem suite of benchmarks/sample_efficiency.py: synthetic functions with known optima,
a mixed int/categorical problem, a conditional problem, and scikit-learn tuning tasks.

Every problem is a loss to minimise over a space in hpo's user format. ``optimum`` is the known
minimum (regret = loss - optimum), or None for the real tasks (their loss is reported as is).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Problem:
    name: str
    space: Mapping[str, Any]
    func: Callable[[Mapping[str, Any]], float]
    optimum: float | None
    kind: str  # "synthetic", "mixed", "conditional" or "real"


def _box(names: list[str], low: float, high: float) -> dict[str, Any]:
    return {n: {"min": float(low), "max": float(high)} for n in names}


def _vec(p: Mapping[str, Any], d: int) -> np.ndarray:
    return np.array([p[f"x{i}"] for i in range(d)], dtype=float)


def branin_xy(x1: float, x2: float) -> float:
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def branin(p: Mapping[str, Any]) -> float:
    return branin_xy(p["x0"], p["x1"])


_H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def hartmann6(p: Mapping[str, Any]) -> float:
    x = _vec(p, 6)
    return float(-(_H_ALPHA * np.exp(-(_H_A * (x - _H_P) ** 2).sum(1))).sum())


def _all(p: Mapping[str, Any]) -> np.ndarray:
    return np.array([p[f"x{i}"] for i in range(len(p))], dtype=float)


def ackley(p: Mapping[str, Any]) -> float:
    """Ackley in as many dimensions as the space has."""
    x = _all(p)
    d = len(x)
    return float(
        -20 * math.exp(-0.2 * math.sqrt((x**2).sum() / d))
        - math.exp(np.cos(2 * math.pi * x).sum() / d)
        + 20
        + math.e
    )


def rosenbrock(p: Mapping[str, Any]) -> float:
    x = _all(p)
    return float((100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2).sum())


def levy(p: Mapping[str, Any]) -> float:
    x = _vec(p, 4)
    w = 1 + (x - 1) / 4
    return float(
        math.sin(math.pi * w[0]) ** 2
        + ((w[:-1] - 1) ** 2 * (1 + 10 * np.sin(math.pi * w[:-1] + 1) ** 2)).sum()
        + (w[-1] - 1) ** 2 * (1 + math.sin(2 * math.pi * w[-1]) ** 2)
    )


def styblinski_tang(p: Mapping[str, Any]) -> float:
    x = _vec(p, 4)
    return float(0.5 * (x**4 - 16 * x**2 + 5 * x).sum())


# -- mixed: a float, two ints and a categorical ----------------------------------------------

_OFFSET = {"a": 2.0, "b": 0.0, "c": 5.0}
MIXED_SPACE = {
    "x": {"min": -5.0, "max": 10.0},
    "k": {"min": 0, "max": 15},
    "n": {"min": 1, "max": 64, "distribution": "int_log_uniform_values"},
    "kind": {"values": ["a", "b", "c"]},
}


def mixed(p: Mapping[str, Any]) -> float:
    return branin_xy(p["x"], p["k"]) + _OFFSET[p["kind"]] + 0.5 * math.log2(p["n"] / 8) ** 2


# -- conditional: three branches, each with its own parameters --------------------------------

COND_SPACE = {
    "model": {"values": ["quad", "wave", "valley"]},
    "a": {"min": -3.0, "max": 3.0, "when": {"model": "quad"}},
    "b": {
        "min": 1e-3,
        "max": 10.0,
        "distribution": "log_uniform_values",
        "when": {"model": "quad"},
    },
    "c": {"min": 0.0, "max": 1.0, "when": {"model": "wave"}},
    "d": {"min": -2.0, "max": 2.0, "when": {"model": "valley"}},
    "e": {"min": -2.0, "max": 2.0, "when": {"model": "valley"}},
    "m": {"min": 1, "max": 10, "when": {"model": "valley"}},
}


def conditional(p: Mapping[str, Any]) -> float:
    if p["model"] == "quad":
        return 0.3 + (p["a"] - 1) ** 2 + math.log10(p["b"] / 0.1) ** 2
    if p["model"] == "wave":
        return 0.7 + 0.5 * math.sin(10 * p["c"])
    d, e = p["d"], p["e"]
    return (100 * (e - d**2) ** 2 + (1 - d) ** 2) / 50 + 0.05 * (p["m"] - 7) ** 2


# -- real tasks: scikit-learn models on bundled datasets, cross-validated ----------------------

_DATA: dict[str, Any] = {}


def _data(name: str) -> Any:
    if name not in _DATA:
        from sklearn import datasets
        from sklearn.preprocessing import StandardScaler

        if name == "breast_cancer":
            x, y = datasets.load_breast_cancer(return_X_y=True)
            x = StandardScaler().fit_transform(x)
        elif name == "diabetes":
            x, y = datasets.load_diabetes(return_X_y=True)
        elif name == "wine":
            x, y = datasets.load_wine(return_X_y=True)
            x = StandardScaler().fit_transform(x)
        else:  # digits, a fixed subsample to keep one evaluation cheap
            x, y = datasets.load_digits(return_X_y=True)
            x, y = x[:800] / 16.0, y[:800]
        _DATA[name] = (x, y)
    return _DATA[name]


def _cv(model: Any, data: str, folds: int, scoring: str = "accuracy") -> float:
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

    x, y = _data(data)
    split = (KFold if scoring != "accuracy" else StratifiedKFold)(
        folds, shuffle=True, random_state=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(cross_val_score(model, x, y, cv=split, scoring=scoring).mean())


def svc_cancer(p: Mapping[str, Any]) -> float:
    from sklearn.svm import SVC

    return 1.0 - _cv(SVC(C=p["C"], gamma=p["gamma"]), "breast_cancer", 3)


def enet_diabetes(p: Mapping[str, Any]) -> float:
    from sklearn.linear_model import ElasticNet

    model = ElasticNet(alpha=p["alpha"], l1_ratio=p["l1_ratio"], max_iter=5000)
    return -_cv(model, "diabetes", 5, "neg_mean_squared_error") / 1000.0


def tree_wine(p: Mapping[str, Any]) -> float:
    from sklearn.tree import DecisionTreeClassifier

    model = DecisionTreeClassifier(
        max_depth=p["max_depth"],
        min_samples_split=p["min_samples_split"],
        min_samples_leaf=p["min_samples_leaf"],
        criterion=p["criterion"],
        max_features=p["max_features"],
        random_state=0,
    )
    return 1.0 - _cv(model, "wine", 5)


def knn_digits(p: Mapping[str, Any]) -> float:
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=p["n_neighbors"], weights=p["weights"], p=p["p"])
    return 1.0 - _cv(model, "digits", 3)


def svm_kernels_wine(p: Mapping[str, Any]) -> float:
    from sklearn.svm import SVC

    kwargs: dict[str, Any] = {"C": p["C"], "kernel": p["kernel"]}
    if "gamma" in p:
        kwargs["gamma"] = p["gamma"]
    if "degree" in p:
        kwargs["degree"] = p["degree"]
    return 1.0 - _cv(SVC(**kwargs), "wine", 5)


def _log(lo: float, hi: float, **kw: Any) -> dict[str, Any]:
    return {"min": lo, "max": hi, "distribution": "log_uniform_values", **kw}


PROBLEMS: dict[str, Problem] = {
    p.name: p
    for p in [
        Problem(
            "branin",
            _box(["x0", "x1"], -5, 10) | {"x1": {"min": 0.0, "max": 15.0}},
            branin,
            0.397887,
            "synthetic",
        ),
        Problem(
            "hartmann6", _box([f"x{i}" for i in range(6)], 0, 1), hartmann6, -3.32237, "synthetic"
        ),
        Problem(
            "rosenbrock4", _box([f"x{i}" for i in range(4)], -5, 10), rosenbrock, 0.0, "synthetic"
        ),
        Problem(
            "ackley5", _box([f"x{i}" for i in range(5)], -32.768, 32.768), ackley, 0.0, "synthetic"
        ),
        Problem("levy4", _box([f"x{i}" for i in range(4)], -10, 10), levy, 0.0, "synthetic"),
        Problem(
            "styblinski_tang4",
            _box([f"x{i}" for i in range(4)], -5, 5),
            styblinski_tang,
            -39.16617 * 4,
            "synthetic",
        ),
        # Many dimensions: where a GP is said to struggle, and where `auto` switches to TPE
        # (above 24 model columns).
        Problem(
            "ackley20", _box([f"x{i}" for i in range(20)], -32.768, 32.768), ackley, 0.0, "high"
        ),
        Problem(
            "rosenbrock30", _box([f"x{i}" for i in range(30)], -5, 10), rosenbrock, 0.0, "high"
        ),
        Problem("mixed_int_cat", MIXED_SPACE, mixed, 0.43233595, "mixed"),  # mixed_optimum()
        Problem("conditional", COND_SPACE, conditional, 0.0, "conditional"),
        Problem(
            "svc_breast_cancer",
            {"C": _log(1e-3, 1e3), "gamma": _log(1e-5, 1e1)},
            svc_cancer,
            None,
            "real",
        ),
        Problem(
            "enet_diabetes",
            {"alpha": _log(1e-4, 10.0), "l1_ratio": {"min": 0.0, "max": 1.0}},
            enet_diabetes,
            None,
            "real",
        ),
        Problem(
            "tree_wine",
            {
                "max_depth": {"min": 1, "max": 20},
                "min_samples_split": {"min": 2, "max": 20},
                "min_samples_leaf": {"min": 1, "max": 20},
                "criterion": {"values": ["gini", "entropy", "log_loss"]},
                "max_features": {"min": 0.1, "max": 1.0},
            },
            tree_wine,
            None,
            "real",
        ),
        Problem(
            "knn_digits",
            {
                "n_neighbors": {"min": 1, "max": 50, "distribution": "int_log_uniform_values"},
                "weights": {"values": ["uniform", "distance"]},
                "p": {"values": [1, 2]},
            },
            knn_digits,
            None,
            "real",
        ),
        Problem(
            "svm_kernels_wine",
            {
                "C": _log(1e-3, 1e3),
                "kernel": {"values": ["linear", "rbf", "poly"]},
                "gamma": _log(1e-4, 1e1, when={"kernel": ["rbf", "poly"]}),
                "degree": {"min": 2, "max": 5, "when": {"kernel": "poly"}},
            },
            svm_kernels_wine,
            None,
            "real",
        ),
    ]
}


def mixed_optimum() -> float:
    """The mixed problem's minimum: kind b, n = 8, and the best x on a fine grid for each k."""
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    x = np.linspace(-5.0, 10.0, 1_500_001)
    return min(
        float(((k - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * np.cos(x) + 10).min())
        for k in range(16)
    )


def optuna_params(trial: Any, space: Any) -> dict[str, Any]:
    """Ask an Optuna trial for a config of an hpo ``space``, define-by-run: a conditional
    parameter is asked only when its condition holds (how Optuna users write such spaces)."""
    from search_spaces import Categorical, Int
    from search_spaces._common import compile_when, conditions_hold

    params: dict[str, Any] = {}
    for p in space:
        if p.when and not conditions_hold(compile_when(p.when), params):
            continue
        if isinstance(p, Categorical):
            params[p.name] = trial.suggest_categorical(p.name, list(p.choices))
        elif isinstance(p, Int):
            params[p.name] = trial.suggest_int(p.name, p.low, p.high, log=p.log)
        else:
            params[p.name] = trial.suggest_float(p.name, p.low, p.high, log=p.log)
    return params
