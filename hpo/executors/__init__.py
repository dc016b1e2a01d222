"""Where trials run: in the driver's process (``inline``), in worker processes (``local``) or
on a Ray cluster (``ray``, an optional extra: ``pip install "hpo[ray]"``).

The seam every executor implements is in :mod:`hpo.executors._base`. The executors themselves
are imported on first use: they depend on ``hpo._objective``, which depends on ``_base``, and
importing them here eagerly would make that a cycle; and ``import hpo`` must not import Ray.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from hpo.executors._base import Event, Executor, Finished, Report, TrialTask

if TYPE_CHECKING:
    from hpo.executors._inline import InlineExecutor
    from hpo.executors._local import LocalExecutor
    from hpo.executors._ray import RayExecutor

__all__ = [
    "Event",
    "Executor",
    "ExecutorKind",
    "Finished",
    "InlineExecutor",
    "LocalExecutor",
    "RayExecutor",
    "Report",
    "TrialTask",
    "make_executor",
]

ExecutorKind = Literal["inline", "local", "ray"]


def make_executor(
    kind: ExecutorKind, *, workers: int = 1, options: Mapping[str, Any] | None = None
) -> Executor:
    """The executor named ``kind``: ``inline`` (one trial at a time, in this process),
    ``local`` (``workers`` worker processes) or ``ray`` (trials on a Ray cluster; see
    :func:`ray_options` for its options). ``options`` are the executor's own settings from the
    config (``executor: {type: ..., **options}``); a ValueError names any it does not take."""
    if kind == "ray":
        return _make_ray(workers, options or {})
    if options:
        raise ValueError(
            f"executor {kind!r} takes no options, but got: {', '.join(sorted(options))}"
        )
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
    raise ValueError(f"unknown executor {kind!r}; choose 'inline', 'local' or 'ray'")


RAY_OPTIONS = ("address", "resources_per_trial", "max_concurrent", "runtime_env")
_RESOURCE_KEYS = ("cpus", "gpus", "custom")
RAY_MISSING = 'the ray executor needs Ray: pip install "hpo[ray]"'


def _number(value: object, where: str, *, integer: bool = False, minimum: float = 0) -> Any:
    """``value`` checked as a (non-bool) number >= ``minimum``; a ValueError names ``where``."""
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or not math.isfinite(value):
        what = "an integer" if integer else "a number"
        raise ValueError(f"executor option {where} must be {what}, got {value!r}")
    if value < minimum:
        raise ValueError(f"executor option {where} must be >= {minimum:g}, got {value!r}")
    return value


def ray_options(options: Mapping[str, Any], workers: int = 1) -> dict[str, Any]:
    """Check the ray executor's options and return ``RayExecutor``'s keyword arguments.

    - ``address``: ``auto``, ``HOST:PORT`` or ``ray://HOST:PORT`` of an existing cluster;
      absent, a local Ray instance runs for the sweep.
    - ``resources_per_trial``: ``{cpus: 1, gpus: 0.5, custom: {name: amount}}`` (default one
      CPU, no GPU); fractions allowed.
    - ``max_concurrent``: trials at once; default ``workers`` when above 1, else as many as the
      cluster's CPUs (and GPUs) hold with ``resources_per_trial``.
    - ``runtime_env``: Ray's runtime environment for the workers (e.g. ``working_dir``).

    Reruns of trials whose worker or node died are the sweep's ``retries`` (the engine's,
    for every executor), not an option of this one.
    """
    unknown = sorted(set(options) - set(RAY_OPTIONS))
    if unknown:
        raise ValueError(
            f"unknown option(s) for executor 'ray': {', '.join(unknown)} "
            f"(it takes: {', '.join(RAY_OPTIONS)})"
        )
    kwargs: dict[str, Any] = {}
    address = options.get("address")
    if address is not None:
        if not isinstance(address, str) or not address.strip():
            raise ValueError(
                f"executor option address must be a cluster address such as 'auto' or "
                f"'HOST:PORT', got {address!r}"
            )
        kwargs["address"] = address.strip()
    resources = options.get("resources_per_trial")
    if resources is not None:
        if not isinstance(resources, Mapping):
            raise ValueError(
                "executor option resources_per_trial must be a mapping such as "
                f"{{cpus: 1, gpus: 0.5}}, got {resources!r}"
            )
        bad = sorted(set(map(str, resources)) - set(_RESOURCE_KEYS))
        if bad:
            raise ValueError(
                f"unknown key(s) in executor option resources_per_trial: {', '.join(bad)} "
                f"(it takes: cpus, gpus, custom)"
            )
        res: dict[str, Any] = {}
        for key in ("cpus", "gpus"):
            if key in resources:
                res[key] = float(_number(resources[key], f"resources_per_trial.{key}"))
        custom = resources.get("custom") or {}
        if not isinstance(custom, Mapping):
            raise ValueError(
                "executor option resources_per_trial.custom must map resource names to "
                f"amounts, got {custom!r}"
            )
        checked: dict[str, float] = {}
        for name, amount in custom.items():
            if not isinstance(name, str) or not name or name in ("CPU", "GPU"):
                raise ValueError(
                    f"resources_per_trial.custom: {name!r} is not a custom resource name "
                    "(use cpus and gpus for CPUs and GPUs)"
                )
            checked[name] = float(_number(amount, f"resources_per_trial.custom.{name}"))
        res["custom"] = checked
        kwargs["resources"] = res
    max_concurrent = options.get("max_concurrent")
    if max_concurrent is not None:
        kwargs["max_concurrent"] = _number(
            max_concurrent, "max_concurrent", integer=True, minimum=1
        )
    elif workers > 1:
        kwargs["max_concurrent"] = workers
    runtime_env = options.get("runtime_env")
    if runtime_env is not None:
        if not isinstance(runtime_env, Mapping):
            raise ValueError(f"executor option runtime_env must be a mapping, got {runtime_env!r}")
        kwargs["runtime_env"] = dict(runtime_env)
    return kwargs


def _make_ray(workers: int, options: Mapping[str, Any]) -> Executor:
    kwargs = ray_options(options, workers)  # bad options are reported before a missing Ray
    try:
        from hpo.executors._ray import RayExecutor, ResourcesPerTrial
    except ImportError as exc:
        if exc.name is not None and exc.name.partition(".")[0] == "ray":
            raise ValueError(RAY_MISSING) from None
        raise

    if "resources" in kwargs:
        kwargs["resources"] = ResourcesPerTrial(**kwargs["resources"])
    return RayExecutor(**kwargs)


def __getattr__(name: str) -> Any:
    if name == "InlineExecutor":
        from hpo.executors._inline import InlineExecutor

        return InlineExecutor
    if name == "LocalExecutor":
        from hpo.executors._local import LocalExecutor

        return LocalExecutor
    if name == "RayExecutor":
        from hpo.executors._ray import RayExecutor

        return RayExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
