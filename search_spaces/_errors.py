"""The root of hpo's exceptions, and the search-space branch of the tree.

``HPOError`` lives here, in the lowest layer, because ``search_spaces`` imports nothing else of
the project while ``trackers`` and ``hpo`` import it: every package can then derive its own
errors from the one root. The whole tree is drawn in ``hpo._errors``.
"""

from __future__ import annotations

from collections.abc import Sequence

KeyPath = tuple[str | int, ...]


def format_path(path: Sequence[str | int]) -> str:
    """``("parameters", "lr", "min")`` -> ``parameters.lr.min``; list indices as ``[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


class HPOError(Exception):
    """Root of every error hpo raises on purpose. Catch this to catch them all."""


class SearchSpaceError(HPOError, ValueError):
    """A search space is malformed, or a configuration does not belong to it.

    ``path`` is the key path of the offending entry inside the parameters mapping (empty when
    the error is about the space as a whole), so that a config loader can point at a file line.
    """

    def __init__(self, message: str, path: Sequence[str | int] = ()) -> None:
        self.message = message
        self.path: KeyPath = tuple(path)
        where = format_path(self.path)
        super().__init__(f"{where}: {message}" if where else message)
