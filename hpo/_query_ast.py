"""The query language's syntax tree, and its rendering back to text.

``render(parse(text))`` is text that parses to the same tree (positions aside): the fuzz tests
rely on it, and messages use it to quote values.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from typing import Any

from hpo._query_lex import IDENT, KEYWORDS, UNITS


class Op(str, enum.Enum):
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    MATCH = "~"
    NOT_MATCH = "!~"
    IN = "in"
    NOT_IN = "not in"
    CONTAINS = "contains"
    NOT_CONTAINS = "not contains"


class Lit(enum.Enum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "bool"
    NULL = "null"
    DURATION = "duration"  # value: seconds
    AGO = "ago"  # value: seconds before now
    DATE = "date"  # value: the ISO text


@dataclass(frozen=True)
class Name:
    parts: tuple[str, ...]
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True, eq=False)
class Literal:
    kind: Lit
    value: Any
    pos: int = 0

    def _key(self) -> tuple[Lit, str, str]:
        # repr tells 3 from 3.0 and makes nan equal to nan: what a round trip needs.
        return (self.kind, type(self.value).__name__, repr(self.value))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Literal) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())


@dataclass(frozen=True)
class ListValue:
    items: tuple[Name | Literal, ...]
    pos: int = field(default=0, compare=False)


Value = Name | Literal | ListValue


@dataclass(frozen=True)
class Compare:
    op: Op
    left: Value
    right: Value
    pos: int = field(default=0, compare=False)  # of the operator


@dataclass(frozen=True)
class Truthy:
    """A value alone as a condition: true when present and truthy (``error``, ``use_bn``)."""

    value: Value


@dataclass(frozen=True)
class Not:
    operand: Node
    pos: int = field(default=0, compare=False)


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Compare | Truthy | Not | And | Or


@dataclass(frozen=True)
class SortKey:
    name: Name
    descending: bool = False


def render(node: Node | None) -> str:
    """Text that parses back to ``node`` (the empty text for None)."""
    return "" if node is None else _render(node, 0)


_PRECEDENCE = {Or: 1, And: 2, Not: 3}


def _render(node: Node, outer: int) -> str:
    prec = _PRECEDENCE.get(type(node), 4)
    if isinstance(node, (Or, And)):
        word = " or " if isinstance(node, Or) else " and "
        text = word.join(_render(item, prec + 1) for item in node.items)
    elif isinstance(node, Not):
        text = "not " + _render(node.operand, prec)
    elif isinstance(node, Compare):
        text = f"{render_value(node.left)} {node.op.value} {render_value(node.right)}"
    else:
        text = render_value(node.value)
    return f"({text})" if prec < outer else text


def render_value(value: Value) -> str:
    if isinstance(value, Name):
        return render_name(value.parts)
    if isinstance(value, ListValue):
        return "[" + ", ".join(render_value(v) for v in value.items) + "]"
    kind, v = value.kind, value.value
    if kind is Lit.STRING:
        return _quote(v, '"')
    if kind is Lit.BOOL:
        return "true" if v else "false"
    if kind is Lit.NULL:
        return "null"
    if kind is Lit.DATE:
        return str(v)
    if kind is Lit.NUMBER and isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if kind is Lit.NUMBER:
        return repr(v)
    return _duration(v) + (" ago" if kind is Lit.AGO else "")


def _duration(seconds: float) -> str:
    # Whole seconds in the largest unit that divides them (2h, not 7200s); anything else in
    # seconds, written so that it reads back as the same number (an int stays an int).
    if isinstance(seconds, int) and seconds:
        for unit in ("w", "d", "h", "m"):
            size = int(UNITS[unit])
            if seconds % size == 0:
                return f"{seconds // size}{unit}"
    return f"{seconds!r}s"


def render_name(parts: tuple[str, ...]) -> str:
    def part(p: str) -> str:
        plain = IDENT.fullmatch(p) and not (len(parts) == 1 and p.lower() in KEYWORDS)
        return p if plain else _quote(p, "`")

    return ".".join(part(p) for p in parts)


def _quote(text: str, quote: str) -> str:
    out = []
    for c in text:
        if c in ("\\", quote):
            out.append("\\" + c)
        elif c in "\n\t\r":
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}[c])
        elif c.isprintable():
            out.append(c)
        else:
            out.append(f"\\u{ord(c):04x}" if ord(c) <= 0xFFFF else f"\\U{ord(c):08x}")
    return quote + "".join(out) + quote
