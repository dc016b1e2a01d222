"""Random search: pseudo-random (numpy) or quasi-random (scrambled Sobol' or Halton) points."""

from __future__ import annotations

import difflib
import inspect
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal, get_args

import numpy as np

from hpo._errors import StrategyError
from hpo.strategies._base import Observation, Strategy, Suggestion
from search_spaces import SearchSpace, as_space
from trackers._states import Goal

Sampler = Literal["pseudo", "sobol", "halton"]
SAMPLERS: tuple[str, ...] = get_args(Sampler)

#: Quasi-random points are drawn this many at a time: one qmc call per trial would cost tens
#: of microseconds, one per block costs a fraction of one per trial.
BLOCK = 256


class RandomStrategy(Strategy):
    """Independent random points over the space.

    ``sampler="pseudo"`` draws with ``numpy.random.default_rng(seed)`` and ``space.sample``;
    ``"sobol"`` and ``"halton"`` draw scrambled, seeded low-discrepancy points in the unit cube
    and decode them (they cover the space more evenly for the same number of trials). A seeded
    run repeats exactly, and :meth:`restore` continues where the original run was.
    """

    name: ClassVar[str] = "random"

    def __init__(
        self,
        space: SearchSpace | Mapping[str, Any],
        *,
        goal: Goal = Goal.MINIMIZE,
        seed: int | None = None,
        sampler: Sampler = "pseudo",
    ) -> None:
        super().__init__(as_space(space), goal=goal, seed=seed)
        if sampler not in SAMPLERS:
            close = difflib.get_close_matches(str(sampler), SAMPLERS, n=1)
            raise StrategyError(
                f"option 'sampler' of strategy 'random' must be one of: {', '.join(SAMPLERS)}; "
                f"not {sampler!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            )
        self.sampler: Sampler = sampler
        self._start(0)

    def _start(self, skip: int) -> None:
        """Reset the generators to the seed, then move past the first ``skip`` points."""
        self._block: list[list[float]] = []
        self._pos = 0
        # A space of constants has no dimensions, and qmc engines need at least one.
        self._quasi = self.sampler != "pseudo" and self.space.dims > 0
        if not self._quasi:
            self._rng = np.random.default_rng(self.seed)
            sample, rng = self.space.sample, self._rng
            for _ in range(skip):
                sample(rng)
            return
        # Imported here: scipy.stats costs half a second, which every worker process would
        # otherwise pay at start-up whether or not a quasi-random sampler is used.
        from scipy.stats import qmc

        engine_type = qmc.Sobol if self.sampler == "sobol" else qmc.Halton
        # scipy >= 1.15 names the generator argument `rng`; older versions call it `seed`.
        rng_arg = "rng" if "rng" in inspect.signature(engine_type).parameters else "seed"
        self._engine = engine_type(self.space.dims, scramble=True, **{rng_arg: self.seed})
        if skip:
            # The i-th point of a scrambled sequence does not depend on how it was drawn in
            # blocks, so skipping ahead reproduces the original run exactly.
            self._engine.fast_forward(skip)

    def _refill(self) -> None:
        with warnings.catch_warnings():
            # Sobol' warns when the total drawn is not a power of two; a sweep's trial count
            # rarely is, and the block size alone does not matter for the sequence.
            warnings.filterwarnings("ignore", message=".*balance properties", category=UserWarning)
            self._block = self._engine.random(BLOCK).tolist()
        self._pos = 0

    def ask(self) -> Suggestion:
        """The next random point (there is always one)."""
        if not self._quasi:
            return Suggestion(params=self.space.sample(self._rng))
        if self._pos == len(self._block):
            self._refill()
        row = self._block[self._pos]
        self._pos += 1
        return Suggestion(params=self.space.decode_list(row))

    def restore(self, history: Sequence[Observation]) -> None:
        """Continue after ``len(history)`` points, as the original seeded run would have.

        Random search learns nothing from results, so only the count matters.
        """
        self._start(len(history))

    def options(self) -> Mapping[str, Any]:
        return {"sampler": self.sampler}
