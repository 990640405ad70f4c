"""Many meters on one time grid, cut at one issue time: the input of the global LightGBM model.

A park with hundreds of tenants has hundreds of load series on the same 15-min grid. Holding
them as one ``(series, interval)`` array instead of one :class:`~forecasting.history.KnownHistory`
each lets features be looked up for all series at once with integer positions computed once
per grid. As in :mod:`forecasting.history`, every target value at or after the issue time is
NaN here, so nothing downstream can see the future.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

import numpy as np
import pandas as pd

from forecasting.history import KnownHistory, build_known_history, issue_and_horizon, on_grid
from vpp.domain.errors import InvalidInputError
from vpp.domain.timegrid import (
    local_midnight,
    market_day,
)


@dataclass(frozen=True)
class KnownPanel:
    """Several series known at ``issue_time`` on one regular UTC grid covering day D.

    Attributes
    ----------
    values : numpy.ndarray
        Shape ``(len(series_ids), len(index))``, in the target's unit; NaN where missing and
        at or after ``issue_time``.
    series_ids : tuple of str
        Name of each row of ``values`` (meter or tenant id).
    index : pandas.DatetimeIndex
        UTC interval starts from the first history row to the end of day D.
    target, tz, issue_time, horizon, interval_minutes
        The request: target name with unit, IANA timezone, issue instant (UTC), the UTC
        interval starts of day D, and the grid step [min].
    """

    values: np.ndarray
    series_ids: tuple[str, ...]
    index: pd.DatetimeIndex
    target: str
    tz: str
    issue_time: pd.Timestamp
    horizon: pd.DatetimeIndex
    interval_minutes: int

    @property
    def lead(self) -> pd.Timedelta:
        """Time from the issue time to the start of the forecast day."""
        return self.horizon[0] - self.issue_time

    @property
    def day(self) -> date:
        """The market day D being forecast."""
        return market_day(self.horizon[0], self.tz)

    @property
    def known_days(self) -> np.ndarray:
        """Market days [count] with at least one known value, per series."""
        local = self.index.tz_convert(self.tz)
        codes = pd.factorize(pd.Index(local.date))[0]
        known = ~np.isnan(self.values)
        days = np.zeros((len(self.series_ids), codes.max() + 1 if len(codes) else 0), dtype=bool)
        for code in np.unique(codes):
            days[:, code] = known[:, codes == code].any(axis=1)
        counts: np.ndarray = days.sum(axis=1)
        return counts

    def select(self, ids: Sequence[str]) -> KnownPanel:
        """The panel restricted to the series ``ids``, in that order."""
        rows = [self.series_ids.index(i) for i in ids]
        return replace(self, values=self.values[rows], series_ids=tuple(ids))

    def history_of(self, series_id: str) -> KnownHistory:
        """One series as a :class:`KnownHistory` (for the single-series models)."""
        row = self.values[self.series_ids.index(series_id)]
        frame = pd.DataFrame({self.target: row}, index=self.index)
        return build_known_history(
            frame, self.target, self.day, self.tz, self.issue_time, (), self.interval_minutes
        )


def build_known_panel(
    loads: pd.DataFrame,
    day: date,
    tz: str,
    issue_time: pd.Timestamp,
    interval_minutes: int = 15,
    target: str = "load_mw",
) -> KnownPanel:
    """Validate a wide frame of series and cut it at ``issue_time`` for market day ``day``.

    Parameters
    ----------
    loads : pandas.DataFrame
        UTC-indexed, regular step, one column per series (column name = series id) [target
        unit]. NaN marks gaps.
    day : date
        Market day D to forecast.
    tz : str
        IANA timezone of the market.
    issue_time : pandas.Timestamp
        Tz-aware instant of the forecast; values at or after it are dropped.
    interval_minutes : int
        Grid step [min]; other steps are aggregated or spread onto it.
    target : str
        Name (with unit) of what the series measure, e.g. ``load_mw``.

    Returns
    -------
    KnownPanel

    Raises
    ------
    InvalidInputError
        No series, duplicate series names, a naive issue time or one after the start of D.
    """
    if loads.shape[1] == 0 or loads.columns.has_duplicates:
        raise InvalidInputError(
            "loads needs at least one column and unique column names",
            hint="give one column per meter, named by its id",
        )
    issue, horizon = issue_and_horizon(issue_time, day, tz, interval_minutes)
    frame = on_grid(loads, "loads", interval_minutes)
    start = min(frame.index[0], horizon[0]) if len(frame) else horizon[0]
    grid = pd.date_range(start, horizon[-1], freq=f"{interval_minutes}min", name="timestamp")
    values = frame.reindex(grid).to_numpy(dtype=float).T.copy()
    values[:, grid >= issue] = np.nan
    return KnownPanel(
        values=values,
        series_ids=tuple(str(c) for c in frame.columns),
        index=grid,
        target=target,
        tz=tz,
        issue_time=issue,
        horizon=horizon,
        interval_minutes=interval_minutes,
    )


def row_issue_positions(panel: KnownPanel) -> np.ndarray:
    """For each grid position, the last position strictly before its day's issue time.

    A training row on local day d was "issued" at ``midnight(d) - lead``, the same lead as
    the real forecast; level features read values up to that position only. -1 where the
    issue time precedes the grid.
    """
    local = panel.index.tz_convert(panel.tz)
    days, codes = np.unique(np.asarray(local.date), return_inverse=True)
    issues = pd.DatetimeIndex([local_midnight(d, panel.tz) - panel.lead for d in days])
    before = panel.index.searchsorted(issues, side="left") - 1
    positions: np.ndarray = before[codes]
    return positions
