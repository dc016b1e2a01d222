"""``Int``: an integer parameter, linear or log, with a step (1 by default).

Its unit-cube mapping uses equal-width bins (in log space when log), so that a uniform ``u``
gives a uniform integer (log-uniform when log).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from search_spaces._common import (
    EMPTY_WHEN,
    When,
    check_bounds,
    check_grid_points,
    check_name,
    dedupe,
    is_integral,
    normalise_when,
    range_to_json,
)
from search_spaces._errors import SearchSpaceError


def check_integer(name: str, key: str, value: Any) -> int:
    """A whole number (``3`` or ``3.0``) as an int; ``key`` is the config key the user wrote."""
    if not is_integral(value):
        raise SearchSpaceError(
            f"{key} must be an integer, not {value!r}: write a whole number, or use a float "
            "parameter",
            (name, key),
        )
    return int(value)


def check_int_step(name: str, step: Any) -> int:
    """The step of an integer parameter: a whole number of at least 1, as an int."""
    if not is_integral(step) or step < 1:
        raise SearchSpaceError(f"step must be a positive integer, not {step!r}", (name, "step"))
    return int(step)


@dataclass(frozen=True, slots=True)
class Int:
    """An integer parameter: ``low + k * step`` for ``k = 0, 1, ...`` up to ``high``.

    A uniform draw gives each value the same chance; with ``log`` (``low`` >= 1) the chance of a
    value is proportional to the width of its bin in log space, i.e. log-uniform.
    """

    kind: ClassVar[str] = "int"

    name: str
    low: int
    high: int
    log: bool = field(default=False, kw_only=True)
    step: int = field(default=1, kw_only=True)
    when: When = field(default=EMPTY_WHEN, kw_only=True)
    grid_points: int | None = field(default=None, kw_only=True)
    _n: int = field(init=False, repr=False, compare=False, hash=False)
    _lo: float = field(init=False, repr=False, compare=False, hash=False)
    _span: float = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        name = check_name(self.name)
        low, high = check_integer(name, "min", self.low), check_integer(name, "max", self.high)
        check_bounds(name, low, high, self.log)
        step = check_int_step(name, self.step)
        if step > high - low:
            raise SearchSpaceError(
                f"step ({step}) is larger than max - min ({high - low}), so only min could be "
                "drawn: use a smaller step",
                (name, "step"),
            )
        check_grid_points(name, self.grid_points)
        put = object.__setattr__
        put(self, "low", low)
        put(self, "high", high)
        put(self, "step", step)
        put(self, "log", bool(self.log))
        put(self, "grid_points", None if self.grid_points is None else int(self.grid_points))
        put(self, "when", normalise_when(name, self.when))
        n = (high - low) // step
        put(self, "_n", n)
        if self.log:
            # Bins of width `step` around each value, in log space. When the step is wider than
            # twice `low` the bin of `low` would reach below 0; it then starts at low / 2.
            left = low - step / 2 if 2 * low > step else low / 2
            put(self, "_lo", math.log(left))
            put(self, "_span", math.log(low + n * step + step / 2) - math.log(left))
        else:
            put(self, "_lo", 0.0)
            put(self, "_span", float(n + 1))

    def from_unit(self, u: float) -> int:
        """The value whose bin holds ``u`` (equal-width bins; in log space when log)."""
        n = self._n
        if self.log:
            x = math.exp(self._lo + u * self._span)
            k = round((x - self.low) / self.step)
        else:
            k = int(u * (n + 1))
        k = 0 if k < 0 else n if k > n else k
        return self.low + k * self.step

    draw = from_unit

    def to_unit(self, value: int) -> float:
        """The centre of ``value``'s bin in [0, 1]."""
        k = (value - self.low) // self.step
        if not self.log:
            return (k + 0.5) / (self._n + 1)
        left = self._lo if k == 0 else math.log(value - self.step / 2)
        right = math.log(value + self.step / 2)
        return ((left + right) / 2 - self._lo) / self._span

    def contains(self, value: Any) -> bool:
        """True when ``value`` is a whole number in range and on the step grid."""
        try:
            self.normalise(value)
        except SearchSpaceError:
            return False
        return True

    def normalise(self, value: Any) -> int:
        """``value`` as an int (``3.0`` -> ``3``); SearchSpaceError when it is not valid."""
        if not is_integral(value):
            raise SearchSpaceError(
                f"{value!r} is not an integer: give a whole number", (self.name,)
            )
        v = int(value)
        if not self.low <= v <= self.high:
            raise SearchSpaceError(
                f"{v} is outside [{self.low}, {self.high}]: give a value in range", (self.name,)
            )
        if (v - self.low) % self.step:
            raise SearchSpaceError(
                f"{v} is not on the step grid {self.low} + k * {self.step}: use e.g. "
                f"{self.low + (v - self.low) // self.step * self.step}",
                (self.name,),
            )
        return v

    def grid_values(self, points: int) -> tuple[int, ...]:
        """Every value when there are at most ``points`` (or ``grid_points``), else that many
        evenly spaced (geometrically when log), rounded to the step and deduplicated."""
        count = self.grid_points or points
        if self._n + 1 <= count:
            return tuple(self.low + k * self.step for k in range(self._n + 1))
        top = self.low + self._n * self.step
        spaced = (np.geomspace if self.log else np.linspace)(self.low, top, count)
        return dedupe(
            self.low + round((float(x) - self.low) / self.step) * self.step for x in spaced
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-able description; :func:`search_spaces.SearchSpace.from_json` reads it."""
        return range_to_json(self)
