"""Run trials on a Ray cluster: an existing one (``address``) or a local instance.

Shape: ``max_concurrent`` long-lived actors (like Ray Tune's ``reuse_actors``, no process start
per trial), each holding the objective, sent once. ``submit`` is one actor call; ``poll`` waits
in one ``ray.wait`` on the running trials' results, the report mailbox's outstanding ``take``
and the readiness of actors still starting, bounded by the nearest trial deadline -- it sleeps,
never spins. The driver stays the store's only writer: actors send results and reports back,
and write nothing.

What can go wrong, and what it becomes:

- the objective raises, returns garbage, calls ``sys.exit``: ``run_trial`` inside the actor turns
  it into a failed ``Finished``, and the actor stays;
- the actor's process or its node dies (``kill -9``, OOM killer, ``os._exit``, a lost node):
  ``Finished(FAILED, error="ray worker died: ...")`` and a fresh actor takes its place (the
  sweep's ``retries`` rerun the trial, as for any failure);
- a trial outlives its timeout: the driver kills the actor (and a command's process group
  first), records ``TIMED_OUT`` and starts a fresh actor.
"""

from __future__ import annotations

import contextlib
import copy
import math
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cloudpickle
import ray
import ray.exceptions

from hpo._errors import HPOError, ObjectiveError
from hpo.executors._base import Event, Executor, Finished, Report, TrialTask
from hpo.executors._ray_worker import Mailbox, TrialActor
from trackers._artifacts import ArtifactRef
from trackers._states import TrialState

__all__ = ["RayExecutor", "ResourcesPerTrial"]

_STATES = {s.value: s for s in TrialState}
_FAILED = TrialState.FAILED
# as in the local executor: a command enforces its own timeout, more cleanly than a kill
_SELF_TIMEOUT_GRACE_S = 2.0
# how long a finished trial's result may wait for its last reports before it is let through
_REPORTS_WAIT_S = 10.0
_KILL_CHILDREN_S = 2.0
_RemoteActor = ray.remote(TrialActor)
_RemoteMailbox = ray.remote(Mailbox)


@dataclass(frozen=True)
class ResourcesPerTrial:
    """What one trial holds on the cluster: Ray's ``num_cpus``, ``num_gpus`` (fractions
    allowed) and custom ``resources`` of the actor that runs it."""

    cpus: float = 1.0
    gpus: float = 0.0
    custom: Mapping[str, float] = field(default_factory=dict)

    def actor_options(self) -> dict[str, Any]:
        options: dict[str, Any] = {"num_cpus": self.cpus, "num_gpus": self.gpus}
        if self.custom:
            options["resources"] = dict(self.custom)
        return options

    def needs(self) -> dict[str, float]:
        """The request in ``ray.cluster_resources()`` terms."""
        need = {"CPU": self.cpus, "GPU": self.gpus, **self.custom}
        return {k: v for k, v in need.items() if v > 0}


class _Slot:
    """One actor and the trial it runs."""

    __slots__ = ("actor", "deadline", "pid", "ready", "ready_ref", "ref", "run_id", "since", "task")

    def __init__(self, actor: Any) -> None:
        self.actor = actor
        self.ready_ref: Any = actor.ready.remote()  # None once ready
        self.ready = False
        self.pid: int | None = None
        self.task: TrialTask | None = None
        self.ref: Any = None  # the running trial's result
        self.run_id = 0  # names the running trial's call, for a stop request to find it
        self.since = 0.0  # time.time() the trial was submitted
        self.deadline: float | None = None  # time.monotonic(); set once the actor is ready


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line[:300]
    return type(exc).__name__


def _portable(objective: Any) -> Any:
    """``objective``, made to unpickle in a Ray worker.

    A function decorated with ``@hpo.objective`` pickles by reference (``__main__.train``).
    The local executor's spawned workers re-import the main script, so that resolves there;
    a Ray worker's ``__main__`` is Ray's own, so a script's objective travels by value instead
    (cloudpickle of the undecorated function, as Ray does for any ``__main__`` function).
    """
    from hpo._objective import CallableObjective

    func = getattr(objective, "func", None)
    inner = getattr(func, "func", None)
    if (
        isinstance(objective, CallableObjective)
        and getattr(func, "__module__", None) == "__main__"
        and callable(inner)
        and getattr(func, "__wrapped__", None) is inner
    ):
        objective = copy.copy(objective)
        objective.func = inner
    return objective


class RayExecutor(Executor):
    """Trials as calls on ``max_concurrent`` long-lived Ray actors.

    ``address``: ``None`` starts a local Ray instance for the sweep (stopped at ``shutdown``);
    anything else (``auto``, ``HOST:PORT``, ``ray://...``) connects to that cluster, which
    ``shutdown`` leaves running. When Ray is already initialised in this process it is used
    as it is, and left so. ``max_concurrent=None`` means as many trials as the cluster's CPUs
    (and GPUs) can hold at once with ``resources``. ``runtime_env`` is passed to the actors
    (e.g. ``working_dir`` to ship code to remote nodes).
    """

    def __init__(
        self,
        *,
        address: str | None = None,
        resources: ResourcesPerTrial | None = None,
        max_concurrent: int | None = None,
        runtime_env: Mapping[str, Any] | None = None,
        ready_timeout: float = 120.0,
    ) -> None:
        self.address = address
        self.resources = resources or ResourcesPerTrial()
        self.capacity = max_concurrent or 1  # the real figure is known once connected
        self._max_concurrent = max_concurrent
        self._runtime_env = dict(runtime_env) if runtime_env else None
        self._ready_timeout = ready_timeout
        self._owns_ray = False
        self._grace = 0.0
        self._payload: bytes | None = None
        self._mailbox: Any = None
        self._take: Any = None  # the mailbox's outstanding take()
        self._slots: list[_Slot] = []
        self._idle: list[_Slot] = []
        self._busy: dict[Any, _Slot] = {}  # result ref -> slot
        self._starting: dict[Any, _Slot] = {}  # ready ref -> slot
        self._sent: dict[int, int] = {}  # trial number -> reports it sent (result in hand)
        self._got: dict[int, int] = {}  # trial number -> reports received, in order
        self._early: dict[tuple[int, int], tuple[Any, ...]] = {}  # (number, seq) -> report
        self._held: list[tuple[_Slot, Finished]] = []  # results waiting for their reports
        self._runs = 0  # run calls made: each gets the next number as its id
        self._closed = False

    # -- life cycle --------------------------------------------------------------------------

    def start(self, objective: Any) -> None:
        try:
            self._payload = cloudpickle.dumps(_portable(objective))
        except Exception as exc:
            raise ObjectiveError(
                f"the objective cannot be sent to Ray workers: {type(exc).__name__}: {exc}"
            ) from None
        self._grace = _SELF_TIMEOUT_GRACE_S if getattr(objective, "handles_timeout", False) else 0.0
        try:
            self._connect()
            self.capacity = self._decide_capacity()
            self._mailbox = _RemoteMailbox.options(num_cpus=0, **self._near_driver()).remote()
            self._take = self._mailbox.take.remote()
            for _ in range(self.capacity):
                self._spawn()
            self._await_ready()
        except BaseException:
            self.shutdown(kill=True)
            raise

    def _connect(self) -> None:
        if ray.is_initialized():
            return  # the caller's Ray, with the caller's settings: not ours to stop
        options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if self.address is None:
            # "local": a new instance even when a cluster runs on this machine. Enough
            # logical CPUs (and custom resources) for the trials asked for: a local instance
            # is this machine, where the local executor would run as many processes.
            want = self.resources.cpus * (self._max_concurrent or 0)
            options["address"] = "local"
            options["num_cpus"] = max(os.cpu_count() or 1, math.ceil(want))
            if self.resources.custom:
                n = self._max_concurrent or options["num_cpus"]
                options["resources"] = {k: v * n for k, v in self.resources.custom.items()}
        else:
            options["address"] = self.address
        try:
            ray.init(**options)
        except Exception as exc:
            where = "start a local Ray instance" if self.address is None else (
                f"connect to the Ray cluster at {self.address!r}"
            )  # fmt: skip
            raise HPOError(f"could not {where}: {_first_line(exc)}") from None
        self._owns_ray = True

    def _decide_capacity(self) -> int:
        total = ray.cluster_resources()
        need = self.resources.needs()
        short = {k: v for k, v in need.items() if total.get(k, 0.0) + 1e-9 < v}
        if short:
            have = ", ".join(f"{k}={total.get(k, 0.0):g}" for k in short)
            raise HPOError(
                f"the Ray cluster cannot run even one trial: each needs "
                f"{', '.join(f'{k}={v:g}' for k, v in need.items())}, the cluster has {have}"
            )
        if self._max_concurrent is not None:
            return self._max_concurrent
        fits = [math.floor(total.get(k, 0.0) / v + 1e-9) for k, v in need.items()]
        return max(1, min(fits, default=int(total.get("CPU", 1))))

    def _near_driver(self) -> dict[str, Any]:
        # the mailbox is the driver's: next to it, reports travel the shortest way
        try:
            from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

            node = ray.get_runtime_context().get_node_id()
            return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)}
        except Exception:  # e.g. Ray client mode: wherever Ray puts it
            return {}

    def _spawn(self) -> _Slot:
        options = self.resources.actor_options()
        if self._runtime_env is not None:
            options["runtime_env"] = self._runtime_env
        actor = _RemoteActor.options(max_concurrency=2, max_restarts=0, **options).remote(
            self._payload, list(sys.path), self._mailbox
        )
        slot = _Slot(actor)
        self._slots.append(slot)
        self._idle.append(slot)
        self._starting[slot.ready_ref] = slot
        return slot

    def _await_ready(self) -> None:
        """Wait for the first actors: all of them, or at least one by ``ready_timeout`` (the
        rest join when the cluster has room; calls sent to them wait in Ray's queue)."""
        deadline = time.monotonic() + self._ready_timeout
        deaths = 0
        while self._starting:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            done, _ = ray.wait(list(self._starting), num_returns=1, timeout=left)
            for ref in done:
                slot = self._starting[ref]
                try:
                    broken, pid = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    # e.g. placed on a node that had just died, before the cluster knew:
                    # another try, elsewhere; but not forever
                    deaths += 1
                    if deaths > 2 * self.capacity + 2:
                        reason = _first_line(exc)
                        raise HPOError(f"Ray workers keep dying while starting: {reason}") from None
                    self._retire(slot)
                    continue
                del self._starting[ref]
                if broken is not None:
                    reason, _, tb = broken.partition("\n")
                    raise ObjectiveError(
                        f"the objective could not be loaded in a Ray worker: {reason}\n{tb}"
                    )
                slot.ready, slot.pid, slot.ready_ref = True, pid, None
        if not any(s.ready for s in self._slots):
            need = ", ".join(f"{k}={v:g}" for k, v in self.resources.needs().items())
            raise HPOError(
                f"no Ray worker started within {self._ready_timeout:g} s (each needs {need}; "
                f"the cluster has {ray.available_resources()} free)"
            )

    def shutdown(self, *, kill: bool = False) -> list[int]:
        """Stop every actor (and a running command's process group) and the mailbox; stop
        the local Ray instance if this executor started it, or else only disconnect."""
        self._closed = True
        unfinished = [s.task.number for s in self._slots if s.task is not None]
        unfinished += [f.number for _, f in self._held if f.number not in unfinished]
        if ray.is_initialized():
            busy = [s for s in self._slots if s.task is not None]
            if busy:  # their command children live in sessions of their own: end them first
                with contextlib.suppress(Exception):
                    ray.wait(
                        [s.actor.kill_children.remote() for s in busy],
                        num_returns=len(busy),
                        timeout=_KILL_CHILDREN_S,
                    )
            for slot in self._slots:
                with contextlib.suppress(Exception):
                    ray.kill(slot.actor, no_restart=True)
            if self._mailbox is not None:
                with contextlib.suppress(Exception):
                    ray.kill(self._mailbox, no_restart=True)
            if self._owns_ray:
                ray.shutdown()
        self._owns_ray = False
        self._slots.clear()
        self._idle.clear()
        self._busy.clear()
        self._starting.clear()
        self._held.clear()
        self._mailbox = self._take = None
        return unfinished

    def _retire(self, slot: _Slot) -> None:
        """Forget a dead (or killed) actor and start its replacement, without waiting."""
        with contextlib.suppress(Exception):
            ray.kill(slot.actor, no_restart=True)
        self._slots.remove(slot)
        if slot in self._idle:
            self._idle.remove(slot)
        if slot.ready_ref is not None:
            self._starting.pop(slot.ready_ref, None)
        if not self._closed:
            self._spawn()

    # -- trials ------------------------------------------------------------------------------

    def submit(self, task: TrialTask) -> None:
        if not self._idle:
            raise RuntimeError("RayExecutor.submit() called with no free slot")
        slot = self._idle.pop()
        slot.since = time.time()
        self._send(slot, task)

    def _send(self, slot: _Slot, task: TrialTask) -> None:
        params = task.params if type(task.params) is dict else dict(task.params)
        self._runs += 1
        slot.task, slot.run_id = task, self._runs
        slot.ref = slot.actor.run.remote(
            slot.run_id, task.number, params, task.seed, task.budget, task.timeout,
            task.checkpoint_dir, task.artifact_dir,
        )  # fmt: skip
        slot.deadline = None
        if task.timeout is not None and slot.ready:
            slot.deadline = time.monotonic() + task.timeout + self._grace
        self._busy[slot.ref] = slot
        self._got.setdefault(task.number, 0)

    def running(self) -> int:
        return len(self._busy) + len(self._held)

    def free_slots(self) -> int:
        return len(self._idle)

    def stop(self, number: int) -> None:
        """Ask running trial ``number`` to stop early: its actor sets the trial's stop flag
        (``Trial.should_stop()``, a command's stop file). Ignored when it is not running."""
        for slot in self._busy.values():
            if slot.task is not None and slot.task.number == number:
                # by run id: a request that reaches the actor before the call it names has
                # started waits for it; one for a call that has ended is dropped
                slot.actor.stop.remote(slot.run_id)
                return

    def poll(self, timeout: float | None = None) -> list[Event]:
        if not self._busy and not self._held:
            return []
        events: list[Event] = []
        waiting = [*self._busy, self._take, *self._starting]
        limit = timeout
        deadlines = [s.deadline for s in self._busy.values() if s.deadline is not None]
        if deadlines:
            until = max(0.0, min(deadlines) - time.monotonic())
            limit = until if limit is None else min(limit, until)
        ready, rest = ray.wait(waiting, num_returns=1, timeout=limit)
        if ready and rest:  # everything else that is ready too, without waiting
            more, _ = ray.wait(rest, num_returns=len(rest), timeout=0)
            ready += more
        if ready:
            self._handle(ready, events)
        if deadlines:
            self._expire(events)
        return events

    def _handle(self, ready: list[Any], events: list[Event]) -> None:
        finished: list[Any] = []
        for ref in ready:
            if ref in self._busy:
                finished.append(ref)
            elif ref in self._starting:
                self._started(ref)
        if self._take in ready:
            self._take_reports(events, wait=0.0)
        if not finished:
            return
        try:
            results = ray.get(finished)
        except ray.exceptions.RayError:  # someone died: one at a time, to know who
            results = []
            for ref in finished:
                try:
                    results.append(ray.get(ref))
                except ray.exceptions.RayError as exc:
                    results.append(exc)
        for ref, result in zip(finished, results):
            slot = self._busy.pop(ref)
            if isinstance(result, BaseException):
                self._died(slot, result, events)
                continue
            number, state, started, ended, metrics, error, tb, sent = result
            f = Finished(number, _STATES[state], started, ended, metrics, error, tb)
            self._sent[number] = sent
            self._held.append((slot, f))
        if any(self._sent[f.number] > self._got.get(f.number, 0) for _, f in self._held):
            # its reports were in the mailbox before the result left the actor: they come
            # with the next take, at once
            self._take_reports(events, wait=_REPORTS_WAIT_S)
        self._release(events)

    def _release(self, events: list[Event]) -> None:
        """Let the held results through, after their reports."""
        held, self._held = self._held, []
        for slot, f in held:
            self._sent.pop(f.number, None)
            self._forget(f.number)
            slot.task = slot.ref = None
            slot.deadline = None
            self._idle.append(slot)
            events.append(f)

    def _take_reports(self, events: list[Event], wait: float) -> None:
        """Turn what the mailbox holds into ``Report`` events; ``wait`` bounds the wait for
        reports still owed to held results."""
        deadline = time.monotonic() + wait
        while True:
            done, _ = ray.wait([self._take], timeout=max(0.0, deadline - time.monotonic()))
            if not done:
                return
            try:
                items = ray.get(self._take)
            except ray.exceptions.RayError:
                items = []  # the mailbox died: reports are lost, results still count
                self._mailbox = _RemoteMailbox.options(num_cpus=0, **self._near_driver()).remote()
            self._take = self._mailbox.take.remote()
            got, early = self._got, self._early
            for item in items:
                number, seq = item[0], item[1]
                if number not in got:  # a trial that ended already (killed, timed out): dropped
                    continue
                if seq != got[number]:  # overtook an earlier report: wait for that one
                    early[(number, seq)] = item
                    continue
                while item is not None:
                    got[number] += 1
                    refs = tuple(ArtifactRef(*a) for a in item[5])
                    events.append(Report(number, item[2], item[3], item[4], refs))
                    item = early.pop((number, got[number]), None)
            if all(self._sent.get(f.number, 0) <= got.get(f.number, 0) for _, f in self._held):
                return

    def _forget(self, number: int) -> None:
        """Drop the report bookkeeping of trial ``number`` (ended, or about to run again)."""
        self._got.pop(number, None)
        if self._early:
            for key in [k for k in self._early if k[0] == number]:
                del self._early[key]

    def _started(self, ref: Any) -> None:
        slot = self._starting.pop(ref)
        slot.ready_ref = None
        try:
            _, slot.pid = ray.get(ref)  # a broken objective is reported by run() itself
        except ray.exceptions.RayError:
            # It died starting. With a trial sent to it, that trial fails through its own
            # result (and the actor is replaced then); without, replace it now.
            if slot.task is None:
                self._retire(slot)
            return
        slot.ready = True
        task = slot.task
        if task is not None and task.timeout is not None:
            slot.deadline = time.monotonic() + task.timeout + self._grace

    def _died(self, slot: _Slot, exc: BaseException, events: list[Event]) -> None:
        """The actor under a trial died: fail the trial and replace the actor."""
        task = slot.task
        self._retire(slot)
        if task is None:
            return
        self._forget(task.number)
        reason = f"ray worker died: {_first_line(exc)}"
        events.append(Finished(task.number, _FAILED, slot.since, time.time(), {}, reason))

    def _expire(self, events: list[Event]) -> None:
        now = time.monotonic()
        late = [s for s in self._busy.values() if s.deadline is not None and s.deadline <= now]
        for slot in late:
            ref, task = slot.ref, slot.task
            if task is None or task.timeout is None:  # a deadline is set only with a timeout
                continue
            done, _ = ray.wait([ref], timeout=0)
            if done:  # it finished just now after all
                self._handle(done, events)
                continue
            with contextlib.suppress(Exception):
                ray.get(slot.actor.kill_children.remote(), timeout=_KILL_CHILDREN_S)
            del self._busy[ref]
            self._forget(task.number)
            reason = f"trial exceeded its timeout of {float(task.timeout)} s"
            events.append(
                Finished(task.number, TrialState.TIMED_OUT, slot.since, time.time(), {}, reason)
            )
            slot.task = None
            self._retire(slot)
