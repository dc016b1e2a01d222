"""The ``hpo`` command for tests: in a fresh process as a user runs it, or in this process."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from hpo.cli import main

ROOT = Path(__file__).resolve().parents[2]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment of a test's ``hpo`` process: wide, colourless output; the store and the
    artifact folder come from the arguments only, and internal errors are not re-raised."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "PYTHONPATH": str(ROOT)}
    for var in ("HPO_STORE", "HPO_ARTIFACTS", "HPO_DEBUG"):
        env.pop(var, None)
    env.update(extra)
    return env


def run_hpo(
    *args: str,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """``python -m hpo.cli ARGS`` in a fresh process (in the repository unless ``cwd``);
    ``env`` adds variables to :func:`cli_env`'s."""
    return subprocess.run(
        [sys.executable, "-m", "hpo.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or ROOT,
        env=cli_env(**(env or {})),
        input=stdin,
        timeout=timeout,
    )


def run_in_process(*args: str) -> tuple[int, str, str]:
    """Run the ``hpo`` command in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err), pytest.raises(SystemExit) as done:
        main(list(args))
    code = done.value.code
    return (code if isinstance(code, int) else 0), out.getvalue(), err.getvalue()
