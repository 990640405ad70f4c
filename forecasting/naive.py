"""Seasonal naive forecasts: the baselines every other model must beat.

``naive_daily`` repeats the latest day whose value at the same local clock time is known at
issue time (for a D-1 08:00 issue: D-1 before 08:00, D-2 after). ``naive_weekly`` repeats the
same local time a week earlier. ``naive_epf`` is the epftoolbox standard naive: daily for
Tuesday to Friday, weekly for Saturday to Monday. Bands come from each rule's own errors on
recent days at the same lead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from forecasting.features import lookup, same_clock_earlier
from forecasting.history import KnownHistory, PointForecaster
from forecasting.uncertainty import backcast_residuals, band_from_residuals
from vpp.domain.errors import InvalidInputError
from vpp.domain.timegrid import zone

NAIVE_MODELS = ("naive_daily", "naive_weekly", "naive_epf")
#: How many earlier days the daily rule may reach back across gaps [d].
MAX_DAILY_REACH = 7
#: How many earlier weeks the weekly rule may reach back across gaps [weeks].
MAX_WEEKLY_REACH = 3
#: Recent days whose errors set the band [d].
RESIDUAL_DAYS = 28


def _first_known(known: KnownHistory, steps: Sequence[int]) -> np.ndarray:
    """For each interval of D, the value ``k`` local days earlier for the first known ``k``."""
    y = known.y
    out = np.full(len(known.horizon), np.nan)
    for days in steps:
        missing = np.isnan(out)
        if not missing.any():
            break
        out[missing] = lookup(y, same_clock_earlier(known.horizon, known.tz, days))[missing]
    return out


def naive_daily(known: KnownHistory) -> np.ndarray:
    """Latest known same-clock value of an earlier day, per interval of D [target unit]."""
    return _first_known(known, range(1, MAX_DAILY_REACH + 1))


def naive_weekly(known: KnownHistory) -> np.ndarray:
    """Same local clock time one week earlier (older weeks across gaps) [target unit]."""
    return _first_known(known, [7 * w for w in range(1, MAX_WEEKLY_REACH + 1)])


def naive_epf(known: KnownHistory) -> np.ndarray:
    """epftoolbox standard naive: daily rule Tuesday-Friday, weekly rule Saturday-Monday."""
    weekday = known.horizon[0].tz_convert(zone(known.tz)).weekday()
    return naive_daily(known) if 1 <= weekday <= 4 else naive_weekly(known)


POINT_RULES: dict[str, PointForecaster] = {
    "naive_daily": naive_daily,
    "naive_weekly": naive_weekly,
    "naive_epf": naive_epf,
}


def forecast_naive(known: KnownHistory, model: str, levels: Sequence[float]) -> pd.DataFrame:
    """Quantile forecast of day D by a seasonal naive rule.

    Parameters
    ----------
    known : KnownHistory
        History cut at issue time.
    model : str
        One of :data:`NAIVE_MODELS`.
    levels : sequence of float
        Quantile levels, ascending, including 0.5.

    Returns
    -------
    pandas.DataFrame
        Quantiles per interval of D; the P50 is the naive value itself. Intervals with no
        known value to repeat are NaN (the caller falls back or flags them).
    """
    if model not in POINT_RULES:
        raise InvalidInputError(f"unknown naive model {model!r}", hint=f"use one of {NAIVE_MODELS}")
    rule = POINT_RULES[model]
    point = rule(known)
    residuals = backcast_residuals(known, rule, RESIDUAL_DAYS, 7 * MAX_WEEKLY_REACH + 2)
    return band_from_residuals(point, residuals, known.horizon, levels)
