"""Objectives for the checkpoint-folder tests, importable by worker processes.

``keep_even`` looks at ``trial.checkpoint_dir`` in every trial (which creates the folder) and
saves a file there only in even-numbered trials, so the odd ones leave an empty folder.
"""

from __future__ import annotations

from typing import Any


def keep_even(x: float, trial: Any) -> float:
    folder = trial.checkpoint_dir
    if trial.number % 2 == 0:
        (folder / "state.txt").write_text(f"{x}\n")
    return x
