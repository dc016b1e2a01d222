"""The user format: a W&B-style ``parameters`` mapping, extended with ``log``, ``when`` and
``grid_points``. Every error names the parameter and the key the user wrote.

```yaml
lr:       {min: 1.0e-5, max: 1.0e-1, distribution: log_uniform_values}
layers:   {min: 1, max: 4}                      # both ints -> Int
opt:      {values: [sgd, adam], probabilities: [0.3, 0.7]}
momentum: {min: 0.0, max: 0.99, when: {opt: sgd}}
units:    {min: 10, max: 100, q: 10}            # q (or step): values snap to min + k * q
seed:     3                                     # shorthand for {value: 3}
```
"""

from __future__ import annotations

import enum
import math
import numbers
from collections.abc import Mapping
from typing import Any

from search_spaces._common import (
    EMPTY_WHEN,
    check_scalar,
    did_you_mean,
    is_real,
    short_repr,
)
from search_spaces._errors import SearchSpaceError
from search_spaces._float import Float
from search_spaces._int import Int
from search_spaces._params import PARAMETER_TYPES, Categorical, Constant, Parameter


class Distribution(str, enum.Enum):
    """The ``distribution`` values the user format accepts (W&B's names, plus one of ours)."""

    CONSTANT = "constant"
    CATEGORICAL = "categorical"
    INT_UNIFORM = "int_uniform"
    UNIFORM = "uniform"
    Q_UNIFORM = "q_uniform"
    LOG_UNIFORM_VALUES = "log_uniform_values"
    Q_LOG_UNIFORM_VALUES = "q_log_uniform_values"
    INT_LOG_UNIFORM_VALUES = "int_log_uniform_values"
    #: W&B's meaning: min and max are natural-log exponents.
    LOG_UNIFORM = "log_uniform"
    Q_LOG_UNIFORM = "q_log_uniform"


_SUPPORTED = ", ".join(d.value for d in Distribution)
_UNSUPPORTED = frozenset(
    {"normal", "q_normal", "log_normal", "q_log_normal", "beta", "q_beta"}
    | {"inv_log_uniform", "inv_log_uniform_values"}
)
_UNSUPPORTED_KEYS = frozenset({"mu", "sigma", "a", "b"})
KEYS = (
    "value",
    "values",
    "probabilities",
    "min",
    "max",
    "distribution",
    "log",
    "q",
    "step",
    "grid_points",
    "when",
)
# Which keys each kind of parameter takes (`distribution` and `when` go with every kind).
_CONSTANT_KEYS = frozenset({"value", "distribution", "when"})
_CATEGORICAL_KEYS = frozenset({"values", "probabilities", "distribution", "when"})
_NUMERIC_KEYS = frozenset(KEYS) - {"value", "values", "probabilities"}

_D = Distribution
_LOG = frozenset({_D.LOG_UNIFORM_VALUES, _D.Q_LOG_UNIFORM_VALUES, _D.INT_LOG_UNIFORM_VALUES})
_EXPONENT = frozenset({_D.LOG_UNIFORM, _D.Q_LOG_UNIFORM})
_QUANTISED = frozenset({_D.Q_UNIFORM, _D.Q_LOG_UNIFORM_VALUES, _D.Q_LOG_UNIFORM})
_INT = frozenset({_D.INT_UNIFORM, _D.INT_LOG_UNIFORM_VALUES})


def parse_parameters(mapping: Any) -> list[Parameter]:
    """Parse ``{name: spec}`` into parameters; a spec may also be a Parameter object."""
    if not isinstance(mapping, Mapping):
        raise SearchSpaceError(
            f"parameters must be a mapping of name -> spec, not {type(mapping).__name__}: "
            "write e.g. {lr: {min: 0.001, max: 0.1}}"
        )
    out: list[Parameter] = []
    for name, spec in mapping.items():
        if not isinstance(name, str) or not name:
            raise SearchSpaceError(f"a parameter name must be a non-empty string, not {name!r}")
        out.append(parse_one(name, spec))
    return out


def parse_one(name: str, spec: Any) -> Parameter:
    """One parameter from its spec: a mapping, a list (values), a scalar (value) or a Parameter."""
    if isinstance(spec, PARAMETER_TYPES):
        if spec.name != name:
            raise SearchSpaceError(
                f"the parameter object is named {spec.name!r} but its key is {name!r}: "
                "make them match",
                (name,),
            )
        return spec
    if isinstance(spec, Mapping):
        return _parse_mapping(name, spec)
    if isinstance(spec, (list, tuple)):
        return Categorical(name, tuple(spec))
    return Constant(name, check_scalar(name, "value", spec))


def _parse_mapping(name: str, spec: Mapping[Any, Any]) -> Parameter:
    for key in spec:
        if key in _UNSUPPORTED_KEYS:
            raise SearchSpaceError(
                f"key {key!r} belongs to W&B's normal/beta distributions, which hpo does not "
                f"support; supported distributions: {_SUPPORTED}",
                (name, key),
            )
        if key not in KEYS:
            raise SearchSpaceError(
                f"unknown key {key!r}; allowed keys: {', '.join(KEYS)}"
                + did_you_mean(str(key), KEYS),
                (name, str(key)),
            )
    dist = _distribution(name, spec.get("distribution"))
    if dist is _D.CONSTANT or (dist is None and "value" in spec):
        _only(name, spec, _CONSTANT_KEYS, "constant")
        if "value" not in spec:
            raise SearchSpaceError("distribution constant needs a value", (name, "value"))
        return Constant(
            name, check_scalar(name, "value", spec["value"]), when=spec.get("when", EMPTY_WHEN)
        )
    if dist is _D.CATEGORICAL or (dist is None and "values" in spec):
        _only(name, spec, _CATEGORICAL_KEYS, "categorical")
        if "values" not in spec:
            raise SearchSpaceError("distribution categorical needs values", (name, "values"))
        return Categorical(
            name,
            spec["values"],
            probabilities=spec.get("probabilities"),
            when=spec.get("when", EMPTY_WHEN),
        )
    if dist is None and "min" not in spec and "max" not in spec:
        raise SearchSpaceError(
            "a parameter needs value, values, or min and max: add one of them", (name,)
        )
    _only(name, spec, _NUMERIC_KEYS, "numeric (min/max)")
    return _parse_numeric(name, spec, dist)


def _parse_numeric(name: str, spec: Mapping[str, Any], dist: Distribution | None) -> Parameter:
    for key in ("min", "max"):
        if key not in spec:
            raise SearchSpaceError(f"missing {key}: a range needs both min and max", (name, key))
    low, high = _number(name, "min", spec["min"]), _number(name, "max", spec["max"])
    step_key = "q" if "q" in spec else "step"
    step = _step(name, spec)
    log = spec.get("log")
    if log is not None and not isinstance(log, bool):
        raise SearchSpaceError(f"log must be true or false, not {log!r}", (name, "log"))
    if dist is not None and log is not None and log != (dist in _LOG or dist in _EXPONENT):
        raise SearchSpaceError(
            f"log: {str(log).lower()} contradicts distribution {dist.value}: drop log",
            (name, "log"),
        )
    if dist in _QUANTISED and step is None:
        step = 1  # W&B's default q
    if dist in _EXPONENT:
        if low >= high:
            raise SearchSpaceError(
                f"min ({low!r}) must be less than max ({high!r}): swap them", (name, "min")
            )
        low, high = math.exp(low), math.exp(high)
    log = bool(log) or dist in _LOG or dist in _EXPONENT
    if dist in _INT:
        as_int = True
    elif dist is None:
        as_int = all(isinstance(v, int) for v in (low, high, step if step is not None else 1))
    else:
        as_int = False
    when = spec.get("when", EMPTY_WHEN)
    grid_points = spec.get("grid_points")
    try:
        if as_int:
            # Int checks and converts what it is given (a float min of int_uniform fails there,
            # naming the key); its annotations describe the result, hence Any here.
            int_args: tuple[Any, Any, Any] = (low, high, 1 if step is None else step)
            return Int(
                name,
                int_args[0],
                int_args[1],
                step=int_args[2],
                log=log,
                when=when,
                grid_points=grid_points,
            )
        return Float(name, low, high, step=step, log=log, when=when, grid_points=grid_points)
    except SearchSpaceError as exc:
        if exc.path[1:2] == ("step",):
            raise SearchSpaceError(exc.message, (name, step_key, *exc.path[2:])) from None
        raise


def _distribution(name: str, raw: Any) -> Distribution | None:
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise SearchSpaceError(
            f"distribution must be a name, not {raw!r}; supported: {_SUPPORTED}",
            (name, "distribution"),
        )
    if raw in _UNSUPPORTED:
        raise SearchSpaceError(
            f"distribution {raw!r} is not supported; supported distributions: {_SUPPORTED}",
            (name, "distribution"),
        )
    try:
        return Distribution(raw)
    except ValueError:
        raise SearchSpaceError(
            f"unknown distribution {raw!r}; supported distributions: {_SUPPORTED}"
            + did_you_mean(raw, [d.value for d in Distribution]),
            (name, "distribution"),
        ) from None


def _only(name: str, spec: Mapping[str, Any], allowed: frozenset[str], kind: str) -> None:
    for key in spec:
        if key not in allowed:
            raise SearchSpaceError(
                f"key {key!r} does not apply to a {kind} parameter: remove it", (name, key)
            )


def _number(name: str, key: str, raw: Any) -> int | float:
    """A number; numeric strings are accepted because YAML 1.1 reads ``1e-5`` as a string."""
    value = raw
    if isinstance(raw, str):
        try:
            value = int(raw)
        except ValueError:
            try:
                value = float(raw)
            except ValueError:
                raise SearchSpaceError(
                    f"{key} must be a number, not the string {raw!r}: write a number such as 0.1",
                    (name, key),
                ) from None
    elif not is_real(raw):
        raise SearchSpaceError(
            f"{key} must be a number, not {type(raw).__name__} {short_repr(raw)}: write a number",
            (name, key),
        )
    if not math.isfinite(value):
        raise SearchSpaceError(f"{key} must be finite, not {raw!r}", (name, key))
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _step(name: str, spec: Mapping[str, Any]) -> int | float | None:
    q = _number(name, "q", spec["q"]) if spec.get("q") is not None else None
    step = _number(name, "step", spec["step"]) if spec.get("step") is not None else None
    if q is not None and step is not None and q != step:
        raise SearchSpaceError(
            f"q ({q!r}) and step ({step!r}) disagree: they mean the same; keep one", (name, "q")
        )
    return q if q is not None else step
