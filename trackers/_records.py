"""What reads from the store return: plain frozen records, decoded from their rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from trackers import _codec
from trackers._errors import NotFoundError
from trackers._states import Goal, SweepState, TrialState


@dataclass(frozen=True, slots=True)
class SweepRecord:
    id: int
    name: str
    state: SweepState
    metric: str
    goal: Goal
    strategy: str
    strategy_options: Mapping[str, Any]
    space: Mapping[str, Any]
    config: Mapping[str, Any]
    objective: str
    executor: str
    budget: int | None
    seed: int | None
    source: str | None
    environment_id: int | None
    created_at: float
    updated_at: float
    heartbeat_at: float | None = None
    driver: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> SweepRecord:
        m = row._mapping
        return cls(
            id=m["id"],
            name=m["name"],
            state=SweepState(m["state"]),
            metric=m["metric"],
            goal=Goal(m["goal"]),
            strategy=m["strategy"],
            strategy_options=_codec.loads(m["strategy_options"]) or {},
            space=_codec.loads(m["space"]) or {},
            config=_codec.loads(m["config"]) or {},
            objective=m["objective"],
            executor=m["executor"],
            budget=m["budget"],
            seed=m["seed"],
            source=m["source"],
            environment_id=m["environment_id"],
            created_at=m["created_at"],
            updated_at=m["updated_at"],
            heartbeat_at=m["heartbeat_at"],
            driver=m["driver"],
        )


@dataclass(frozen=True, slots=True)
class SweepSummary:
    """A sweep with its trial counts per state and its best value, for listings."""

    sweep: SweepRecord
    counts: Mapping[TrialState, int]
    best_value: float | None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class TrialRecord:
    """A trial as recorded. ``id`` and ``sweep_id`` are None for a sweep run without a store."""

    id: int | None
    sweep_id: int | None
    number: int
    state: TrialState
    params: Mapping[str, Any]
    value: float | None
    metrics: Mapping[str, float]
    budget: float | None
    seed: int | None
    host: str | None
    environment_id: int | None
    queued_at: float
    started_at: float | None
    ended_at: float | None
    duration: float | None
    error: str | None
    traceback: str | None = field(default=None, repr=False)
    rerun_of: int | None = None
    step: int | None = None  # the last step it reported

    @classmethod
    def from_row(cls, row: Any) -> TrialRecord:
        m = row._mapping
        return cls(
            id=m["id"],
            sweep_id=m["sweep_id"],
            number=m["number"],
            state=TrialState(m["state"]),
            params=_codec.loads(m["params"]) or {},
            value=m["value"],
            metrics=_codec.metrics_from_json(m["metrics"]),
            budget=m["budget"],
            seed=m["seed"],
            host=m["host"],
            environment_id=m["environment_id"],
            queued_at=m["queued_at"],
            started_at=m["started_at"],
            ended_at=m["ended_at"],
            duration=m["duration"],
            error=m["error"],
            traceback=m["traceback"],
            rerun_of=m["rerun_of"],
            step=m["step"],
        )

    def stored_ids(self) -> tuple[int, int]:
        """``(id, sweep_id)`` of a trial read from a store, to read more about it there.

        Raises :class:`NotFoundError` for a trial of a sweep run without a store, which has
        neither.
        """
        if self.id is None or self.sweep_id is None:
            raise NotFoundError(
                f"trial {self.number} was not recorded in a store (its sweep ran with "
                "track=False), so it has no id to look it up by: run the sweep with a store"
            )
        return self.id, self.sweep_id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (non-finite metrics as strings), as reports and exports print it."""
        return {
            "id": self.id,
            "sweep_id": self.sweep_id,
            "number": self.number,
            "status": self.state.value,
            "params": dict(self.params),
            "value": self.value,
            "metrics": {k: _codec.float_to_json(v) for k, v in self.metrics.items()},
            "budget": self.budget,
            "seed": self.seed,
            "host": self.host,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "error": self.error,
            "rerun_of": self.rerun_of,
            "step": self.step,
        }


@dataclass(frozen=True, slots=True)
class MetricPoint:
    step: int | None
    value: float
    time: float
