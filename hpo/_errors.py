"""Every error hpo raises on purpose derives from one root, ``HPOError``::

    HPOError
    ├── SearchSpaceError (also ValueError)   search_spaces: a malformed space, or a config
    │                                        outside it; carries the key path
    ├── StoreError                           trackers: the store could not be read or written
    │   └── NotFoundError (also LookupError) no sweep or trial by that name or id
    ├── ConfigError (also ValueError)        a sweep config is invalid; names file, line, key
    ├── ObjectiveError                       the objective cannot be loaded or called as given
    └── StrategyError                        a strategy is unknown or misused

A failing *trial* is not an error of hpo: it is recorded as a failed trial and the sweep goes
on. These exceptions are for the user's input and the machinery; the CLI turns each into one
line on stderr and exit status 2.
"""

from __future__ import annotations

from collections.abc import Sequence

from search_spaces._errors import HPOError, SearchSpaceError, format_path
from trackers._errors import NotFoundError, StoreError

__all__ = [
    "ConfigError",
    "HPOError",
    "NotFoundError",
    "ObjectiveError",
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
