"""Grid enumeration over a space in dependency order, honouring conditions.

A conditional parameter is expanded only under the parent values that activate it, and left out
elsewhere, so the grid has no duplicate configurations and no values for inactive parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any

from search_spaces._common import Conds, conditions_hold

#: One parameter as the grid sees it: name, grid values, compiled condition (None: always on).
GridEntry = tuple[str, tuple[Any, ...], "Conds | None"]


def iter_grid(entries: Sequence[GridEntry]) -> Iterator[dict[str, Any]]:
    """Every configuration of the grid, the last parameter varying fastest."""
    if all(conds is None for _, _, conds in entries):
        # The common unconditional case: a plain cartesian product, without recursion.
        names = [name for name, _, _ in entries]
        for combo in itertools.product(*(values for _, values, _ in entries)):
            yield dict(zip(names, combo))
        return
    yield from _expand(entries, 0, {})


def _expand(
    entries: Sequence[GridEntry], i: int, config: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    # Depth-first over the parameters in dependency order; `config` is shared and holds the
    # values chosen so far, so a child's condition is checked against its parents' values.
    while i < len(entries) and not conditions_hold(entries[i][2], config):
        i += 1
    if i == len(entries):
        yield dict(config)
        return
    name, values, _ = entries[i]
    for value in values:
        config[name] = value
        yield from _expand(entries, i + 1, config)
    del config[name]


def count_grid(entries: Sequence[GridEntry]) -> int:
    """The number of configurations :func:`iter_grid` yields, without enumerating them.

    Only parameters that other parameters depend on need branching; the rest multiply.
    """
    parents = {parent for _, _, conds in entries if conds for parent, _ in conds}

    def count(i: int, config: dict[str, Any]) -> int:
        total = 1
        while i < len(entries):
            name, values, conds = entries[i]
            i += 1
            if not conditions_hold(conds, config):
                continue
            if name not in parents:
                total *= len(values)
                continue
            branches = 0
            for value in values:
                config[name] = value
                branches += count(i, config)
            del config[name]
            return total * branches
        return total

    return count(0, {})
