"""PV and wind models: physical bounds, night, power curve."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting import PvSystem, forecast_day_ahead
from forecasting.pv import clearsky_power
from forecasting.wind import fit_power_curve, read_curve
from vpp.domain.errors import InvalidInputError

TZ = "Asia/Shanghai"
SITE = PvSystem(31.2, 121.5, 25.0, 180.0, capacity_mw=2.0)
DAY = date(2024, 3, 2)
ISSUE = pd.Timestamp("2024-03-01 08:00", tz=TZ)


def _pv_history(days: int = 60) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=days * 96, freq="15min", tz="UTC", name="timestamp")
    clear = clearsky_power(SITE, index, 15)["clearsky_power"].to_numpy()
    daily_cloud = np.repeat(np.random.default_rng(4).uniform(0.3, 1.0, days), 96)
    return pd.DataFrame({"pv_mw": clear * daily_cloud}, index=index)


@pytest.mark.parametrize("model", ["pv_physics", "pv_lgbm", "auto"])
def test_pv_is_zero_at_night_and_below_capacity(model: str) -> None:
    fc = forecast_day_ahead(_pv_history(), "pv_mw", DAY, TZ, ISSUE, model=model, pv_system=SITE)
    values = fc.values()
    assert (values >= 0).all() and (values <= SITE.capacity_mw).all()
    local = fc.quantiles.index.tz_convert(TZ)
    night = (local.hour < 5) | (local.hour >= 20)
    assert (values[night] == 0).all()
    assert fc.median.max() > 0.3
    assert (np.diff(values, axis=1) >= 0).all()


def test_smart_persistence_repeats_yesterdays_clear_sky_index() -> None:
    history = _pv_history()
    index = history.index
    cloud = np.where(index < ISSUE - pd.Timedelta(days=1), 0.9, 0.5)
    clear = clearsky_power(SITE, index, 15)["clearsky_power"].to_numpy()
    history["pv_mw"] = clear * cloud
    fc = forecast_day_ahead(history, "pv_mw", DAY, TZ, ISSUE, model="pv_physics", pv_system=SITE)
    expected = 0.5 * clearsky_power(SITE, fc.quantiles.index, 15)["clearsky_power"]
    noon = fc.median.idxmax()
    assert fc.median[noon] == pytest.approx(expected[noon], rel=0.02)


def test_pv_model_needs_a_site() -> None:
    with pytest.raises(InvalidInputError, match="pv_system"):
        forecast_day_ahead(_pv_history(), "pv_mw", DAY, TZ, ISSUE, model="pv_physics")


def _wind_history(days: int = 70) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=days * 96, freq="15min", tz="UTC", name="timestamp")
    rng = np.random.default_rng(5)
    speed = np.clip(
        8 + 3 * np.sin(np.arange(len(index)) / 40) + rng.normal(0, 1.5, len(index)), 0, None
    )
    power = 2.0 / (1 + np.exp(-(speed - 8)))
    return pd.DataFrame(
        {"wind_mw": power + rng.normal(0, 0.05, len(index)), "ws_100m": speed}, index=index
    )


def test_power_curve_is_monotone_up_to_rated() -> None:
    history = _wind_history()
    centres, table = fit_power_curve(
        history["ws_100m"].to_numpy(), history["wind_mw"].to_numpy(), (0.1, 0.5, 0.9)
    )
    peak = int(np.argmax(table[:, 1]))
    assert (np.diff(table[: peak + 1], axis=0) >= 0).all()
    assert read_curve(centres, table, np.array([8.0]))[0, 1] == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("model", ["wind_curve", "wind_lgbm"])
def test_wind_models_follow_the_speed_forecast(model: str) -> None:
    history = _wind_history()
    fc = forecast_day_ahead(history, "wind_mw", DAY, TZ, ISSUE, model=model, exog=("ws_100m",))
    actual = history["wind_mw"].reindex(fc.quantiles.index)
    assert np.mean(np.abs(fc.median - actual)) < 0.15
    assert (fc.values() >= 0).all()


def test_wind_model_needs_a_speed_column() -> None:
    with pytest.raises(InvalidInputError, match="wind-speed"):
        forecast_day_ahead(_wind_history(), "wind_mw", DAY, TZ, ISSUE, model="wind_curve")


def test_pv_with_a_few_days_uses_smart_persistence_flagged_as_cold_start() -> None:
    history = _pv_history().loc[: ISSUE - pd.Timedelta(minutes=15)].iloc[-5 * 96 :]
    fc = forecast_day_ahead(history, "pv_mw", DAY, TZ, ISSUE, pv_system=SITE)
    assert fc.model == "pv_physics"
    assert "cold_start:pv_physics" in fc.flags
    assert fc.median.max() > 0.3
