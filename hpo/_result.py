"""What a sweep returns in Python."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hpo._query import select
from hpo.reports._rank import best, rank
from trackers import Goal, TrialRecord, TrialState

if TYPE_CHECKING:  # pandas is optional
    import pandas as pd


@dataclass(frozen=True)
class SweepResult:
    """The outcome of a sweep: every trial, the best one, and where it was recorded.

    ``store_url`` and ``sweep_id`` are None when the sweep ran without a store.
    ``interrupted`` is True when the sweep was stopped (Ctrl-C) before its end.
    """

    name: str
    metric: str
    goal: Goal
    trials: list[TrialRecord]
    sweep_id: int | None = None
    store_url: str | None = None
    interrupted: bool = False
    seed: int | None = None

    @property
    def best(self) -> TrialRecord | None:
        """The best completed trial by the sweep's goal, or None when none completed."""
        return best(self.trials, self.goal)

    @property
    def best_params(self) -> dict[str, Any]:
        b = self.best
        return dict(b.params) if b is not None else {}

    @property
    def best_value(self) -> float | None:
        b = self.best
        return b.value if b is not None else None

    def ranked(self) -> list[TrialRecord]:
        """Completed trials best first, then the others by number."""
        return rank(self.trials, self.goal)

    def select(
        self,
        filter: str | None = None,  # the word users know from `hpo report --filter`
        sort: str | Sequence[str] | None = None,
        top: int | None = None,
    ) -> list[TrialRecord]:
        """The trials matching ``filter``, ordered by ``sort`` (default: ranked, best first),
        at most ``top``: ``result.select("lr < 0.1 and state == completed", top=5)``. The
        sweep's metric is a name for ``value``. See :func:`hpo.select` for the language."""
        return select(self.ranked(), filter, sort, top, metric=self.metric)

    def count(self, state: TrialState) -> int:
        return sum(1 for t in self.trials if t.state is state)

    def to_dataframe(self) -> pd.DataFrame:
        """One row per trial: number, state, value, ``params.*``, ``metrics.*``, timings.
        Needs pandas (``pip install "hpo[pandas]"``)."""
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "SweepResult.to_dataframe() needs pandas: pip install 'hpo[pandas]'"
            ) from exc
        rows = []
        for t in sorted(self.trials, key=lambda t: t.number):
            row: dict[str, Any] = {
                "number": t.number,
                "state": t.state.value,
                "value": t.value,
                "duration": t.duration,
                "seed": t.seed,
                "error": t.error,
            }
            row.update({f"params.{k}": v for k, v in t.params.items()})
            row.update({f"metrics.{k}": v for k, v in t.metrics.items()})
            rows.append(row)
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        b = self.best
        tail = f"best {self.metric}={b.value:.6g} (trial {b.number})" if b else "no trial completed"
        return f"SweepResult({self.name!r}, {len(self.trials)} trials, {tail})"
