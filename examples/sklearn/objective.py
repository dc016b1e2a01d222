"""Tune a support vector classifier on scikit-learn's bundled digits dataset (no download).

The kernel decides which other parameters exist: `degree` only for the polynomial kernel,
`gamma` for every kernel but the linear one. hpo's conditions express that directly.
"""

from __future__ import annotations

from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

import hpo


def svc_accuracy(params: dict, trial: hpo.Trial) -> dict[str, float]:
    X, y = load_digits(return_X_y=True)
    model = make_pipeline(
        StandardScaler(),
        SVC(
            C=params["C"],
            kernel=params["kernel"],
            gamma=params.get("gamma", "scale"),
            degree=params.get("degree", 3),
            random_state=trial.seed,
        ),
    )
    scores = cross_val_score(model, X, y, cv=3)
    for fold, score in enumerate(scores):
        hpo.report(step=fold, fold_accuracy=float(score))
    return {"accuracy": float(scores.mean()), "accuracy_std": float(scores.std())}
