"""A digits MLP trained epoch by epoch: the objective of examples/multifidelity/sweep.yaml.

``trial.budget`` is the number of epochs this run should reach. A promoted trial runs again
with a larger budget and continues from the checkpoint it left in ``trial.checkpoint_dir``.
"""

from __future__ import annotations

import pickle
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import hpo

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_val, y_train, y_val = train_test_split(X, y, train_size=500, random_state=0)
CLASSES = sorted(set(y))


def train(params: dict, trial: hpo.Trial) -> float:
    path = trial.checkpoint_dir / "model.pkl"
    if path.exists():  # a promotion: go on from where the last run stopped
        model, done = pickle.loads(path.read_bytes())
    else:
        model, done = (
            MLPClassifier(
                hidden_layer_sizes=(params["hidden"],),
                learning_rate_init=params["lr"],
                alpha=params["alpha"],
                batch_size=params["batch_size"],
                random_state=trial.seed,
            ),
            0,
        )
    score = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(done, int(trial.budget or 27)):
            model.partial_fit(X_train, y_train, classes=CLASSES)
            score = model.score(X_val, y_val)
            trial.report(step=epoch + 1, accuracy=score)
            done = epoch + 1
            if trial.should_stop():
                break
    path.write_bytes(pickle.dumps((model, done)))
    return score
