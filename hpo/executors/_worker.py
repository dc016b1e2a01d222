"""The process side of the local executor: one loop per worker process.

The driver and a worker talk over one duplex pipe in small pickled tuples (protocol 5):

- driver -> worker: ``(number, params, seed, budget, timeout)`` for a trial, ``None`` to exit
- worker -> driver: the tuples built by the ``TAG_*`` constants below

Everything here runs in the worker; the driver imports only the tags.
"""

from __future__ import annotations

import enum
import os
import pickle
import signal
import threading
import traceback
from multiprocessing.connection import Connection

__all__ = ["Tag", "worker_main"]


class Tag(enum.IntEnum):
    """First item of each message a worker sends."""

    READY = 0  # (READY,): the objective is loaded, tasks may come
    REPORT = 1  # (REPORT, number, step, metrics, time)
    DONE = 2  # (DONE, number, state value, started_at, ended_at, metrics, error, traceback)
    CHILD = 3  # (CHILD, pgid): a command child started in its own process group
    BROKEN = 4  # (BROKEN, reason, traceback): the objective could not be loaded here


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
        f = run_trial(objective, TrialTask(*message), emit)
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
