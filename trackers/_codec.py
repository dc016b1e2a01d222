"""JSON and float encoding for the store: explicit, portable, never pickle.

Non-finite floats are not JSON, and SQLite turns NaN into NULL, so metric values travel as a
(value, kind) pair in columns and as the strings "nan", "inf", "-inf" inside JSON documents.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Mapping
from typing import Any


class FloatKind(enum.IntEnum):
    FINITE = 0
    NAN = 1
    POS_INF = 2
    NEG_INF = 3


_NONFINITE_TEXT = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def split_float(x: float) -> tuple[float | None, FloatKind]:
    """A float as the (value, kind) pair the metrics table stores."""
    if math.isfinite(x):
        return x, FloatKind.FINITE
    if math.isnan(x):
        return None, FloatKind.NAN
    return None, FloatKind.POS_INF if x > 0 else FloatKind.NEG_INF


def join_float(value: float | None, kind: int) -> float:
    """The inverse of :func:`split_float`."""
    if kind == FloatKind.FINITE and value is not None:
        return float(value)
    if kind == FloatKind.NAN:
        return math.nan
    if kind == FloatKind.POS_INF:
        return math.inf
    if kind == FloatKind.NEG_INF:
        return -math.inf
    return math.nan


def float_to_json(x: float) -> float | str:
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))


def metrics_to_json(metrics: Mapping[str, float]) -> str:
    """A metrics dict as strict JSON, non-finite values spelled as strings."""
    return dumps({k: float_to_json(v) for k, v in metrics.items()})


def metrics_from_json(text: str | None) -> dict[str, float]:
    if not text:
        return {}
    return {
        k: (_NONFINITE_TEXT[v] if isinstance(v, str) else float(v))
        for k, v in json.loads(text).items()
    }


def dumps(obj: Any) -> str:
    """Compact strict JSON; anything not JSON-native is an error here, not silently str()'d."""
    return json.dumps(obj, separators=(",", ":"), allow_nan=False, default=_default)


def loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _default(obj: Any) -> Any:
    # numpy scalars reach us from user code; convert rather than fail on them.
    item = getattr(obj, "item", None)
    if callable(item):
        return item()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")
