"""Scale-free features of many series at once, for the global model.

The global model (:mod:`forecasting.global_gbm`) learns one mapping for meters of every size,
so each row's target and lagged values are divided by the series' own recent level: the mean
of its known values over :data:`SCALE_DAYS` days before that row's issue time (the same lead
before its day as the real forecast, so training rows see what the forecast will see). The
grid-wide parts (calendar, lag positions, each row's issue position) are computed once per
grid in :class:`GridContext`; per-series values are then read with integer positions. The
same lags as the single-series model are used (:func:`forecasting.features.lags_from`).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from forecasting.features import (
    SAME_KIND_REACH,
    calendar_features,
    day_kinds,
    first_known_lag,
    lags_from,
    same_clock_earlier,
)
from forecasting.panel import KnownPanel, row_issue_positions
from vpp.domain.timegrid import zone

#: Days of history whose mean value is a series' scale [d].
SCALE_DAYS = 7
#: Calendar columns the global model uses.
CALENDAR_COLUMNS = ("minute_of_day", "weekday", "is_holiday", "is_working_day", "is_makeup_workday")


@dataclass(frozen=True)
class GridContext:
    """What every series on one grid shares: calendar and the positions lags read.

    Attributes
    ----------
    calendar : numpy.ndarray
        ``(len(index), len(CALENDAR_COLUMNS))`` calendar features per grid position.
    lags : tuple of int
        Lag days [d] allowed at the panel's issue time.
    positions : dict of int to numpy.ndarray
        For each lag [d], the grid position at the same local clock time that many days
        earlier (-1 when off the grid).
    same_kind : numpy.ndarray
        Position of the same clock time on the latest earlier day of the same kind (working
        or not), at least the first lag back (-1 when none in reach).
    issue_positions : numpy.ndarray
        Last position before each position's own issue time (see
        :func:`forecasting.panel.row_issue_positions`).
    per_day : int
        Intervals in 24 h [count].
    """

    calendar: np.ndarray
    lags: tuple[int, ...]
    positions: dict[int, np.ndarray]
    same_kind: np.ndarray
    issue_positions: np.ndarray
    per_day: int

    @property
    def week_lags(self) -> tuple[int, ...]:
        """Weekly lags [d] of the four-week same-clock mean."""
        first = min(self.lags)
        return tuple(7 * w for w in range(max(1, -(-first // 7)), 5))

    @property
    def day_lags(self) -> tuple[int, ...]:
        """The five most recent allowed daily lags [d]."""
        first = min(self.lags)
        return tuple(range(first, first + 5))


def _same_kind_positions(
    index: pd.DatetimeIndex, tz: str, first_lag: int, country: str | None
) -> np.ndarray:
    local_days = pd.Index(index.tz_convert(zone(tz)).date)
    codes, unique = pd.factorize(local_days)
    reach = SAME_KIND_REACH + first_lag
    first_day = min(unique) - timedelta(days=reach)
    span = [first_day + timedelta(days=i) for i in range((max(unique) - first_day).days + 1)]
    working = day_kinds(span, country)["is_working_day"].to_numpy()
    backs = np.zeros(len(unique), dtype=int)
    for row, day in enumerate(unique):
        today = (day - first_day).days
        found = [b for b in range(first_lag, reach) if working[today - b] == working[today]]
        backs[row] = found[0] if found else 0
    out = np.full(len(index), -1)
    per_row = backs[codes]
    for back in np.unique(per_row[per_row > 0]):
        rows = per_row == back
        out[rows] = index.get_indexer(same_clock_earlier(index[rows], tz, int(back)))
    return out


def build_grid_context(panel: KnownPanel, holidays_country: str | None) -> GridContext:
    """Calendar and lag positions of ``panel``'s grid, for lags allowed at its issue time."""
    first = first_known_lag(panel.horizon, panel.tz, panel.issue_time)
    lags = lags_from(first)
    needed = set(lags) | {7 * w for w in range(1, 5)} | set(range(first, first + 5))
    positions = {
        d: panel.index.get_indexer(same_clock_earlier(panel.index, panel.tz, d))
        for d in sorted(needed)
    }
    calendar = calendar_features(panel.index, panel.tz, holidays_country)
    return GridContext(
        calendar=calendar[list(CALENDAR_COLUMNS)].to_numpy(dtype=float),
        lags=lags,
        positions=positions,
        same_kind=_same_kind_positions(panel.index, panel.tz, first, holidays_country),
        issue_positions=row_issue_positions(panel),
        per_day=24 * 60 // panel.interval_minutes,
    )


def feature_columns(context: GridContext) -> tuple[str, ...]:
    """Column names of :func:`panel_design`, in order."""
    lag_columns = tuple(f"lag_{d}d" for d in context.lags)
    return (
        *CALENDAR_COLUMNS,
        *lag_columns,
        "same_clock_4w",
        "same_clock_4w_median",
        "same_clock_4w_std",
        "same_clock_5d",
        "same_kind_last",
        "mean_24h",
        "last_value",
        "log_scale",
    )


def _take(values: np.ndarray, series: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """``values[series, positions]``, NaN where a position is -1."""
    ok = positions >= 0
    out = np.full(len(series), np.nan)
    out[ok] = values[series[ok], positions[ok]]
    return out


def window_means(values: np.ndarray, ends: np.ndarray, width: int) -> np.ndarray:
    """Mean of known values over ``width`` positions ending at each ``ends`` column, per series.

    ``ends`` are grid positions (inclusive, -1 for none); the result has shape
    ``(values.shape[0], len(ends))`` and is NaN where the window holds no known value.
    """
    known = ~np.isnan(values)
    sums = np.concatenate(
        [np.zeros((len(values), 1)), np.cumsum(np.where(known, values, 0.0), axis=1)], axis=1
    )
    counts = np.concatenate(
        [np.zeros((len(values), 1)), np.cumsum(known, axis=1, dtype=float)], axis=1
    )
    stop = ends + 1
    start = np.maximum(stop - width, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: np.ndarray = (sums[:, stop] - sums[:, start]) / (counts[:, stop] - counts[:, start])
    return means


def last_known(values: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Latest known value at or before each ``ends`` position, per series (NaN if none)."""
    steps = np.arange(values.shape[1])
    latest = np.maximum.accumulate(np.where(np.isnan(values), -1, steps), axis=1)
    at = latest[:, np.maximum(ends, 0)]
    rows = np.arange(len(values))[:, None]
    out: np.ndarray = np.where((at >= 0) & (ends >= 0), values[rows, np.maximum(at, 0)], np.nan)
    return out


def panel_design(
    values: np.ndarray, context: GridContext, series: np.ndarray, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Scale-free features of the rows ``(series[i], positions[i])`` and each row's scale.

    Parameters
    ----------
    values : numpy.ndarray
        ``(series, grid)`` known values [target unit] (NaN at and after the issue time).
    context : GridContext
        Shared grid features of the same grid.
    series, positions : numpy.ndarray
        Row of ``values`` and grid position of each design row.

    Returns
    -------
    tuple of numpy.ndarray
        The design matrix ``(rows, len(feature_columns(context)))`` with lagged and level
        values divided by the scale, and the scale per row [target unit].
    """
    issue = context.issue_positions[positions]
    unique, inverse = np.unique(issue, return_inverse=True)
    scale = window_means(values, unique, SCALE_DAYS * context.per_day)[series, inverse]
    scale = np.where(scale > 0, scale, np.nan)
    mean_24h = window_means(values, unique, context.per_day)[series, inverse]
    last = last_known(values, unique)[series, inverse]
    lags = [_take(values, series, context.positions[d][positions]) for d in context.lags]
    weeks = np.column_stack(
        [_take(values, series, context.positions[d][positions]) for d in context.week_lags]
    )
    days = np.column_stack(
        [_take(values, series, context.positions[d][positions]) for d in context.day_lags]
    )
    with warnings.catch_warnings():
        # Rows with no value that far back stay NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        pattern = [
            np.nanmean(weeks, axis=1),
            np.nanmedian(weeks, axis=1),
            np.nanstd(weeks, axis=1),
            np.nanmean(days, axis=1),
        ]
    same_kind = _take(values, series, context.same_kind[positions])
    scaled = np.column_stack([*lags, *pattern, same_kind, mean_24h, last]) / scale[:, None]
    with np.errstate(invalid="ignore"):
        log_scale = np.log10(scale)
    matrix = np.column_stack([context.calendar[positions], scaled, log_scale])
    return matrix, scale
