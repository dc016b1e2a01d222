"""Conditions between parameters: checking them, and ordering parents before children."""

from __future__ import annotations

from collections.abc import Mapping

from search_spaces._common import did_you_mean
from search_spaces._errors import SearchSpaceError
from search_spaces._params import Constant, Parameter


def check_conditions(by_name: Mapping[str, Parameter]) -> None:
    """Every condition names a known parameter and values that parameter can take."""
    for child in by_name.values():
        for parent, allowed in child.when.items():
            if parent not in by_name:
                raise SearchSpaceError(
                    f"the condition names an unknown parameter {parent!r}; the space has: "
                    f"{', '.join(by_name)}" + did_you_mean(parent, by_name),
                    (child.name, "when", parent),
                )
            for value in allowed:
                if not by_name[parent].contains(value):
                    raise SearchSpaceError(
                        f"{parent} can never be {value!r}{_takes(by_name[parent])}, so the "
                        "condition could never hold: use a value the parent can take",
                        (child.name, "when", parent),
                    )


def _takes(param: Parameter) -> str:
    if isinstance(param, Constant):
        return f" (it is the constant {param.value!r})"
    if hasattr(param, "choices"):
        return f" (its values are {list(param.choices)!r})"
    return f" (its range is [{param.low!r}, {param.high!r}])"


def dependency_order(params: list[Parameter]) -> list[Parameter]:
    """A topological order that keeps the given order wherever the conditions allow it."""
    placed: set[str] = set()
    order: list[Parameter] = []
    remaining = list(params)
    while remaining:
        for i, param in enumerate(remaining):
            if all(parent in placed for parent in param.when):
                order.append(remaining.pop(i))
                placed.add(param.name)
                break
        else:
            raise _cycle_error(remaining, placed)
    return order


def _cycle_error(remaining: list[Parameter], placed: set[str]) -> SearchSpaceError:
    by_name = {p.name: p for p in remaining}
    chain = [remaining[0].name]
    while True:
        parent = next(p for p in by_name[chain[-1]].when if p not in placed)
        if parent in chain:
            cycle = [*chain[chain.index(parent) :], parent]
            break
        chain.append(parent)
    child, parent = cycle[0], cycle[1]
    return SearchSpaceError(
        f"the conditions form a cycle ({' -> '.join(cycle)}, each depending on the next): "
        "remove one of these conditions",
        (child, "when", parent),
    )
