"""An optional per-trial memory limit on the local executor, with real allocations."""

from __future__ import annotations

import sys

import pytest

import hpo
from hpo._config import parse_memory
from hpo._objective import CommandObjective
from hpo.executors import make_executor
from hpo.executors._base import Finished, TrialTask
from trackers import TrialState


def hog(mb: int) -> float:
    block = bytearray(mb * 2**20)  # touches every page: really allocated
    return float(len(block) > 0)


@pytest.mark.parametrize(
    ("limit", "shown"),
    [("200MB", "200 MB"), ("0.25 GiB", "256 MiB"), (200, "200 MiB")],
)
def test_a_trial_past_its_limit_fails_and_the_worker_lives_on(limit: str | int, shown: str) -> None:
    result = hpo.sweep(
        hog,
        {"mb": {"values": [16, 600, 32, 900]}},
        metric="ok",
        strategy="grid",
        workers=1,
        executor="local",
        memory_limit=limit,
        track=False,
    )
    outcome = {t.params["mb"]: t for t in result.trials}
    assert outcome[16].state is TrialState.COMPLETED
    assert outcome[32].state is TrialState.COMPLETED  # ran after a blow-up, same worker
    for mb in (600, 900):
        assert outcome[mb].state is TrialState.FAILED
        # the limit as the user wrote it, or exactly and correctly labelled
        assert outcome[mb].error.startswith(f"trial exceeded its memory limit of {shown} (")
        assert "MemoryError" in outcome[mb].error


def test_a_command_inherits_the_limit() -> None:
    code = "import sys; b = bytearray(int(sys.argv[1]) * 2**20); print(1.0)"
    executor = make_executor("local", workers=1)
    objective = CommandObjective([sys.executable, "-c", code, "{mb}"], "ok")
    executor.start(objective)
    try:
        for number, mb in enumerate((8, 700)):
            executor.submit(
                TrialTask(number, {"mb": mb}, seed=0, memory_limit=parse_memory("200MB"))
            )
            events = []
            while not any(isinstance(e, Finished) for e in events):
                events.extend(executor.poll(10))
            finished = next(e for e in events if isinstance(e, Finished))
            if mb == 8:
                assert finished.state is TrialState.COMPLETED, finished.error
            else:
                assert finished.state is TrialState.FAILED
                assert "exited with status 1" in finished.error
                assert "MemoryError" in (finished.traceback or "")
    finally:
        executor.shutdown()
