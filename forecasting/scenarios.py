"""Scenarios from a quantile forecast, for stochastic bidding.

A quantile forecast says nothing about how errors in neighbouring intervals move together,
yet a battery schedule cares: a day that runs high in the morning usually stays high. The
scenarios here join the marginal quantiles with a Gaussian copula whose correlation decays
like an AR(1) process across intervals, so each path is smooth and its marginals match the
forecast quantiles (linear between levels in normal-score space, extrapolated beyond them).

:func:`quantile_paths` instead gives comonotone paths, each at one quantile level in every
interval. That is all a bidder needs when its curves must be deliverable in any hour-by-hour
mix and it weighs no risk: expected revenue is a sum over intervals, so only each interval's
distribution counts, and evenly spaced levels describe it without sampling noise.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from vpp.domain.errors import InvalidInputError
from vpp.domain.forecast import Forecast

#: Default decorrelation time of forecast errors [min] (rho = exp(-interval / this)).
ERROR_MEMORY_MINUTES = 180.0

_NORMAL = NormalDist()


def _normal_scores(levels: np.ndarray) -> np.ndarray:
    return np.array([_NORMAL.inv_cdf(float(q)) for q in levels])


def default_rho(interval_minutes: float) -> float:
    """Lag-one correlation [-] of errors between adjacent intervals of ``interval_minutes``."""
    return float(np.exp(-interval_minutes / ERROR_MEMORY_MINUTES))


def ar1_correlation(errors: np.ndarray) -> float:
    """Lag-one autocorrelation [-] of forecast errors, pooled over days.

    Parameters
    ----------
    errors : numpy.ndarray
        Array (days, intervals) of ``actual - median``; NaN allowed.

    Returns
    -------
    float
        The correlation, clipped to [0, 0.999].
    """
    a, b = errors[:, :-1].ravel(), errors[:, 1:].ravel()
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3:
        raise InvalidInputError("too few paired errors to estimate their correlation")
    rho = float(np.corrcoef(a[ok], b[ok])[0, 1])
    return float(np.clip(np.nan_to_num(rho), 0.0, 0.999))


def _ar1_gaussians(n: int, length: int, rho: float, rng: np.random.Generator) -> np.ndarray:
    noise = rng.standard_normal((n, length))
    z = np.empty_like(noise)
    z[:, 0] = noise[:, 0]
    scale = np.sqrt(1.0 - rho**2)
    for t in range(1, length):
        z[:, t] = rho * z[:, t - 1] + scale * noise[:, t]
    return z


def _inverse_marginal(z: np.ndarray, scores: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Map normal scores ``z`` (n, T) through piecewise-linear quantile curves ``values`` (T, L)."""
    out = np.empty_like(z)
    for t in range(values.shape[0]):
        q = values[t]
        if len(scores) == 1:
            out[:, t] = q[0]
            continue
        inner = np.interp(z[:, t], scores, q)
        low_slope = (q[1] - q[0]) / (scores[1] - scores[0])
        high_slope = (q[-1] - q[-2]) / (scores[-1] - scores[-2])
        inner = np.where(z[:, t] < scores[0], q[0] + (z[:, t] - scores[0]) * low_slope, inner)
        inner = np.where(z[:, t] > scores[-1], q[-1] + (z[:, t] - scores[-1]) * high_slope, inner)
        out[:, t] = inner
    return out


def quantile_paths(fc: Forecast, n: int) -> np.ndarray:
    """``n`` comonotone paths: path ``k`` takes the forecast's ``(k + 0.5) / n`` quantile in
    every interval (interpolated between the forecast's levels as in :func:`sample_scenarios`).

    Returns
    -------
    numpy.ndarray
        Shape (n, T), in the forecast's unit, non-decreasing in ``k`` in every interval.
    """
    if n <= 0:
        raise InvalidInputError(f"number of scenarios must be positive, not {n}")
    levels = np.array([float(c) for c in fc.quantiles.columns])
    values = np.sort(fc.values(), axis=1)
    scores = _normal_scores((np.arange(n) + 0.5) / n)
    z = np.repeat(scores[:, None], len(fc.quantiles.index), axis=1)
    return _inverse_marginal(z, _normal_scores(levels), values)


def sample_scenarios(fc: Forecast, n: int, seed: int, *, rho: float | None = None) -> np.ndarray:
    """Draw ``n`` correlated scenario paths whose marginals match the forecast quantiles.

    Parameters
    ----------
    fc : Forecast
        Quantile forecast over T intervals.
    n : int
        Number of scenarios.
    seed : int
        Seed of the random generator (same seed, same scenarios).
    rho : float, optional
        Lag-one correlation [-] of the copula between adjacent intervals; defaults to
        :func:`default_rho` of the forecast's interval (0.92 for 15 min). Estimate it from
        past errors with :func:`ar1_correlation`.

    Returns
    -------
    numpy.ndarray
        Shape (n, T), in the forecast's unit.
    """
    if n <= 0:
        raise InvalidInputError(f"number of scenarios must be positive, not {n}")
    index = fc.quantiles.index
    length = len(index)
    if rho is None:
        step = (index[1] - index[0]).total_seconds() / 60 if length > 1 else 60.0
        rho = default_rho(step)
    if not 0.0 <= rho < 1.0:
        raise InvalidInputError(f"copula correlation {rho} must lie in [0, 1)")
    levels = np.array([float(c) for c in fc.quantiles.columns])
    values = np.sort(fc.values(), axis=1)
    rng = np.random.default_rng(seed)
    z = _ar1_gaussians(n, length, rho, rng)
    return _inverse_marginal(z, _normal_scores(levels), values)
