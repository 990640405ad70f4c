"""Price scenarios from a published forecast's past errors: raw days or comonotone quantiles."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from bidding.backtest import BacktestInputs, _forecast, run_backtest
from bidding.forecasts import error_quantile_scenarios
from vpp.domain.assets import BatterySpec
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile

BATTERY = BatterySpec(
    id="bess", power_mw=1.0, energy_mwh=2.0, round_trip_efficiency=0.85, soc_initial=0.5
)


def test_quantile_scenarios_are_the_centred_quantiles_of_each_interval() -> None:
    errors = np.column_stack([np.arange(100.0), -2.0 * np.arange(100.0), np.zeros(100)])
    out = error_quantile_scenarios(errors, 4)
    assert out.shape == (4, 3)
    # interval 0: quantiles at 12.5 / 37.5 / 62.5 / 87.5 % of 0..99, less their mean 49.5
    expected = np.quantile(np.arange(100.0), [0.125, 0.375, 0.625, 0.875]) - 49.5
    assert out[:, 0] == pytest.approx(expected)
    assert out[:, 1] == pytest.approx(-2.0 * expected[::-1])
    assert out[:, 2] == pytest.approx(0.0)
    assert np.all(np.diff(out, axis=0) >= 0)  # comonotone: one ranking in every interval
    assert out.mean(axis=0) == pytest.approx(0.0, abs=1e-12)


def test_one_level_is_the_point_forecast_and_zero_levels_are_refused() -> None:
    errors = np.random.default_rng(1).normal(0, 10, (30, 24))
    assert error_quantile_scenarios(errors, 1) == pytest.approx(np.zeros((1, 24)))
    with pytest.raises(InvalidInputError, match="at least one level"):
        error_quantile_scenarios(errors, 0)


def hourly(
    profile: MarketProfile, first: date, days: int, seed: int
) -> tuple[pd.Series, pd.Series]:
    """Realised prices and a noisy forecast on ``profile``'s grid, ``days`` days from ``first``."""
    index = pd.DatetimeIndex(
        np.concatenate([profile.day_intervals(first + pd.Timedelta(days=k)) for k in range(days)])
    )
    rng = np.random.default_rng(seed)
    hour = index.tz_convert("Europe/Berlin").hour.to_numpy()
    real = 70 + 35 * np.sin((hour - 9) / 24 * 2 * np.pi) + rng.normal(0, 8, len(index))
    forecast = real + rng.normal(0, 12, len(index))
    return pd.Series(real, index=index), pd.Series(forecast, index=index)


def test_the_backtest_bids_quantile_scenarios_around_the_published_forecast(
    de_lu: MarketProfile,
) -> None:
    real, forecast = hourly(de_lu, date(2024, 6, 1), 12, seed=4)
    fine = de_lu.bid_format.model_copy(update={"qty_tick_mw": 1e-6, "min_bid_mw": 0.0})
    inputs = BacktestInputs(
        profile=de_lu.model_copy(update={"bid_format": fine}),  # no rounding to settle
        assets=[BATTERY],
        prices=real,
        start=date(2024, 6, 11),
        end=date(2024, 6, 12),
        forecast="file:forecast.csv:fcst",
        forecast_prices=forecast,
        error_days=10,
        error_quantiles=5,
    )
    day = date(2024, 6, 11)
    intervals = de_lu.day_intervals(day)
    scenarios = _forecast(inputs, day, real.reindex(intervals).to_numpy())
    published = forecast.reindex(intervals).to_numpy()
    assert scenarios.shape == (5, len(intervals))
    assert scenarios.mean(axis=0) == pytest.approx(published)
    past = np.array(
        [
            (real - forecast).reindex(de_lu.day_intervals(date(2024, 6, k))).to_numpy()
            for k in range(1, 11)
        ]
    )
    assert scenarios[-1] - published == pytest.approx(
        np.quantile(past, 0.9, axis=0)
        - np.quantile(past, [0.1, 0.3, 0.5, 0.7, 0.9], axis=0).mean(0)
    )
    report = run_backtest(inputs)
    assert report["days"] == 2
    assert report["violations"] == 0, report["violation_details"]
    assert report["deviation_mwh"] < 1e-4  # the cleared curves needed no imbalance


@pytest.mark.parametrize(
    ("forecast", "days", "levels", "message"),
    [
        ("naive", 7, 0, "need a file forecast"),
        ("file:f.csv:fcst", 0, 5, "give --error-days too"),
        ("file:f.csv:fcst", -1, 0, "cannot be negative"),
    ],
)
def test_error_scenario_settings_that_cannot_apply_are_refused_before_any_work(
    de_lu: MarketProfile, forecast: str, days: int, levels: int, message: str
) -> None:
    real, published = hourly(de_lu, date(2024, 6, 1), 3, seed=5)
    inputs = BacktestInputs(
        profile=de_lu,
        assets=[BATTERY],
        prices=real,
        start=date(2024, 6, 2),
        end=date(2024, 6, 3),
        forecast=forecast,
        forecast_prices=published,
        error_days=days,
        error_quantiles=levels,
    )
    with pytest.raises(InvalidInputError, match=message):
        run_backtest(inputs)
