"""Forecasts for a meter with too little history: a declared schedule or a mean daily profile.

A newly enrolled enterprise still needs a day-ahead forecast. If it declared a schedule we
use it; otherwise we repeat the mean profile (by local time of day) of the days we have. Both
are flagged as cold start so nobody mistakes them for a trained model.
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from forecasting.history import KnownHistory
from forecasting.uncertainty import band_from_residuals, quantile_frame
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError
from vpp.domain.timegrid import zone

#: Days of history below which a forecast is a cold start [d].
COLD_START_DAYS = 14
#: Days the mean profile averages over [d].
PROFILE_DAYS = 7
#: Relative half-width of the P10-P90 band around a declared schedule with no history to judge it.
ASSUMED_SPREAD = 0.2


def _minute_of_day(index: pd.DatetimeIndex, tz: str) -> np.ndarray:
    local = index.tz_convert(zone(tz))
    return np.asarray(local.hour * 60 + local.minute)


def _typical_day(series: pd.Series, tz: str) -> pd.Series:
    """Mean of ``series`` by local minute of day."""
    clean = series.dropna()
    minutes = _minute_of_day(pd.DatetimeIndex(clean.index), tz)
    return clean.groupby(minutes).mean()


def _on_horizon(typical: pd.Series, known: KnownHistory) -> np.ndarray:
    values: np.ndarray = typical.reindex(_minute_of_day(known.horizon, known.tz)).to_numpy(float)
    return values


def profile_forecast(known: KnownHistory, levels: Sequence[float]) -> pd.DataFrame:
    """Mean daily profile of the last known days, with a band from their spread.

    Raises
    ------
    ForecastUnavailableError
        No target value is known before the issue time.
    """
    y = known.known_y.dropna()
    if y.empty:
        raise ForecastUnavailableError(
            f"no value of {known.target} is known before {known.issue_time.isoformat()}",
            hint="give at least one day of metered history or a declared schedule "
            "(declared_profile)",
        )
    recent = y.loc[y.index >= y.index[-1] - pd.Timedelta(days=PROFILE_DAYS)]
    typical = _typical_day(recent, known.tz)
    point = _on_horizon(typical, known)
    if np.isnan(point).any():
        # Minutes never observed (a partial first day) take the overall mean.
        point = np.where(np.isnan(point), float(recent.mean()), point)
    fitted = typical.reindex(_minute_of_day(pd.DatetimeIndex(recent.index), known.tz))
    residuals = recent.to_numpy() - fitted.to_numpy(dtype=float)
    return band_from_residuals(point, residuals, known.horizon, levels)


def _align_declared(declared: pd.Series, known: KnownHistory) -> np.ndarray:
    index = declared.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise InvalidInputError(
            "declared_profile needs a tz-aware DatetimeIndex of interval starts",
            hint="index it by the UTC interval starts of day D or of a typical day",
        )
    values = declared.astype(float)
    values.index = index.tz_convert("UTC")
    if known.horizon.isin(values.index).all():
        aligned: np.ndarray = values.reindex(known.horizon).to_numpy(dtype=float)
        return aligned
    point = _on_horizon(_typical_day(values, known.tz), known)
    if np.isnan(point).any():
        raise InvalidInputError(
            "declared_profile does not cover every local time of day of the forecast day",
            hint=f"give one value per {known.interval_minutes}-min interval of a whole day",
        )
    return point


def declared_forecast(
    known: KnownHistory, levels: Sequence[float], declared: pd.Series
) -> tuple[pd.DataFrame, list[str]]:
    """The declared schedule as P50, with a band from how well it matched known history.

    Returns
    -------
    tuple of (pandas.DataFrame, list of str)
        Quantiles per interval of D and extra flags (``"quantiles:assumed_spread_20pct"``
        when no history exists to measure the schedule's errors).
    """
    point = _align_declared(declared, known)
    y = known.known_y.dropna()
    flags: list[str] = []
    if y.empty:
        flags.append(f"quantiles:assumed_spread_{round(ASSUMED_SPREAD * 100)}pct")
        spread = ASSUMED_SPREAD * np.abs(point)
        normal = NormalDist()
        scores = np.array([normal.inv_cdf(q) / normal.inv_cdf(0.9) for q in levels])
        values = point[:, None] + spread[:, None] * scores[None, :]
        return quantile_frame(values, known.horizon, levels), flags
    typical = _typical_day(pd.Series(point, index=known.horizon), known.tz)
    fitted = typical.reindex(_minute_of_day(pd.DatetimeIndex(y.index), known.tz))
    residuals = y.to_numpy() - fitted.to_numpy(dtype=float)
    return band_from_residuals(point, residuals, known.horizon, levels), flags
