"""Run trials in worker processes on this machine: isolation, timeouts, crash containment.

Each worker is a persistent process (``spawn`` by default) in a session of its own, holding the
objective it was sent once at start. The driver sends one small message per trial and receives
the worker's reports and outcome over the same pipe; ``poll`` sleeps in
``multiprocessing.connection.wait`` on the pipes and process sentinels, woken by the first
message, a worker's death or the nearest trial deadline.

A trial that crashes its worker (``os._exit``, a segfault, an external ``kill -9``) or outlives
its timeout (the driver kills the worker's process group) comes back as a failed or timed-out
``Finished``; the worker is replaced by a fresh one, started without waiting for it.

``stop(number)`` asks a running trial to stop early: a message to its worker, whose reader
thread sets the flag that ``Trial.should_stop()`` (and a command's stop file) reflects.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import time
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkContext, ForkServerContext, SpawnContext
from typing import Any, Literal

import cloudpickle

from hpo._errors import HPOError, ObjectiveError
from hpo.executors._base import Event, Executor, Finished, Report, TrialTask
from hpo.executors._worker import Tag, worker_main
from trackers._artifacts import ArtifactRef
from trackers._states import TrialState

__all__ = ["LocalExecutor"]

_READY, _REPORT, _DONE, _CHILD, _BROKEN = (t.value for t in Tag)
_STATES = {s.value: s for s in TrialState}
_FAILED = TrialState.FAILED
# Extra time given to an objective that enforces its timeout itself (a command) before the
# driver kills its worker: the objective's own kill is cleaner and keeps the worker.
_SELF_TIMEOUT_GRACE_S = 2.0
_SHUTDOWN_JOIN_S = 2.0

StartMethod = Literal["spawn", "forkserver", "fork"]


def _get_context(method: StartMethod) -> SpawnContext | ForkServerContext | ForkContext:
    # One call per literal: get_context's typed overloads give a union of them BaseContext,
    # which declares no Process.
    if method == "fork":
        return multiprocessing.get_context("fork")
    if method == "forkserver":
        return multiprocessing.get_context("forkserver")
    if method == "spawn":
        return multiprocessing.get_context("spawn")
    raise ValueError(f"start_method must be 'spawn', 'forkserver' or 'fork', not {method!r}")


class _Worker:
    __slots__ = ("child_pgid", "conn", "deadline", "process", "ready", "since", "task")

    def __init__(self, process: Any, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.ready = False
        self.task: TrialTask | None = None
        self.since = 0.0  # time.time() the task was sent
        self.deadline: float | None = None  # time.monotonic()
        self.child_pgid: int | None = None


def _death_reason(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"worker process killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"worker process killed by signal {-exitcode}"
    return f"worker process exited with status {exitcode}"


def _killpg(pgid: int | None) -> None:
    if pgid is None:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


class LocalExecutor(Executor):
    """``workers`` persistent processes, each running one trial at a time.

    The objective must pickle (cloudpickle): it is sent to every worker once, at ``start``,
    which waits until all workers have loaded it. A worker that cannot load it makes ``start``
    raise ``ObjectiveError``.
    """

    def __init__(
        self,
        workers: int = 1,
        start_method: StartMethod = "spawn",
        *,
        ready_timeout: float = 120.0,
    ) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        self.capacity = workers
        self._context = _get_context(start_method)
        self._ready_timeout = ready_timeout
        self._payload: bytes | None = None
        self._grace = 0.0
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._owner: dict[Any, _Worker] = {}  # conn or sentinel -> its worker
        self._closed = False

    # -- life cycle --------------------------------------------------------------------------

    def start(self, objective: Any) -> None:
        try:
            self._payload = cloudpickle.dumps(objective)
        except Exception as exc:
            raise ObjectiveError(
                f"the objective cannot be sent to worker processes: {type(exc).__name__}: {exc}"
            ) from None
        self._grace = _SELF_TIMEOUT_GRACE_S if getattr(objective, "handles_timeout", False) else 0.0
        # all spawned before any is awaited: start-up costs one process start, not N
        starting = [self._spawn() for _ in range(self.capacity)]
        try:
            self._await_ready(starting)
        except BaseException:
            self.shutdown(kill=True)
            raise

    def _spawn(self) -> _Worker:
        parent, child = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=worker_main, args=(child, self._payload), name="hpo-worker", daemon=True
        )
        process.start()
        child.close()  # the worker holds the only other end: its death reads as EOF here
        worker = _Worker(process, parent)
        self._workers.append(worker)
        self._idle.append(worker)
        self._owner[parent] = worker
        self._owner[process.sentinel] = worker
        return worker

    def _await_ready(self, starting: list[_Worker]) -> None:
        deadline = time.monotonic() + self._ready_timeout
        waiting = {w.conn: w for w in starting}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HPOError(f"worker processes did not start within {self._ready_timeout} s")
            for conn in wait(list(waiting), left):
                # wait() returns some of the connections it was given; typeshed types its result
                # as any waitable (socket, int), which waiting is not keyed by.
                worker = waiting.pop(conn)  # type: ignore[call-overload]
                try:
                    message = pickle.loads(worker.conn.recv_bytes())
                except (EOFError, OSError):
                    worker.process.join(1.0)
                    raise HPOError(
                        f"a {_death_reason(worker.process.exitcode)} while starting (its "
                        "error is printed above; a script that starts a sweep must do so "
                        "under 'if __name__ == \"__main__\":')"
                    ) from None
                if message[0] == _BROKEN:
                    raise ObjectiveError(
                        f"the objective could not be loaded in a worker process: {message[1]}\n"
                        f"{message[2]}"
                    )
                worker.ready = True

    def shutdown(self, *, kill: bool = False) -> list[int]:
        self._closed = True
        unfinished = [w.task.number for w in self._busy if w.task is not None]
        if not kill:
            for worker in self._workers:
                with contextlib.suppress(OSError):
                    worker.conn.send_bytes(pickle.dumps(None))
            deadline = time.monotonic() + _SHUTDOWN_JOIN_S
            for worker in self._workers:
                worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            if worker.process.exitcode is None:
                self._kill(worker)
            else:  # exited: kill what it may have left behind, then reap
                _killpg(worker.child_pgid)
            worker.process.join()
            worker.conn.close()
        self._workers.clear()
        self._idle.clear()
        self._busy.clear()
        self._owner.clear()
        return unfinished

    def _kill(self, worker: _Worker) -> None:
        """Kill a worker's process group and its command child's, then reap the worker."""
        try:  # learn of a command child the worker started a moment ago
            while worker.conn.poll():
                message = pickle.loads(worker.conn.recv_bytes())
                if message[0] == _CHILD:
                    worker.child_pgid = message[1]
        except (EOFError, OSError):
            pass
        pid = worker.process.pid
        try:
            os.killpg(pid, signal.SIGKILL)  # the worker did setsid: its pid is its group
        except (ProcessLookupError, PermissionError):
            worker.process.kill()  # not yet in its own session
        _killpg(worker.child_pgid)
        worker.process.join()

    def _retire(self, worker: _Worker) -> None:
        """Forget a dead worker and start its replacement (without waiting for it)."""
        self._workers.remove(worker)
        if worker in self._busy:
            self._busy.remove(worker)
        if worker in self._idle:
            self._idle.remove(worker)
        self._owner.pop(worker.conn, None)
        self._owner.pop(worker.process.sentinel, None)
        worker.conn.close()
        if not self._closed:
            self._spawn()

    # -- trials ------------------------------------------------------------------------------

    def submit(self, task: TrialTask) -> None:
        if not self._idle:
            raise RuntimeError("LocalExecutor.submit() called with no free slot")
        params = task.params if type(task.params) is dict else dict(task.params)
        # TrialTask's fields in order: the worker rebuilds it with TrialTask(*message)
        fields = (task.number, params, task.seed, task.budget, task.timeout, task.memory_limit)
        data = pickle.dumps((*fields, task.checkpoint_dir, task.artifact_dir), 5)
        worker = self._idle.pop()
        try:
            worker.conn.send_bytes(data)
        except OSError:  # it died while idle: the trial goes to its replacement
            self._kill(worker)
            self._retire(worker)
            worker = self._idle.pop()
            worker.conn.send_bytes(data)
        worker.task = task
        worker.since = time.time()
        worker.deadline = None
        if task.timeout is not None and worker.ready:
            worker.deadline = time.monotonic() + task.timeout + self._grace
        self._busy.append(worker)

    def stop(self, number: int) -> None:
        """Ask running trial ``number`` to stop early: a message to the worker running it,
        whose reader thread sets the trial's stop flag. Ignored when no worker runs it."""
        for worker in self._busy:
            if worker.task is not None and worker.task.number == number:
                # a bare int is a stop request in the worker's protocol (see _worker.py)
                with contextlib.suppress(OSError):  # it died: poll() reports that
                    worker.conn.send_bytes(pickle.dumps(int(number), 5))
                return

    def running(self) -> int:
        return len(self._busy)

    def free_slots(self) -> int:
        return len(self._idle)

    def poll(self, timeout: float | None = None) -> list[Event]:
        if not self._busy:
            return []
        events: list[Event] = []
        # Fast path: a finished trial's message is usually waiting already; skip the wait.
        for worker in [w for w in self._busy if w.conn.poll()]:
            self._receive(worker, events)
        if not events:
            limit = timeout
            deadlines = [w.deadline for w in self._busy if w.deadline is not None]
            if deadlines:
                until = max(0.0, min(deadlines) - time.monotonic())
                limit = until if limit is None else min(limit, until)
            for obj in wait(list(self._owner), limit):
                owner = self._owner.get(obj)
                if owner is not None and owner in self._workers:
                    self._receive(owner, events, died=obj == owner.process.sentinel)
        if any(w.deadline is not None for w in self._busy):
            self._expire(events)
        return events

    def _receive(self, worker: _Worker, events: list[Event], died: bool = False) -> None:
        """Take every message waiting from ``worker``; then handle its death if it died (its
        sentinel fired, or its pipe reads EOF)."""
        conn = worker.conn
        try:
            while conn.poll():
                message = pickle.loads(conn.recv_bytes())
                tag = message[0]
                if tag == _DONE:
                    _, number, state, started, ended, metrics, error, tb = message
                    events.append(
                        Finished(number, _STATES[state], started, ended, metrics, error, tb)
                    )
                    self._free(worker)
                elif tag == _REPORT:
                    refs = tuple(ArtifactRef(*a) for a in message[5])
                    events.append(Report(message[1], message[2], message[3], message[4], refs))
                elif tag == _CHILD:
                    worker.child_pgid = message[1]
                elif tag == _READY:
                    worker.ready = True
                    task = worker.task
                    if task is not None and task.timeout is not None:
                        worker.deadline = time.monotonic() + task.timeout + self._grace
                elif tag == _BROKEN:  # a replacement could not load the objective
                    self._fail(
                        worker,
                        events,
                        f"a new worker could not load the objective: {message[1]}",
                        message[2],
                    )
                    return
        except (EOFError, OSError):
            died = True
        if died:
            self._fail(worker, events, None, None)

    def _free(self, worker: _Worker) -> None:
        worker.task = None
        worker.deadline = None
        worker.child_pgid = None
        self._busy.remove(worker)
        self._idle.append(worker)

    def _fail(
        self, worker: _Worker, events: list[Event], reason: str | None, tb: str | None
    ) -> None:
        """The worker is dead or useless: fail its trial, reap it, replace it."""
        self._kill(worker)  # its group may hold leftovers even when it exited by itself
        task = worker.task
        if task is not None:
            reason = reason or _death_reason(worker.process.exitcode)
            events.append(Finished(task.number, _FAILED, worker.since, time.time(), {}, reason, tb))
        self._retire(worker)

    def _expire(self, events: list[Event]) -> None:
        now = time.monotonic()
        for worker in [w for w in self._busy if w.deadline is not None and w.deadline <= now]:
            self._receive(worker, events)  # it may have finished just now
            task = worker.task
            # (a deadline is set only for a task with a timeout)
            if task is None or task.timeout is None or worker not in self._workers:
                continue
            self._kill(worker)
            reason = f"trial exceeded its timeout of {float(task.timeout)} s"
            events.append(
                Finished(task.number, TrialState.TIMED_OUT, worker.since, time.time(), {}, reason)
            )
            self._retire(worker)
