"""States and directions shared by the store and the engine.

They live in ``trackers`` because the store persists them and ``trackers`` may not import
``hpo``; ``hpo`` re-exports them.
"""

from __future__ import annotations

import enum


class Goal(str, enum.Enum):
    """Whether the sweep's metric is to be made small or large."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"

    def better(self, a: float, b: float) -> bool:
        """True when value ``a`` is strictly better than ``b`` under this goal."""
        return a < b if self is Goal.MINIMIZE else a > b

    def sign(self) -> float:
        """Multiply a value by this to get a loss (smaller is better)."""
        return 1.0 if self is Goal.MINIMIZE else -1.0


class TrialState(str, enum.Enum):
    """A trial's life: QUEUED -> RUNNING -> one of the finished states.

    A multi-fidelity strategy may run a trial in several legs: a leg that reaches a budget
    below the strategy's largest leaves the trial PAUSED until the strategy continues it
    (RUNNING again, with a larger budget) or prunes it. PRUNED means it was stopped early, by
    such a strategy or by an early-stopping rule; its value is the one it stopped at.
    INTERRUPTED means the driver stopped (Ctrl-C, or a crash found on resume) while the trial
    ran; it is not the trial's fault and a resumed sweep may run the same params again.
    """

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    PRUNED = "pruned"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    INTERRUPTED = "interrupted"

    @property
    def is_finished(self) -> bool:
        """True for the states a trial ends in (not queued, running or paused)."""
        return self not in (TrialState.QUEUED, TrialState.RUNNING, TrialState.PAUSED)


class SweepState(str, enum.Enum):
    """A sweep's life: RUNNING until its budget is spent (COMPLETED), the driver is stopped
    (INTERRUPTED) or the engine gives up on an error of its own (FAILED)."""

    RUNNING = "running"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"
    FAILED = "failed"


class EventKind(str, enum.Enum):
    """Entries of the append-only event log: every change of a sweep's or a trial's state."""

    SWEEP_CREATED = "sweep_created"
    SWEEP_STARTED = "sweep_started"
    SWEEP_RESUMED = "sweep_resumed"
    SWEEP_FINISHED = "sweep_finished"
    TRIAL_STARTED = "trial_started"
    TRIAL_FINISHED = "trial_finished"
    TRIAL_PAUSED = "trial_paused"  # a leg ended below the largest budget: data {budget, value}
    TRIAL_CONTINUED = "trial_continued"  # a paused trial runs on: data {budget}
    TRIAL_PRUNED = "trial_pruned"  # a paused trial will not run on: data {reason}
    TRIAL_STOP_REQUESTED = "trial_stop_requested"  # data {step, value, rule}
    # copied in from a file: data {file, store, name, exported_at, hpo_version}
    SWEEP_IMPORTED = "sweep_imported"
