"""``SearchSpace``: named parameters in dependency order, and what strategies do with them.

Everything a strategy calls per trial (``sample``, ``decode``) runs over a plan compiled once at
construction: one tuple per parameter, so the per-call work is a loop of float arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from search_spaces._common import (
    Conds,
    FrozenMap,
    Scalar,
    ckey,
    compile_when,
    conditions_hold,
    did_you_mean,
)
from search_spaces._errors import SearchSpaceError
from search_spaces._grid import GridEntry, count_grid, iter_grid
from search_spaces._order import check_conditions, dependency_order
from search_spaces._params import PARAMETER_TYPES, Constant, Parameter, param_from_json
from search_spaces._parse import parse_parameters

_JSON_FORMAT = "hpo.search_space"
_JSON_VERSION = 1

# One parameter of the compiled plan: name, draw (None for a constant), from_unit, the constant's
# value, its compiled condition and its dimension in the encoding (-1 for a constant).
_Step: TypeAlias = tuple[
    str, Callable[[float], Scalar] | None, Callable[[float], Scalar], Scalar, Conds | None, int
]


class SearchSpace:
    """An ordered set of parameters; parents (named in a ``when``) come before their children.

    Build one from parameter objects, or from the user format with :meth:`from_dict`.
    """

    __slots__ = ("_by_name", "_conds", "_encoded", "_params", "_plan")

    def __init__(self, params: Sequence[Parameter]) -> None:
        if isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Sequence):
            raise SearchSpaceError(
                f"a SearchSpace takes a list of parameters, not {type(params).__name__}: "
                "use SearchSpace.from_dict for a mapping"
            )
        by_name: dict[str, Parameter] = {}
        for i, param in enumerate(params):
            if not isinstance(param, PARAMETER_TYPES):
                raise SearchSpaceError(
                    f"{param!r} is not a parameter: use Float, Int, Categorical or Constant", (i,)
                )
            if param.name in by_name:
                raise SearchSpaceError(
                    f"two parameters are named {param.name!r}: rename one", (param.name,)
                )
            by_name[param.name] = param
        check_conditions(by_name)
        ordered = dependency_order(list(by_name.values()))
        self._params: tuple[Parameter, ...] = tuple(ordered)
        self._by_name: Mapping[str, Parameter] = FrozenMap({p.name: p for p in ordered})
        self._conds: tuple[Conds | None, ...] = tuple(compile_when(p.when) for p in ordered)
        self._encoded: tuple[str, ...] = tuple(
            p.name for p in ordered if not isinstance(p, Constant)
        )
        plan: list[_Step] = []
        j = 0
        for param, conds in zip(ordered, self._conds):
            if isinstance(param, Constant):
                # No draw: a constant must not consume a random number (seeded runs replay).
                # Its from_unit is never called (j < 0), but keeps the slot's type simple.
                plan.append((param.name, None, param.from_unit, param.value, conds, -1))
            else:
                plan.append((param.name, param.draw, param.from_unit, None, conds, j))
                j += 1
        self._plan: tuple[_Step, ...] = tuple(plan)

    # -- construction from other forms ---------------------------------------------------------

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> SearchSpace:
        """Parse the user format (W&B-style ``parameters``; see ``search_spaces._parse``)."""
        return cls(parse_parameters(mapping))

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable, lossless description; :meth:`from_json` reads it back."""
        return {
            "format": _JSON_FORMAT,
            "version": _JSON_VERSION,
            "parameters": [p.to_json() for p in self._params],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SearchSpace:
        """Rebuild a space from :meth:`to_json` output."""
        if not isinstance(data, Mapping) or data.get("format") != _JSON_FORMAT:
            raise SearchSpaceError(
                f"not a serialised search space (expected format {_JSON_FORMAT!r}): "
                "give the output of SearchSpace.to_json()"
            )
        if data.get("version") != _JSON_VERSION:
            raise SearchSpaceError(
                f"search space version {data.get('version')!r} is not supported "
                f"(this hpo reads version {_JSON_VERSION})"
            )
        raw = data.get("parameters")
        if not isinstance(raw, list):
            raise SearchSpaceError("a serialised search space needs a parameters list")
        return cls([param_from_json(p, i) for i, p in enumerate(raw)])

    # -- container protocol --------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """Parameter names in dependency order."""
        return tuple(self._by_name)

    @property
    def params(self) -> Mapping[str, Parameter]:
        """Read-only mapping name -> parameter, in dependency order."""
        return self._by_name

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[Parameter]:
        return iter(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SearchSpace):
            return NotImplemented
        return self._params == other._params

    def __hash__(self) -> int:
        return hash(self._params)

    def __repr__(self) -> str:
        return f"SearchSpace({list(self._params)!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the parameters: the compiled plan holds bound methods and frozensets
        # that need not travel.
        return (SearchSpace, (list(self._params),))

    # -- sampling and grids --------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        """One random configuration (active parameters only), from ``rng``."""
        rnd = rng.random
        out: dict[str, Any] = {}
        for name, draw, _, value, conds, _ in self._plan:
            if conds is not None and not conditions_hold(conds, out):
                continue
            out[name] = value if draw is None else draw(rnd())
        return out

    def grid(self, points: int = 5) -> Iterator[dict[str, Any]]:
        """Every configuration of the grid with ``points`` values per numeric parameter."""
        return iter_grid(self._grid_entries(points))

    def grid_size(self, points: int = 5) -> int:
        """The number of configurations :meth:`grid` yields, computed without enumerating."""
        return count_grid(self._grid_entries(points))

    def _grid_entries(self, points: int) -> list[GridEntry]:
        if isinstance(points, bool) or not isinstance(points, int) or points < 1:
            raise SearchSpaceError(f"grid points must be a positive integer, not {points!r}")
        return [(p.name, p.grid_values(points), c) for p, c in zip(self._params, self._conds)]

    # -- validation ----------------------------------------------------------------------------

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """True when parameter ``name`` exists in ``config``: its parents are active there and
        hold values its condition allows."""
        param = self._param(name)
        for parent, allowed in param.when.items():
            if parent not in config or not self.is_active(parent, config):
                return False
            try:
                if ckey(config[parent]) not in {ckey(v) for v in allowed}:
                    return False
            except TypeError:
                return False
        return True

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """A normalised copy of ``config`` (ints as int, floats snapped to their step), in the
        space's order. SearchSpaceError names the first parameter that is missing, out of range,
        not a choice, inactive or unknown."""
        if not isinstance(config, Mapping):
            raise SearchSpaceError(f"a configuration must be a mapping, not {config!r}")
        for key in config:
            if key not in self._by_name:
                raise SearchSpaceError(
                    f"unknown parameter {key!r}; the space has: {', '.join(self.names)}"
                    + did_you_mean(str(key), self.names),
                    (str(key),),
                )
        out: dict[str, Any] = {}
        for param, conds in zip(self._params, self._conds):
            active = conditions_hold(conds, out)
            if active and param.name not in config:
                raise SearchSpaceError(
                    "missing value: the parameter is active in this configuration; add it",
                    (param.name,),
                )
            if active:
                out[param.name] = param.normalise(config[param.name])
            elif param.name in config:
                raise SearchSpaceError(
                    f"the parameter is inactive here ({self._why_inactive(param, out)}): remove it",
                    (param.name,),
                )
        return out

    def _why_inactive(self, param: Parameter, active: Mapping[str, Any]) -> str:
        reasons = []
        for parent, allowed in param.when.items():
            if parent not in active:
                reasons.append(f"{parent} is inactive")
            elif not conditions_hold(compile_when({parent: allowed}), active):
                reasons.append(f"{parent} is {active[parent]!r}, not one of {list(allowed)!r}")
        return "; ".join(reasons)

    def _param(self, name: str) -> Parameter:
        try:
            return self._by_name[name]
        except KeyError:
            raise SearchSpaceError(
                f"unknown parameter {name!r}; the space has: {', '.join(self.names)}"
                + did_you_mean(name, self.names),
                (name,),
            ) from None

    # -- unit-cube encoding --------------------------------------------------------------------

    @property
    def encoded_names(self) -> tuple[str, ...]:
        """The parameters the encoding has a dimension for (all but constants), in order."""
        return self._encoded

    @property
    def dims(self) -> int:
        """The number of dimensions of the encoding."""
        return len(self._encoded)

    def encode(self, config: Mapping[str, Any]) -> np.ndarray:
        """``config`` as a point of [0, 1]^dims; NaN in the dimensions of inactive parameters."""
        out = np.full(len(self._encoded), np.nan)
        seen: dict[str, Any] = {}
        for param, (name, _, _, _, conds, j) in zip(self._params, self._plan):
            if not conditions_hold(conds, seen):
                continue
            if name not in config:
                raise SearchSpaceError("missing value: the parameter is active here", (name,))
            if isinstance(param, Constant):
                seen[name] = param.normalise(config[name])
                continue
            value = seen[name] = param.normalise(config[name])
            # Each type's to_unit takes what its own normalise returns; mypy cannot pair the two
            # across the union (it checks Int.to_unit against Float.normalise's result too).
            out[j] = param.to_unit(value)  # type: ignore[arg-type]
        return out

    def decode(self, u: np.ndarray | Sequence[float]) -> dict[str, Any]:
        """The configuration at point ``u`` (clipped to [0, 1]); inactive dimensions are ignored
        and only active parameters are returned."""
        arr = np.asarray(u, dtype=float)
        if arr.shape != (len(self._encoded),):
            raise SearchSpaceError(
                f"expected a vector of {len(self._encoded)} numbers, got shape {arr.shape}"
            )
        return self.decode_list(arr.tolist())

    def decode_list(self, u: Sequence[float]) -> dict[str, Any]:
        """:meth:`decode` for a list of Python floats, without the array checks (hot path)."""
        out: dict[str, Any] = {}
        for name, _, from_unit, value, conds, j in self._plan:
            if conds is not None and not conditions_hold(conds, out):
                continue
            if j < 0:
                out[name] = value
                continue
            x = u[j]
            if x != x:  # NaN
                raise SearchSpaceError(
                    f"dimension {j} is NaN but the parameter is active: give a number", (name,)
                )
            out[name] = from_unit(0.0 if x < 0.0 else 1.0 if x > 1.0 else x)
        return out


def as_space(obj: Any) -> SearchSpace:
    """A SearchSpace from a SearchSpace, a user-format mapping (whose values may also be
    Parameter objects), or a list of parameters."""
    if isinstance(obj, SearchSpace):
        return obj
    if isinstance(obj, Mapping):
        return SearchSpace.from_dict(obj)
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):
        return SearchSpace(obj)
    raise SearchSpaceError(
        f"cannot make a search space from {type(obj).__name__}: give a mapping of name -> spec, "
        "a list of parameters or a SearchSpace"
    )
