"""Wind forecasts from a wind-speed forecast: an empirical power curve plus an ML correction.

The first exogenous column must be the forecast wind speed at hub height [m/s]. ``wind_curve``
fits a probabilistic power curve to the known history (quantiles of power per wind-speed bin,
made non-decreasing) and reads it at tomorrow's forecast wind speed. ``wind_lgbm`` gives that
curve value to LightGBM as a feature together with the other exog and the calendar, so the
booster learns what the curve misses (direction, season, curtailment habits).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from forecasting.gbm import RENEWABLE_GBM, fit_gbm, predict_gbm
from forecasting.history import KnownHistory
from forecasting.uncertainty import quantile_frame
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError

WIND_MODELS = ("wind_curve", "wind_lgbm")
#: Width of a wind-speed bin of the empirical power curve [m/s].
BIN_WIDTH = 0.5
#: History used to fit the curve [d].
CURVE_DAYS = 90
#: Fewest observations for a bin to count [count].
MIN_PER_BIN = 5
CURVE_COLUMN = "_curve_power"


def fit_power_curve(
    speed: np.ndarray, power: np.ndarray, levels: Sequence[float]
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical quantile power curves.

    Parameters
    ----------
    speed : numpy.ndarray
        Wind speed [m/s].
    power : numpy.ndarray
        Power at that wind speed [target unit].
    levels : sequence of float
        Quantile levels.

    Returns
    -------
    tuple of numpy.ndarray
        Bin centres [m/s] and an array (bins, levels) of power quantiles [target unit], each
        column non-decreasing in wind speed up to its maximum.
    """
    ok = np.isfinite(speed) & np.isfinite(power)
    speed, power = speed[ok], power[ok]
    if len(speed) < 10 * MIN_PER_BIN:
        raise ForecastUnavailableError(
            f"only {len(speed)} pairs of wind speed and power to fit a power curve",
            hint="give at least a few days of history with the wind-speed column filled",
        )
    bins = np.floor(speed / BIN_WIDTH).astype(int)
    centres, curves = [], []
    for b in np.unique(bins):
        members = power[bins == b]
        if len(members) >= MIN_PER_BIN:
            centres.append((b + 0.5) * BIN_WIDTH)
            curves.append(np.quantile(members, list(levels)))
    table = np.array(curves)
    peak = np.argmax(table[:, list(levels).index(0.5)])
    table[: peak + 1] = np.maximum.accumulate(table[: peak + 1], axis=0)
    return np.array(centres), table


def read_curve(centres: np.ndarray, table: np.ndarray, speed: np.ndarray) -> np.ndarray:
    """Interpolate each quantile curve at ``speed`` [m/s]; NaN speed gives NaN."""
    out = np.column_stack([np.interp(speed, centres, table[:, j]) for j in range(table.shape[1])])
    out[~np.isfinite(speed)] = np.nan
    return out


def _curve(known: KnownHistory, levels: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    if not known.exog:
        raise InvalidInputError(
            "wind models need a wind-speed forecast column",
            hint="pass the hub-height wind speed [m/s] as the first exog column",
        )
    y = known.known_y
    window = y.index >= known.issue_time - pd.Timedelta(days=CURVE_DAYS)
    speed = known.frame[known.exog[0]].reindex(y.index)
    return fit_power_curve(speed.to_numpy()[window], y.to_numpy()[window], levels)


def forecast_wind(
    known: KnownHistory, model: str, levels: Sequence[float]
) -> tuple[pd.DataFrame, list[str]]:
    """Quantile wind-power forecast of day D [target unit], never below zero.

    Parameters
    ----------
    known : KnownHistory
        Power history cut at issue time; ``known.exog[0]`` is the wind speed [m/s].
    model : str
        ``"wind_curve"`` or ``"wind_lgbm"``.
    levels : sequence of float
        Quantile levels.

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        Quantiles per interval of D and flags (``"exog_missing:N"`` for intervals without a
        wind-speed forecast).
    """
    if model not in WIND_MODELS:
        raise InvalidInputError(f"unknown wind model {model!r}", hint=f"use one of {WIND_MODELS}")
    centres, table = _curve(known, levels)
    speed_d = known.frame[known.exog[0]].reindex(known.horizon).to_numpy(dtype=float)
    flags = [f"exog_missing:{int(np.isnan(speed_d).sum())}"] if np.isnan(speed_d).any() else []
    if model == "wind_curve":
        values = read_curve(centres, table, speed_d)
    else:
        median = list(levels).index(0.5)
        frame = known.frame.copy()
        speed_all = frame[known.exog[0]].to_numpy(dtype=float)
        frame[CURVE_COLUMN] = read_curve(centres, table, speed_all)[:, median]
        with_curve = replace(known, frame=frame, exog=(*known.exog, CURVE_COLUMN))
        fitted = fit_gbm([with_curve], levels, params=RENEWABLE_GBM)
        values = predict_gbm(fitted, with_curve).to_numpy()
    values = np.clip(values, 0.0, None)
    return quantile_frame(values, known.horizon, levels), flags
