"""The strategy seam: pure ask/tell over a search space.

A strategy knows nothing of executors or storage. The engine asks it for the next trial,
runs it somewhere, and tells it the outcome. A strategy can be rebuilt from the store's
history alone (``restore``): that is how a sweep resumes the same search.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from search_spaces import SearchSpace
from trackers._states import Goal, TrialState


@dataclass(frozen=True, slots=True)
class Suggestion:
    """The next trial to run: its params and, for multi-fidelity strategies, its budget.

    ``continues`` names a paused trial to run on up to ``budget`` (a promotion) instead of a
    new trial; ``params`` are then that trial's.
    """

    params: Mapping[str, Any]
    budget: float | None = None
    continues: int | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """A finished trial (or a run of one) as a strategy sees it. ``value`` is the sweep metric
    as the objective reported it (the strategy applies the goal); it is None unless ``state``
    is COMPLETED, PAUSED or PRUNED. ``budget`` is the budget the run reached."""

    number: int
    params: Mapping[str, Any]
    state: TrialState
    value: float | None
    budget: float | None = None


class Strategy(ABC):
    """Base of every strategy.

    ``ask()`` returns the next :class:`Suggestion`, or None when it has nothing to suggest
    *now* (a multi-fidelity strategy waiting for a rung to fill); ``done`` is True once it will
    never suggest anything again (a grid that is exhausted). ``tell()`` receives each finished
    trial exactly once.
    """

    name: ClassVar[str]
    #: The largest budget the strategy gives a trial (multi-fidelity strategies only). A run
    #: that completes below it leaves its trial PAUSED until the strategy continues it
    #: (``Suggestion.continues``) or gives it up (:meth:`take_pruned`).
    max_budget: float | None = None

    def __init__(self, space: SearchSpace, *, goal: Goal = Goal.MINIMIZE, seed: int | None = None):
        self.space = space
        self.goal = Goal(goal)
        self.seed = seed

    @abstractmethod
    def ask(self) -> Suggestion | None:
        """The next trial to run, or None when nothing can be suggested now."""

    def tell(self, observation: Observation) -> None:  # noqa: B027 - optional hook
        """Learn from a finished trial. Strategies that do not learn ignore it."""

    @property
    def default_trials(self) -> int | None:
        """How many trials a sweep that sets none runs (None: until :attr:`done`)."""
        return None

    def started(self, number: int, suggestion: Suggestion) -> None:  # noqa: B027 - optional hook
        """The engine started trial ``number`` for ``suggestion`` (the last ``ask()``'s).
        Strategies that track their trials by number use it."""

    def take_pruned(self) -> list[int]:
        """Paused trials this strategy will never continue, since the last call; the engine
        records them as pruned. Only multi-fidelity strategies have any."""
        return []

    def stop_sampling(self) -> None:  # noqa: B027 - optional hook
        """The sweep takes no new trials (its trial budget is spent). A multi-fidelity strategy
        goes on suggesting continuations of paused trials, never a new one."""

    @property
    def done(self) -> bool:
        """True when the strategy will never suggest another trial."""
        return False

    def restore(self, history: Sequence[Observation]) -> None:
        """Rebuild this strategy's state from the trials a sweep already ran, in number order.

        The default replays the search: one ``ask()`` per recorded trial (so seeded generators
        advance exactly as they did) and a ``tell()`` for each finished one.
        """
        for observation in sorted(history, key=lambda o: o.number):
            self.ask()
            if observation.state.is_finished:
                self.tell(observation)

    def restore_legs(self, trials: Sequence[Observation], legs: Sequence[Observation]) -> None:
        """Rebuild from a sweep whose trials ran in legs: ``trials`` is every trial's current
        state in number order, ``legs`` the ends of their legs, oldest first. Multi-fidelity
        strategies rebuild their rungs from the legs; the default restores from the trials."""
        self.restore(trials)

    def options(self) -> Mapping[str, Any]:
        """The strategy's settings, JSON-serialisable, as recorded with the sweep."""
        return {}
