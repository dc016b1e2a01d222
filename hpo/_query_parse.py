"""The query language's grammar: a recursive-descent parser from text to the syntax tree of
``_query_ast`` (filters and sort keys).

Grammar (lowest precedence first; keywords are case-insensitive)::

    query      := or?                                  (empty text: everything matches)
    or         := and (("or" | "||") and)*
    and        := unary (("and" | "&&") unary)*
    unary      := ("not" | "!") unary | "(" or ")" | condition
    condition  := value [op value | ["not"] ("in" | "contains") value]
    op         := "==" | "=" | "!=" | "<" | "<=" | ">" | ">=" | "~" | "!~"
    value      := name | literal | "[" [value ("," value)* [","]] "]"
    literal    := ["-" | "+"] (number | duration ["ago"] | "inf" | "nan") | date
                | string | "true" | "false" | "null"

A name is ``params.lr``, ``metrics.loss``, a built-in field or a bare param/metric name; a name
that is no identifier, or is a keyword, goes in backticks (`my-param`, `in`). ``and``/``or``
chains are kept flat (n-ary), so that nesting, and with it recursion, stays as deep as the
parentheses and ``not``s the user wrote (at most ``MAX_DEPTH``).
"""

from __future__ import annotations

import math
import re

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
)
from hpo._query_lex import Tok, Token, tokenize

MAX_DEPTH = 64  # parentheses and `not`s: deeper input is refused, never a RecursionError


def parse(text: str) -> Node | None:
    """The AST of a filter expression; None for empty text (which matches everything)."""
    p = _Parser(text, "filter")
    if p.peek().kind is Tok.END:
        return None
    node = p.or_()
    tok = p.peek()
    if tok.kind is Tok.RPAREN:
        raise p.fail("unmatched ')'", tok)
    if tok.kind is not Tok.END:
        expected = "'and', 'or' or the end"
        if isinstance(node, Truthy):
            expected = "a comparison (==, !=, <, <=, >, >=, ~, in, contains), " + expected
        raise p.fail(f"expected {expected}{tok.found()}", tok)
    return node


def parse_sort(text: str) -> list[SortKey]:
    """``-metrics.acc, number`` -> sort keys; ``-`` sorts that key in descending order."""
    p = _Parser(text, "sort")
    keys: list[SortKey] = []
    if p.peek().kind is Tok.END:
        return keys
    while True:
        sign = p.peek()
        if sign.kind in (Tok.MINUS, Tok.PLUS):
            p.next()
        tok = p.next()
        if tok.kind is not Tok.NAME:
            raise p.fail(f"expected a field name to sort by{tok.found()}", tok)
        keys.append(SortKey(Name(tok.value, tok.pos), descending=sign.kind is Tok.MINUS))
        sep = p.next()
        if sep.kind is Tok.END:
            return keys
        if sep.kind is not Tok.COMMA:
            raise p.fail(f"expected ',' between sort keys{sep.found()}", sep)


class _Parser:
    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.what = what
        self.tokens = tokenize(text, what)
        self.i = 0
        self.depth = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.i + ahead, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i = min(self.i + 1, len(self.tokens) - 1)
        return tok

    def fail(self, message: str, tok: Token) -> QueryError:
        return QueryError(message, expression=self.text, position=tok.pos, what=self.what)

    def or_(self, after: Token | None = None) -> Node:
        items = [self.and_(after)]
        while self.peek().kind is Tok.OR:
            items.append(self.and_(after=self.next()))
        return _flat(Or, items)

    def and_(self, after: Token | None = None) -> Node:
        items = [self.unary(after)]
        while self.peek().kind is Tok.AND:
            items.append(self.unary(self.next()))
        return _flat(And, items)

    def unary(self, after: Token | None) -> Node:
        tok = self.peek()
        if tok.kind in (Tok.NOT, Tok.LPAREN):
            self.next()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail(f"nested more than {MAX_DEPTH} levels deep", tok)
            if tok.kind is Tok.NOT:
                node: Node = Not(self.unary(tok), tok.pos)
            else:
                node = self.or_(tok)
                close = self.next()
                if close.kind is not Tok.RPAREN:
                    raise self.fail(
                        f"expected ')' to close the '(' at position {tok.pos}{close.found()}",
                        close,
                    )
            self.depth -= 1
            return node
        return self.condition(after)

    def condition(self, after: Token | None) -> Node:
        left = self.value(after, "a condition")
        tok = self.peek()
        negated = tok.kind is Tok.NOT and self.peek(1).kind in (Tok.IN, Tok.CONTAINS)
        if negated:
            self.next()
            tok = self.peek()
        elif tok.kind is Tok.NOT:
            raise self.fail("expected 'in' or 'contains' after 'not'", self.peek(1))
        if tok.kind is Tok.CMP:
            op = Op(tok.value)
        elif tok.kind is Tok.IN:
            op = Op.NOT_IN if negated else Op.IN
        elif tok.kind is Tok.CONTAINS:
            op = Op.NOT_CONTAINS if negated else Op.CONTAINS
        else:
            return Truthy(left)
        self.next()
        right = self.value(tok, "a value")
        if op in (Op.MATCH, Op.NOT_MATCH):
            _check_regex(self, right, tok)
        nxt = self.peek()
        if nxt.kind in (Tok.CMP, Tok.IN, Tok.CONTAINS) or (
            nxt.kind is Tok.NOT and self.peek(1).kind in (Tok.IN, Tok.CONTAINS)
        ):
            raise self.fail("comparisons cannot be chained: join them with 'and'", nxt)
        return Compare(op, left, right, tok.pos)

    def value(self, after: Token | None, wanted: str, in_list: bool = False) -> Value:
        tok = self.next()
        if tok.kind is Tok.NAME:
            return Name(tok.value, tok.pos)
        if tok.kind is Tok.LBRACK and not in_list:
            items: list[Name | Literal] = []
            while self.peek().kind is not Tok.RBRACK:
                item = self.value(tok, "a value", in_list=True)
                assert not isinstance(item, ListValue)
                items.append(item)
                sep = self.peek()
                if sep.kind is Tok.COMMA:
                    self.next()
                elif sep.kind is not Tok.RBRACK:
                    raise self.fail(f"expected ',' or ']' in the list{sep.found()}", sep)
            self.next()
            return ListValue(tuple(items), tok.pos)
        literal = self.literal(tok)
        if literal is not None:
            return literal
        if tok.kind is Tok.LBRACK:
            raise self.fail("lists cannot be nested", tok)
        where = f" after {after.describe()}" if after is not None else ""
        raise self.fail(f"expected {wanted}{where}{tok.found()}", tok)

    def literal(self, tok: Token) -> Literal | None:
        simple = {
            Tok.TRUE: (Lit.BOOL, True),
            Tok.FALSE: (Lit.BOOL, False),
            Tok.NULL: (Lit.NULL, None),
        }
        if tok.kind in simple:
            kind, value = simple[tok.kind]
            return Literal(kind, value, tok.pos)
        if tok.kind is Tok.STRING:
            return Literal(Lit.STRING, tok.value, tok.pos)
        if tok.kind is Tok.DATE:
            return Literal(Lit.DATE, tok.value, tok.pos)
        sign = 1
        start = tok
        if tok.kind in (Tok.MINUS, Tok.PLUS):
            sign = -1 if tok.kind is Tok.MINUS else 1
            tok = self.next()
            if tok.kind not in (Tok.NUMBER, Tok.DURATION, Tok.INF, Tok.NAN):
                raise self.fail(
                    f"expected a number after {start.text!r} (there is no arithmetic){tok.found()}",
                    tok,
                )
        if tok.kind in (Tok.INF, Tok.NAN):
            return Literal(
                Lit.NUMBER, sign * (math.inf if tok.kind is Tok.INF else math.nan), start.pos
            )
        if tok.kind is Tok.NUMBER:
            if self.peek().kind is Tok.AGO:
                raise self.fail("'ago' follows a duration, e.g. 2h ago", self.peek())
            return Literal(Lit.NUMBER, sign * tok.value, start.pos)
        if tok.kind is Tok.DURATION:
            if self.peek().kind is Tok.AGO:
                self.next()
                return Literal(Lit.AGO, sign * tok.value, start.pos)
            return Literal(Lit.DURATION, sign * tok.value, start.pos)
        return None


def _check_regex(p: _Parser, right: Value, op: Token) -> None:
    if not (isinstance(right, Literal) and right.kind is Lit.STRING):
        at = right.pos
        raise QueryError(
            f'{op.text!r} takes a regular expression in quotes, e.g. name ~ "^resnet"',
            expression=p.text,
            position=at,
            what=p.what,
        )
    try:
        re.compile(right.value)
    except (re.error, RecursionError, OverflowError) as exc:
        # Point into the pattern where re says (exact unless escapes come before that place).
        inside = getattr(exc, "pos", None)
        at = right.pos if inside is None else min(right.pos + 1 + inside, len(p.text))
        message = getattr(exc, "msg", None) or str(exc)
        raise QueryError(
            f"bad regular expression: {message}", expression=p.text, position=at, what=p.what
        ) from None


def _flat(cls: type[And] | type[Or], items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, cls) else (item,))
    return cls(tuple(flat))
