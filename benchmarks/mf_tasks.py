"""The learning-curve tasks of benchmarks/multifidelity.py and the epoch ledger every method's
objective trains through.

A task makes a *model* from a configuration and a seed; the model trains one epoch at a time
and scores itself on held-out data (higher is better). Models pickle, so a trial can keep its
model in a checkpoint and continue it. Every epoch of every method goes through
:meth:`Ledger.train`, which counts it and refuses it once the run's cap is spent: the count is
the objective's own, never a strategy's budget arithmetic.

Tasks:

``digits``  scikit-learn's MLPClassifier on the 8x8 digits shipped with scikit-learn (pixels
            scaled to [0, 1]), trained with ``partial_fit`` (one pass over the training set
            per epoch); 500 images train (stratified), the other 1297 score (accuracy). With
            the whole training set the best configurations saturate near 98% and a tenth of
            the space lands within 1% of the best; the smaller training set spreads the top.
``digits-wide`` the same model on scikit-learn's default split (1347 train, 450 score) with
            the hidden layer's activation searched too (relu, tanh, logistic, identity).
``digits-deep`` the default split with the space a user tuning an MLP would write: one to three
            hidden layers, their width, activation, solver (SGD with momentum and Nesterov's
            variant, or Adam), learning rate, batch size and L2 penalty up to 1. Fewer
            configurations land near the best (``--density 200``: 11.8% within 1% of the best
            of 40, against 13.7% on digits and 19.2% on digits-wide).
``synthetic`` a cheap family of learning curves ``0.1 + (asym - 0.1) * (1 - exp(-(e/tau)**0.7))``
            plus noise, where a larger learning rate learns faster (small ``tau``) but levels
            off lower away from its optimum, so curves cross and early rankings mislead.
"""

from __future__ import annotations

import math
import pickle
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any, Protocol

import numpy as np

from search_spaces import Categorical, Float, Int, SearchSpace

__all__ = ["TASKS", "CapReached", "Ledger", "Model", "Task", "load", "save"]


class CapReached(KeyboardInterrupt):
    """The run has trained its whole epoch cap. A ``KeyboardInterrupt`` so that hpo's sweep
    ends cleanly (``result.interrupted``) and Optuna re-raises it instead of failing a trial."""


class Model(Protocol):
    """A model being trained: one epoch at a time, scored on held-out data."""

    def train_epoch(self) -> None: ...

    def score(self) -> float: ...


@dataclass
class Ledger:
    """Counts every epoch a run trains and records its finished evaluations.

    A *finished evaluation* is the end of a trial run (completed, pruned or stopped, or paused
    at a rung): ``(epochs trained by the run so far, seconds since the run started, score)``.
    """

    cap: int
    epochs: int = 0
    evals: list[tuple[int, float, float]] = field(default_factory=list)
    start: float = field(default_factory=time.perf_counter)

    def train(self, model: Model) -> None:
        """Train one epoch of ``model``, or raise :class:`CapReached` when the cap is spent."""
        if self.epochs >= self.cap:
            raise CapReached
        model.train_epoch()
        self.epochs += 1

    def finished(self, score: float) -> None:
        """Record the end of a trial run whose model now scores ``score``."""
        self.evals.append((self.epochs, time.perf_counter() - self.start, float(score)))


@dataclass(frozen=True)
class Task:
    """A learning-curve task: its space, its longest training and how to make a model."""

    name: str
    space: SearchSpace
    max_epochs: int
    make: Callable[[Mapping[str, Any], int], Model]


def save(path: Any, model: Model, done: int) -> None:
    """Checkpoint ``model`` after ``done`` epochs."""
    with open(path, "wb") as fh:
        pickle.dump((model, done), fh)


def load(path: Any) -> tuple[Model, int]:
    """The model and its epoch count saved by :func:`save`."""
    with open(path, "rb") as fh:
        return pickle.load(fh)  # our own checkpoint, written by save()


# --- digits: a real MLP ----------------------------------------------------------------------

DIGITS_TRAIN = 500
#: digits-wide trains on scikit-learn's default split (test_size 0.25): 1347 images, 450 score
DIGITS_WIDE_TRAIN = 1347


@cache
def _digits(train: int = DIGITS_TRAIN) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(
        x / 16.0, y, train_size=train, random_state=0, stratify=y
    )
    return x_tr, x_va, y_tr, y_va


_CLASSES = np.arange(10)

DIGITS_SPACE = SearchSpace(
    [
        Float("learning_rate_init", 1e-5, 1.0, log=True),
        Float("alpha", 1e-6, 1e-1, log=True),
        Int("hidden", 16, 256, log=True),
        Int("batch_size", 16, 256, log=True),
        Categorical("solver", ("adam", "sgd")),
        Float("momentum", 0.0, 0.99, when={"solver": "sgd"}),
    ]
)

#: the space of digits-deep: more of an MLP's knobs, and wider ranges
DIGITS_DEEP_SPACE = SearchSpace(
    [
        Float("learning_rate_init", 1e-5, 1.0, log=True),
        Float("alpha", 1e-6, 1.0, log=True),
        Int("layers", 1, 3),
        Int("hidden", 8, 256, log=True),
        Int("batch_size", 8, 512, log=True),
        Categorical("solver", ("adam", "sgd")),
        Float("momentum", 0.0, 0.99, when={"solver": "sgd"}),
        Categorical("nesterov", (True, False), when={"solver": "sgd"}),
        Categorical("activation", ("relu", "tanh", "logistic")),
    ]
)

#: digits' space plus the hidden layer's activation (identity, a linear model, and logistic,
#: slow in 27 epochs, make good configurations rarer)
DIGITS_WIDE_SPACE = SearchSpace(
    [
        *DIGITS_SPACE,
        Categorical("activation", ("relu", "tanh", "logistic", "identity")),
    ]
)


class DigitsMLP:
    """An MLP on digits (one hidden layer unless ``layers`` says more); a diverged model
    (non-finite weights) scores 0."""

    def __init__(self, params: Mapping[str, Any], seed: int, train: int = DIGITS_TRAIN) -> None:
        from sklearn.neural_network import MLPClassifier

        self.clf = MLPClassifier(
            hidden_layer_sizes=(int(params["hidden"]),) * int(params.get("layers", 1)),
            learning_rate_init=float(params["learning_rate_init"]),
            alpha=float(params["alpha"]),
            batch_size=int(params["batch_size"]),
            solver=str(params["solver"]),
            momentum=float(params.get("momentum", 0.9)),
            nesterovs_momentum=bool(params.get("nesterov", True)),
            activation=str(params.get("activation", "relu")),
            random_state=seed,
        )
        self.train = train
        self.diverged = False

    def train_epoch(self) -> None:
        if self.diverged:  # the epoch is still spent: a user would not know before running it
            return
        x_tr, _, y_tr, _ = _digits(self.train)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                self.clf.partial_fit(x_tr, y_tr, classes=_CLASSES)
            except ValueError:  # "Solver produced non-finite parameter weights"
                self.diverged = True

    def score(self) -> float:
        if self.diverged:
            return 0.0
        _, x_va, _, y_va = _digits(self.train)
        return float(self.clf.score(x_va, y_va))


# --- synthetic: crossing learning curves -----------------------------------------------------

SYNTH_SPACE = SearchSpace(
    [
        Float("lr", 1e-4, 1.0, log=True),
        Int("width", 8, 512, log=True),
        Float("reg", 1e-6, 1e-1, log=True),
        Float("dropout", 0.0, 0.8),
    ]
)


class SyntheticCurve:
    """A learning curve from a formula; its state is the epoch count, so it continues from a
    checkpoint exactly as if it had run on. Noise depends on (seed, epoch) only."""

    def __init__(self, params: Mapping[str, Any], seed: int) -> None:
        lr = math.log10(float(params["lr"]))
        width = math.log2(int(params["width"]))
        reg = math.log10(float(params["reg"]))
        best_lr = -2.5 - 0.25 * (width - 6)  # wider nets want a smaller learning rate
        asym = (
            0.97
            - 0.035 * (lr - best_lr) ** 2
            - 0.02 * ((reg + 3.5) / 2.5) ** 2
            - 0.05 * float(params["dropout"]) ** 2
            - 0.004 * abs(width - 7)
        )
        if lr > -0.5:  # diverges
            asym = 0.1
        self.asym = max(asym, 0.1) + np.random.default_rng([seed, 0]).normal(0, 0.004)
        self.tau = min(max(0.7 * 10 ** (0.5 * (best_lr - lr)), 0.2), 300.0)
        self.seed = seed
        self.epoch = 0

    def train_epoch(self) -> None:
        self.epoch += 1

    def score(self) -> float:
        e = self.epoch
        mean = 0.1 + (self.asym - 0.1) * (1 - math.exp(-((e / self.tau) ** 0.7)))
        return float(mean + np.random.default_rng([self.seed, e + 1]).normal(0, 0.003))


TASKS: dict[str, Task] = {
    "digits": Task("digits", DIGITS_SPACE, 27, DigitsMLP),
    "digits-wide": Task(
        "digits-wide", DIGITS_WIDE_SPACE, 27, partial(DigitsMLP, train=DIGITS_WIDE_TRAIN)
    ),
    "digits-deep": Task(
        "digits-deep", DIGITS_DEEP_SPACE, 27, partial(DigitsMLP, train=DIGITS_WIDE_TRAIN)
    ),
    "synthetic": Task("synthetic", SYNTH_SPACE, 27, SyntheticCurve),
}
