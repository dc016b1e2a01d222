"""hpo: hyperparameter optimisation with built-in experiment tracking.

::

    import hpo

    @hpo.objective(metric="loss", goal="minimize")
    def train(lr: float, layers: int, trial: hpo.Trial) -> float:
        for epoch in range(10):
            loss = ...
            hpo.report(step=epoch, loss=loss)
        return loss

    result = train.sweep(
        space={"lr": {"min": 1e-4, "max": 1e-1, "distribution": "log_uniform_values"},
               "layers": {"values": [1, 2, 3]}},
        strategy="random", trials=50, workers=2,
    )
    print(result.best)
"""

from importlib.metadata import PackageNotFoundError, version

from hpo._api import ObjectiveFunction, objective, sweep
from hpo._config import SweepConfig, load_config, parse_config
from hpo._errors import (
    ConfigError,
    HPOError,
    NotFoundError,
    ObjectiveError,
    QueryError,
    SearchSpaceError,
    StoreError,
    StrategyError,
)
from hpo._query import select
from hpo._result import SweepResult
from hpo._trial import Trial, current_trial, log_artifact, report, should_stop
from hpo.strategies import Observation, Strategy, Suggestion, make_strategy
from search_spaces import Categorical, Constant, Float, Int, SearchSpace
from trackers import ArtifactError, ArtifactRecord, Goal, Store, SweepState, TrialRecord, TrialState

try:
    __version__ = version("hpo")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ArtifactError",
    "ArtifactRecord",
    "Categorical",
    "ConfigError",
    "Constant",
    "Float",
    "Goal",
    "HPOError",
    "Int",
    "NotFoundError",
    "ObjectiveError",
    "ObjectiveFunction",
    "Observation",
    "QueryError",
    "SearchSpace",
    "SearchSpaceError",
    "Store",
    "StoreError",
    "Strategy",
    "StrategyError",
    "Suggestion",
    "SweepConfig",
    "SweepResult",
    "SweepState",
    "Trial",
    "TrialRecord",
    "TrialState",
    "__version__",
    "current_trial",
    "load_config",
    "log_artifact",
    "make_strategy",
    "objective",
    "parse_config",
    "report",
    "select",
    "should_stop",
    "sweep",
]
