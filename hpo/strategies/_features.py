"""From a search space's unit-cube encoding to the GP's feature vectors, and back.

The space encodes a configuration as a point of [0, 1]^d with NaN for inactive parameters and
categoricals at the centre of their bin. A GP over that encoding would call "adam" closer to
"sgd" than to "rmsprop" because of the order the user wrote them in, so categoricals become
one-hot columns here; ints and stepped floats stay one column each and are snapped to their
grid by decoding (the acquisition is polished in the continuous relaxation, then rounded).
Inactive dimensions take a fixed value: the parent's own column already tells the kernel which
branch a point is on.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from search_spaces import Categorical, Float, SearchSpace

#: Value of an inactive numeric dimension in feature space (the middle of its range).
INACTIVE = 0.5


class Kind(enum.Enum):
    """How one encoded dimension enters the kernel."""

    CONTINUOUS = "continuous"  # a float without step: free in the acquisition polish
    DISCRETE = "discrete"  # an int or a stepped float: relaxed in the polish, then snapped
    CATEGORICAL = "categorical"  # one-hot columns


class Features:
    """The feature map of one space: ``features(U)`` for unit encodings ``U`` (rows)."""

    def __init__(self, space: SearchSpace) -> None:
        self.space = space
        self.kinds: list[Kind] = []
        self.sizes: list[int] = []
        for name in space.encoded_names:
            param = space.params[name]
            if isinstance(param, Categorical):
                self.kinds.append(Kind.CATEGORICAL)
                self.sizes.append(len(param.choices))
            elif isinstance(param, Float) and param.step is None:
                self.kinds.append(Kind.CONTINUOUS)
                self.sizes.append(1)
            else:
                self.kinds.append(Kind.DISCRETE)
                self.sizes.append(1)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.width = int(self.offsets[-1])
        #: Encoded dimensions that the polish may move (their feature column is u itself).
        self.numeric = [j for j, k in enumerate(self.kinds) if k is not Kind.CATEGORICAL]
        self.numeric_cols = self.offsets[self.numeric]
        self.has_conditions = any(p.when for p in space)
        self.n_categorical = sum(k is Kind.CATEGORICAL for k in self.kinds)

    def features(self, u: np.ndarray) -> np.ndarray:
        """Feature rows for unit-encoded rows ``u`` (NaN = inactive)."""
        m = u.shape[0]
        out = np.zeros((m, self.width))
        for j, (kind, size) in enumerate(zip(self.kinds, self.sizes)):
            col = u[:, j]
            off = self.offsets[j]
            if kind is Kind.CATEGORICAL:
                active = ~np.isnan(col)
                idx = np.minimum((np.nan_to_num(col) * size).astype(int), size - 1)
                out[np.nonzero(active)[0], off + idx[active]] = 1.0
            else:
                out[:, off] = np.where(np.isnan(col), INACTIVE, col)
        return out

    def snap(self, u: np.ndarray) -> tuple[list[dict[str, Any]], np.ndarray]:
        """The configurations at rows ``u`` and their exact encodings (ints and steps rounded,
        categoricals at their bin centres, inactive dimensions NaN)."""
        configs = [self.space.decode_list(row) for row in np.clip(u, 0.0, 1.0).tolist()]
        return configs, self.encode_all(configs)

    def encode_all(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Unit encodings of ``configs`` as rows."""
        if not configs:
            return np.zeros((0, self.space.dims))
        return np.array([self.space.encode(c) for c in configs], dtype=float).reshape(
            len(configs), self.space.dims
        )


def config_key(config: Mapping[str, Any]) -> tuple[Any, ...]:
    """A hashable identity of a configuration, to refuse duplicates (``True`` and ``1`` differ,
    as in the space's own choice matching)."""
    return tuple(sorted((k, v.__class__ is bool, v) for k, v in config.items()))
