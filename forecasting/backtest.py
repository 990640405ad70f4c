"""Rolling-origin day-ahead backtests: how good a model would have been, day by day.

For each day D in the test range the forecast is issued at ``issue_clock`` market time on D-1
(or another day offset), from history cut at that instant by the same code path the service
uses, so a backtest cannot see the future. The weekly seasonal naive always runs too, because
rMAE is measured against it. LightGBM may reuse a model trained up to a week earlier (never
later than the issue time) to keep long backtests affordable.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.progress import Progress

from forecasting.dayahead import MODELS, forecast_known
from forecasting.gbm import GbmCache, GbmParams
from forecasting.history import build_known_history
from forecasting.metrics import mae, mae_by_hour, score
from forecasting.pv import PvSystem
from forecasting.uncertainty import check_levels
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError
from vpp.domain.timegrid import (
    day_intervals,
    infer_interval_minutes,
    market_time,
    require_utc_index,
    to_grid,
)

BASELINE = "naive_weekly"
#: History kept before each test day beyond the LightGBM training window [d], for lags.
LAG_MARGIN_DAYS = 60


@dataclass
class BacktestResult:
    """Forecasts, actuals and metrics of a rolling-origin backtest.

    Attributes
    ----------
    target, tz, interval_minutes, issue_clock, days
        What was backtested; ``days`` lists the market days forecast.
    actual : pandas.Series
        Realised target values over all test intervals (UTC index).
    forecasts : dict of str to pandas.DataFrame
        Per model, quantile forecasts over the test intervals (NaN on days it failed).
    failures : dict of str to list of str
        Per model, the days it could not forecast and why.
    flags : dict of str to dict of str to int
        Per model, how many days carried each flag kind (``cold_start:profile`` ...).
    """

    target: str
    tz: str
    interval_minutes: int
    issue_clock: str
    days: list[date]
    actual: pd.Series
    forecasts: dict[str, pd.DataFrame]
    failures: dict[str, list[str]] = field(default_factory=dict)
    flags: dict[str, dict[str, int]] = field(default_factory=dict)

    def metrics(self) -> dict[str, dict[str, float]]:
        """Metrics per model (see :func:`forecasting.metrics.score`), on shared valid rows."""
        actual = self.actual.to_numpy(dtype=float)
        baseline = self.forecasts[BASELINE][0.5].to_numpy(dtype=float)
        out = {}
        for name, frame in self.forecasts.items():
            median = frame[0.5].to_numpy(dtype=float)
            rows = np.isfinite(median) & np.isfinite(baseline) & np.isfinite(actual)
            base = mae(actual[rows], baseline[rows])
            out[name] = score(actual[rows], frame.loc[rows], base)
        return out

    def mae_by_hour(self) -> dict[str, pd.Series]:
        """MAE [target unit] by local hour of day, per model."""
        return {n: mae_by_hour(self.actual, f[0.5], self.tz) for n, f in self.forecasts.items()}

    def report(self) -> dict[str, Any]:
        """The JSON-ready report of the CLI contract (``target``, ``days``, ``models`` ...)."""
        models: dict[str, Any] = {}
        for name, values in self.metrics().items():
            clean = {k: (None if not np.isfinite(v) else round(v, 6)) for k, v in values.items()}
            clean["failed_days"] = len(self.failures.get(name, []))
            models[name] = {**clean, "flags": self.flags.get(name, {})}
        return {
            "target": self.target,
            "tz": self.tz,
            "interval_minutes": self.interval_minutes,
            "issue_clock": self.issue_clock,
            "start": self.days[0].isoformat(),
            "end": self.days[-1].isoformat(),
            "days": len(self.days),
            "baseline": BASELINE,
            "models": models,
            "failures": {k: v for k, v in self.failures.items() if v},
        }


@contextmanager
def _progress(enabled: bool | None, total: int, label: str) -> Iterator[Any]:
    show = Console().is_terminal if enabled is None else enabled
    with Progress(disable=not show, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def _prepare(series_df: pd.DataFrame, interval_minutes: int | None) -> tuple[pd.DataFrame, int]:
    frame = series_df.copy()
    frame.index = require_utc_index(frame.index, "series")
    frame = frame.sort_index()
    step = infer_interval_minutes(pd.DatetimeIndex(frame.index), "series")
    minutes = interval_minutes or step
    if minutes != step:
        frame = pd.DataFrame({c: to_grid(frame[c].astype(float), minutes) for c in frame.columns})
    return frame, minutes


def _as_date(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInputError(f"{value!r} is not a date", hint="write YYYY-MM-DD") from exc


def backtest_day_ahead(
    series_df: pd.DataFrame,
    target: str,
    tz: str,
    start: date | str,
    end: date | str,
    issue_clock: str = "08:00",
    models: Sequence[str] = ("naive_weekly", "lgbm"),
    exog: Sequence[str] = (),
    quantiles: Sequence[float] = (0.1, 0.5, 0.9),
    *,
    interval_minutes: int | None = None,
    holidays_country: str | None = None,
    pv_system: PvSystem | None = None,
    issue_day_offset: int = -1,
    refit_days: int = 7,
    gbm_params: GbmParams | None = None,
    progress: bool | None = None,
) -> BacktestResult:
    """Rolling-origin day-ahead backtest of ``models`` over market days ``start``..``end``.

    Parameters
    ----------
    series_df : pandas.DataFrame
        UTC-indexed frame with a regular step (e.g. from ``read_series_csv``) holding
        ``target`` and the ``exog`` columns.
    target : str
        Column to forecast.
    tz : str
        IANA timezone of the market (defines days and the issue clock).
    start, end : date or str
        First and last market day forecast (inclusive).
    issue_clock : str
        Local clock time ``HH:MM`` of the issue on day D + ``issue_day_offset``.
    models : sequence of str
        Models to compare; the weekly naive is always added.
    exog : sequence of str
        Exogenous forecast columns.
    quantiles : sequence of float
        Quantile levels.
    interval_minutes : int, optional
        Forecast interval [min]; defaults to the series' step.
    holidays_country : str, optional
        ISO code of the holiday calendar.
    pv_system : PvSystem, optional
        Site for PV models.
    issue_day_offset : int
        Day of issue relative to D (-1: the day before; 0 with ``"00:00"``: at the start of D,
        which suits prices published the day before for the day before).
    refit_days : int
        LightGBM refit period [d] (1 refits every day).
    gbm_params : GbmParams, optional
        LightGBM hyper-parameters (training window, trees, threads).
    progress : bool, optional
        Show a rich progress bar; by default only when a terminal is attached.

    Returns
    -------
    BacktestResult
    """
    first, last = _as_date(start), _as_date(end)
    if last < first:
        raise InvalidInputError(f"end day {last} is before start day {first}")
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        raise InvalidInputError(
            f"unknown forecast model {unknown[0]!r}", hint=f"use one of {MODELS}"
        )
    names = list(dict.fromkeys([BASELINE, *models]))
    levels = check_levels(quantiles)
    frame, minutes = _prepare(series_df, interval_minutes)
    if target not in frame.columns:
        raise InvalidInputError(
            f"series has no column {target!r}", hint=f"columns: {list(frame.columns)}"
        )
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    caches = {name: GbmCache(refit_days, gbm_params) for name in names}
    keep = pd.Timedelta(days=(gbm_params or GbmParams()).train_days + LAG_MARGIN_DAYS)
    pieces: dict[str, list[pd.DataFrame]] = {name: [] for name in names}
    failures: dict[str, list[str]] = {name: [] for name in names}
    flags: dict[str, dict[str, int]] = {name: {} for name in names}
    with _progress(progress, len(days) * len(names), f"backtest {target}") as advance:
        for day in days:
            issue = market_time(day, issue_day_offset, issue_clock, tz)
            horizon = day_intervals(day, tz, minutes)
            window = frame.loc[horizon[0] - keep : horizon[-1]]
            known = build_known_history(window, target, day, tz, issue, exog, minutes)
            for name in names:
                try:
                    fc = forecast_known(
                        known, name, levels, holidays_country, pv_system, gbm_cache=caches[name]
                    )
                    pieces[name].append(fc.quantiles)
                    for flag in fc.flags:
                        kind = flag.rsplit(":", 1)[0] if flag[-1].isdigit() else flag
                        flags[name][kind] = flags[name].get(kind, 0) + 1
                except ForecastUnavailableError as exc:
                    failures[name].append(f"{day.isoformat()}: {exc}")
                    pieces[name].append(pd.DataFrame(np.nan, index=horizon, columns=list(levels)))
                advance()
    index = pd.DatetimeIndex(pd.concat(pieces[BASELINE]).index, name="timestamp")
    actual = frame[target].reindex(index)
    forecasts = {name: pd.concat(parts).reindex(index) for name, parts in pieces.items()}
    return BacktestResult(
        target=target,
        tz=tz,
        interval_minutes=minutes,
        issue_clock=issue_clock,
        days=days,
        actual=actual,
        forecasts=forecasts,
        failures=failures,
        flags=flags,
    )
