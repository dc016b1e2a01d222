"""Memory sizes: the one rule for reading ``memory_limit`` and for writing a limit back out.

A unit means what it says: ``kB``/``MB``/``GB``/``TB`` are decimal (10**3, 10**6...),
``KiB``/``MiB``/``GiB``/``TiB`` binary (2**10, 2**20...), ``B`` bytes; units are read
case-insensitively (``2gb`` is ``2GB``) with or without a space before them. A bare number,
in YAML or Python or as a string, counts MiB (``2048`` is ``2 GiB``). One-letter units
(``2G``, ``512m``) are decimal, as hpo has always read them (recorded sweeps must resume and
reproduce with the limit they ran under); write ``GiB`` for binary. Bit units are refused.
:func:`format_memory` writes bytes back as an exact, correctly labelled value, so a
limit of ``2GB`` reads ``2 GB`` and ``2GiB`` (or ``2048``) reads ``2 GiB`` in messages.

Kept free of heavy imports: worker processes use :func:`format_memory`.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

__all__ = ["MEMORY_FORMS", "format_memory", "parse_memory"]

#: the accepted forms, for error messages
MEMORY_FORMS = (
    "a number of MiB (2048) or a size with a unit: decimal kB, MB, GB, TB (2GB = 2*10**9 bytes)"
    " or binary KiB, MiB, GiB, TiB (2GiB = 2*2**30 bytes)"
)

_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    # one letter: decimal, as hpo read them before this module (pydantic's ByteSize)
    "k": 10**3,
    "m": 10**6,
    "g": 10**9,
    "t": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([A-Za-z]*)\s*")
_SMALLEST = 2**20  # less would not even hold the interpreter's next import

# largest first, binary before decimal at the same size: 2**30 reads "1 GiB", 10**9 "1 GB"
_LABELS = (
    ("TiB", 2**40),
    ("TB", 10**12),
    ("GiB", 2**30),
    ("GB", 10**9),
    ("MiB", 2**20),
    ("MB", 10**6),
    ("KiB", 2**10),
    ("kB", 10**3),
)


def parse_memory(value: Any) -> int | None:
    """A memory size in bytes: ``2048`` (MiB), ``"512MB"``, ``"2GiB"``, ``"1.5 GB"``; None stays
    None. Raises ValueError naming the value and the accepted forms."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"cannot read {value!r} as a memory size: give {MEMORY_FORMS}")
    if isinstance(value, (int, float)):
        if not value > 0 or value == float("inf"):
            raise ValueError(f"memory size {value!r} is not a positive number: give {MEMORY_FORMS}")
        amount, unit = Fraction(value), "mib"
    else:
        match = _SIZE.fullmatch(value)
        unit = match.group(2).lower() if match else ""
        if match is None or (unit and unit not in _UNITS):
            raise ValueError(
                f"cannot read {value!r} as a memory size{_hint(match)}: give {MEMORY_FORMS}"
            )
        amount = Fraction(Decimal(match.group(1)))  # exact: "1.1GB" is 1100000000 bytes
        unit = unit or "mib"
    nbytes = int(amount * _UNITS[unit])  # a fraction of a byte is dropped
    if nbytes < _SMALLEST:
        raise ValueError(
            f"memory size {value!r} is under the smallest limit, 1 MiB ({_SMALLEST} bytes): "
            "give e.g. 512MB or 2GiB"
        )
    return nbytes


def _hint(match: re.Match[str] | None) -> str:
    """What a near-miss unit should be written as ('' if it is no near miss)."""
    written = match.group(2) if match is not None else ""
    unit = written.lower()
    if unit in ("ki", "mi", "gi", "ti"):
        return f" (write {unit[0].upper()}iB)"
    return ""


def format_memory(nbytes: int) -> str:
    """``nbytes`` exactly, in the largest unit that shows it with at most one decimal:
    ``2 GB`` for 2*10**9, ``2048 MB`` for 2048*10**6, ``2 GiB`` for 2*2**30, ``1.5 GiB``;
    plain bytes when no unit shows it exactly."""
    for label, size in _LABELS:
        amount = Fraction(nbytes, size)
        if amount >= 1 and (amount * 10).denominator == 1:
            text = str(amount.numerator) if amount.denominator == 1 else f"{float(amount):.1f}"
            return f"{text} {label}"
    return f"{nbytes} bytes"
