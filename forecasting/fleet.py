"""Day-ahead forecasts of many meters at once from one global model, with the usual flags.

:func:`forecast_fleet_day_ahead` is :func:`forecasting.forecast_day_ahead` for a park's
tenants together: one :class:`~vpp.domain.forecast.Forecast` per meter, but one model fitted
for all of them (:mod:`forecasting.global_gbm`). Meters with under two weeks of history get
the same cold-start forecast as the single-meter path; intervals the global model cannot
fill (no positive level in the week before issue) take the mean profile, flagged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from forecasting.coldstart import COLD_START_DAYS, profile_forecast
from forecasting.dayahead import forecast_known
from forecasting.global_gbm import (
    GlobalParams,
    fit_global_gbm,
    predict_global_gbm,
    quantile_frames,
)
from forecasting.panel import KnownPanel, build_known_panel
from forecasting.uncertainty import check_levels, quantile_frame
from vpp.domain.errors import ForecastUnavailableError
from vpp.domain.forecast import Forecast

#: Model name of forecasts made by the global model.
GLOBAL_MODEL = "lgbm_global"


def panel_gaps(panel: KnownPanel) -> np.ndarray:
    """Missing intervals [count] per series between its first known value and the issue time."""
    before = panel.values[:, panel.index < panel.issue_time]
    known = ~np.isnan(before)
    started = np.maximum.accumulate(known, axis=1)
    gaps: np.ndarray = (started & ~known).sum(axis=1)
    return gaps


def _finish(frame: pd.DataFrame, panel: KnownPanel, series_id: str, gaps: int) -> Forecast:
    levels = list(frame.columns)
    flags = [f"history_gaps:{gaps}"] if gaps else []
    missing = frame[0.5].isna().to_numpy()
    if missing.any():
        backup = profile_forecast(panel.history_of(series_id), levels).to_numpy()
        values = frame.to_numpy().copy()
        values[missing] = backup[missing]
        frame = quantile_frame(values, panel.horizon, levels)
        flags.append(f"fallback:profile:{int(missing.sum())}")
    return Forecast(
        target=panel.target,
        issue_time=panel.issue_time,
        quantiles=frame,
        model=GLOBAL_MODEL,
        flags=tuple(flags),
    )


def forecast_fleet_day_ahead(
    loads: pd.DataFrame,
    day: date,
    tz: str,
    issue_time: pd.Timestamp,
    *,
    target: str = "load_mw",
    interval_minutes: int = 15,
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    holidays_country: str | None = None,
    params: GlobalParams | None = None,
) -> dict[str, Forecast]:
    """Quantile forecasts of market day ``day`` for every meter of ``loads``, one model for all.

    Parameters
    ----------
    loads : pandas.DataFrame
        UTC DatetimeIndex with a regular step, one column per meter (named by its id) [target
        unit]. NaN marks gaps; values at or after ``issue_time`` are never used.
    day : date
        Market day D.
    tz : str
        IANA timezone of the market.
    issue_time : pandas.Timestamp
        Tz-aware instant the forecasts are made, at or before the start of D.
    target : str
        What the columns measure, with unit (``load_mw``); each forecast's target.
    interval_minutes : int
        Forecast interval [min].
    quantiles : sequence of float
        Quantile levels; 0.5 is always added.
    holidays_country : str, optional
        ISO code of the holiday calendar.
    params : GlobalParams, optional
        Settings of the global model.

    Returns
    -------
    dict of str to Forecast
        Per meter id. Model ``"lgbm_global"`` for meters with two weeks of history, else the
        cold-start model of :func:`forecasting.forecast_day_ahead`, with its flags.

    Raises
    ------
    ForecastUnavailableError
        A meter with no value known before the issue time.
    """
    levels = check_levels(quantiles)
    panel = build_known_panel(loads, day, tz, issue_time, interval_minutes, target)
    known_days = panel.known_days
    empty = [s for s, n in zip(panel.series_ids, known_days, strict=True) if n == 0]
    if empty:
        raise ForecastUnavailableError(
            f"no value of meter {empty[0]!r} is known before {panel.issue_time.isoformat()}",
            hint="leave it out, or forecast it alone with a declared schedule",
        )
    warm = [s for s, n in zip(panel.series_ids, known_days, strict=True) if n >= COLD_START_DAYS]
    out: dict[str, Forecast] = {}
    if warm:
        trained = panel.select(warm)
        fitted = fit_global_gbm(trained, levels, holidays_country, params)
        frames = quantile_frames(predict_global_gbm(fitted, trained), trained, levels)
        gaps = panel_gaps(trained)
        for row, series_id in enumerate(warm):
            out[series_id] = _finish(frames[series_id], trained, series_id, int(gaps[row]))
    for series_id in panel.series_ids:
        if series_id not in out:
            known = panel.history_of(series_id)
            out[series_id] = forecast_known(known, "auto", levels, holidays_country)
    return {s: out[s] for s in panel.series_ids}
