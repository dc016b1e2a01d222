"""What a trial runs: the :class:`Objective` seam, Python callables, and result normalisation.

An objective is built in the driver, checked against the search space before any trial runs
(``check`` raises :class:`~hpo._errors.ObjectiveError`), pickled to wherever trials execute,
and there turned into final metrics by ``run``. A trial that goes wrong raises
:class:`TrialFailure` or :class:`TrialTimeout` -- outcomes, not errors of hpo -- which the
executor records as a failed or timed-out trial while the sweep goes on.

Command objectives live in ``hpo._command`` and are re-exported here.
"""

from __future__ import annotations

import enum
import inspect
import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import cloudpickle

from hpo._errors import ObjectiveError
from hpo._loader import load_callable
from hpo._trial import Trial, _current
from hpo.executors._base import Report, TrialTask

if TYPE_CHECKING:
    from hpo._command import CommandObjective

__all__ = [
    "CallableObjective",
    "CommandObjective",
    "Objective",
    "TrialFailure",
    "TrialTimeout",
    "normalise_result",
]


class TrialFailure(Exception):
    """The trial failed: ``reason`` is the one-line cause, ``traceback`` optional detail
    (e.g. a command's stderr tail). Not an ``HPOError``: a failed trial is a trial outcome."""

    def __init__(self, reason: str, traceback: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.traceback = traceback

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason, self.traceback))


class TrialTimeout(Exception):
    """The trial ran past its timeout and was stopped; ``reason`` says so."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.reason,))


class Objective(ABC):
    """The thing a sweep optimises. Instances must pickle: they travel to worker processes."""

    #: the sweep's metric: ``run`` returns it, present and finite
    metric: str
    #: True when ``run`` enforces ``task.timeout`` itself (a process it can kill); otherwise
    #: the executor must (and the inline executor cannot, for plain Python code)
    handles_timeout: ClassVar[bool] = False

    @abstractmethod
    def run(self, task: TrialTask, emit: Callable[[Report], None]) -> dict[str, float]:
        """Run one trial; return its final metrics or raise (TrialFailure, TrialTimeout or any
        exception of the user's code). ``emit`` receives intermediate reports as they happen."""

    @abstractmethod
    def check(self, param_names: Collection[str]) -> None:
        """Raise ``ObjectiveError`` if the objective cannot work with a space of these params."""

    @abstractmethod
    def describe(self) -> str:
        """A short text for the record, e.g. ``function train:objective``."""


# -- result normalisation ----------------------------------------------------------------------


def _short_repr(value: object, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_float(value: object) -> float | None:
    """``value`` as a float if it is a real number (Python, numpy, or a 0-d array/tensor)."""
    if isinstance(value, float):
        return float(value)  # numpy.float64 is a float subclass: make it plain
    if isinstance(value, (bool, str, bytes)) or value is None:
        return None
    if isinstance(value, int):
        return float(value)
    if getattr(value, "shape", None) == () and hasattr(value, "item"):
        # numpy scalars and 0-d arrays, torch/jax scalars: unwrap, then judge the Python value
        return _as_float(value.item())
    if hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    return None


def normalise_result(
    value: object, metric: str, *, who: str = "objective returned"
) -> dict[str, float]:
    """The final metrics of a trial from what its objective produced.

    A number becomes ``{metric: value}``; a mapping has every value converted to float. The
    sweep metric must be present and finite; other metrics may be nan/inf. Anything else raises
    :class:`TrialFailure` with a reason that starts with ``who``.
    """
    if type(value) is float:  # the common case, first and cheapest
        if not math.isfinite(value):
            raise TrialFailure(f"{who} {value!r} for metric {metric!r}")
        return {metric: value}
    if value is None:
        raise TrialFailure(f"{who} None; return a number or a dict of metrics")
    if isinstance(value, Mapping):
        metrics: dict[str, float] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TrialFailure(f"{who} a dict with non-string key {_short_repr(key)}")
            number = _as_float(item)
            if number is None:
                raise TrialFailure(
                    f"{who} {type(item).__name__} {_short_repr(item)} for metric {key!r}; "
                    "metrics must be numbers"
                )
            metrics[key] = number
        if metric not in metrics:
            keys = ", ".join(map(repr, metrics)) or "none"
            raise TrialFailure(f"{who} no metric {metric!r} (metrics: {keys})")
        if not math.isfinite(metrics[metric]):
            raise TrialFailure(f"{who} {metrics[metric]!r} for metric {metric!r}")
        return metrics
    number = _as_float(value)
    if number is None:
        raise TrialFailure(
            f"{who} {type(value).__name__} {_short_repr(value)}; "
            "return a number or a dict of metrics"
        )
    if not math.isfinite(number):
        raise TrialFailure(f"{who} {number!r} for metric {metric!r}")
    return {metric: number}


# -- Python callables ----------------------------------------------------------------------------


class _Call(enum.Enum):
    """How a callable receives a trial's params."""

    KWARGS = "kwargs"  # one keyword argument per param
    DICT = "dict"  # one argument holding the params dict


#: Argument names that receive the whole params dict (``def train(params, trial)``).
_DICT_NAMES = frozenset({"params", "config", "hparams", "hyperparameters"})

_TRIAL_ANNOTATION = re.compile(r"^(?:[\w.]+\.)?Trial$")


def _is_trial_annotation(annotation: object) -> bool:
    if annotation is Trial:
        return True
    # string annotations (from __future__ import annotations) are not evaluated: match by name
    return isinstance(annotation, str) and bool(_TRIAL_ANNOTATION.match(annotation.strip()))


class CallableObjective(Objective):
    """A Python function as the objective.

    The function receives the params as keyword arguments named like the space's params, or
    (when its only argument besides ``trial`` is named ``params``, ``config``, ``hparams``
    or ``hyperparameters`` and no space param has that name) as one dict; an argument named
    ``trial`` or annotated ``Trial`` gets
    the :class:`~hpo._trial.Trial` handle. It returns a number or a dict of metrics.

    Timeouts: Python code cannot be stopped safely inside its own process, so ``task.timeout``
    is enforced by executors that run trials in other processes (local, ray), not inline.
    """

    def __init__(self, func: Callable[..., Any], metric: str, *, name: str | None = None) -> None:
        if not callable(func):
            raise ObjectiveError(f"objective must be callable, not {type(func).__name__}")
        self.func = func
        self.metric = metric
        self._name = name or _qualified_name(func)
        self._source: tuple[str, str] | None = None  # (import path, base_dir) to re-import
        self._mode: _Call | None = None
        self._analyse()

    @classmethod
    def from_import_path(
        cls, path: str, metric: str, base_dir: str | Path | None = None
    ) -> CallableObjective:
        """Load ``"pkg.mod:func"`` or ``"path/to/file.py:func"``, relative to ``base_dir``
        (the config file's folder; default the working directory). Raises ``ObjectiveError``
        with the reason when it cannot be loaded."""
        base = Path(base_dir if base_dir is not None else ".").resolve()
        objective = cls(load_callable(path, base), metric, name=path)
        objective._source = (path, str(base))
        return objective

    def _analyse(self) -> None:
        """Read the signature once, so each call only picks a prepared path."""
        self._names: list[str] = []
        self._required: list[str] = []
        self._positional_only: list[str] = []
        self._var_kw = False
        self._trial_name: str | None = None
        try:
            signature = inspect.signature(self.func)
        except (TypeError, ValueError):  # some builtins: pass everything by name
            self._var_kw = True
            return
        for p in signature.parameters.values():
            if p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.VAR_KEYWORD:
                self._var_kw = True
            elif self._trial_name is None and (
                p.name == "trial" or _is_trial_annotation(p.annotation)
            ):
                self._trial_name = p.name
            else:
                self._names.append(p.name)
                if p.default is p.empty:
                    self._required.append(p.name)
                if p.kind is p.POSITIONAL_ONLY:
                    self._positional_only.append(p.name)

    def _decide(self, param_names: Collection[str]) -> _Call:
        # Only a conventional name means "give me the dict": a lone misnamed argument
        # (def f(x) over a space {y}) must be reported, not silently handed a dict.
        if (
            not self._var_kw
            and len(self._names) == 1
            and self._names[0] in _DICT_NAMES
            and self._names[0] not in param_names
        ):
            return _Call.DICT
        return _Call.KWARGS

    def check(self, param_names: Collection[str]) -> None:
        names = list(param_names)
        self._mode = mode = self._decide(names)
        where = f"{self.describe()}{self._signature_text()}"
        if self._trial_name is not None and self._trial_name in names:
            raise ObjectiveError(
                f"search-space parameter {self._trial_name!r} clashes with the trial handle "
                f"argument of {where}; rename one of them"
            )
        if mode is _Call.DICT:
            return
        if not self._names and not self._var_kw and names:
            raise ObjectiveError(
                f"{where} takes no parameters, but the search space has "
                f"{', '.join(map(repr, names))}; add them (or 'params' for a dict)"
            )
        for name in self._positional_only:
            raise ObjectiveError(
                f"{where} has positional-only parameter {name!r}; hpo passes params by name"
            )
        for name in self._required:
            if name not in names:
                raise ObjectiveError(
                    f"{where} requires argument {name!r}, but the search space has no "
                    f"parameter {name!r} (space parameters: {', '.join(names) or 'none'})"
                )
        if not self._var_kw:
            for name in names:
                if name not in self._names:
                    raise ObjectiveError(
                        f"search-space parameter {name!r} is not accepted by {where}; add it "
                        "to the function's parameters (or **kwargs)"
                    )

    def _signature_text(self) -> str:
        parts = list(self._names)
        if self._trial_name:
            parts.append(self._trial_name)
        if self._var_kw:
            parts.append("**kwargs")
        return f"({', '.join(parts)})"

    def run(self, task: TrialTask, emit: Callable[[Report], None]) -> dict[str, float]:
        mode = self._mode
        if mode is None:  # check() was not called: decide from the first trial's params
            mode = self._mode = self._decide(task.params.keys())
        trial = Trial.from_task(task, emit)
        token = _current.set(trial)
        try:
            if mode is _Call.KWARGS:
                if self._trial_name is None:
                    result = self.func(**task.params)
                else:
                    kwargs = dict(task.params)
                    kwargs[self._trial_name] = trial
                    result = self.func(**kwargs)
            else:
                params = dict(task.params)
                if self._trial_name is None:
                    result = self.func(params)
                else:
                    result = self.func(params, **{self._trial_name: trial})
        finally:
            _current.reset(token)
        return normalise_result(result, self.metric)

    def describe(self) -> str:
        return f"function {self._name}"

    def __reduce__(self) -> tuple[Any, ...]:
        # By reference when it can be re-imported where the trial runs (small, and the worker
        # runs the code on disk); by value (cloudpickle) for lambdas, closures and __main__.
        if self._source is not None:
            return (_from_source, (self._source, self.metric, self._mode))
        module, qualname = getattr(self.func, "__module__", None), _qualname(self.func)
        if module and module != "__main__" and qualname and _resolves(module, qualname, self.func):
            return (_from_ref, (module, qualname, self.metric, self._name, self._mode))
        return (_from_value, (cloudpickle.dumps(self.func), self.metric, self._name, self._mode))


def _qualname(func: object) -> str | None:
    name = getattr(func, "__qualname__", None)
    return name if isinstance(name, str) and "<" not in name else None


def _qualified_name(func: object) -> str:
    module = getattr(func, "__module__", None) or "?"
    name = getattr(func, "__qualname__", None) or type(func).__name__
    return f"{module}:{name}"


def _resolves(module: str, qualname: str, func: object) -> bool:
    import sys

    obj: object = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is func


def _with_mode(objective: CallableObjective, mode: _Call | None) -> CallableObjective:
    objective._mode = mode
    return objective


def _from_source(source: tuple[str, str], metric: str, mode: _Call | None) -> CallableObjective:
    return _with_mode(CallableObjective.from_import_path(source[0], metric, source[1]), mode)


def _from_ref(
    module: str, qualname: str, metric: str, name: str, mode: _Call | None
) -> CallableObjective:
    import importlib

    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return _with_mode(CallableObjective(obj, metric, name=name), mode)


def _from_value(data: bytes, metric: str, name: str, mode: _Call | None) -> CallableObjective:
    return _with_mode(CallableObjective(cloudpickle.loads(data), metric, name=name), mode)


def __getattr__(name: str) -> Any:
    # CommandObjective imports this module; a lazy re-export avoids the import cycle.
    if name == "CommandObjective":
        from hpo._command import CommandObjective

        return CommandObjective
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
