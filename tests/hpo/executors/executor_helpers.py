"""Helpers for the executor tests: run a trial to its end, and check processes are gone."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from hpo.executors._base import Event, Executor, Finished, Report, TrialTask

# Generous: only a guard against a hung test, never an assertion on speed.
LIMIT_S = 60.0


def run_until_finished(executor: Executor, task: TrialTask) -> tuple[list[Report], Finished]:
    """Submit ``task`` and poll until its ``Finished`` arrives; return its reports too."""
    executor.submit(task)
    return wait_finished(executor, task.number)


def wait_finished(executor: Executor, number: int) -> tuple[list[Report], Finished]:
    events: list[Event] = []
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        events += executor.poll(1.0)
        done = [e for e in events if isinstance(e, Finished) and e.number == number]
        if done:
            reports = [e for e in events if isinstance(e, Report) and e.number == number]
            return reports, done[0]
    pytest.fail(f"trial {number} did not finish")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie is dead: it only awaits its parent's wait)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def gone(pid: int) -> bool:
    """Wait (bounded) for ``pid`` to die; True once it has."""
    deadline = time.monotonic() + 10.0
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def read_pids(path: Path) -> list[int]:
    """Wait for a command to write its pids to ``path`` and return them."""
    deadline = time.monotonic() + LIMIT_S
    while time.monotonic() < deadline:
        if path.exists():
            text = path.read_text().split()
            if len(text) == 2:
                return [int(p) for p in text]
        time.sleep(0.01)
    pytest.fail(f"no pids written to {path}")
