"""BOHB's density model (Falkner et al., 2018): two kernel density estimates over the unit cube.

Results at one budget are split into the best ``top_n_percent`` ("good") and the rest ("bad");
a product-kernel KDE is fitted to each (Gaussian for numeric dimensions, Aitchison-Aitken for
categorical ones, bandwidths by the normal reference rule). Candidates are drawn around good
points with the bandwidth widened by ``bandwidth_factor``, and the one maximising
``l(x) / g(x)`` is suggested: the same rule as TPE, with BOHB's choices, written in numpy.
"""

from __future__ import annotations

import numpy as np

from search_spaces import Categorical, SearchSpace

__all__ = ["DensityModel"]

_TINY = 1e-32


class DensityModel:
    """The good/bad KDE pair over one space's unit-cube encoding."""

    def __init__(
        self,
        space: SearchSpace,
        *,
        top_n_percent: float = 15,
        num_samples: int = 64,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        min_points: int | None = None,
    ) -> None:
        self.space = space
        names = space.encoded_names
        #: choices per dimension; 0 for a numeric one
        self.levels = np.array(
            [
                len(p.choices) if isinstance(p, Categorical) else 0
                for p in (space.params[n] for n in names)
            ],
            dtype=int,
        )
        self.top_n_percent = top_n_percent
        self.num_samples = num_samples
        self.bandwidth_factor = bandwidth_factor
        self.min_bandwidth = min_bandwidth
        self.min_points = space.dims + 1 if min_points is None else min_points

    def enough(self, n: int) -> bool:
        """Whether ``n`` results at one budget make a model (BOHB: more than min_points + 1)."""
        return n >= self.min_points + 2

    # --- data -----------------------------------------------------------------------------

    def _as_data(self, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Encodings as model data: categorical dimensions as level indices, inactive (NaN)
        entries imputed from an active value of another point, else uniformly (as BOHB)."""
        x = np.array(u, dtype=float, copy=True)
        for j in range(x.shape[1]):
            missing = np.isnan(x[:, j])
            if missing.any():
                active = x[~missing, j]
                if active.size:
                    x[missing, j] = rng.choice(active, size=int(missing.sum()))
                else:
                    x[missing, j] = rng.uniform(size=int(missing.sum()))
            k = self.levels[j]
            if k:
                x[:, j] = np.minimum(np.floor(x[:, j] * k), k - 1)
        return x

    def _bandwidths(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        bw = 1.06 * np.std(x, axis=0) * n ** (-0.2)  # the normal reference rule
        bw = np.maximum(bw, self.min_bandwidth)
        cat = self.levels > 0
        bw[cat] = np.minimum(bw[cat], (self.levels[cat] - 1) / np.maximum(self.levels[cat], 1))
        return bw

    def _log_pdf(self, points: np.ndarray, data: np.ndarray, bw: np.ndarray) -> np.ndarray:
        """log of the mean product kernel of ``data`` at each of ``points``."""
        diff = points[:, None, :] - data[None, :, :]  # (p, n, d)
        num = self.levels == 0
        logk = np.empty_like(diff)
        z = diff[:, :, num] / bw[num]
        logk[:, :, num] = -0.5 * z * z - np.log(bw[num] * np.sqrt(2 * np.pi))
        cat = ~num
        if cat.any():
            same = np.abs(diff[:, :, cat]) < 0.5
            lam = bw[cat]
            other = lam / np.maximum(self.levels[cat] - 1, 1)
            logk[:, :, cat] = np.where(same, np.log1p(-lam), np.log(np.maximum(other, _TINY)))
        total = logk.sum(axis=2)  # (p, n)
        top = total.max(axis=1, keepdims=True)
        return (top + np.log(np.exp(total - top).mean(axis=1, keepdims=True)))[:, 0]

    # --- suggestion -----------------------------------------------------------------------

    def suggest(
        self, u: np.ndarray, losses: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray | None:
        """A unit-cube point from results ``u`` (rows) with ``losses`` (smaller is better), or
        None when they are too few to split into a good and a bad model."""
        n = len(losses)
        n_good = max(self.min_points, int(self.top_n_percent * n // 100))
        n_bad = max(self.min_points, int((100 - self.top_n_percent) * n // 100))
        order = np.argsort(losses, kind="stable")
        data = self._as_data(u, rng)
        good, bad = data[order[:n_good]], data[order[n_good : n_good + n_bad]]
        d = data.shape[1]
        if good.shape[0] <= d or bad.shape[0] <= d:
            return None
        bw_good, bw_bad = self._bandwidths(good), self._bandwidths(bad)
        candidates = self._sample(good, bw_good, rng)
        score = self._log_pdf(candidates, good, bw_good) - self._log_pdf(candidates, bad, bw_bad)
        best = candidates[int(np.argmax(score))]
        return self._to_unit(best)

    def _sample(self, good: np.ndarray, bw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        m = self.num_samples
        centres = good[rng.integers(0, good.shape[0], size=m)]
        out = centres.copy()
        num = self.levels == 0
        if num.any():
            wide = np.maximum(bw[num] * self.bandwidth_factor, self.min_bandwidth)
            out[:, num] = _truncated_normal(centres[:, num], wide, rng)
        for j in np.flatnonzero(~num):
            k = self.levels[j]
            switch = rng.uniform(size=m) < bw[j]
            out[switch, j] = rng.integers(0, k, size=int(switch.sum()))
        return out

    def _to_unit(self, x: np.ndarray) -> np.ndarray:
        u = x.astype(float).copy()
        cat = self.levels > 0
        u[cat] = (x[cat] + 0.5) / self.levels[cat]
        return np.clip(u, 0.0, 1.0)


def _truncated_normal(
    mean: np.ndarray, sd: np.ndarray, rng: np.random.Generator, tries: int = 20
) -> np.ndarray:
    """Normal draws around ``mean`` kept inside [0, 1] (redrawn, then clipped)."""
    out = rng.normal(mean, sd)
    for _ in range(tries):
        bad = (out < 0) | (out > 1)
        if not bad.any():
            break
        out[bad] = rng.normal(
            np.broadcast_to(mean, out.shape)[bad], np.broadcast_to(sd, out.shape)[bad]
        )
    return np.clip(out, 0.0, 1.0)
