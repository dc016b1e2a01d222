"""A small-data Gaussian process on numpy/scipy: Matern-5/2 ARD kernel, MAP hyperparameters,
and log expected improvement with analytic gradients.

Written by hand (rather than wrapping Optuna's GPSampler) so that ``strategy: bayes`` needs no
PyTorch: the data are at most a few hundred points, where a dense Cholesky factor is exact and
fast. Inputs are the feature vectors of :mod:`hpo.strategies._features` (in [0, 1] per
dimension); outputs are losses, transformed and standardised here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.optimize import minimize
from scipy.special import erfcx, log_ndtr, ndtr

_SQRT5 = math.sqrt(5.0)
_LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_LOG_SQRT_PI_2 = 0.5 * math.log(math.pi / 2.0)

#: Lower bound of the noise variance (of standardised outputs): keeps K well conditioned for
#: deterministic objectives without smoothing them noticeably.
MIN_NOISE = 1e-6
#: Centre of the log-lengthscale prior (plus half the log of the dimension; Hvarfner et al.)
LS_PRIOR_MU = -0.5
#: Bounds of the log hyperparameters, wide enough never to bind in practice but keeping the
#: optimiser away from overflow.
_LOG_LS_BOUNDS = (math.log(1e-3), math.log(1e2))
_LOG_VAR_BOUNDS = (math.log(1e-2), math.log(1e2))
_LOG_NOISE_BOUNDS = (math.log(MIN_NOISE), math.log(1.0))


def matern52(r: np.ndarray) -> np.ndarray:
    """Matern-5/2 correlation at scaled distance ``r``."""
    s = _SQRT5 * r
    return (1.0 + s + s * s / 3.0) * np.exp(-s)


def _scaled_sqdist(a: np.ndarray, b: np.ndarray, ls: np.ndarray) -> np.ndarray:
    a = a / ls
    b = b / ls
    d2 = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d2, 0.0)


def log_h(z: np.ndarray) -> np.ndarray:
    """log(phi(z) + z Phi(z)), the log of expected improvement at unit scale, stable for very
    negative z (where the plain formula cancels to 0 and its log to -inf)."""
    z = np.asarray(z, dtype=float)
    out = np.empty_like(z)
    hi = z > -1.0
    zh = z[hi]
    out[hi] = np.log(np.exp(-0.5 * zh * zh) / math.sqrt(2 * math.pi) + zh * ndtr(zh))
    zl = z[~hi]
    # h(z) = phi(z) * (1 - |z| * Phi(z)/phi(z)) and Phi(z)/phi(z) = sqrt(pi/2) erfcx(-z/sqrt 2).
    t = np.log(erfcx(-zl / math.sqrt(2.0)) * np.abs(zl)) + _LOG_SQRT_PI_2
    out[~hi] = -0.5 * zl * zl - _LOG_2PI_HALF + _log1mexp(t)
    return out


def _log1mexp(t: np.ndarray) -> np.ndarray:
    """log(1 - exp(t)) for t < 0, accurate near 0 and far from it."""
    t = np.minimum(t, -1e-300)
    return np.where(t > -math.log(2.0), np.log(-np.expm1(t)), np.log1p(-np.exp(t)))


@dataclass
class GPFit:
    """A fitted GP: hyperparameters, the Cholesky factor and the vectors predictions need."""

    x: np.ndarray
    ls: np.ndarray
    var: float
    noise: float
    chol: np.ndarray
    alpha: np.ndarray

    def predict(self, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation (of the latent function) at ``xq``."""
        k = self.var * matern52(np.sqrt(_scaled_sqdist(xq, self.x, self.ls)))
        mean = k @ self.alpha
        v = solve_triangular(self.chol, k.T, lower=True)
        var = np.maximum(self.var - (v * v).sum(0), 1e-12)
        return mean, np.sqrt(var)

    def log_ei_and_grad(self, xq: np.ndarray, best: float) -> tuple[np.ndarray, np.ndarray]:
        """log EI (for minimisation, below ``best``) at each row of ``xq``, and its gradient."""
        diff = xq[:, None, :] - self.x[None, :, :]  # (m, n, d)
        inv_ls2 = 1.0 / (self.ls * self.ls)
        r = np.sqrt(np.maximum((diff * diff * inv_ls2).sum(-1), 0.0))
        s = _SQRT5 * r
        e = np.exp(-s)
        k = self.var * (1.0 + s + s * s / 3.0) * e  # (m, n)
        # dk/dx = -(5/3) var (1 + sqrt5 r) exp(-sqrt5 r) (x - x') / l^2: smooth at r = 0.
        dk = (-(5.0 / 3.0) * self.var * (1.0 + s) * e)[:, :, None] * diff * inv_ls2  # (m, n, d)
        mean = k @ self.alpha
        dmean = np.einsum("mnd,n->md", dk, self.alpha)
        v = cho_solve((self.chol, True), k.T)  # (n, m)
        var = np.maximum(self.var - (k * v.T).sum(1), 1e-12)
        sd = np.sqrt(var)
        dvar = -2.0 * np.einsum("mnd,nm->md", dk, v)
        dsd = dvar / (2.0 * sd[:, None])
        z = (best - mean) / sd
        lh = log_h(z)
        # d log h / dz = Phi(z) / h(z), computed in logs so that it stays finite.
        dlh = np.exp(log_ndtr(z) - lh)
        dz = (-dmean - z[:, None] * dsd) / sd[:, None]
        value = lh + np.log(sd)
        grad = dlh[:, None] * dz + dsd / sd[:, None]
        return value, grad


def _neg_log_posterior(
    theta: np.ndarray, x: np.ndarray, y: np.ndarray, diff2: np.ndarray, ls_prior: tuple
) -> tuple[float, np.ndarray]:
    """Negative log marginal likelihood plus negative log prior, and its gradient, at the log
    hyperparameters ``theta = (log ls_1..d, log var, log noise)``."""
    n, d = x.shape
    ls = np.exp(theta[:d])
    var = math.exp(theta[d])
    noise = math.exp(theta[d + 1])
    scaled = diff2 / (ls * ls)  # (n, n, d)
    r = np.sqrt(scaled.sum(-1))
    s = _SQRT5 * r
    e = np.exp(-s)
    kc = (1.0 + s + s * s / 3.0) * e
    kmat = var * kc + (noise + 1e-9) * np.eye(n)
    try:
        chol = np.linalg.cholesky(kmat)
    except np.linalg.LinAlgError:
        return 1e10, np.zeros_like(theta)
    alpha = cho_solve((chol, True), y)
    nll = 0.5 * y @ alpha + np.log(np.diag(chol)).sum() + 0.5 * n * math.log(2 * math.pi)
    kinv = cho_solve((chol, True), np.eye(n))
    w = np.outer(alpha, alpha) - kinv  # d nll/dtheta = -0.5 tr(W dK/dtheta)
    grad = np.empty_like(theta)
    # dK/d log l_i = var (5/3) (1 + sqrt5 r) exp(-sqrt5 r) * (dx_i / l_i)^2
    common = var * (5.0 / 3.0) * (1.0 + s) * e
    grad[:d] = -0.5 * np.einsum("ij,ijk->k", w * common, scaled)
    grad[d] = -0.5 * (w * (var * kc)).sum()
    grad[d + 1] = -0.5 * np.trace(w) * noise
    # Priors (on the log parameters): log-normal lengthscales centred by dimension, as in
    # Hvarfner et al. 2024, so that high-dimensional problems start smooth; a weak log-normal
    # on the signal variance around 1 (outputs are standardised); a prior pushing the noise
    # towards its floor, since tuning objectives are mostly near-deterministic.
    mu_ls, sd_ls = ls_prior
    t = theta[:d]
    nll += 0.5 * (((t - mu_ls) / sd_ls) ** 2).sum()
    grad[:d] += (t - mu_ls) / sd_ls**2
    nll += 0.5 * (theta[d] / 1.0) ** 2
    grad[d] += theta[d]
    # Exponential prior on the noise variance with mean 1e-2, in log space: -log p = noise/1e-2
    # - log noise (the Jacobian term), so the gradient w.r.t. log noise is noise/1e-2 - 1.
    nll += noise / 1e-2 - theta[d + 1]
    grad[d + 1] += noise / 1e-2 - 1.0
    return float(nll), grad


def fit_gp(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, restarts: int = 2) -> GPFit:
    """Fit a zero-mean GP to standardised ``y`` at features ``x`` by MAP.

    Starts from the prior's centre and ``restarts`` random draws around it (seeded by ``rng``,
    so that a fit depends only on the data and the seed: a resumed sweep refits the same
    model); LinAlgError or ValueError when no start gives a usable model.
    """
    d = x.shape[1]
    diff2 = (x[:, None, :] - x[None, :, :]) ** 2
    ls_prior = (LS_PRIOR_MU + 0.5 * math.log(max(d, 1)), math.sqrt(3.0))
    starts = [np.concatenate([np.full(d, ls_prior[0] - 1.0), [0.0, math.log(1e-3)]])]
    for _ in range(restarts):
        th = starts[0].copy()
        th[:d] += rng.normal(0.0, 1.0, d)
        starts.append(th)
    bounds = [_LOG_LS_BOUNDS] * d + [_LOG_VAR_BOUNDS, _LOG_NOISE_BOUNDS]
    best_theta, best_val = None, math.inf
    for th0 in starts:
        res = minimize(
            _neg_log_posterior,
            th0,
            args=(x, y, diff2, ls_prior),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 100},
        )
        if np.isfinite(res.fun) and res.fun < best_val:
            best_theta, best_val = res.x, res.fun
    if best_theta is None or best_val >= 1e10:
        raise ValueError("no hyperparameter start gave a positive-definite kernel matrix")
    ls = np.exp(best_theta[:d])
    var = math.exp(best_theta[d])
    noise = math.exp(best_theta[d + 1])
    return make_fit(x, y, ls, var, noise)


def make_fit(x: np.ndarray, y: np.ndarray, ls: np.ndarray, var: float, noise: float) -> GPFit:
    """The posterior for fixed hyperparameters (used to add pending points without a refit)."""
    k = var * matern52(np.sqrt(_scaled_sqdist(x, x, ls))) + (noise + 1e-9) * np.eye(len(x))
    chol = np.linalg.cholesky(k)
    alpha = cho_solve((chol, True), y)
    if not np.all(np.isfinite(alpha)):
        raise ValueError("the GP posterior is not finite")
    return GPFit(x=x, ls=ls, var=var, noise=noise, chol=chol, alpha=alpha)
