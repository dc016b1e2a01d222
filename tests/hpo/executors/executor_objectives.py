"""Importable objectives for the executor tests: one dispatcher, so that one started executor
(worker processes are slow to start) can exercise every outcome."""

from __future__ import annotations

import math
import os
import random
import signal
import sys
import time
from pathlib import Path

import numpy as np

from hpo._trial import Trial, report


def dispatch(mode: str, x: float = 1.0, path: str = "", trial: Trial | None = None) -> object:
    """Behave as ``mode`` says; ``x`` and ``path`` are its arguments."""
    if mode == "number":
        return x * 2
    if mode == "int":
        return 7
    if mode == "numpy":
        return np.float32(x)
    if mode == "dict":
        return {"loss": x, "acc": np.float64(0.5), "other": math.nan}
    if mode == "raise":
        raise ValueError(f"bad x {x}")
    if mode == "nan":
        return math.nan
    if mode == "inf":
        return -math.inf
    if mode == "none":
        return None
    if mode == "string":
        return "abc"
    if mode == "bool":
        return True
    if mode == "missing":
        return {"acc": 1.0, "f1": 0.3}
    if mode == "non_numeric":
        return {"loss": 1.0, "note": "hello"}
    if mode == "exit":
        sys.exit(3)
    if mode == "os_exit":
        os._exit(3)
    if mode == "segv":
        os.kill(os.getpid(), signal.SIGSEGV)
    if mode == "sleep":
        time.sleep(x)
        return 0.0
    if mode == "report":
        for step in range(3):
            report(step=step, loss=x + step)
        assert trial is not None
        trial.report(acc=0.25)
        return x
    if mode == "report_then_wait":
        # reports, then waits for the test to have seen the report: proves it streamed
        report(step=0, loss=x)
        deadline = time.monotonic() + 30
        while not Path(path).exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        return x
    if mode == "bad_report":
        report(step=-1, loss=1.0)
    if mode == "random":
        return {"loss": 0.0, "r": random.random(), "n": float(np.random.rand())}
    if mode == "pid":
        return {"loss": 0.0, "pid": float(os.getpid())}
    if mode == "seed":
        assert trial is not None
        return {"loss": float(trial.seed), "number": float(trial.number)}
    raise AssertionError(f"unknown mode {mode}")


def takes_dict(params: dict[str, object], trial: Trial) -> float:
    return float(len(params)) + trial.number
