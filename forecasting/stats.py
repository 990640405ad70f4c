"""Statistical day-ahead models from statsmodels, run on hourly-aggregated history.

``ets`` is Holt-Winters exponential smoothing with a daily season; ``mstl`` decomposes the
history into daily and weekly seasons (MSTL), repeats the last cycle of each and smooths the
rest. Both are fitted on the last four weeks of hourly means; the intra-hour shape of a
15-minute target is added back from recent days. Gaps are interpolated for fitting only (the
returned flag says how many hours), and bands come from the same model's errors on recent days.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.tsa.holtwinters import ExponentialSmoothing
from statsmodels.tsa.seasonal import MSTL

from forecasting.history import KnownHistory
from forecasting.uncertainty import backcast_residuals, band_from_residuals
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError
from vpp.domain.timegrid import zone

STATS_MODELS = ("ets", "mstl")
#: Hourly history the models are fitted on [d].
FIT_DAYS = 28
#: Recent days whose errors set the band (each one a refit) [d].
RESIDUAL_DAYS = 3


def _hourly_known(known: KnownHistory) -> tuple[pd.Series, int]:
    """Hourly means of the known target over the fit window, gaps interpolated; and their count."""
    y = known.known_y
    y = y.loc[y.index >= known.issue_time - pd.Timedelta(days=FIT_DAYS)]
    hourly = y.resample("1h").mean()
    if hourly.notna().sum() < 48:
        raise ForecastUnavailableError(
            f"{known.target}: fewer than 48 known hours for a statistical model",
            hint="use a naive model or give more history",
        )
    hourly = hourly.loc[hourly.first_valid_index() : hourly.last_valid_index()]
    gaps = int(hourly.isna().sum())
    return hourly.interpolate(limit_direction="both"), gaps


def _intra_hour_shape(known: KnownHistory) -> np.ndarray:
    """Mean offset [target unit] of each interval of D from its hourly mean, over recent days."""
    if known.interval_minutes >= 60:
        return np.zeros(len(known.horizon))
    y = known.known_y.dropna()
    y = y.loc[y.index >= known.issue_time - pd.Timedelta(days=14)]
    offsets = y - y.groupby(y.index.floor("1h")).transform("mean")
    minutes = pd.Index(offsets.index.tz_convert(zone(known.tz)).minute)
    shape = offsets.groupby(minutes).mean()
    wanted = known.horizon.tz_convert(zone(known.tz)).minute
    values: np.ndarray = shape.reindex(wanted).fillna(0.0).to_numpy(dtype=float)
    return values


def _extrapolate(model: str, values: np.ndarray, steps: int) -> np.ndarray:
    with warnings.catch_warnings():
        # Convergence chatter from the optimiser is not actionable for a user.
        warnings.simplefilter("ignore")
        if model == "ets":
            fit = ExponentialSmoothing(
                values,
                trend=None,
                seasonal="add",
                seasonal_periods=24,
                initialization_method="estimated",
            ).fit()
            return np.asarray(fit.forecast(steps), dtype=float)
        periods = (24, 168) if len(values) >= 2 * 168 else (24,)
        result = MSTL(values, periods=periods).fit()
        seasonal = np.asarray(result.seasonal).reshape(len(values), -1)
        future = np.zeros(steps)
        for column, period in enumerate(periods):
            cycle = seasonal[-period:, column]
            future += np.resize(cycle, steps)
        rest = values - seasonal.sum(axis=1)
        level = ExponentialSmoothing(rest, initialization_method="estimated").fit()
        path: np.ndarray = future + np.asarray(level.forecast(steps), dtype=float)
        return path


def stats_point(known: KnownHistory, model: str) -> np.ndarray:
    """Point forecast [target unit] of each interval of D by ``ets`` or ``mstl``."""
    hourly, _ = _hourly_known(known)
    last = hourly.index[-1]
    hours = pd.date_range(last + pd.Timedelta(hours=1), known.horizon[-1].floor("1h"), freq="1h")
    path = pd.Series(_extrapolate(model, hourly.to_numpy(dtype=float), len(hours)), index=hours)
    point = path.reindex(known.horizon.floor("1h")).to_numpy(dtype=float)
    shaped: np.ndarray = point + _intra_hour_shape(known)
    return shaped


def forecast_stats(
    known: KnownHistory, model: str, levels: Sequence[float]
) -> tuple[pd.DataFrame, list[str]]:
    """Quantile forecast of day D by a statsmodels model; flags interpolated hours.

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        Quantiles per interval of D [target unit] and flags (``"imputed_for_model:N"`` for
        N interpolated hours).
    """
    if model not in STATS_MODELS:
        raise InvalidInputError(f"unknown statistical model {model!r}", hint=f"use {STATS_MODELS}")
    _, gaps = _hourly_known(known)
    point = stats_point(known, model)
    residuals = backcast_residuals(
        known, lambda past: stats_point(past, model), RESIDUAL_DAYS, FIT_DAYS
    )
    flags = [f"imputed_for_model:{gaps}"] if gaps else []
    return band_from_residuals(point, residuals, known.horizon, levels), flags
