"""Price forecasts for the backtester, each issued before gate closure and using only what was
known then.

- ``perfect``: the realised prices (an upper bound, not a forecast).
- ``naive``: the epftoolbox standard naive — the prices of D-1 for Tuesday to Friday, of D-7 for
  Saturday to Monday, matched by local clock time (D-1 is published on D-2, before gate closure).
- ``file``: a published forecast column (e.g. the epftoolbox DNN ensemble), taken as issued
  before gate closure. Its price scenarios (``error_days``) add the forecast's centred errors on
  earlier days, as they were or (:func:`error_quantile_scenarios`) as comonotone quantiles.
- ``own``: ``forecasting.forecast_day_ahead`` on the price history before the delivery day,
  issued at gate closure; its quantiles give price scenarios through
  ``forecasting.sample_scenarios``.

Reserve capacity prices (:func:`reserve_price_forecast`): ``naive_daily`` repeats the previous
day's clearing prices; any other :mod:`forecasting` model name (``lgbm``, ``naive_weekly``,
``mstl`` ...) forecasts each product's price from its history before the delivery day. Capacity
markets of D clear on D-1, so D-1's prices (cleared on D-2) are known when D is bid.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from vpp.domain.errors import ForecastUnavailableError, InvalidInputError
from vpp.domain.market import MarketProfile
from vpp.domain.timegrid import local_midnight, zone

try:  # written concurrently; ``own`` says so clearly when it is not there
    from forecasting import forecast_day_ahead, sample_scenarios
    from forecasting.dayahead import MODELS as FORECAST_MODELS
except ImportError:  # pragma: no cover - depends on the checkout
    forecast_day_ahead = None  # type: ignore[assignment]
    sample_scenarios = None  # type: ignore[assignment]
    FORECAST_MODELS = ()


def _by_clock(
    series: pd.Series, source_day: date, target: pd.DatetimeIndex, tz: str, minutes: int
) -> np.ndarray:
    """Values of ``source_day`` placed on ``target`` by local clock time (DST-safe)."""
    start, end = local_midnight(source_day, tz), local_midnight(source_day + timedelta(days=1), tz)
    part = series[(series.index >= start) & (series.index < end)]
    local = part.index.tz_convert(zone(tz))
    clock = pd.Series(part.to_numpy(), index=local.hour * 60 + local.minute)
    clock = clock[~clock.index.duplicated()]
    wanted = target.tz_convert(zone(tz))
    keys = wanted.hour * 60 + wanted.minute
    full = clock.reindex(range(0, 1440, minutes)).ffill().bfill()
    values: np.ndarray = full.reindex(keys).to_numpy(dtype=float)
    return values


def naive_forecast(prices: pd.Series, day: date, profile: MarketProfile) -> np.ndarray:
    """epftoolbox standard naive forecast of ``day`` [currency/MWh]."""
    lag = 7 if day.weekday() in (0, 5, 6) else 1
    target = profile.day_intervals(day)
    values = _by_clock(
        prices, day - timedelta(days=lag), target, profile.timezone, profile.interval_minutes
    )
    if np.isnan(values).any():
        raise ForecastUnavailableError(
            f"naive forecast of {day} needs prices of {day - timedelta(days=lag)}"
        )
    return values


def own_scenarios(
    prices: pd.Series, day: date, profile: MarketProfile, n: int, seed: int
) -> np.ndarray:
    """(n, T) price scenarios from the project's own forecaster, issued at gate closure."""
    if forecast_day_ahead is None or sample_scenarios is None:
        raise ForecastUnavailableError(
            "--forecast own needs the forecasting package (forecast_day_ahead), which is not "
            "importable in this checkout",
            hint="use --forecast naive, perfect or file:CSV:COLUMN",
        )
    issue = profile.gate_closure(day)
    history = prices[prices.index < local_midnight(day, profile.timezone)].to_frame("price_per_mwh")
    fc = forecast_day_ahead(
        history,
        "price_per_mwh",
        day,
        profile.timezone,
        issue,
        interval_minutes=profile.interval_minutes,
        quantiles=(0.1, 0.5, 0.9),
    )
    if n <= 1:
        median: np.ndarray = fc.median.to_numpy(dtype=float)[None, :]
        return median
    drawn: np.ndarray = np.asarray(sample_scenarios(fc, n, seed), dtype=float)
    return drawn


def error_quantile_scenarios(errors: np.ndarray, levels: int) -> np.ndarray:
    """(levels, T) comonotone scenarios from (N, T) past forecast errors [currency/MWh].

    Scenario ``k`` takes, in every interval, the ``(k + 0.5) / levels`` quantile of that
    interval's errors; the set is then centred so each interval's mean is zero (the forecast
    stays the expected price). With deliverable curves every hour-by-hour mix of positions is
    feasible and revenue is a sum over intervals, so only each interval's error distribution
    matters, not how errors move together; quantiles describe that distribution with fewer,
    evenly weighted scenarios than the raw days, which keeps the curves from fitting single
    past days.
    """
    if levels < 1:
        raise InvalidInputError(f"quantile scenarios need at least one level, not {levels}")
    taus = (np.arange(levels) + 0.5) / levels
    quantiles: np.ndarray = np.quantile(np.asarray(errors, dtype=float), taus, axis=0)
    centred: np.ndarray = quantiles - quantiles.mean(axis=0)
    return centred


def check_reserve_forecast(model: str) -> None:
    """Refuse a reserve price model :func:`reserve_price_forecast` cannot run, before any work."""
    if model == "naive_daily":
        return
    if model not in FORECAST_MODELS:
        raise InvalidInputError(
            f"unknown reserve price forecast {model!r}",
            hint=f"use naive_daily or a forecasting model: {', '.join(FORECAST_MODELS)}",
        )


def reserve_price_forecast(
    prices: pd.DataFrame | None, day: date, profile: MarketProfile, model: str = "naive_daily"
) -> dict[str, np.ndarray]:
    """Capacity price forecast of ``day`` per product [currency/MW/h], from prices before D.

    Parameters
    ----------
    prices : pandas.DataFrame or None
        Realised capacity prices on the profile's UTC grid, one column per product id.
    day : date
        Delivery day D.
    profile : MarketProfile
        Market (time zone and interval).
    model : str
        ``naive_daily`` (the previous day's prices) or a :mod:`forecasting` model name.

    Returns
    -------
    dict
        Product id -> ``(T,)`` forecast; a product without the history its model needs is left
        out (it is not offered that day).
    """
    if prices is None:
        return {}
    today = profile.day_intervals(day)
    out: dict[str, np.ndarray] = {}
    if model == "naive_daily":
        yesterday = profile.day_intervals(day - timedelta(days=1))
        for column in prices.columns:
            values = prices[column].reindex(yesterday).to_numpy(dtype=float)
            if not np.isnan(values).any():
                out[column] = np.resize(values, len(today))
        return out
    if forecast_day_ahead is None:  # pragma: no cover - depends on the checkout
        raise ForecastUnavailableError(
            f"reserve forecast {model!r} needs the forecasting package",
            hint="use naive_daily",
        )
    start = local_midnight(day, profile.timezone)
    history = prices[prices.index < start]
    for column in prices.columns:
        try:
            fc = forecast_day_ahead(
                history[[column]],
                column,
                day,
                profile.timezone,
                start,
                model=model,
                interval_minutes=profile.interval_minutes,
                quantiles=(0.1, 0.5, 0.9),
            )
        except ForecastUnavailableError:
            continue
        median = fc.median.to_numpy(dtype=float)
        if len(median) == len(today) and np.isfinite(median).all():
            out[column] = median
    return out


def parse_forecast_option(option: str) -> tuple[str, str | None, str | None]:
    """``own|perfect|naive|file:CSV:COLUMN`` -> (kind, path, column)."""
    if option in {"own", "perfect", "naive"}:
        return option, None, None
    if option.startswith("file:"):
        path, sep, column = option[len("file:") :].rpartition(":")
        if not sep or not path or not column:
            raise InvalidInputError(f"--forecast {option!r}: write file:PATH.csv:COLUMN")
        return "file", path, column
    raise InvalidInputError(
        f"unknown forecast {option!r}", hint="use own, perfect, naive or file:CSV:COLUMN"
    )
