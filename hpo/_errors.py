"""Every error hpo raises on purpose derives from one root, ``HPOError``::

    HPOError
    ├── SearchSpaceError (also ValueError)   search_spaces: a malformed space, or a config
    │                                        outside it; carries the key path
    ├── StoreError                           trackers: the store could not be read or written
    │   ├── NotFoundError (also LookupError) no sweep or trial by that name or id
    │   └── TransferError                    an export file that cannot be imported
    ├── ArtifactError                        trackers: an artifact cannot be logged or read
    │                                        (missing file, no store, content not found)
    ├── InputsError (also ValueError)        trackers: a declared input matches no file
    ├── ConfigError (also ValueError)        a sweep config is invalid; names file, line, key
    ├── ObjectiveError                       the objective cannot be loaded or called as given
    ├── StrategyError                        a strategy is unknown or misused
    ├── QueryError (also ValueError)         a --filter/--sort expression is malformed or names
    │                                        an unknown field; carries the position
    └── ReportError                          an HTML report cannot be written (hpo.reports)

A failing *trial* is not an error of hpo: it is recorded as a failed trial and the sweep goes
on. These exceptions are for the user's input and the machinery; the CLI turns each into one
line on stderr and exit status 2.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from search_spaces._errors import HPOError, SearchSpaceError, format_path
from trackers._errors import NotFoundError, StoreError

__all__ = [
    "ConfigError",
    "HPOError",
    "NotFoundError",
    "ObjectiveError",
    "QueryError",
    "ReportError",
    "SearchSpaceError",
    "StoreError",
    "StrategyError",
]


class ConfigError(HPOError, ValueError):
    """A sweep configuration is invalid.

    ``source`` is the file (or ``<dict>``), ``line`` the 1-based line where known, ``path`` the
    key path inside the config. ``str()`` gives ``file:line: key.path: message``.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        path: Sequence[str | int] = (),
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.path = tuple(path)
        where = ""
        if source:
            where = source + (f":{line}" if line else "")
        key = format_path(self.path)
        text = f"{key}: {message}" if key else message
        super().__init__(f"{where}: {text}" if where else text)


class ObjectiveError(HPOError):
    """The objective cannot be imported, or its signature does not fit the search space."""


class StrategyError(HPOError):
    """A strategy name is unknown, or a strategy was asked for something it cannot do."""


class QueryError(HPOError, ValueError):
    """A query (``--filter`` / ``--sort`` text, or ``select(...)``'s arguments) is invalid.

    ``expression`` is the text, ``position`` the 0-based index of the offending character in it
    (None when no one place is at fault), ``what`` the kind of text (``filter``, ``sort``).
    ``str()`` gives the message, then the expression with a caret under the position.
    """

    def __init__(
        self,
        message: str,
        *,
        expression: str | None = None,
        position: int | None = None,
        what: str = "filter",
    ) -> None:
        # One line whatever it quotes (re's messages show the pattern's characters as they are).
        message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
        self.message = message
        self.expression = expression
        self.position = position
        self.what = what
        text = f"bad {what}: {message}"
        if expression is not None and position is not None:
            text += f" at position {position}\n" + _caret(expression, position)
        super().__init__(text)


class ReportError(HPOError):
    """A report cannot be made as asked (a missing optional dependency, an unwritable path)."""


def _caret(text: str, position: int, width: int = 72) -> str:
    """The text on one line (indented) and a caret under ``position``, cut to a window around
    it: characters that would break the alignment (newlines, tabs, controls) become spaces or
    ``?``, and wide characters count two columns."""
    start = max(0, min(position - width // 2, len(text) - width))
    shown = text[start : start + width]
    left = "…" if start > 0 else ""
    right = "…" if start + width < len(text) else ""
    chars = [" " if c.isspace() else (c if c.isprintable() else "?") for c in shown]
    column = len(left) + sum(_cells(c) for c in chars[: position - start])
    return f"  {left}{''.join(chars)}{right}\n  {' ' * column}^"


def _cells(char: str) -> int:
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1
