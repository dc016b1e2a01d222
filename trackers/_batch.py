"""One transaction's worth of trial writes.

The engine collects everything that happened in one turn of its loop (trials started,
reports, trials finished) into a :class:`WriteBatch` and the store writes it in one
transaction: with a WAL-mode SQLite file that is one commit per turn, not one per row, and
a finished trial is durable as soon as its turn commits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trackers import _codec
from trackers._artifacts import ArtifactRef
from trackers._states import EventKind, TrialState


@dataclass(slots=True)
class WriteBatch:
    """Rows to write for one sweep. ``trial_ids`` maps the numbers of live trials to their row
    ids: the store adds new trials' ids once they are committed and drops finished ones; it
    is kept by the batch's owner across batches."""

    sweep_id: int
    trial_ids: dict[int, int] = field(default_factory=dict)
    new_trials: list[dict[str, Any]] = field(default_factory=list)
    finished: list[dict[str, Any]] = field(default_factory=list)
    #: paused trials running on (seq, number, budget) and paused trials pruned (seq, number,
    #: reason). ``seq`` orders them with ``finished`` (whose rows carry "seq" too): a batch
    #: kept after a failed write may hold several changes of one trial.
    continued: list[tuple[int, int, float | None]] = field(default_factory=list)
    pruned: list[tuple[int, int, str]] = field(default_factory=list)
    seq: int = 0
    metrics: list[tuple[int, str, int | None, float, float]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    #: (number, name, sha256, size, time) of files trials logged, in the order they came
    artifacts: list[tuple[int, str, str, int, float]] = field(default_factory=list)
    #: (driver, time) to record as the sweep's heartbeat in this batch's transaction
    heartbeat: tuple[str, float] | None = None

    def __bool__(self) -> bool:
        return bool(
            self.new_trials
            or self.finished
            or self.continued
            or self.pruned
            or self.metrics
            or self.events
            or self.artifacts
            or self.heartbeat
        )

    def clear(self) -> None:
        self.new_trials.clear()
        self.finished.clear()
        self.continued.clear()
        self.pruned.clear()
        self.metrics.clear()
        self.events.clear()
        self.artifacts.clear()
        self.heartbeat = None

    def trial_started(
        self,
        number: int,
        params: Mapping[str, Any],
        *,
        seed: int | None,
        budget: float | None = None,
        host: str | None = None,
        environment_id: int | None = None,
        state: TrialState = TrialState.RUNNING,
        rerun_of: int | None = None,
        at: float | None = None,
    ) -> None:
        t = time.time() if at is None else at
        self.new_trials.append(
            {
                "sweep_id": self.sweep_id,
                "number": number,
                "state": state.value,
                "params": params,
                "budget": budget,
                "seed": seed,
                "host": host,
                "environment_id": environment_id,
                "queued_at": t,
                "started_at": t if state is TrialState.RUNNING else None,
                "rerun_of": rerun_of,
            }
        )
        data = None if rerun_of is None else {"rerun_of": rerun_of}
        self.event(EventKind.TRIAL_STARTED, number, data, at=t)

    def trial_finished(
        self,
        number: int,
        state: TrialState,
        *,
        value: float | None,
        metrics: Mapping[str, float],
        started_at: float | None,
        ended_at: float,
        error: str | None = None,
        traceback: str | None = None,
        step: int | None = None,
        duration: float | None = None,
        budget: float | None = None,
    ) -> None:
        """A trial's run ended. ``state`` PAUSED keeps the trial open for a continuation;
        ``duration`` defaults to ended - started (a continued trial passes the sum of its
        runs); ``budget`` goes into the event, which is what rungs are rebuilt from."""
        if duration is None and started_at is not None:
            duration = max(0.0, ended_at - started_at)
        self.finished.append(
            {
                "number": number,
                "state": state.value,
                "value": value,
                "metrics": _codec.metrics_to_json(metrics) if metrics else None,
                "started_at": started_at,
                "ended_at": ended_at,
                "duration": duration,
                "error": error,
                "traceback": traceback,
                "step": step,
                "seq": self._next_seq(),
            }
        )
        data: dict[str, Any] = {"state": state.value}
        if budget is not None:
            data["budget"] = budget
            data["value"] = _codec.float_to_json(value) if value is not None else None
        kind = EventKind.TRIAL_PAUSED if state is TrialState.PAUSED else EventKind.TRIAL_FINISHED
        self.event(kind, number, data, at=ended_at)

    def trial_continued(self, number: int, budget: float | None, at: float | None = None) -> None:
        """Paused trial ``number`` runs on, up to ``budget``."""
        self.continued.append((self._next_seq(), number, budget))
        self.event(EventKind.TRIAL_CONTINUED, number, {"budget": budget}, at=at)

    def trial_pruned(self, number: int, reason: str, at: float | None = None) -> None:
        """Paused trial ``number`` will not run on: it ends pruned where it stopped."""
        self.pruned.append((self._next_seq(), number, reason))
        self.event(EventKind.TRIAL_PRUNED, number, {"reason": reason}, at=at)

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def metric(self, number: int, name: str, step: int | None, value: float, at: float) -> None:
        self.metrics.append((number, name, step, value, at))

    def reported(
        self,
        number: int,
        step: int | None,
        metrics: Mapping[str, float],
        artifacts: Iterable[ArtifactRef],
        at: float,
    ) -> None:
        """A running trial's report: its metrics at ``step`` and the files it logged, recorded
        as they come (a trial that fails later keeps them)."""
        for name, value in metrics.items():
            self.metric(number, name, step, value, at)
        for ref in artifacts:
            self.artifact(number, ref.name, ref.sha256, ref.size, at)

    def artifact(self, number: int, name: str, sha256: str, size: int, at: float) -> None:
        """Trial ``number`` logged content ``sha256`` under ``name`` (replacing an earlier
        record of that name: the last one logged wins)."""
        self.artifacts.append((number, name, sha256, size, at))

    def event(
        self,
        kind: EventKind,
        number: int | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        at: float | None = None,
    ) -> None:
        self.events.append(
            {
                "sweep_id": self.sweep_id,
                "trial_number": number,
                "time": time.time() if at is None else at,
                "kind": kind.value,
                "data": None if data is None else _codec.dumps(data),
            }
        )
