"""Run trials in the driver's own process: the fastest executor, and the easiest to debug.

:func:`run_trial` -- seed, call the objective, turn whatever happens into a ``Finished`` -- is
shared with the local executor's worker processes, so a trial behaves the same wherever it runs.

Limits of running in-process: a timeout cannot be enforced on Python code (a command objective
enforces its own), and an objective that crashes the interpreter (``os._exit``, a segfault)
takes the sweep with it. Use the local executor for isolation.
"""

from __future__ import annotations

import random
import sys
import time
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any

from hpo._objective import Objective, TrialFailure, TrialTimeout
from hpo._trial import clear_stop
from hpo.executors._base import Event, Executor, Finished, Report, TrialTask
from trackers._states import TrialState

__all__ = ["InlineExecutor", "run_trial", "seed_globals"]

_COMPLETED = TrialState.COMPLETED
_FAILED = TrialState.FAILED
_TIMED_OUT = TrialState.TIMED_OUT
# frames of hpo's own code, left out of a failed trial's traceback
_OWN_FILES = frozenset(
    m.__file__ for m in (sys.modules[__name__], sys.modules[Objective.__module__]) if m.__file__
)


def seed_globals(seed: int) -> None:
    """Seed ``random`` and, if the objective uses numpy, numpy's global generator."""
    random.seed(seed)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        numpy.random.seed(seed & 0xFFFFFFFF)  # the legacy generator takes 32 bits only


def _user_traceback(exc: BaseException) -> str:
    tb: TracebackType | None = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename in _OWN_FILES:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    if not text:
        return name
    first, _, rest = text.partition("\n")
    return f"{name}: {first}" + (" ..." if rest else "")


def run_trial(
    objective: Objective,
    task: TrialTask,
    emit: Callable[[Report], None],
    *,
    clear_stop_first: bool = True,
) -> Finished:
    """Run one trial of ``objective`` here and now; every outcome becomes a ``Finished``.

    Only ``KeyboardInterrupt`` escapes: the user wants the sweep to stop, not a failed trial.
    ``clear_stop_first=False`` keeps a stop request made before the trial started: for a
    worker or actor that accepts requests only for the run they are meant for, where one that
    arrives as the trial starts must not be lost.
    """
    seed_globals(task.seed)
    if clear_stop_first:  # a request to an earlier run of this trial is not for this one
        clear_stop(task.number)
    started = time.time()
    try:
        metrics = objective.run(task, emit)
    except TrialFailure as exc:
        return Finished(task.number, _FAILED, started, time.time(), {}, exc.reason, exc.traceback)
    except TrialTimeout as exc:
        return Finished(task.number, _TIMED_OUT, started, time.time(), {}, exc.reason)
    except KeyboardInterrupt:
        raise
    except SystemExit as exc:
        code = "" if exc.code is None else repr(exc.code)
        return Finished(
            task.number, _FAILED, started, time.time(), {}, f"objective called sys.exit({code})",
            _user_traceback(exc),
        )  # fmt: skip
    except BaseException as exc:
        ended = time.time()
        return Finished(
            task.number, _FAILED, started, ended, {}, _one_line(exc), _user_traceback(exc)
        )
    finally:
        clear_stop(task.number)
    return Finished(task.number, _COMPLETED, started, time.time(), metrics)


class InlineExecutor(Executor):
    """Runs one trial at a time in the calling process, inside :meth:`poll`.

    ``submit`` only records the task; ``poll`` runs it and returns its reports and its
    ``Finished``. Timeouts of Python objectives are not enforced here (see the module doc).
    """

    capacity = 1

    def __init__(self) -> None:
        self._objective: Objective | None = None
        self._task: TrialTask | None = None
        self._reports: list[Event] = []
        self._emit = self._reports.append

    def start(self, objective: Any) -> None:
        self._objective = objective

    def submit(self, task: TrialTask) -> None:
        if self._task is not None:
            raise RuntimeError("InlineExecutor runs one trial at a time; poll() before submitting")
        if self._objective is None:
            raise RuntimeError("InlineExecutor.start(objective) must be called before submit()")
        self._task = task

    def poll(self, timeout: float | None = None) -> list[Event]:
        task = self._task
        if task is None:
            return []
        if self._objective is None:  # submit() refuses a task before start(); kept for mypy
            raise RuntimeError("InlineExecutor.start(objective) must be called before poll()")
        # With a listener, reports reach the engine while the trial runs, so it can stop it.
        emit = self.listener or self._emit
        finished = run_trial(self._objective, task, emit)
        # cleared only now: after a KeyboardInterrupt the trial still counts as running, so
        # shutdown(kill=True) reports it
        self._task = None
        if not self._reports:
            return [finished]
        events = [*self._reports, finished]
        self._reports.clear()
        return events

    def running(self) -> int:
        return 0 if self._task is None else 1

    def free_slots(self) -> int:
        return 0 if self._task is not None else 1

    def shutdown(self, *, kill: bool = False) -> list[int]:
        unfinished = [] if self._task is None else [self._task.number]
        self._task = None
        self._reports.clear()
        return unfinished
