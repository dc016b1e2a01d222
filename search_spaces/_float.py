"""``Float``: a real parameter, linear or log, optionally on a step grid.

Each parameter type maps a number ``u`` in [0, 1] to a value (``from_unit``) and back
(``to_unit``): that one mapping serves sampling (a uniform ``u`` gives the parameter's
distribution), quasi-random search and model-based strategies, which all work in the unit cube.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import numpy as np

from search_spaces._common import (
    EMPTY_WHEN,
    When,
    check_bounds,
    check_grid_points,
    check_name,
    check_number,
    dedupe,
    is_real,
    normalise_when,
    range_to_json,
)
from search_spaces._errors import SearchSpaceError

# Tolerance, in steps, within which a value counts as lying on a step grid.
_ON_STEP = 1e-6
# How many ulps of u to try when looking for the u that decodes to exactly a given float.
_NUDGES = 64


def _decimals(x: float) -> int:
    exponent = Decimal(repr(float(x))).as_tuple().exponent
    return max(0, -int(exponent))


@dataclass(frozen=True, slots=True)
class Float:
    """A real-valued parameter in ``[low, high]``.

    ``log`` samples uniformly in the logarithm (``low`` must be > 0). ``step`` restricts values
    to ``low + k * step <= high`` (``high - low`` need not be a multiple); sampled values are
    snapped to the nearest step. ``when`` maps parent names to the values under which this
    parameter exists; ``grid_points`` overrides the grid resolution for this parameter.
    """

    kind: ClassVar[str] = "float"

    name: str
    low: float
    high: float
    log: bool = field(default=False, kw_only=True)
    step: float | None = field(default=None, kw_only=True)
    when: When = field(default=EMPTY_WHEN, kw_only=True)
    grid_points: int | None = field(default=None, kw_only=True)
    # Derived at construction, so that sampling does no more arithmetic than it must.
    _a: float = field(init=False, repr=False, compare=False, hash=False)
    _span: float = field(init=False, repr=False, compare=False, hash=False)
    _n: int = field(init=False, repr=False, compare=False, hash=False)
    _nd: int = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        name = check_name(self.name)
        low = check_number(name, "min", self.low)
        high = check_number(name, "max", self.high)
        check_bounds(name, low, high, self.log)
        step = self.step
        if step is not None:
            step = check_number(name, "step", step)
            if step <= 0:
                raise SearchSpaceError(
                    f"step ({step!r}) must be greater than 0: use a positive step or drop it",
                    (name, "step"),
                )
            if step > high - low:
                raise SearchSpaceError(
                    f"step ({step!r}) is larger than max - min ({high - low!r}), so only min "
                    "could be drawn: use a smaller step",
                    (name, "step"),
                )
        check_grid_points(name, self.grid_points)
        put = object.__setattr__
        put(self, "low", low)
        put(self, "high", high)
        put(self, "log", bool(self.log))
        put(self, "step", step)
        put(self, "grid_points", None if self.grid_points is None else int(self.grid_points))
        put(self, "when", normalise_when(name, self.when))
        if self.log:
            put(self, "_a", math.log(low))
            put(self, "_span", math.log(high) - math.log(low))
        else:
            put(self, "_a", low)
            put(self, "_span", high - low)
        if step is None:
            put(self, "_n", 0)
            put(self, "_nd", 0)
        else:
            put(self, "_n", math.floor((high - low) / step + _ON_STEP))
            put(self, "_nd", max(_decimals(low), _decimals(step)))

    def _snap(self, x: float, step: float) -> float:
        k = round((x - self.low) / step)
        k = 0 if k < 0 else self._n if k > self._n else k
        v = round(self.low + k * step, self._nd)
        return v if v <= self.high else self.high

    def from_unit(self, u: float) -> float:
        """The value at ``u`` in [0, 1]: linear in the value (or its log), snapped to step."""
        if u <= 0.0 or u >= 1.0:  # exact bounds, which exp(log(low)) need not give
            x = self.low if u <= 0.0 else self.high
        else:
            x = self._a + u * self._span
            if self.log:
                x = math.exp(x)
        if self.step is not None:
            return self._snap(x, self.step)
        return self.low if x < self.low else self.high if x > self.high else x

    draw = from_unit

    def to_unit(self, value: float) -> float:
        """The position of ``value`` in [0, 1]; the inverse of :meth:`from_unit`."""
        x = math.log(value) if self.log else value
        u = (x - self._a) / self._span
        u = 0.0 if u < 0.0 else 1.0 if u > 1.0 else u
        if self.step is None:
            u = self._exact_unit(u, value)
        return u

    def _exact_unit(self, u: float, value: float) -> float:
        # log/exp and the affine map lose a few bits, so the nearest u may decode to a
        # neighbouring float. A value that decode produced has an exact u a few ulps away; find
        # it, so that what a strategy proposed survives encode -> decode unchanged.
        got = self.from_unit(u)
        if got == value:
            return u
        toward = 2.0 if got < value else -1.0
        probe = u
        for _ in range(_NUDGES):
            probe = math.nextafter(probe, toward)
            got_next = self.from_unit(probe)
            if got_next == value:
                return probe
            if (got_next > value) == (toward > 1.0):  # stepped past it: value is unreachable
                break
        return u

    def contains(self, value: Any) -> bool:
        """True when ``value`` is a number in range (and on the step grid)."""
        try:
            self.normalise(value)
        except SearchSpaceError:
            return False
        return True

    def normalise(self, value: Any) -> float:
        """``value`` as a float on the step grid; SearchSpaceError when it is not a valid value."""
        if not is_real(value) or not math.isfinite(value):
            raise SearchSpaceError(f"{value!r} is not a number: give a float", (self.name,))
        x = float(value)
        if not self.low <= x <= self.high:
            raise SearchSpaceError(
                f"{x!r} is outside [{self.low!r}, {self.high!r}]: give a value in range",
                (self.name,),
            )
        if self.step is None:
            return x
        snapped = self._snap(x, self.step)
        # Within a millionth of a step, or a few ulps where the values are large beside the step.
        if abs(x - snapped) > _ON_STEP * self.step + 4 * math.ulp(max(abs(x), abs(self.low))):
            raise SearchSpaceError(
                f"{x!r} is not on the step grid {self.low!r} + k * {self.step!r}: "
                f"use e.g. {snapped!r}",
                (self.name,),
            )
        return snapped

    def grid_values(self, points: int) -> tuple[float, ...]:
        """``points`` (or ``grid_points``) values, evenly spaced (geometrically when log)."""
        count = self.grid_points or points
        if self.step is not None and self._n + 1 <= count:
            return tuple(
                self._snap(self.low + k * self.step, self.step) for k in range(self._n + 1)
            )
        spaced = (np.geomspace if self.log else np.linspace)(self.low, self.high, count)
        if self.step is not None:
            return dedupe(self._snap(float(x), self.step) for x in spaced)
        return dedupe(float(x) for x in spaced)

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description; :func:`search_spaces.SearchSpace.from_json` reads it."""
        return range_to_json(self)
