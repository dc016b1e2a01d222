"""The progress bar the CLI shows while a sweep runs (rich)."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from trackers import Goal, TrialRecord, TrialState


class RichProgress:
    """A bar with completed/total, elapsed, remaining, the best value so far and the count of
    failed trials. Rich throttles redraws, so updating it per trial is cheap."""

    def __init__(self, name: str, metric: str, goal: Goal, console: Console | None = None):
        self._metric = metric
        self._goal = goal
        self._failed = 0
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(name, total=None, status="", start=False)

    def start(self, total: int | None, done: int = 0) -> None:
        self._progress.update(self._task, total=total, completed=done)
        self._progress.start_task(self._task)
        self._progress.start()

    def trial_finished(self, trial: TrialRecord, best: TrialRecord | None) -> None:
        if trial.state in (TrialState.FAILED, TrialState.TIMED_OUT):
            self._failed += 1
        status = f"best {self._metric}={best.value:.6g}" if best is not None else ""
        if self._failed:
            status += f" [red]failed={self._failed}[/red]"
        self._progress.update(self._task, advance=1, status=status)

    def stop(self) -> None:
        self._progress.stop()
