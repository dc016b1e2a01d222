"""Compiling a query's syntax tree, against a schema of fields, into a predicate over records.

Literals are checked and converted once, for the field they face (``started > 2026-11-01``
becomes a timestamp, ``state == failed`` a state name), so that evaluating a record is a few
plain comparisons: see ``_query_values`` for what they mean.
"""

from __future__ import annotations

import difflib
import re
import time
from collections.abc import Callable
from typing import Any

from hpo._errors import QueryError
from hpo._query_ast import (
    And,
    Compare,
    ListValue,
    Lit,
    Literal,
    Name,
    Node,
    Not,
    Op,
    Or,
    SortKey,
    Truthy,
    Value,
    render_value,
)
from hpo._query_lex import date_timestamp
from hpo._query_values import FieldSpec, Getter, Kind, Schema, comparison, truthy

Predicate = Callable[[Any], bool]
_TEXT_OPS = (Op.MATCH, Op.NOT_MATCH, Op.CONTAINS, Op.NOT_CONTAINS)
_LIST_OPS = (Op.IN, Op.NOT_IN, *_TEXT_OPS)
_CHOICE_OPS = (Op.EQ, Op.NE, Op.IN, Op.NOT_IN, Op.MATCH, Op.NOT_MATCH)
_NUMERIC = (Kind.NUMBER, Kind.TIME, Kind.DURATION)


class Compiler:
    """Compiles ASTs of one expression text against a schema; errors point into the text."""

    def __init__(self, schema: Schema, text: str, what: str = "filter") -> None:
        self.schema = schema
        self.text = text
        self.what = what
        self.now = time.time()  # `2h ago` means the same moment for every record

    def fail(self, message: str, position: int) -> QueryError:
        return QueryError(message, expression=self.text, position=position, what=self.what)

    def predicate(self, node: Node) -> Predicate:
        if isinstance(node, (And, Or)):
            parts = [self.predicate(item) for item in node.items]
            if len(parts) == 2:
                a, b = parts
                if isinstance(node, And):
                    return lambda r: a(r) and b(r)
                return lambda r: a(r) or b(r)
            combine = all if isinstance(node, And) else any
            return lambda r: combine(p(r) for p in parts)
        if isinstance(node, Not):
            inner = self.predicate(node.operand)
            return lambda r: not inner(r)
        if isinstance(node, Truthy):
            if isinstance(node.value, ListValue):
                raise self.fail(
                    "a list alone is not a condition: write e.g. x in [1, 2]", node.value.pos
                )
            get = self._getter(node.value, None)
            return lambda r: truthy(get(r))
        return self._compare(node)

    def sort_key(self, key: SortKey) -> tuple[FieldSpec, bool]:
        return self.schema.field(key.name, self.fail), key.descending

    def _compare(self, node: Compare) -> Predicate:
        left, right, op = node.left, node.right, node.op
        # A bare word facing a field like `state` is one of its values: state == failed.
        lb, rb = self._builtin(left), self._builtin(right)
        if lb is not None and lb.bare_values:
            right = _as_word(right)
        elif rb is not None and rb.bare_values:
            left = _as_word(left)
        elif isinstance(right, ListValue) or (
            isinstance(left, Name) and isinstance(right, Name) and self._unknown(right)
        ):
            # Lists hold values, and `opt == adam` means the text when adam is no field.
            right = _as_word(right)
        lspec = self.schema.field(left, self.fail) if isinstance(left, Name) else None
        rspec = self.schema.field(right, self.fail) if isinstance(right, Name) else None
        self._check(op, node, left, right, lspec, rspec)
        if op in (Op.EQ, Op.NE):
            self._declared(lspec, right)
            self._declared(rspec, left)
        elif op in (Op.IN, Op.NOT_IN) and isinstance(right, ListValue):
            self._declared(lspec, right)
        if op in (Op.MATCH, Op.NOT_MATCH):
            assert isinstance(right, Literal)
            pattern = re.compile(right.value)
            get = self._getter(left, rspec, lspec)
            return _matcher(get, pattern, negated=op is Op.NOT_MATCH)
        test = comparison(op)
        null = _null_side(left, right)
        if null is not None:
            # `x == null` asks whether x is missing: the one comparison a missing value passes.
            get_other = self._getter(null, None, lspec or rspec)
            if op is Op.EQ:
                return lambda r: get_other(r) is None
            return lambda r: get_other(r) is not None
        get_l = self._getter(left, rspec, lspec)
        get_r = self._getter(right, lspec, rspec)
        if isinstance(right, (Literal, ListValue)):
            const = get_r(None)
            return lambda r: test(get_l(r), const)
        return lambda r: test(get_l(r), get_r(r))

    def _unknown(self, name: Name) -> bool:
        if len(name.parts) != 1:
            return False
        try:
            self.schema.field(name, self.fail)
        except QueryError:
            return True
        return False

    def _declared(self, spec: FieldSpec | None, value: Value) -> None:
        """A categorical param compared with text that is none of its choices: a typo."""
        if spec is None or spec.kind is not Kind.ANY or not spec.choices:
            return
        for item in value.items if isinstance(value, ListValue) else (value,):
            if (
                isinstance(item, Literal)
                and item.kind is Lit.STRING
                and item.value not in spec.choices
            ):
                raise self._no_such_value(item, spec)

    def _builtin(self, value: Value) -> FieldSpec | None:
        return self.schema.builtin(value) if isinstance(value, Name) else None

    def _check(
        self,
        op: Op,
        node: Compare,
        left: Value,
        right: Value,
        lspec: FieldSpec | None,
        rspec: FieldSpec | None,
    ) -> None:
        null = _null_side(left, right) is not None
        if null and op not in (Op.EQ, Op.NE):
            raise self.fail(f"null can only be compared with == or !=, not {op.value!r}", node.pos)
        if op in (Op.IN, Op.NOT_IN):
            if isinstance(left, ListValue):
                raise self.fail(f"the list goes after {op.value!r}: x in [1, 2]", left.pos)
            if isinstance(right, Literal) and right.kind is not Lit.STRING:
                raise self.fail(f"{op.value!r} takes a list, e.g. x in [1, 2]", right.pos)
        elif isinstance(left, ListValue) or isinstance(right, ListValue):
            at = left.pos if isinstance(left, ListValue) else right.pos
            raise self.fail(f"a list goes after 'in' or 'not in', not {op.value!r}", at)
        for spec, side in ((lspec, left), (rspec, right)):
            if spec is None or (null and op in (Op.EQ, Op.NE)):
                continue
            if spec.kind is Kind.TAGS and op not in _LIST_OPS:
                raise self.fail(f"{spec.name!r} is a list: use 'contains' or 'in'", node.pos)
            if spec.kind is Kind.CHOICE and op not in _CHOICE_OPS:
                raise self.fail(
                    f"{spec.name!r} is one of {', '.join(spec.choices)}: "
                    "compare it with ==, != or in",
                    node.pos,
                )
            if spec.kind in _NUMERIC and op in _TEXT_OPS and side is left:
                raise self.fail(
                    f"{spec.name!r} is {spec.kind.value}: {op.value!r} works on text", node.pos
                )

    def _getter(
        self, value: Value, facing: FieldSpec | None, own: FieldSpec | None = None
    ) -> Getter:
        """How to read ``value`` from a record. A literal is coerced to the kind of the field it
        faces; a list's items too."""
        if isinstance(value, Name):
            spec = own or self.schema.field(value, self.fail)
            return spec.get
        if isinstance(value, ListValue):
            items = tuple(self._constant(item, facing) for item in value.items)
            return lambda r: items
        const = self._constant(value, facing)
        return lambda r: const

    def _constant(self, lit: Literal | Name, facing: FieldSpec | None) -> Any:
        if isinstance(lit, Name):
            raise self.fail('a list holds values: put text in quotes, e.g. ["a", "b"]', lit.pos)
        if lit.kind is Lit.NULL:
            return None
        kind = facing.kind if facing is not None else Kind.ANY
        if facing is None or kind is Kind.ANY:
            return self._any(lit)
        name, value = facing.name, lit.value
        if kind is Kind.CHOICE:
            return self._choice(lit, facing)
        if kind in (Kind.TEXT, Kind.TAGS):
            if lit.kind is Lit.STRING:
                return value
            raise self.fail(f"{name!r} is text: put the value in quotes", lit.pos)
        if kind is Kind.NUMBER and lit.kind is Lit.NUMBER:
            return value
        if kind is Kind.DURATION and lit.kind in (Lit.NUMBER, Lit.DURATION):
            return value
        if kind is Kind.TIME:
            if lit.kind in (Lit.NUMBER, Lit.DATE, Lit.AGO):
                return self._any(lit)
            if lit.kind is Lit.STRING:
                try:
                    return date_timestamp(value)
                except (ValueError, OverflowError, OSError):
                    pass
            raise self.fail(
                f"{name!r} is a time: compare it with a date (2026-11-01, 2026-11-01T14:30) "
                "or a moment like 2h ago",
                lit.pos,
            )
        hint = "a number" if kind is Kind.NUMBER else "a number of seconds or 30s, 5m, 2h, 1d"
        raise self.fail(f"{name!r} is {kind.value}: compare it with {hint}", lit.pos)

    def _any(self, lit: Literal) -> Any:
        if lit.kind is Lit.AGO:
            return self.now - lit.value
        if lit.kind is Lit.DATE:
            return date_timestamp(lit.value)
        return lit.value  # a duration is its seconds

    def _choice(self, lit: Literal, spec: FieldSpec) -> str:
        if lit.kind is Lit.STRING:
            word = str(lit.value).strip().lower().replace("-", "_")
            word = (spec.aliases or {}).get(word, word)
            if word in spec.choices:
                return word
        raise self._no_such_value(lit, spec)

    def _no_such_value(self, lit: Literal, spec: FieldSpec) -> QueryError:
        text = str(lit.value)
        hint = difflib.get_close_matches(text, spec.choices, n=1) or difflib.get_close_matches(
            text.lower(), [c.lower() for c in spec.choices], n=1
        )
        extra = f" (did you mean {hint[0]}?)" if hint else ""
        names = ", ".join(spec.choices[:12]) + (", ..." if len(spec.choices) > 12 else "")
        return self.fail(
            f"{spec.name} has no value {render_value(lit)}{extra}; it is one of {names}", lit.pos
        )


def _as_word(value: Value) -> Value:
    if isinstance(value, ListValue):
        return ListValue(tuple(_word(v) for v in value.items), value.pos)
    return _word(value)


def _word(value: Name | Literal) -> Name | Literal:
    if isinstance(value, Name) and len(value.parts) == 1:
        return Literal(Lit.STRING, value.parts[0], value.pos)
    return value


def _null_side(left: Value, right: Value) -> Value | None:
    """The other side when one side is the null literal (None when neither is)."""
    if isinstance(right, Literal) and right.kind is Lit.NULL:
        return left
    if isinstance(left, Literal) and left.kind is Lit.NULL:
        return right
    return None


def _matcher(get: Getter, pattern: re.Pattern[str], *, negated: bool) -> Predicate:
    search = pattern.search

    def matches(v: Any) -> bool:
        if isinstance(v, str):
            return search(v) is not None
        if isinstance(v, (list, tuple)):
            return any(isinstance(x, str) and search(x) is not None for x in v)
        return False

    if negated:
        return lambda r: (v := get(r)) is not None and not matches(v)
    return lambda r: matches(get(r))
