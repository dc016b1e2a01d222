"""Checks and helpers shared by the parameter types.

Kept apart from the types so that numeric and choice parameters can share one idea of what a
valid name, number, choice value and condition is, and one wording of the errors about them.
"""

from __future__ import annotations

import difflib
import math
import numbers
import reprlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeAlias

import numpy as np

from search_spaces._errors import SearchSpaceError

#: The values a categorical choice, a constant or a condition may hold: JSON scalars, so that a
#: space always round-trips through JSON and through the store.
Scalar: TypeAlias = str | int | float | bool | None

#: A parameter's condition: parent name -> the parent values that make the parameter exist.
When: TypeAlias = Mapping[str, tuple[Scalar, ...]]

_REPR = reprlib.Repr()
# Bounded in depth, width and length: a user's value (a 100,000-character string, or a YAML
# alias structure that expands to 9**9 items) must not become the error message.
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = _REPR.maxfrozenset = 4
_REPR.maxstring = _REPR.maxother = 60
_REPR.maxlong = 40


def short_repr(value: object) -> str:
    """``repr(value)``, cut short: for error messages that quote what the user wrote."""
    return _REPR.repr(value)


class FrozenMap(Mapping[str, Any]):
    """An immutable, hashable, picklable mapping (``MappingProxyType`` cannot be pickled, and
    parameters travel to worker processes)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __repr__(self) -> str:
        return repr(self._data)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenMap, (self._data,))


#: The condition of a parameter that always exists (and the default of every ``when``).
EMPTY_WHEN: When = FrozenMap()


def ckey(value: Any) -> tuple[bool, Any]:
    """A hashable key under which ``True`` and ``1`` differ but ``1`` and ``1.0`` do not.

    Python's ``True == 1`` would otherwise merge a boolean choice with an integer one.
    """
    return (value.__class__ is bool, value)


def is_real(value: Any) -> bool:
    """True for an int or float (numpy scalars included) that is not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def is_integral(value: Any) -> bool:
    """True for an int, or a float with no fractional part (``3.0``); never for a bool."""
    if isinstance(value, numbers.Integral):
        return not isinstance(value, (bool, np.bool_))
    return is_real(value) and math.isfinite(value) and float(value).is_integer()


def check_name(name: Any) -> str:
    """A parameter name must be a non-empty string."""
    if not isinstance(name, str) or not name:
        raise SearchSpaceError(
            f"a parameter name must be a non-empty string, not {name!r}: give the parameter a name"
        )
    return name


def check_number(name: str, key: str, value: Any) -> float:
    """A finite real number, as a float; ``key`` is the config key the user wrote."""
    if not is_real(value):
        raise SearchSpaceError(
            f"{key} must be a number, not {type(value).__name__} {short_repr(value)}: "
            "write a number",
            (name, key),
        )
    out = float(value)
    if not math.isfinite(out):
        raise SearchSpaceError(
            f"{key} must be finite, not {out!r}: write a finite number", (name, key)
        )
    return out


def check_scalar(name: str, key: str, value: Any) -> Scalar:
    """A JSON scalar (str, int, float, bool or None) as a plain Python object; floats finite."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        out = float(value)
        if not math.isfinite(out):
            raise SearchSpaceError(
                f"{out!r} cannot be a value: use a finite number or a string", (name, key)
            )
        return out
    raise SearchSpaceError(
        f"a value must be a string, number, bool or null, not {type(value).__name__} "
        f"{short_repr(value)}: use a scalar",
        (name, key),
    )


def normalise_when(name: str, when: Mapping[str, Any] | None) -> When:
    """Turn ``{"opt": "sgd"}`` or ``{"opt": ["sgd", "rms"]}`` into ``{"opt": ("sgd", "rms")}``."""
    if when is None:
        return EMPTY_WHEN
    if not isinstance(when, Mapping):
        raise SearchSpaceError(
            f"when must map parent names to values, not {type(when).__name__} {when!r}: "
            "write e.g. when: {opt: sgd}",
            (name, "when"),
        )
    out: dict[str, tuple[Scalar, ...]] = {}
    for parent, allowed in when.items():
        if not isinstance(parent, str) or not parent:
            raise SearchSpaceError(
                f"condition keys must be parameter names, not {parent!r}", (name, "when")
            )
        if parent == name:
            raise SearchSpaceError(
                f"a parameter cannot depend on itself: remove {parent!r} from its condition",
                (name, "when", parent),
            )
        if isinstance(allowed, (list, tuple)):
            values = tuple(check_scalar(name, "when", v) for v in allowed)
        else:
            values = (check_scalar(name, "when", allowed),)
        if not values:
            raise SearchSpaceError(
                f"the condition on {parent!r} lists no values, so the parameter could never "
                "exist: list at least one value",
                (name, "when", parent),
            )
        out[parent] = tuple(dict.fromkeys(values))
    return FrozenMap(out) if out else EMPTY_WHEN


def when_to_json(when: When) -> dict[str, list[Scalar]]:
    return {parent: list(values) for parent, values in when.items()}


def range_to_json(p: Any) -> dict[str, Any]:
    """The JSON form shared by the range types (Float, Int)."""
    return {
        "type": p.kind,
        "name": p.name,
        "low": p.low,
        "high": p.high,
        "log": p.log,
        "step": p.step,
        "grid_points": p.grid_points,
        "when": {k: list(v) for k, v in p.when.items()},
    }


def check_bounds(name: str, low: float, high: float, log: bool) -> None:
    """low < high, and low > 0 on a log scale; errors point at the key to change."""
    if low > high:
        raise SearchSpaceError(
            f"min ({low!r}) must be less than max ({high!r}): swap them", (name, "min")
        )
    if low == high:
        raise SearchSpaceError(
            f"min ({low!r}) equals max ({high!r}), so the parameter has one value: "
            f"write value: {low!r} for a constant, or widen the range",
            (name, "max"),
        )
    if not isinstance(log, (bool, np.bool_)):
        raise SearchSpaceError(f"log must be true or false, not {log!r}", (name, "log"))
    if log and low <= 0:
        raise SearchSpaceError(
            f"min ({low!r}) must be greater than 0 on a log scale: raise min above 0 or drop log",
            (name, "min"),
        )


def check_grid_points(name: str, grid_points: Any) -> None:
    """None or a positive integer."""
    if grid_points is not None and (not is_integral(grid_points) or grid_points < 1):
        raise SearchSpaceError(
            f"grid_points must be a positive integer, not {grid_points!r}", (name, "grid_points")
        )


def dedupe(values: Iterable[Any]) -> tuple[Any, ...]:
    """``values`` without repeats, first occurrence kept."""
    return tuple(dict.fromkeys(values))


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'min'?)`` when a close match exists, else an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


#: A condition prepared for fast checks: (parent name, the allowed values' ``ckey``\ s) pairs.
Conds = tuple[tuple[str, frozenset[tuple[bool, Any]]], ...]

_MISSING = object()


def compile_when(when: When) -> Conds | None:
    """``when`` in the form :func:`conditions_hold` checks quickly; None when unconditional."""
    if not when:
        return None
    return tuple((parent, frozenset(ckey(v) for v in values)) for parent, values in when.items())


def conditions_hold(conds: Conds | None, config: Mapping[str, Any]) -> bool:
    """True when every parent is in ``config`` with one of its allowed values.

    ``config`` holds only active parameters (it is built in dependency order), so a parent's
    presence means the parent is active.
    """
    if conds is None:
        return True
    for parent, allowed in conds:
        value = config.get(parent, _MISSING)
        if value is _MISSING:
            return False
        try:
            if ckey(value) not in allowed:
                return False
        except TypeError:  # an unhashable value matches no condition
            return False
    return True
