"""The handle an objective sees while it runs, and ``hpo.report``.

An objective that takes a ``trial`` argument gets a :class:`Trial`; any code running inside a
trial (however deep in the call stack) can call :func:`report`, which finds the current trial
through a context variable set around the objective call. Outside any trial, ``report`` writes
to ``$HPO_REPORT_FILE`` when a command objective launched this program, and otherwise does
nothing but warn once, so a training script still runs on its own. :func:`log_artifact` works
the same way for files the objective saves.
"""

from __future__ import annotations

import os
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from types import MappingProxyType
from typing import Any

from hpo._checkpoints import make_folder
from hpo._protocol import (
    REPORT_FILE_ENV,
    STOP_FILE_ENV,
    check_report,
    write_artifact,
    write_report,
)
from hpo.executors._base import Report, TrialTask
from trackers._artifacts import ArtifactError, ArtifactRef, ArtifactStore

__all__ = [
    "Trial",
    "artifact_report",
    "clear_stop",
    "current_trial",
    "log_artifact",
    "report",
    "request_stop",
    "should_stop",
    "stop_requested",
]

_current: ContextVar[Trial | None] = ContextVar("hpo_current_trial", default=None)
_warned_outside = False
_warned_artifact = False
# Numbers of trials in this process asked to stop early. Set by whoever delivers the request
# (the engine for inline trials, a worker's reader thread, a Ray actor's second thread) and
# read by the objective's thread: a set of ints under the GIL needs no lock for that.
_stop_requests: set[int] = set()


def artifact_report(
    number: int,
    artifact_dir: str | None,
    path: str | os.PathLike[str],
    name: str | None = None,
    *,
    base: str | os.PathLike[str] | None = None,
) -> Report:
    """Copy ``path`` (a file or folder; relative to ``base`` if given) into ``artifact_dir``
    and return the report that carries trial ``number``'s records to the driver. Raises
    :class:`~trackers.ArtifactError` for a missing path or a sweep without a store
    (``artifact_dir`` None)."""
    if artifact_dir is None:
        raise ArtifactError(
            f"trial {number} cannot log artifact {os.fspath(path)!r}: the sweep runs "
            "without a store (track=False), so there is nowhere to record it; run the sweep "
            "with a store, or skip log_artifact when hpo.current_trial() is None"
        )
    source = Path(base, path) if base is not None else Path(path)
    refs = ArtifactStore(artifact_dir).log(source, name)
    return Report(number, None, {}, time.time(), tuple(refs))


def request_stop(number: int) -> None:
    """Ask trial ``number``, running in this process, to stop early."""
    _stop_requests.add(number)


def clear_stop(number: int) -> None:
    """Forget a stop request: called when trial ``number`` starts (again) and when it ends."""
    _stop_requests.discard(number)


def stop_requested(number: int) -> bool:
    """True when trial ``number`` has been asked to stop early."""
    return number in _stop_requests


class Trial:
    """One running trial: its number, params, seed and budget, a way to report intermediate
    metrics, and whether the sweep has asked it to stop early.

    Created by the executor for each trial; an objective never builds one itself.
    """

    __slots__ = (
        "_artifact_dir",
        "_budget",
        "_checkpoint_dir",
        "_emit",
        "_number",
        "_params",
        "_seed",
    )

    def __init__(
        self,
        number: int,
        params: Mapping[str, Any],
        seed: int,
        budget: float | None = None,
        emit: Callable[[Report], None] | None = None,
        checkpoint_dir: str | None = None,
        artifact_dir: str | None = None,
    ) -> None:
        self._number = number
        self._artifact_dir = artifact_dir
        self._params = MappingProxyType(dict(params))
        self._seed = seed
        self._budget = budget
        self._emit = emit
        self._checkpoint_dir = checkpoint_dir

    @classmethod
    def from_task(cls, task: TrialTask, emit: Callable[[Report], None] | None = None) -> Trial:
        """The handle for ``task``, whose reports go to ``emit``."""
        return cls(
            task.number,
            task.params,
            task.seed,
            task.budget,
            emit,
            task.checkpoint_dir,
            task.artifact_dir,
        )

    @property
    def number(self) -> int:
        """The trial's number within its sweep (0-based)."""
        return self._number

    @property
    def params(self) -> Mapping[str, Any]:
        """The trial's parameters (read-only)."""
        return self._params

    @property
    def seed(self) -> int:
        """The trial's seed; ``random`` (and numpy's global generator) are seeded with it."""
        return self._seed

    @property
    def budget(self) -> float | None:
        """The resource a multi-fidelity strategy gives this trial (epochs, samples...), or None."""
        return self._budget

    @property
    def checkpoint_dir(self) -> Path:
        """A directory that belongs to this trial and outlives each of its runs (created on
        first use). A multi-fidelity strategy may run a trial again with a larger budget: an
        objective that saves its state here and loads it at start continues where it stopped
        instead of training from scratch. Outside a sweep it is a fresh temporary directory."""
        if self._checkpoint_dir is None:
            self._checkpoint_dir = tempfile.mkdtemp(prefix=f"hpo-trial-{self._number}-")
        make_folder(self._checkpoint_dir)
        return Path(self._checkpoint_dir)

    def report(self, step: int | None = None, **metrics: float) -> None:
        """Record intermediate metrics, e.g. ``trial.report(step=epoch, val_loss=0.3)``.

        Values must be numbers (non-finite ones are kept); ``step`` a non-negative int. A bad
        argument raises ``TypeError``/``ValueError``, which fails the trial with that message.
        """
        checked_step, values = check_report(step, metrics)
        if self._emit is not None:
            self._emit(Report(self._number, checked_step, values, time.time()))

    def log_artifact(
        self, path: str | os.PathLike[str], name: str | None = None
    ) -> list[ArtifactRef]:
        """Keep a file (or every file of a folder) the trial made: its bytes are copied into
        the store's artifact folder by content hash, and the store records it under ``name``
        (default: the file or folder's name; a folder's files as ``name/relative/path``).
        Logging a name again replaces its record. Returns what was recorded.

        Raises :class:`~hpo.ArtifactError` when ``path`` does not exist (failing the trial
        unless caught) or the sweep has no store."""
        report = artifact_report(self._number, self._artifact_dir, path, name)
        if self._emit is not None:
            self._emit(report)
        return list(report.artifacts)

    def should_stop(self) -> bool:
        """True once the sweep has asked this trial to stop early (e.g. a multi-fidelity
        strategy pruned it). A cooperative objective checks it after each report and returns
        its current metrics."""
        return self._number in _stop_requests

    def __repr__(self) -> str:
        return f"Trial(number={self._number}, params={dict(self._params)!r}, seed={self._seed})"


def current_trial() -> Trial | None:
    """The trial running in this context, or None outside any trial."""
    return _current.get()


def report(step: int | None = None, **metrics: float) -> None:
    """Report intermediate metrics of the current trial: ``hpo.report(step=epoch, loss=0.3)``.

    Inside a trial this is ``trial.report``. In a program started as a command objective it
    appends a line to ``$HPO_REPORT_FILE``. Anywhere else it warns once and records nothing, so
    the same training script runs standalone.
    """
    trial = _current.get()
    if trial is not None:
        trial.report(step, **metrics)
        return
    checked_step, values = check_report(step, metrics)
    path = os.environ.get(REPORT_FILE_ENV)
    if path:
        write_report(path, checked_step, values)
        return
    global _warned_outside
    if not _warned_outside:
        _warned_outside = True
        warnings.warn(
            "hpo.report() called outside a trial; nothing recorded", UserWarning, stacklevel=2
        )


def log_artifact(path: str | os.PathLike[str], name: str | None = None) -> None:
    """Log a file or folder of the current trial as an artifact: ``hpo.log_artifact("model.pt")``.

    Inside a trial this is ``trial.log_artifact``. In a program started as a command objective
    it appends ``{"artifact": <absolute path>}`` to ``$HPO_REPORT_FILE`` (hpo copies the file
    when it reads the line, so write the file first). Anywhere else it warns once and records
    nothing.
    """
    trial = _current.get()
    if trial is not None:
        trial.log_artifact(path, name)
        return
    report_file = os.environ.get(REPORT_FILE_ENV)
    if report_file:
        if not os.path.exists(path):
            raise ArtifactError(
                f"cannot log artifact {os.fspath(path)!r}: no such file or folder "
                f"(looked in {os.path.abspath(path)}); log a file or folder that exists"
            )
        write_artifact(report_file, os.path.abspath(path), name)
        return
    global _warned_artifact
    if not _warned_artifact:
        _warned_artifact = True
        warnings.warn(
            "hpo.log_artifact() called outside a trial; nothing recorded", UserWarning, stacklevel=2
        )


def should_stop() -> bool:
    """True once the sweep has asked the current trial to stop early.

    Inside a trial this is ``trial.should_stop()``. In a program started as a command objective
    it is True once hpo has created the file named by ``$HPO_STOP_FILE``. Anywhere else False.
    """
    trial = _current.get()
    if trial is not None:
        return trial.should_stop()
    path = os.environ.get(STOP_FILE_ENV)
    return bool(path and os.path.exists(path))
