"""The executor seam: where trials run.

An executor knows nothing of strategies or storage. The engine submits :class:`TrialTask`s
while ``free_slots()`` allows and polls for events: :class:`Report` (an intermediate report
streamed while a trial runs) and :class:`Finished` (the trial's outcome). A trial that fails in
any way -- raises, returns garbage, crashes its process, runs past its timeout -- comes back as
a ``Finished`` with a failed state and the reason; it never raises out of ``poll``.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from trackers._artifacts import ArtifactRef
from trackers._states import TrialState


@dataclass(frozen=True, slots=True)
class TrialTask:
    """One trial to run: what the objective needs, nothing of the sweep's machinery."""

    number: int
    params: Mapping[str, Any]
    seed: int
    budget: float | None = None
    timeout: float | None = None  # seconds of wall time; None for no limit
    memory_limit: int | None = None  # bytes the trial may allocate; None for no limit
    checkpoint_dir: str | None = None  # kept across a trial's runs: promotions continue from it
    artifact_dir: str | None = None  # the store's artifact folder; None: no store to record in


@dataclass(frozen=True, slots=True)
class Report:
    """An intermediate report from a running trial (``hpo.report(step=..., **metrics)``), or
    files it logged (``trial.log_artifact``: copied into the artifact folder already, so only
    their names, hashes and sizes travel; ``metrics`` is empty then)."""

    number: int
    step: int | None
    metrics: Mapping[str, float]
    time: float  # unix seconds
    artifacts: tuple[ArtifactRef, ...] = ()


@dataclass(frozen=True, slots=True)
class Finished:
    """A trial's outcome. ``metrics`` holds the final metrics when COMPLETED; ``error`` is a
    one-line reason and ``traceback`` the full text when it failed or timed out."""

    number: int
    state: TrialState
    started_at: float
    ended_at: float
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None

    def value(self, metric: str) -> float | None:
        """``metric``'s final value when the trial completed with it finite, else None."""
        value = self.metrics.get(metric) if self.state is TrialState.COMPLETED else None
        return value if value is not None and math.isfinite(value) else None


Event = Report | Finished


class Executor(ABC):
    """Base of every executor. Use as a context manager or call ``start``/``shutdown``."""

    #: how many trials may run at once
    capacity: int = 1
    #: Called with each :class:`Report` *while the trial runs*, by executors that run trials
    #: inside ``poll`` (inline): their reports would otherwise arrive only after the trial
    #: ended, too late to stop it early. Such an executor then leaves reports out of ``poll``.
    listener: Callable[[Report], None] | None = None

    @abstractmethod
    def start(self, objective: Any) -> None:
        """Prepare to run trials of ``objective`` (an ``hpo._objective.Objective``)."""

    @abstractmethod
    def submit(self, task: TrialTask) -> None:
        """Start ``task``. Only called while ``free_slots() > 0``."""

    @abstractmethod
    def poll(self, timeout: float | None = None) -> list[Event]:
        """Events since the last poll, waiting up to ``timeout`` seconds for the first one."""

    @abstractmethod
    def running(self) -> int:
        """How many submitted trials have not yet produced their ``Finished`` event."""

    def free_slots(self) -> int:
        return self.capacity - self.running()

    def stop(self, number: int) -> None:
        """Ask running trial ``number`` to stop early: its ``Trial.should_stop()`` (or, for a
        command, the stop file of the protocol) turns True, and it ends when its objective next
        looks. The default sets the flag in this process, which is where inline trials run;
        a trial that already ended is ignored."""
        from hpo._trial import request_stop

        request_stop(number)

    @abstractmethod
    def shutdown(self, *, kill: bool = False) -> list[int]:
        """Stop the executor. With ``kill``, stop running trials at once (Ctrl-C); returns the
        numbers of the trials that were still running and got no ``Finished`` event."""

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(kill=exc[0] is not None)
