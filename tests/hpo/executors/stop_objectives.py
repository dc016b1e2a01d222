"""Importable objectives for the early-stop and checkpoint tests (worker processes import them
by reference)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import hpo
from hpo._trial import Trial

# Only a guard against a hung test: a trial that is never stopped gives up after this long.
_GIVE_UP_S = 30.0


def until_stopped(x: float, release: str, trial: Trial) -> dict[str, float]:
    """Report once, then wait until asked to stop (or until the file ``release`` exists);
    say which of the two ended it, and where it ran."""
    trial.report(step=0, loss=x)
    deadline = time.monotonic() + _GIVE_UP_S
    while time.monotonic() < deadline:
        if trial.should_stop() or (release and Path(release).exists()):
            break
        time.sleep(0.005)
    return {
        "loss": x,
        "stopped": float(trial.should_stop()),
        "module_stopped": float(hpo.should_stop()),  # the module-level view of the same flag
        "pid": float(os.getpid()),
    }


def count_runs(x: float, release: str, trial: Trial) -> dict[str, float]:
    """Count its runs in the trial's checkpoint directory: 1 on the first, 2 on the next..."""
    counter = trial.checkpoint_dir / "runs"
    runs = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(runs))
    Path(release).write_text(str(trial.checkpoint_dir))
    return {"loss": float(runs), "pid": float(os.getpid())}
