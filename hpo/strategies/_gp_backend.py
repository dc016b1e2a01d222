"""The own-GP backend of ``bayes``: fit the GP, account for pending trials, maximise log EI.

Acquisition optimisation: many random points of the space plus perturbations of the best
observed ones are screened by log EI; the best few are polished jointly by L-BFGS-B in their
numeric dimensions (analytic gradients), snapped to the space's grid, and the best point that
is not already observed or pending wins.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.stats import yeojohnson

from hpo.strategies._features import Features, Kind, config_key
from hpo.strategies._gp import GPFit, fit_gp, make_fit

#: Random candidates screened per suggestion, and perturbations of the incumbents.
N_RANDOM = 512
N_LOCAL = 256
#: Candidates polished by L-BFGS-B.
N_POLISH = 5
#: Beyond this many observations the hyperparameters are fitted on a subset (the best and a
#: random rest), which keeps the O(n^3 d) fit bounded; the posterior still uses every point.
MAX_FIT_POINTS = 100
#: Beyond this many the posterior, too, uses a subset: the best half and the most recent rest.
MAX_POSTERIOR_POINTS = 600


def transform_losses(y: np.ndarray) -> np.ndarray:
    """Standardise losses after a Yeo-Johnson power transform (fitted by likelihood).

    Tuning losses are often heavy-tailed (a few diverged runs, Rosenbrock-like valleys); a GP
    on the raw values spends its flexibility on the tail. The transform is monotone, so the
    minimiser and the ranking are unchanged.
    """
    y = np.asarray(y, dtype=float)
    sd = y.std()
    if not np.isfinite(sd) or sd <= 0:
        return np.zeros_like(y)
    z = (y - y.mean()) / sd
    if len(y) >= 4:
        try:
            t, _ = yeojohnson(z)
            if np.all(np.isfinite(t)) and t.std() > 0:
                z = t
        except (ValueError, FloatingPointError, OverflowError):
            pass
    return (z - z.mean()) / z.std()


class GPBackend:
    """Suggests the maximiser of log EI under a GP fitted to the observations."""

    def __init__(self, space_features: Features) -> None:
        self.f = space_features

    def suggest(
        self,
        obs_u: np.ndarray,
        obs_loss: np.ndarray,
        pending_u: np.ndarray,
        rng: np.random.Generator,
        taken: Collection[tuple[Any, ...]],
    ) -> Mapping[str, Any] | None:
        """The next configuration, or None when every candidate found is already taken.

        Raises (LinAlgError, ValueError, FloatingPointError) when the model cannot be fitted;
        the strategy catches that and falls back to random search.
        """
        y = transform_losses(obs_loss)
        x = self.f.features(obs_u)
        fit_idx = self._subset(y, MAX_FIT_POINTS, rng)
        with np.errstate(over="ignore", under="ignore"):
            base = fit_gp(x[fit_idx], y[fit_idx], rng, restarts=1 if len(fit_idx) <= 60 else 0)
        post_idx = self._subset(y, MAX_POSTERIOR_POINTS, rng)
        model = make_fit(x[post_idx], y[post_idx], base.ls, base.var, base.noise)
        best = float(y.min())
        if len(pending_u):
            # Kriging believer: pending points enter at their predicted mean, which lowers
            # the variance (and EI) around them so parallel workers spread out, without
            # pretending to know their outcome.
            xp = self.f.features(pending_u)
            mean, _ = model.predict(xp)
            model = make_fit(
                np.vstack([model.x, xp]), np.concatenate([y[post_idx], mean]), *_hyper(model)
            )
        return self._maximise(model, best, obs_u, y, rng, taken)

    @staticmethod
    def _subset(y: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
        n = len(y)
        if n <= cap:
            return np.arange(n)
        order = np.argsort(y, kind="stable")
        keep = order[: cap // 2]
        rest = order[cap // 2 :]
        extra = rng.choice(rest, size=cap - len(keep), replace=False)
        return np.sort(np.concatenate([keep, extra]))

    def _candidates(self, obs_u: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        d = self.f.space.dims
        rand = rng.random((N_RANDOM, d))
        order = np.argsort(y, kind="stable")[: max(1, min(5, len(y)))]
        centres = obs_u[rng.choice(order, size=N_LOCAL)]
        local = np.where(np.isnan(centres), rng.random(centres.shape), centres)
        scale = rng.choice([0.02, 0.05, 0.15], size=(N_LOCAL, 1))
        moved = np.clip(local + scale * rng.standard_normal(local.shape), 0.0, 1.0)
        # Move about half the dimensions of each perturbed point, so that local candidates
        # also explore along single axes (the kernel's lengthscales differ per dimension).
        mask = rng.random(local.shape) < max(0.5, 1.0 / max(d, 1))
        if self.f.n_categorical:
            cat_cols = np.array([k is Kind.CATEGORICAL for k in self.f.kinds])
            resample = rng.random(local.shape) < 1.0 / max(d, 1)
            moved = np.where(
                cat_cols & resample, rng.random(local.shape), np.where(cat_cols, local, moved)
            )
            mask = mask | cat_cols
        local = np.where(mask, moved, local)
        return np.vstack([rand, local])

    def _maximise(
        self,
        model: GPFit,
        best: float,
        obs_u: np.ndarray,
        y: np.ndarray,
        rng: np.random.Generator,
        taken: Collection[tuple[Any, ...]],
    ) -> Mapping[str, Any] | None:
        configs, u = self.f.snap(self._candidates(obs_u, y, rng))
        acq, _ = _log_ei(model, self.f.features(u), best)
        order = np.argsort(-acq, kind="stable")
        polished_cfg, polished_acq = self._polish(model, best, u[order[:N_POLISH]])
        all_cfg = [configs[i] for i in order] + polished_cfg
        all_acq = np.concatenate([acq[order], polished_acq])
        for i in np.argsort(-all_acq, kind="stable"):
            if not np.isfinite(all_acq[i]):
                break
            if config_key(all_cfg[i]) not in taken:
                return all_cfg[i]
        return None

    def _polish(
        self, model: GPFit, best: float, starts: np.ndarray
    ) -> tuple[list[dict[str, Any]], np.ndarray]:
        """L-BFGS-B on the numeric, active dimensions of each start, all starts at once (their
        objectives are independent, so one call with the summed objective optimises each)."""
        free = [j for j in self.f.numeric]
        if not free or not len(starts):
            return [], np.zeros(0)
        k = len(starts)
        active = ~np.isnan(starts[:, free])  # (k, f)
        x0 = np.where(active, starts[:, free], 0.5)
        bounds = [(0.0, 1.0) if a else (v, v) for a, v in zip(active.ravel(), x0.ravel())]
        cols = self.f.numeric_cols
        base_feat = self.f.features(starts)

        def objective(flat: np.ndarray) -> tuple[float, np.ndarray]:
            feat = base_feat.copy()
            vals = flat.reshape(k, len(free))
            feat[:, cols] = np.where(active, vals, feat[:, cols])
            value, grad = model.log_ei_and_grad(feat, best)
            g = np.where(active, grad[:, cols], 0.0)
            value = np.where(np.isfinite(value), value, -1e6)
            return -float(value.sum()), -g.ravel()

        res = minimize(
            objective,
            x0.ravel(),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 50},
        )
        moved = starts.copy()
        vals = res.x.reshape(k, len(free))
        sub = moved[:, free]
        moved[:, free] = np.where(active, vals, sub)
        configs, u = self.f.snap(moved)
        acq, _ = _log_ei(model, self.f.features(u), best)
        return configs, acq


def _hyper(model: GPFit) -> tuple[np.ndarray, float, float]:
    return model.ls, model.var, model.noise


def _log_ei(model: GPFit, feat: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray]:
    from hpo.strategies._gp import log_h

    mean, sd = model.predict(feat)
    z = (best - mean) / sd
    return log_h(z) + np.log(sd), mean


__all__ = ["GPBackend", "math", "transform_losses"]
