"""Where trials run: in the driver's process (``inline``) or in worker processes (``local``).

The seam every executor implements is in :mod:`hpo.executors._base`. The executors themselves
are imported on first use: they depend on ``hpo._objective``, which depends on ``_base``, and
importing them here eagerly would make that a cycle.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hpo.executors._base import Event, Executor, Finished, Report, TrialTask

if TYPE_CHECKING:
    from hpo.executors._inline import InlineExecutor
    from hpo.executors._local import LocalExecutor

__all__ = [
    "Event",
    "Executor",
    "ExecutorKind",
    "Finished",
    "InlineExecutor",
    "LocalExecutor",
    "Report",
    "TrialTask",
    "make_executor",
]

ExecutorKind = Literal["inline", "local", "ray"]


def make_executor(
    kind: ExecutorKind, *, workers: int = 1, options: Mapping[str, Any] | None = None
) -> Executor:
    """The executor named ``kind``: ``inline`` (one trial at a time, in this process) or
    ``local`` (``workers`` worker processes). ``options`` are the executor's own settings
    from the config (``executor: {type: ..., **options}``); a ValueError names any it does
    not take."""
    if options:
        raise ValueError(
            f"executor {kind!r} takes no options, but got: {', '.join(sorted(options))}"
        )
    if kind == "ray":
        raise ValueError("the ray executor is not available yet: use 'local' or 'inline'")
    if kind == "inline":
        if workers != 1:
            raise ValueError(
                f"the inline executor runs one trial at a time; use 'local' for workers={workers}"
            )
        from hpo.executors._inline import InlineExecutor

        return InlineExecutor()
    if kind == "local":
        from hpo.executors._local import LocalExecutor

        return LocalExecutor(workers)
    raise ValueError(f"unknown executor {kind!r}; choose 'inline' or 'local'")


def __getattr__(name: str) -> Any:
    if name == "InlineExecutor":
        from hpo.executors._inline import InlineExecutor

        return InlineExecutor
    if name == "LocalExecutor":
        from hpo.executors._local import LocalExecutor

        return LocalExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
