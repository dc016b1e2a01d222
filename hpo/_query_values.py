"""The query language's meaning: an AST compiled, against a schema of fields, into a predicate
(and sort keys) over records.

Values compare like SQL's NULL: a missing value (a param a trial lacks, a metric never
reported) makes every comparison false, except ``== null`` (true) and ``!= null`` (false).
The negated forms (``!=``, ``not in``, ``not contains``, ``!~``) are true exactly when the value
is present and the positive form is false; ``not`` flips a whole condition. Values of different
types are never equal and never ordered (``lr < "a"`` is false); NaN equals NaN, so
``metrics.loss == nan`` finds NaN losses.
"""

from __future__ import annotations

import enum
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from hpo._errors import QueryError
from hpo._query_ast import Name, Op

R = TypeVar("R")
Getter = Callable[[Any], Any]


class Kind(enum.Enum):
    """What a field holds; decides which literals and operators it takes."""

    NUMBER = "a number"
    TEXT = "text"
    TIME = "a time"
    DURATION = "a duration"
    CHOICE = "one of a fixed set of names"
    TAGS = "a list of tags"
    ANY = "any value"


@dataclass(frozen=True)
class FieldSpec:
    """A field: its name, kind and how to read it from a record (None when missing).
    ``choices`` are the accepted names of a CHOICE field (``aliases`` map others onto them);
    with ``bare_values`` a bare word compared with the field is a value (``state == failed``)."""

    name: str
    kind: Kind
    get: Getter
    choices: tuple[str, ...] = ()
    aliases: Mapping[str, str] | None = None
    bare_values: bool = False


class Schema(Protocol):
    """Resolves names to fields. ``builtin`` answers only for built-in fields (no error);
    ``field`` answers for any name or raises QueryError via ``fail``."""

    def builtin(self, name: Name) -> FieldSpec | None: ...

    def field(self, name: Name, fail: Callable[[str, int], QueryError]) -> FieldSpec: ...


_NUM, _STR, _BOOL, _LIST = 1, 2, 3, 4
_KINDS = {int: _NUM, float: _NUM, str: _STR, bool: _BOOL, list: _LIST, tuple: _LIST}


def _kind_of(v: Any) -> int:
    k = _KINDS.get(type(v))
    if k is not None:
        return k
    if isinstance(v, bool):
        return _BOOL
    if isinstance(v, (int, float)):  # numpy scalars and other subclasses
        return _NUM
    return _STR if isinstance(v, str) else 0


def _eq(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    ka = _kind_of(a)
    if ka != _kind_of(b):
        return False
    return bool(a == b) or (ka == _NUM and a != a and b != b)


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(a: Any, b: Any) -> bool:
        if a is None or b is None:
            return False
        ka = _kind_of(a)
        return ka in (_NUM, _STR, _BOOL) and ka == _kind_of(b) and bool(op(a, b))

    return compare


def _in(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    if isinstance(b, (list, tuple)):
        return any(_eq(a, x) for x in b)
    return isinstance(a, str) and isinstance(b, str) and a in b


def truthy(v: Any) -> bool:
    """A value alone as a condition: missing, null, false, 0, NaN, "" and [] are false."""
    if v is None or v != v:
        return False
    return bool(v) if _kind_of(v) else False


def _negative(positive: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def negative(a: Any, b: Any) -> bool:
        return a is not None and b is not None and not positive(a, b)

    return negative


_POSITIVE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: _eq,
    Op.LT: _ordered(operator.lt),
    Op.LE: _ordered(operator.le),
    Op.GT: _ordered(operator.gt),
    Op.GE: _ordered(operator.ge),
    Op.IN: _in,
    Op.CONTAINS: lambda a, b: _in(b, a),
}


def sort_records(records: Sequence[R], keys: Sequence[tuple[FieldSpec, bool]]) -> list[R]:
    """Sorted by each key in turn (``True``: descending); a missing or NaN value goes last
    whichever the direction, and values of different types order numbers, text, booleans."""
    out = list(records)
    for spec, descending in reversed(keys):  # stable sorts: the first key decides last
        get = spec.get
        pairs = [(get(r), r) for r in out]
        present = [p for p in pairs if p[0] is not None and p[0] == p[0]]
        missing = [r for v, r in pairs if v is None or v != v]
        types = {type(v) for v, _ in present}
        if types <= {int, float} or types in ({str}, {bool}):
            present.sort(key=_first, reverse=descending)  # the usual case: one kind of value
        else:
            present.sort(key=lambda p: _sortable(p[0]), reverse=descending)
        out = [r for _, r in present] + missing
    return out


def _first(pair: tuple[Any, Any]) -> Any:
    return pair[0]


def _sortable(v: Any) -> tuple[int, Any]:
    k = _kind_of(v)
    if k in (_NUM, _STR, _BOOL):
        return (k, v)
    return (9, repr(v))


_NEGATION = {Op.NE: Op.EQ, Op.NOT_IN: Op.IN, Op.NOT_CONTAINS: Op.CONTAINS}


def comparison(op: Op) -> Callable[[Any, Any], bool]:
    """The test ``op`` makes of two values (``~`` and ``!~`` excepted: they need a pattern)."""
    if op in _NEGATION:
        return _negative(_POSITIVE[_NEGATION[op]])
    return _POSITIVE[op]
