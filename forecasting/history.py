"""What was known at issue time: the one place that cuts history so no model can see the future.

Every model receives a :class:`KnownHistory` instead of the raw frame. Its target column holds
only values stamped strictly before the issue time (later rows are NaN), on a regular grid of
the requested interval; exogenous columns are day-ahead forecasts known in advance, so they are
kept over the horizon. Gaps are counted here, reported as flags, and never filled in the data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta

import numpy as np
import pandas as pd

from vpp.domain.errors import InvalidInputError, TimeSeriesError
from vpp.domain.timegrid import (
    check_interval_minutes,
    day_intervals,
    infer_interval_minutes,
    local_midnight,
    market_day,
    require_utc_index,
    to_grid,
)


@dataclass(frozen=True)
class KnownHistory:
    """History as known at ``issue_time``, on a regular UTC grid covering the forecast day.

    Attributes
    ----------
    frame : pandas.DataFrame
        UTC index from the first history row to the end of the forecast day, step
        ``interval_minutes``. Column ``target`` is NaN at and after ``issue_time``; the
        ``exog`` columns keep their values over the horizon.
    target, exog, tz, issue_time, horizon, interval_minutes
        The request this history serves; ``horizon`` holds the UTC interval starts of day D.
    gaps : int
        Missing target intervals [count] between the first known value and the issue time.
    """

    frame: pd.DataFrame
    target: str
    exog: tuple[str, ...]
    tz: str
    issue_time: pd.Timestamp
    horizon: pd.DatetimeIndex
    interval_minutes: int

    @property
    def y(self) -> pd.Series:
        """Target values known at issue time (NaN where missing or not yet known)."""
        return self.frame[self.target]

    @property
    def known_y(self) -> pd.Series:
        """Target values before the issue time only, NaN where missing."""
        return self.y.loc[self.y.index < self.issue_time]

    @property
    def gaps(self) -> int:
        """Missing target intervals [count] between the first known value and the issue time."""
        known = self.known_y
        valid = known.notna().to_numpy()
        if not valid.any():
            return 0
        return int((~valid[int(np.argmax(valid)) :]).sum())

    @property
    def known_days(self) -> int:
        """Number of market days [count] with at least one known target value."""
        known = self.known_y.dropna()
        if known.empty:
            return 0
        return int(known.index.tz_convert(self.tz).normalize().nunique())

    @property
    def lead(self) -> pd.Timedelta:
        """Time from the issue time to the start of the forecast day."""
        return self.horizon[0] - self.issue_time

    @property
    def day(self) -> date:
        """The market day D being forecast."""
        return market_day(self.horizon[0], self.tz)

    def issue_time_for(self, day: date) -> pd.Timestamp:
        """The issue time with the same lead before market day ``day`` (for training rows)."""
        return local_midnight(day, self.tz) - self.lead

    def past_days(self, count: int) -> list[date]:
        """Up to ``count`` most recent market days wholly before the issue time, oldest first."""
        days: list[date] = []
        day = self.day - timedelta(days=1)
        first = self.frame.index[0]
        while len(days) < count:
            if local_midnight(day, self.tz) < first:
                break
            if local_midnight(day + timedelta(days=1), self.tz) <= self.issue_time:
                days.append(day)
            day -= timedelta(days=1)
        return days[::-1]

    def recent(self, days: int) -> KnownHistory:
        """This history trimmed to the last ``days`` days [d] before day D (for speed)."""
        start = self.horizon[0] - pd.Timedelta(days=days)
        return replace(self, frame=self.frame.loc[start:])

    def rewind(self, day: date) -> KnownHistory:
        """This history as it was known before an earlier day ``day``, at the same lead."""
        issue = self.issue_time_for(day)
        horizon = day_intervals(day, self.tz, self.interval_minutes)
        frame = self.frame.loc[: horizon[-1]].copy()
        frame.loc[frame.index >= issue, self.target] = np.nan
        return KnownHistory(
            frame=frame,
            target=self.target,
            exog=self.exog,
            tz=self.tz,
            issue_time=issue,
            horizon=horizon,
            interval_minutes=self.interval_minutes,
        )


def issue_and_horizon(
    issue_time: pd.Timestamp, day: date, tz: str, interval_minutes: int
) -> tuple[pd.Timestamp, pd.DatetimeIndex]:
    """The issue time in UTC and the intervals of day D, after checking they fit together.

    Raises
    ------
    InvalidInputError
        A bad interval, a naive issue time, or an issue time after the start of day D.
    """
    check_interval_minutes(interval_minutes)
    if not isinstance(issue_time, pd.Timestamp) or issue_time.tzinfo is None:
        raise InvalidInputError(
            f"issue time {issue_time!r} is not a tz-aware timestamp",
            hint="pass e.g. pd.Timestamp('2024-03-01T08:00', tz='Asia/Shanghai')",
        )
    issue = issue_time.tz_convert("UTC")
    horizon = day_intervals(day, tz, interval_minutes)
    if issue > horizon[0]:
        raise InvalidInputError(
            f"issue time {issue.isoformat()} is after the start of day {day} "
            f"({horizon[0].isoformat()})",
            hint="a day-ahead forecast must be issued before the day starts",
        )
    return issue, horizon


def on_grid(frame: pd.DataFrame, name: str, interval_minutes: int) -> pd.DataFrame:
    """``frame`` as floats on a sorted UTC index with step ``interval_minutes``.

    Rows on another regular step are aggregated or spread onto it (:func:`to_grid`).

    Raises
    ------
    TimeSeriesError
        An index that is not tz-aware, regular and increasing, or a lone off-grid row.
    """
    out = frame.astype(float).set_axis(require_utc_index(frame.index, name), axis=0)
    out = out.sort_index()
    if len(out) >= 2:
        if infer_interval_minutes(out.index, name) != interval_minutes:
            out = pd.DataFrame({c: to_grid(out[c], interval_minutes) for c in out.columns})
    elif len(out) == 1 and out.index[0].minute % interval_minutes:
        raise TimeSeriesError(f"{name}'s only row is off the interval grid")
    return out


def build_known_history(
    history: pd.DataFrame,
    target: str,
    day: date,
    tz: str,
    issue_time: pd.Timestamp,
    exog: Sequence[str],
    interval_minutes: int,
) -> KnownHistory:
    """Validate ``history`` and cut it at ``issue_time`` for a forecast of market day ``day``.

    Parameters
    ----------
    history : pandas.DataFrame
        UTC-indexed frame with a regular step holding ``target`` and the ``exog`` columns.
    target : str
        Column to forecast.
    day : date
        Market day D to forecast.
    tz : str
        IANA timezone of the market.
    issue_time : pandas.Timestamp
        Tz-aware instant the forecast is made; target rows at or after it are dropped.
    exog : sequence of str
        Columns of forecasts known in advance (kept over the horizon).
    interval_minutes : int
        Forecast interval [min]; history on another step is aggregated or spread onto it.

    Returns
    -------
    KnownHistory

    Raises
    ------
    InvalidInputError
        A missing column, a naive issue time, or an issue time after the start of day D.
    TimeSeriesError
        A history index that is not tz-aware, regular and increasing.
    """
    issue_time, horizon = issue_and_horizon(issue_time, day, tz, interval_minutes)
    missing = [c for c in (target, *exog) if c not in history.columns]
    if missing:
        raise InvalidInputError(
            f"history has no column {missing[0]!r}",
            hint=f"columns present: {list(history.columns)}",
        )
    if target in exog:
        raise InvalidInputError(f"{target!r} is both the target and an exogenous column")
    frame = on_grid(history[[target, *exog]], "history", interval_minutes)
    start = frame.index[0] if len(frame) else horizon[0]
    grid = pd.date_range(
        min(start, horizon[0]), horizon[-1], freq=f"{interval_minutes}min", name="timestamp"
    )
    frame = frame.reindex(grid).astype(float)
    frame.loc[frame.index >= issue_time, target] = np.nan
    return KnownHistory(
        frame=frame,
        target=target,
        exog=tuple(exog),
        tz=tz,
        issue_time=issue_time,
        horizon=horizon,
        interval_minutes=interval_minutes,
    )


#: A rule that turns history known at issue time into a point forecast of day D.
PointForecaster = Callable[[KnownHistory], np.ndarray]
