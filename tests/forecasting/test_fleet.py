"""Forecasts for a whole park of meters from one global model, with the single-meter flags."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting.fleet import GLOBAL_MODEL, forecast_fleet_day_ahead, panel_gaps
from forecasting.gbm import GbmParams
from forecasting.global_gbm import GlobalParams
from forecasting.panel import build_known_panel
from vpp.domain.errors import ForecastUnavailableError

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)
FAST = GlobalParams(
    gbm=GbmParams(train_days=30, num_boost_round=40, learning_rate=0.1), max_train_rows=6_000
)


@pytest.fixture(scope="module")
def loads(make_load: Callable[..., pd.DataFrame]) -> pd.DataFrame:
    """Three meters: a long one with a gap, a second long one, and one enrolled a week ago."""
    frame = pd.DataFrame({f"m{i}": make_load(seed=i)["load_mw"] * (i + 1) for i in range(3)})
    frame.iloc[100:110, 0] = np.nan
    frame.loc[frame.index < ISSUE.tz_convert("UTC") - pd.Timedelta(days=7), "m2"] = np.nan
    return frame


def test_each_meter_gets_its_forecast_and_flags(loads: pd.DataFrame) -> None:
    forecasts = forecast_fleet_day_ahead(loads, DAY, TZ, ISSUE, holidays_country="CN", params=FAST)
    assert list(forecasts) == ["m0", "m1", "m2"]
    assert forecasts["m0"].model == forecasts["m1"].model == GLOBAL_MODEL
    assert forecasts["m0"].flags == ("history_gaps:10",)
    assert forecasts["m1"].flags == ()
    assert forecasts["m2"].model == "profile" and "cold_start:profile" in forecasts["m2"].flags
    for forecast in forecasts.values():
        assert forecast.issue_time == ISSUE.tz_convert("UTC")
        assert len(forecast.quantiles) == 96 and np.isfinite(forecast.quantiles.to_numpy()).all()


def test_a_meter_with_no_level_last_week_falls_back_to_its_profile(
    loads: pd.DataFrame,
) -> None:
    quiet = loads.copy()
    last_week = quiet.index >= ISSUE.tz_convert("UTC") - pd.Timedelta(days=8)
    quiet.loc[last_week, "m1"] = 0.0
    forecasts = forecast_fleet_day_ahead(quiet, DAY, TZ, ISSUE, params=FAST)
    assert forecasts["m1"].flags == ("fallback:profile:96",)
    assert np.allclose(forecasts["m1"].quantiles[0.5], 0.0)


def test_a_meter_with_no_history_is_refused(loads: pd.DataFrame) -> None:
    empty = loads.assign(m3=np.nan)
    with pytest.raises(ForecastUnavailableError, match="'m3'"):
        forecast_fleet_day_ahead(empty, DAY, TZ, ISSUE, params=FAST)


def test_gaps_are_counted_from_each_meters_first_value(loads: pd.DataFrame) -> None:
    panel = build_known_panel(loads, DAY, TZ, ISSUE)
    assert panel_gaps(panel).tolist() == [10, 0, 0]
