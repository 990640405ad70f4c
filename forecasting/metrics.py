"""Forecast accuracy metrics, defined once so backtests and benchmarks agree.

Conventions follow the electricity-price-forecasting literature (Lago et al. 2021): sMAPE is
the mean of 2|y - f| / (|y| + |f|) in percent; rMAE is MAE over the MAE of the weekly seasonal
naive on the same intervals. Missing actuals are skipped, never counted as zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

METRIC_NAMES = ("mae", "rmse", "smape", "rmae", "pinball", "coverage_80")


def _paired(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(actual) & np.isfinite(predicted)
    return actual[ok], predicted[ok]


def mae(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Mean absolute error [target unit]."""
    a, p = _paired(actual, predicted)
    return float(np.mean(np.abs(a - p))) if a.size else float("nan")


def rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Root mean squared error [target unit]."""
    a, p = _paired(actual, predicted)
    return float(np.sqrt(np.mean((a - p) ** 2))) if a.size else float("nan")


def smape(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Symmetric MAPE [%]: mean of 2|y - f| / (|y| + |f|); pairs with y = f = 0 count as 0."""
    a, p = _paired(actual, predicted)
    if not a.size:
        return float("nan")
    denominator = np.abs(a) + np.abs(p)
    ratio = np.divide(2 * np.abs(a - p), denominator, out=np.zeros_like(a), where=denominator > 0)
    return float(100 * np.mean(ratio))


def pinball(actual: np.ndarray, predicted: np.ndarray, level: float) -> float:
    """Mean pinball (quantile) loss [target unit] of ``predicted`` at quantile ``level``."""
    a, p = _paired(actual, predicted)
    if not a.size:
        return float("nan")
    d = a - p
    return float(np.mean(np.maximum(level * d, (level - 1.0) * d)))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share [-] of actuals inside [lower, upper]."""
    ok = np.isfinite(actual) & np.isfinite(lower) & np.isfinite(upper)
    if not ok.any():
        return float("nan")
    inside = (actual[ok] >= lower[ok]) & (actual[ok] <= upper[ok])
    return float(np.mean(inside))


def score(
    actual: np.ndarray,
    quantiles: pd.DataFrame,
    baseline_mae: float,
    levels: Sequence[float] | None = None,
) -> dict[str, float]:
    """All metrics of one model's quantile forecasts against ``actual``.

    Parameters
    ----------
    actual : numpy.ndarray
        Realised values [target unit], aligned with the rows of ``quantiles``.
    quantiles : pandas.DataFrame
        Columns are float quantile levels including 0.5.
    baseline_mae : float
        MAE of the weekly seasonal naive on the same rows [target unit], for rMAE.
    levels : sequence of float, optional
        Levels averaged in the pinball loss; all columns by default.

    Returns
    -------
    dict
        ``mae``, ``rmse``, ``smape`` [%], ``rmae`` [-], ``pinball`` (mean over levels),
        ``coverage_80`` [-] (NaN when 0.1 or 0.9 is missing).
    """
    median = quantiles[0.5].to_numpy(dtype=float)
    used = list(levels) if levels is not None else [float(c) for c in quantiles.columns]
    model_mae = mae(actual, median)
    if {0.1, 0.9} <= set(quantiles.columns):
        cover = coverage(actual, quantiles[0.1].to_numpy(float), quantiles[0.9].to_numpy(float))
    else:
        cover = float("nan")
    return {
        "mae": model_mae,
        "rmse": rmse(actual, median),
        "smape": smape(actual, median),
        "rmae": model_mae / baseline_mae if baseline_mae > 0 else float("nan"),
        "pinball": float(np.mean([pinball(actual, quantiles[q].to_numpy(float), q) for q in used])),
        "coverage_80": cover,
    }


def mae_by_hour(actual: pd.Series, median: pd.Series, tz: str) -> pd.Series:
    """MAE [target unit] by local hour of day (0-23) of the interval start."""
    error = (actual - median).abs().dropna()
    hours = pd.DatetimeIndex(error.index).tz_convert(tz).hour
    return error.groupby(hours).mean()
