"""The process side of the local executor: one loop per worker process.

The driver and a worker talk over one duplex pipe in small pickled tuples (protocol 5):

- driver -> worker: ``(number, params, seed, budget, timeout, memory_limit)`` for a trial,
  ``None`` to exit
- worker -> driver: the tuples built by the ``TAG_*`` constants below

Everything here runs in the worker; the driver imports only the tags.
"""

from __future__ import annotations

import enum
import os
import pickle
import resource
import signal
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from multiprocessing.connection import Connection

__all__ = ["Tag", "worker_main"]


class Tag(enum.IntEnum):
    """First item of each message a worker sends."""

    READY = 0  # (READY,): the objective is loaded, tasks may come
    REPORT = 1  # (REPORT, number, step, metrics, time)
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


def _mb(nbytes: int) -> str:
    return f"{nbytes / 2**20:.0f} MB"


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
        from hpo.executors._base import Report, TrialTask
        from hpo.executors._inline import run_trial
    except BaseException as exc:
        send((Tag.BROKEN.value, f"{type(exc).__name__}: {exc}", traceback.format_exc()))
        return

    def emit(report: Report) -> None:
        send((Tag.REPORT.value, report.number, report.step, report.metrics, report.time))

    set_child_hook(lambda pgid: send((Tag.CHILD.value, pgid)))
    send((Tag.READY.value,))
    done = Tag.DONE.value
    while True:
        try:
            message = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):  # the driver is gone: nobody to work for
            return
        if message is None:
            return
        task = TrialTask(*message)
        if task.memory_limit is None:
            f = run_trial(objective, task, emit)
        else:
            with memory_limit(task.memory_limit):
                f = run_trial(objective, task, emit)
            if f.error is not None and f.error.startswith("MemoryError"):
                limit = _mb(task.memory_limit)
                f = replace(f, error=f"trial exceeded its memory limit of {limit} ({f.error})")
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
