"""A pure-Python objective: a shifted quadratic bowl with a categorical twist.

The minimum, 0.0, is at x=1.5, y=-0.5 with shape="bowl".
"""

from __future__ import annotations

import hpo


def quadratic(x: float, y: float, shape: str, scale: float = 1.0) -> dict[str, float]:
    loss = (x - 1.5) ** 2 + (y + 0.5) ** 2
    if shape == "ridge":
        loss += scale * abs(x * y)
    hpo.report(step=0, loss=loss)
    return {"loss": loss, "distance": (loss**0.5)}
