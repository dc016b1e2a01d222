"""Choice parameters (``Categorical``, ``Constant``), the ``Parameter`` union and its JSON form.

The numeric types live in ``_float`` and ``_int``; every type shares one duck interface that
the space relies on: ``draw(u)`` (sample from a uniform ``u``), ``from_unit``/``to_unit`` (the
unit-cube encoding), ``normalise``/``contains`` (validation), ``grid_values`` and ``to_json``.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeAlias

from search_spaces._common import (
    EMPTY_WHEN,
    Scalar,
    When,
    check_name,
    check_scalar,
    ckey,
    is_real,
    normalise_when,
    when_to_json,
)
from search_spaces._errors import SearchSpaceError
from search_spaces._float import Float
from search_spaces._int import Int

# How far from 1 the probabilities may sum, to forgive decimal fractions such as 0.1 + 0.2.
_SUM_TOLERANCE = 1e-6


@dataclass(frozen=True, slots=True)
class Categorical:
    """One of a fixed list of ``choices`` (strings, numbers, bools or None).

    ``probabilities`` (one per choice, summing to 1) weights random sampling; the unit-cube
    encoding always uses equal bins, one per choice.
    """

    kind: ClassVar[str] = "categorical"

    name: str
    choices: tuple[Scalar, ...]
    probabilities: tuple[float, ...] | None = field(default=None, kw_only=True)
    when: When = field(default=EMPTY_WHEN, kw_only=True)
    _index: dict[tuple[bool, Any], int] = field(init=False, repr=False, compare=False, hash=False)
    _cum: tuple[float, ...] | None = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        name = check_name(self.name)
        choices = self.choices
        if isinstance(choices, (str, bytes, Mapping)) or not isinstance(choices, Sequence):
            raise SearchSpaceError(
                f"values must be a list, not {type(choices).__name__} {choices!r}: "
                "write values: [a, b]",
                (name, "values"),
            )
        if not choices:
            raise SearchSpaceError("values is empty: list at least one value", (name, "values"))
        clean = tuple(check_scalar(name, "values", c) for c in choices)
        index: dict[tuple[bool, Any], int] = {}
        for i, choice in enumerate(clean):
            if ckey(choice) in index:
                raise SearchSpaceError(
                    f"values lists {choice!r} twice: remove the duplicate", (name, "values")
                )
            index[ckey(choice)] = i
        put = object.__setattr__
        put(self, "choices", clean)
        put(self, "_index", index)
        put(self, "when", normalise_when(name, self.when))
        put(self, "probabilities", self._check_probabilities(name, clean))
        if self.probabilities is None:
            put(self, "_cum", None)
        else:
            cum, running, total = [], 0.0, sum(self.probabilities)
            for p in self.probabilities:
                running += p
                cum.append(running / total)
            put(self, "_cum", tuple(cum))

    def _check_probabilities(self, name: str, choices: tuple[Any, ...]) -> tuple[float, ...] | None:
        probs = self.probabilities
        if probs is None:
            return None
        path = (name, "probabilities")
        if isinstance(probs, (str, bytes, Mapping)) or not isinstance(probs, Sequence):
            raise SearchSpaceError(f"probabilities must be a list of numbers, not {probs!r}", path)
        if len(probs) != len(choices):
            raise SearchSpaceError(
                f"probabilities has {len(probs)} entries but values has {len(choices)}: "
                "give one probability per value",
                path,
            )
        for p in probs:
            if not is_real(p) or not math.isfinite(p) or p < 0:
                raise SearchSpaceError(
                    f"probability {p!r} is not a number >= 0: use numbers between 0 and 1", path
                )
        total = math.fsum(float(p) for p in probs)
        if abs(total - 1.0) > _SUM_TOLERANCE:
            raise SearchSpaceError(
                f"probabilities sum to {total!r}, not 1: make them add up to 1", path
            )
        return tuple(float(p) for p in probs)

    def draw(self, u: float) -> Scalar:
        """A choice for a uniform ``u``, weighted by ``probabilities`` when given."""
        k = len(self.choices)
        i = bisect.bisect_right(self._cum, u) if self._cum is not None else int(u * k)
        return self.choices[i if i < k else k - 1]

    def from_unit(self, u: float) -> Scalar:
        """The choice whose equal-width bin holds ``u``."""
        k = len(self.choices)
        i = int(u * k)
        return self.choices[i if i < k else k - 1]

    def to_unit(self, value: Scalar) -> float:
        """The centre of ``value``'s bin."""
        return (self._index[ckey(value)] + 0.5) / len(self.choices)

    def index(self, value: Any) -> int:
        """The position of ``value`` in ``choices``; SearchSpaceError when it is not one."""
        try:
            return self._index[ckey(value)]
        except (KeyError, TypeError):  # TypeError: an unhashable value is no choice either
            raise SearchSpaceError(
                f"{value!r} is not one of the values {list(self.choices)!r}: pick one of them",
                (self.name,),
            ) from None

    def contains(self, value: Any) -> bool:
        """True when ``value`` is one of the choices."""
        try:
            hit = ckey(value) in self._index
        except TypeError:
            return False
        return hit

    def normalise(self, value: Any) -> Scalar:
        """The matching choice itself (so ``1.0`` given for choice ``1`` comes back as ``1``)."""
        return self.choices[self.index(value)]

    def grid_values(self, points: int) -> tuple[Scalar, ...]:
        """Every choice, whatever ``points`` says."""
        return self.choices

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description; :func:`search_spaces.SearchSpace.from_json` reads it."""
        return {
            "type": self.kind,
            "name": self.name,
            "choices": list(self.choices),
            "probabilities": None if self.probabilities is None else list(self.probabilities),
            "when": when_to_json(self.when),
        }


@dataclass(frozen=True, slots=True)
class Constant:
    """A parameter that always has ``value`` (when active). It is not encoded in the unit cube."""

    kind: ClassVar[str] = "constant"

    name: str
    value: Scalar
    when: When = field(default=EMPTY_WHEN, kw_only=True)

    def __post_init__(self) -> None:
        name = check_name(self.name)
        object.__setattr__(self, "value", check_scalar(name, "value", self.value))
        object.__setattr__(self, "when", normalise_when(name, self.when))

    def draw(self, u: float) -> Scalar:
        return self.value

    from_unit = draw

    def contains(self, value: Any) -> bool:
        """True when ``value`` equals the constant (``True`` is not ``1`` here)."""
        try:
            return ckey(value) == ckey(self.value)
        except TypeError:  # pragma: no cover - comparison of exotic objects
            return False

    def normalise(self, value: Any) -> Scalar:
        """The constant itself; SearchSpaceError when ``value`` differs from it."""
        if not self.contains(value):
            raise SearchSpaceError(
                f"{value!r} differs from the constant {self.value!r}: give {self.value!r} or "
                "leave it out",
                (self.name,),
            )
        return self.value

    def grid_values(self, points: int) -> tuple[Scalar, ...]:
        return (self.value,)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description; :func:`search_spaces.SearchSpace.from_json` reads it."""
        return {
            "type": self.kind,
            "name": self.name,
            "value": self.value,
            "when": when_to_json(self.when),
        }


#: Any parameter type.
Parameter: TypeAlias = Float | Int | Categorical | Constant

PARAMETER_TYPES = (Float, Int, Categorical, Constant)


def param_from_json(data: Any, position: int = 0) -> Parameter:
    """Rebuild a parameter from :meth:`to_json` output. SearchSpaceError on malformed input."""
    if not isinstance(data, Mapping):
        raise SearchSpaceError(f"a parameter must be a JSON object, not {data!r}", (position,))
    name = data.get("name", position)
    kind = data.get("type")
    kwargs = {k: v for k, v in data.items() if k not in ("type", "name")}
    try:
        if kind == "float":
            return Float(data["name"], kwargs.pop("low"), kwargs.pop("high"), **kwargs)
        if kind == "int":
            return Int(data["name"], kwargs.pop("low"), kwargs.pop("high"), **kwargs)
        if kind == "categorical":
            return Categorical(data["name"], kwargs.pop("choices"), **kwargs)
        if kind == "constant":
            return Constant(data["name"], kwargs.pop("value"), **kwargs)
    except (KeyError, TypeError) as exc:
        raise SearchSpaceError(
            f"malformed {kind} parameter in JSON ({exc}): it must come from to_json()", (name,)
        ) from None
    raise SearchSpaceError(
        f"unknown parameter type {kind!r}; expected one of: float, int, categorical, constant",
        (name,),
    )
