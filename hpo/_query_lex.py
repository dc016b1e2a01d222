"""Tokens of the query language (``--filter`` and ``--sort`` text).

The lexer is hand-written so that every error names the character where it starts; it never
raises anything but :class:`QueryError`.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import Any

from hpo._errors import QueryError


class Tok(enum.Enum):
    NAME = "name"
    NUMBER = "number"
    DURATION = "duration"
    DATE = "date"
    STRING = "string"
    CMP = "comparison"
    LPAREN = "("
    RPAREN = ")"
    LBRACK = "["
    RBRACK = "]"
    COMMA = ","
    MINUS = "-"
    PLUS = "+"
    AND = "and"
    OR = "or"
    NOT = "not"
    IN = "in"
    CONTAINS = "contains"
    AGO = "ago"
    TRUE = "true"
    FALSE = "false"
    NULL = "null"
    INF = "inf"
    NAN = "nan"
    END = "end"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Tok
    text: str  # as written
    value: Any  # the decoded value: a number, a string, the name's parts, the operator
    pos: int

    def describe(self) -> str:
        return "the end" if self.kind is Tok.END else repr(self.text)

    def found(self) -> str:
        """``, found 'x'`` for a message; nothing at the end (the caret shows it)."""
        return "" if self.kind is Tok.END else f", found {self.text!r}"


#: Words with a meaning of their own; a field of that name is written in backticks (`in`).
KEYWORDS: dict[str, Tok] = {
    "and": Tok.AND,
    "or": Tok.OR,
    "not": Tok.NOT,
    "in": Tok.IN,
    "contains": Tok.CONTAINS,
    "ago": Tok.AGO,
    "true": Tok.TRUE,
    "false": Tok.FALSE,
    "null": Tok.NULL,
    "none": Tok.NULL,
    "inf": Tok.INF,
    "nan": Tok.NAN,
}
#: Seconds per duration unit.
UNITS: dict[str, int | float] = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "min": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
}
# Longest first, so that `<=` is not read as `<` then `=`.
_SYMBOLS: list[tuple[str, Tok, str | None]] = [
    ("==", Tok.CMP, "=="),
    ("!=", Tok.CMP, "!="),
    ("<=", Tok.CMP, "<="),
    (">=", Tok.CMP, ">="),
    ("!~", Tok.CMP, "!~"),
    ("&&", Tok.AND, None),
    ("||", Tok.OR, None),
    ("<", Tok.CMP, "<"),
    (">", Tok.CMP, ">"),
    ("=", Tok.CMP, "=="),  # SQL habit
    ("~", Tok.CMP, "~"),
    ("!", Tok.NOT, None),
    ("(", Tok.LPAREN, None),
    (")", Tok.RPAREN, None),
    ("[", Tok.LBRACK, None),
    ("]", Tok.RBRACK, None),
    (",", Tok.COMMA, None),
    ("-", Tok.MINUS, None),
    ("+", Tok.PLUS, None),
]
IDENT = re.compile(r"[^\W\d]\w*")
_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?"
)
_DIGITS = "0123456789"  # ASCII only: str.isdigit() also takes '²' and other scripts' digits
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "'": "'", "`": "`"}
_MAX_DIGITS = 300  # longer integers are read as floats: Python refuses to convert huge ones


def date_timestamp(text: str) -> float:
    """Unix seconds of an ISO date or date-time; local time unless it names its zone."""
    moment = dt.datetime.fromisoformat(text.replace(" ", "T").replace("Z", "+00:00"))
    return moment.timestamp()


def tokenize(text: str, what: str = "filter") -> list[Token]:
    """The tokens of ``text``, ending with one END token."""
    tokens: list[Token] = []
    i, n = 0, len(text)

    def fail(message: str, at: int) -> QueryError:
        return QueryError(message, expression=text, position=at, what=what)

    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            tokens.append(Token(Tok.END, "", None, n))
            return tokens
        c = text[i]
        if c in _DIGITS or (c == "." and i + 1 < n and text[i + 1] in _DIGITS):
            token, i = _number(text, i, fail)
        elif c in "\"'":
            value, end = _quoted(text, i, fail, "string")
            token, i = Token(Tok.STRING, text[i:end], value, i), end
        elif c == "`" or IDENT.match(text, i):
            token, i = _name(text, i, fail)
        else:
            for symbol, kind, symbol_value in _SYMBOLS:
                if text.startswith(symbol, i):
                    token, i = Token(kind, symbol, symbol_value, i), i + len(symbol)
                    break
            else:
                hint = {"&": " (write 'and' or '&&')", "|": " (write 'or' or '||')"}.get(c, "")
                raise fail(f"unexpected character {c!r}{hint}", i)
        tokens.append(token)


def _number(text: str, i: int, fail: Any) -> tuple[Token, int]:
    date = _DATE.match(text, i)
    if date:
        end = date.end()
        if end < len(text) and (text[end].isalnum() or text[end] in "_.:"):
            raise fail(f"unexpected {text[end]!r} after the date {date.group()!r}", end)
        try:
            date_timestamp(date.group())
        except (ValueError, OverflowError, OSError):
            raise fail(
                f"{date.group()!r} is not a valid date (YYYY-MM-DD[THH:MM[:SS]])", i
            ) from None
        return Token(Tok.DATE, date.group(), date.group(), i), end
    m = _NUMBER.match(text, i)
    assert m is not None  # the caller saw a digit, or a dot and a digit
    digits = m.group()
    value: int | float = (
        int(digits)
        if all(d in _DIGITS for d in digits) and len(digits) <= _MAX_DIGITS
        else float(digits)  # huge values become inf, as a float would
    )
    unit = IDENT.match(text, m.end())
    if unit is None:
        return Token(Tok.NUMBER, digits, value, i), m.end()
    word = unit.group()
    if word not in UNITS:
        if word[0] in "eE":
            raise fail(f"incomplete exponent in {text[i : unit.end()]!r} (write e.g. 1e-3)", i)
        units = ", ".join(UNITS)
        raise fail(f"unknown unit {word!r} after {digits} (durations take {units})", m.end())
    seconds = value * UNITS[word]
    if seconds != seconds or abs(seconds) == float("inf"):
        raise fail(f"duration {text[i : unit.end()]!r} is out of range", i)
    return Token(Tok.DURATION, text[i : unit.end()], seconds, i), unit.end()


def _quoted(text: str, i: int, fail: Any, what: str) -> tuple[str, int]:
    """The decoded text between the quote at ``i`` and its match, and the index after it.
    Unknown escapes keep their backslash, so that regular expressions read naturally."""
    out: list[str] = []
    quote, j, n = text[i], i + 1, len(text)
    while j < n:
        c = text[j]
        if c == quote:
            return "".join(out), j + 1
        if c == "\\" and j + 1 < n:
            e = text[j + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                j += 2
                continue
            size = {"u": 4, "U": 8}.get(e, 0)
            code = text[j + 2 : j + 2 + size]
            if (
                size
                and len(code) == size
                and all(h in "0123456789abcdefABCDEF" for h in code)
                and int(code, 16) <= 0x10FFFF
            ):
                out.append(chr(int(code, 16)))
                j += 2 + size
                continue
        out.append(c)
        j += 1
    raise fail(f"unterminated {what}: no closing {quote}", i)


def _name(text: str, i: int, fail: Any) -> tuple[Token, int]:
    """A field name: parts joined by dots; a part is an identifier or `anything` in
    backticks. A lone keyword (unquoted) is that keyword's token."""
    parts: list[str] = []
    start, quoted = i, False
    while True:
        if text.startswith("`", i):
            part, i = _quoted(text, i, fail, "name")
            if not part:
                raise fail("empty name in backticks", i - 2)
            quoted = True
        else:
            m = IDENT.match(text, i)
            assert m is not None  # the caller or the loop checked
            part, i = m.group(), m.end()
        parts.append(part)
        if not (
            text.startswith(".", i) and (text.startswith("`", i + 1) or IDENT.match(text, i + 1))
        ):
            break
        i += 1
    written = text[start:i]
    if len(parts) == 1 and not quoted and written.lower() in KEYWORDS:
        return Token(KEYWORDS[written.lower()], written, written.lower(), start), i
    return Token(Tok.NAME, written, tuple(parts), start), i
