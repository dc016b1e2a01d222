"""The process side of the local executor: one loop per worker process.

The driver and a worker talk over one duplex pipe in small pickled tuples (protocol 5):

- driver -> worker: a tuple of :class:`~hpo.executors._base.TrialTask`'s fields in order
  (``number, params, seed, budget, timeout, memory_limit, checkpoint_dir, artifact_dir``) for a
  trial; an
  ``int``, the number of the running trial, to ask it to stop early; ``None`` to exit
- worker -> driver: the tuples tagged by :class:`Tag` below

The worker's main thread runs the trial, so a reader thread takes every message off the pipe:
tasks go to the main loop through a queue, stop requests straight to the trial (the stop
registry of ``hpo._trial``, which ``Trial.should_stop()`` and a command's watch loop read).
The pipe is used from both threads at once, one receiving and the others sending (under a
lock): a socket pair carries both directions independently.

Everything here runs in the worker; the driver imports only the tags.
"""

from __future__ import annotations

import enum
import os
import pickle
import queue
import resource
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

__all__ = ["Tag", "worker_main"]


class Tag(enum.IntEnum):
    """First item of each message a worker sends."""

    READY = 0  # (READY,): the objective is loaded, tasks may come
    REPORT = 1  # (REPORT, number, step, metrics, time, artifacts as tuples)
    DONE = 2  # (DONE, number, state value, started_at, ended_at, metrics, error, traceback)
    CHILD = 3  # (CHILD, pgid): a command child started in its own process group
    BROKEN = 4  # (BROKEN, reason, traceback): the objective could not be loaded here


@contextmanager
def memory_limit(nbytes: int) -> Iterator[None]:
    """Let the trial allocate ``nbytes`` more address space than the worker holds now.

    An allocation past it fails inside the trial (MemoryError in Python, a failed malloc in
    a command it starts, which inherits the limit) instead of the machine swapping or the
    kernel's OOM killer picking a process; the worker itself lives on to run the next trial.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    with open("/proc/self/statm", encoding="ascii") as f:
        in_use = int(f.read().split()[0]) * resource.getpagesize()
    limit = in_use + nbytes
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


class _Reader:
    """The worker's ear: takes every message off the pipe while the main thread runs trials.

    A stop request is accepted only for the trial this worker holds, from the moment its task
    arrives until the main thread has finished it (:meth:`finished`): one that comes a moment
    too late, for a trial that has just ended, must not stop the next run of that number.
    """

    def __init__(self, conn: Connection) -> None:
        from hpo._trial import clear_stop, request_stop

        self._conn = conn
        self._request_stop = request_stop
        self._clear_stop = clear_stop
        self._lock = threading.Lock()
        self._held: int | None = None  # the number of the trial this worker holds
        #: task tuples for the main loop; None when the driver said so or went away
        self.tasks: queue.SimpleQueue[tuple[Any, ...] | None] = queue.SimpleQueue()

    def start(self) -> None:
        threading.Thread(target=self._run, name="hpo-worker-reader", daemon=True).start()

    def _run(self) -> None:
        try:
            self._serve()
        finally:
            # Whatever ended the reader (the driver's word, its death, or an error here, e.g.
            # a MemoryError under a trial's memory limit) ends the worker after its trial:
            # without a reader it could never get another task.
            self.tasks.put(None)

    def _serve(self) -> None:
        while True:
            try:
                message = pickle.loads(self._conn.recv_bytes())
            except (EOFError, OSError):  # the driver is gone: nobody to work for
                return
            if message is None:
                return
            if isinstance(message, int):
                with self._lock:
                    if message == self._held:
                        self._request_stop(message)
                continue
            with self._lock:
                self._held = message[0]
            self.tasks.put(message)

    def finished(self, number: int) -> None:
        """The main thread is done with trial ``number``: later stop requests are stale."""
        with self._lock:
            self._held = None
            self._clear_stop(number)


def worker_main(conn: Connection, payload: bytes) -> None:
    """Entry point of a worker process: load the objective once, then run tasks until told to
    stop or until the driver goes away."""
    # Own session first: the driver kills this process group to stop a trial, which must not
    # reach the driver, and must reach whatever the trial started.
    os.setsid()
    # Ctrl-C in the terminal is the driver's to handle; it stops workers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    lock = threading.Lock()  # objective threads may report concurrently

    def send(message: tuple[object, ...]) -> None:
        data = pickle.dumps(message, 5)
        with lock:
            conn.send_bytes(data)

    try:
        import cloudpickle

        objective = cloudpickle.loads(payload)
        # imported here, after the objective: their import cost is not paid before setsid
        from hpo._command import set_child_hook
        from hpo._memory import format_memory
        from hpo.executors._base import Report, TrialTask
        from hpo.executors._inline import run_trial
    except BaseException as exc:
        send((Tag.BROKEN.value, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return

    def emit(report: Report) -> None:
        refs = tuple(tuple(a) for a in report.artifacts)  # plain tuples: no hpo class to unpickle
        send((Tag.REPORT.value, report.number, report.step, report.metrics, report.time, refs))

    set_child_hook(lambda pgid: send((Tag.CHILD.value, pgid)))
    reader = _Reader(conn)
    reader.start()  # before READY: from then on the driver may send a task, then a stop
    send((Tag.READY.value,))
    done = Tag.DONE.value
    while True:
        message = reader.tasks.get()
        if message is None:
            return
        task = TrialTask(*message)
        # the reader accepted stop requests for this trial since its task arrived: keep them
        if task.memory_limit is None:
            f = run_trial(objective, task, emit, clear_stop_first=False)
        else:
            with memory_limit(task.memory_limit):
                f = run_trial(objective, task, emit, clear_stop_first=False)
            if f.error is not None and f.error.startswith("MemoryError"):
                limit = format_memory(task.memory_limit)
                f = replace(f, error=f"trial exceeded its memory limit of {limit} ({f.error})")
        reader.finished(task.number)  # from here a late stop request for it is ignored
        send(
            (
                done,
                f.number,
                f.state.value,
                f.started_at,
                f.ended_at,
                f.metrics,
                f.error,
                f.traceback,
            )
        )
