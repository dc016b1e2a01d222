"""The Ray side of the ray executor: a long-lived trial actor and the report mailbox.

Imported only by :mod:`hpo.executors._ray`, after Ray itself: ``import hpo`` never imports Ray.

- :class:`TrialActor` holds the objective (sent once, as cloudpickle bytes) and runs one trial
  per ``run`` call with the same :func:`~hpo.executors._inline.run_trial` as every other
  executor, so a trial's outcome means the same wherever it ran. It is a threaded actor
  (``max_concurrency=2``): while ``run`` holds one thread, ``stop`` and ``kill_children`` can
  reach the running trial from the other. ``stop`` sets the stop registry of ``hpo._trial``,
  as a local worker's reader thread does, so ``Trial.should_stop()`` and a command's stop
  file behave the same on every executor.
- :class:`Mailbox` carries intermediate reports from actors to the driver while trials run.
  Actors ``put`` into it (fire and forget); the driver keeps one ``take`` call outstanding and
  waits on it together with the trials' results, so a report wakes the driver at once and a
  trial that reports nothing costs no extra call at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import traceback
from typing import Any

import ray

# A trial's result travels back as a plain tuple (cheaper to serialise than a dataclass):
# (number, state value, started_at, ended_at, metrics, error, traceback, reports sent)
Result = tuple[int, str, float, float, dict[str, float], "str | None", "str | None", int]

# How long a finished trial waits for its reports to reach the mailbox before it returns.
_REPORTS_FLUSH_S = 30.0


class Mailbox:
    """Reports from every actor, in one place, for the driver to take in batches."""

    def __init__(self) -> None:
        self._items: list[tuple[Any, ...]] = []
        self._event = asyncio.Event()

    async def put(self, item: tuple[Any, ...]) -> None:
        self._items.append(item)
        self._event.set()

    async def take(self) -> list[tuple[Any, ...]]:
        """Everything put so far, waiting until there is something."""
        await self._event.wait()
        self._event.clear()
        items, self._items = self._items, []
        return items


class TrialActor:
    """Runs trials of one objective, one at a time, for as long as the sweep lasts."""

    def __init__(self, payload: bytes, sys_path: list[str], mailbox: Any) -> None:
        # The driver's import path first, as multiprocessing's spawn does for the local
        # executor: an objective pickled by reference (module:function) must import here.
        # Folders this node lacks are skipped; a remote cluster ships code with runtime_env.
        for entry in reversed(sys_path):
            if entry not in sys.path and (entry == "" or os.path.isdir(entry)):
                sys.path.insert(0, entry)
        self._mailbox = mailbox
        # Stop requests name a run call, not a trial number: a request may overtake the call
        # it names (threaded actor), and must not reach a later run of the same trial.
        self._lock = threading.Lock()
        self._number: int | None = None  # the running trial
        self._run_id: int | None = None  # its call
        self._last_run_id = 0  # the latest call that has started; ids only grow
        self._early_stops: set[int] = set()  # calls asked to stop before they started
        self._child_pgid: int | None = None
        self._broken: str | None = None
        try:
            import cloudpickle

            from hpo._command import set_child_hook
            from hpo._trial import clear_stop, request_stop
            from hpo.executors._base import TrialTask
            from hpo.executors._inline import run_trial

            self._objective = cloudpickle.loads(payload)
        except BaseException as exc:  # reported by ready(): the driver raises ObjectiveError
            self._broken = f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"
            return
        self._request_stop = request_stop
        self._clear_stop = clear_stop
        self._task_type = TrialTask
        self._run_trial = run_trial
        # A command's child runs in a session of its own, beyond this worker's reach when Ray
        # kills it: remember its group so kill_children() can end it first.
        set_child_hook(self._set_child)

    def _set_child(self, pgid: int) -> None:
        self._child_pgid = pgid

    def ready(self) -> tuple[str | None, int]:
        """``(why the objective could not be loaded or None, this worker's pid)``."""
        return self._broken, os.getpid()

    def run(
        self,
        run_id: int,
        number: int,
        params: dict[str, Any],
        seed: int,
        budget: Any,
        timeout: Any,
        checkpoint_dir: str | None,
        artifact_dir: str | None = None,
    ) -> Result:
        """Run one trial to its end; every outcome is a result, never an exception."""
        if self._broken is not None:
            reason, _, tb = self._broken.partition("\n")
            return (number, "failed", 0.0, 0.0, {}, f"the objective could not be loaded: {reason}",
                    tb, 0)  # fmt: skip
        puts: list[Any] = []
        put = self._mailbox.put.remote

        def emit(report: Any) -> None:
            # the sequence number puts reports back in order: calls to the (async) mailbox
            # may run out of order
            refs = tuple(tuple(a) for a in report.artifacts)
            item = (report.number, len(puts), report.step, dict(report.metrics), report.time, refs)
            puts.append(put(item))

        with self._lock:
            self._number, self._run_id, self._last_run_id = number, run_id, run_id
            self._child_pgid = None
            if run_id in self._early_stops:
                self._early_stops.discard(run_id)
                self._request_stop(number)
        try:
            task = self._task_type(
                number,
                params,
                seed,
                budget,
                timeout,
                checkpoint_dir=checkpoint_dir,
                artifact_dir=artifact_dir,
            )
            # stop requests are accepted for this call only (stop()): one made already stays
            f = self._run_trial(self._objective, task, emit, clear_stop_first=False)
        finally:
            with self._lock:
                self._number = self._run_id = None
                self._clear_stop(number)
        if puts:
            # The driver holds a trial's Finished until all its reports are in: make sure
            # they are in the mailbox before the result can be seen.
            with contextlib.suppress(Exception):
                ray.get(puts, timeout=_REPORTS_FLUSH_S)
        return (f.number, f.state.value, f.started_at, f.ended_at, dict(f.metrics), f.error,
                f.traceback, len(puts))  # fmt: skip

    def stop(self, run_id: int) -> bool:
        """Ask the trial of call ``run_id`` to stop early (``Trial.should_stop()``, a
        command's stop file). A call not yet started gets the request when it starts; False
        when the call has ended already."""
        with self._lock:
            # _run_id and _number are set and cleared together: a current run has its number.
            if run_id == self._run_id and self._number is not None:
                self._request_stop(self._number)
                return True
            if run_id > self._last_run_id:
                self._early_stops.add(run_id)
                return True
            return False

    def kill_children(self) -> None:
        """Kill the running command's process group (before the driver kills this actor)."""
        pgid = self._child_pgid
        if pgid is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pgid, signal.SIGKILL)
