"""Objectives for the multi-fidelity sweep tests, importable by worker processes.

``train`` trains "epochs" up to ``trial.budget``, continuing from the epoch count it keeps in
``trial.checkpoint_dir``; each epoch reports ``loss`` at its step and appends a line to
``$MF_LOG`` (so the test counts epochs across processes). ``$MF_SLEEP`` seconds per epoch
keep legs in flight long enough to overlap. ``$MF_CRASH = "NUMBER:BUDGET:MODE"`` ends the
driver once, when that trial's leg to that budget starts (a marker file beside ``$MF_LOG``
keeps it to once): ``interrupt`` raises KeyboardInterrupt (Ctrl-C), ``kill`` sends SIGKILL to
the process itself (with the inline executor: the driver dies mid-sweep).
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any


def _crash_now(trial: Any) -> None:
    spec = os.environ.get("MF_CRASH")
    if not spec:
        return
    number, budget, mode = spec.split(":")
    if trial.number != int(number) or trial.budget != float(budget):
        return
    marker = os.environ["MF_LOG"] + ".crashed"
    if os.path.exists(marker):
        return
    open(marker, "w").close()
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    raise KeyboardInterrupt


def train(x: float, trial: Any) -> float:
    _crash_now(trial)
    state = trial.checkpoint_dir / "epochs"
    done = int(state.read_text()) if state.exists() else 0
    pause = float(os.environ.get("MF_SLEEP", "0"))
    loss = float("nan")
    for epoch in range(done + 1, int(trial.budget) + 1):
        if pause:
            time.sleep(pause)
        loss = (x - 0.3) ** 2 + 1.0 / epoch
        with open(os.environ["MF_LOG"], "a") as log:
            log.write(f"{trial.number} {epoch}\n")
        trial.report(step=epoch, loss=loss)
        state.write_text(str(epoch))
    return loss
