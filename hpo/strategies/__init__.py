"""Search strategies: pure ask/tell over a search space, chosen by name.

Drive one yourself (the engine does the same, plus storage and executors)::

    from hpo.strategies import Observation, TrialState, make_strategy

    strategy = make_strategy("random", {"lr": {"min": 1e-4, "max": 1e-1, "log": True}}, seed=0)
    for number in range(20):
        params = strategy.ask().params
        loss = train(**params)
        strategy.tell(Observation(number, params, TrialState.COMPLETED, loss))

New strategies register in :data:`STRATEGIES` under the name users write in a sweep config.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Mapping
from typing import Any

from hpo._errors import StrategyError
from hpo.strategies._asha import AshaStrategy
from hpo.strategies._base import Observation, Strategy, Suggestion
from hpo.strategies._bayes import BayesStrategy
from hpo.strategies._bohb import BohbStrategy
from hpo.strategies._fidelity import MultiFidelity, hyperband_schedule, rung_budgets
from hpo.strategies._grid import GridStrategy
from hpo.strategies._hyperband import HyperbandStrategy
from hpo.strategies._random import RandomStrategy
from search_spaces import SearchSpace, as_space
from trackers._states import Goal, TrialState

__all__ = [
    "STRATEGIES",
    "AshaStrategy",
    "BayesStrategy",
    "BohbStrategy",
    "Goal",
    "GridStrategy",
    "HyperbandStrategy",
    "MultiFidelity",
    "Observation",
    "RandomStrategy",
    "Strategy",
    "Suggestion",
    "TrialState",
    "hyperband_schedule",
    "make_strategy",
    "rung_budgets",
    "strategy_options",
]

#: Strategy name (as written in a sweep config) -> class.
STRATEGIES: dict[str, type[Strategy]] = {
    GridStrategy.name: GridStrategy,
    RandomStrategy.name: RandomStrategy,
    BayesStrategy.name: BayesStrategy,
    HyperbandStrategy.name: HyperbandStrategy,
    AshaStrategy.name: AshaStrategy,
    BohbStrategy.name: BohbStrategy,
}

# Keyword arguments every strategy takes from make_strategy itself rather than from `options`.
_COMMON = frozenset({"goal", "seed"})


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def strategy_options(cls: type[Strategy]) -> list[str]:
    """The option names a strategy class accepts: its keyword-only arguments but goal and seed."""
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.kind is p.KEYWORD_ONLY and p.name not in _COMMON]


def make_strategy(
    name: str,
    space: SearchSpace | Mapping[str, Any],
    *,
    goal: Goal | str = Goal.MINIMIZE,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Strategy:
    """Build the strategy registered as ``name`` over ``space`` (a SearchSpace or the user
    format). ``options`` are the strategy's own settings (e.g. ``{"points": 3}`` for grid).

    StrategyError for an unknown name, an unknown option, or an invalid option value.
    """
    if not isinstance(name, str) or name not in STRATEGIES:
        raise StrategyError(
            f"unknown strategy {name!r}; choose one of: {', '.join(STRATEGIES)}"
            + _did_you_mean(str(name), list(STRATEGIES))
        )
    cls = STRATEGIES[name]
    accepted = strategy_options(cls)
    if options is not None and not isinstance(options, Mapping):
        raise StrategyError(f"options for strategy {name!r} must be a mapping, not {options!r}")
    for key in options or {}:
        if key not in accepted:
            raise StrategyError(
                f"unknown option {key!r} for strategy {name!r}; accepted options: "
                f"{', '.join(accepted) or 'none'}" + _did_you_mean(str(key), accepted)
            )
    try:
        goal = Goal(goal)
    except ValueError:
        raise StrategyError(
            f"goal must be one of: {', '.join(g.value for g in Goal)}; not {goal!r}"
        ) from None
    return cls(as_space(space), goal=goal, seed=seed, **dict(options or {}))
