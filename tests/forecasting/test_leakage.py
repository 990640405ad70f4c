"""No leakage: nothing stamped at or after the issue time may change a forecast.

Every target value from the issue time on is multiplied by 10, or blanked; the forecast must
stay bit-identical. Exogenous columns are day-ahead forecasts and stay as they are.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting import PvSystem, backtest_day_ahead, forecast_day_ahead

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)


def _perturbed(history: pd.DataFrame, how: str, column: str = "load_mw") -> pd.DataFrame:
    out = history.copy()
    later = out.index >= ISSUE
    out.loc[later, column] = out.loc[later, column] * 10 if how == "times_ten" else np.nan
    return out


@pytest.mark.parametrize(
    ("model", "how"),
    [
        *[
            (m, h)
            for m in ("naive_daily", "naive_weekly", "naive_epf", "lgbm")
            for h in ("times_ten", "nan")
        ],
        ("ets", "times_ten"),
        ("mstl", "nan"),
        ("auto", "times_ten"),
    ],
)
def test_future_target_values_change_nothing(
    load_frame: pd.DataFrame, model: str, how: str
) -> None:
    kwargs = {"model": model, "exog": ("temp_c",), "holidays_country": "CN"}
    honest = forecast_day_ahead(load_frame, "load_mw", DAY, TZ, ISSUE, **kwargs)
    tampered = forecast_day_ahead(_perturbed(load_frame, how), "load_mw", DAY, TZ, ISSUE, **kwargs)
    pd.testing.assert_frame_equal(honest.quantiles, tampered.quantiles, check_exact=True)
    assert honest.flags == tampered.flags


def test_future_values_change_nothing_at_an_issue_time_off_the_grid(
    load_frame: pd.DataFrame,
) -> None:
    issue = ISSUE + pd.Timedelta(minutes=7)
    honest = forecast_day_ahead(load_frame, "load_mw", DAY, TZ, issue, model="lgbm")
    tampered_frame = load_frame.copy()
    tampered_frame.loc[tampered_frame.index >= issue, "load_mw"] = -1.0
    tampered = forecast_day_ahead(tampered_frame, "load_mw", DAY, TZ, issue, model="lgbm")
    pd.testing.assert_frame_equal(honest.quantiles, tampered.quantiles, check_exact=True)


def test_the_value_just_before_the_issue_time_does_count(load_frame: pd.DataFrame) -> None:
    """The guard cuts exactly at the issue time: the last known value still matters."""
    changed = load_frame.copy()
    changed.loc[ISSUE - pd.Timedelta(minutes=15), "load_mw"] += 50.0
    a = forecast_day_ahead(load_frame, "load_mw", DAY, TZ, ISSUE, model="lgbm")
    b = forecast_day_ahead(changed, "load_mw", DAY, TZ, ISSUE, model="lgbm")
    assert not a.quantiles.equals(b.quantiles)


@pytest.mark.parametrize("model", ["pv_physics", "pv_lgbm"])
def test_pv_models_do_not_leak(model: str) -> None:
    system = PvSystem(31.2, 121.5, 25.0, 180.0, capacity_mw=2.0)
    index = pd.date_range("2024-01-01", periods=60 * 96, freq="15min", tz="UTC", name="timestamp")
    rng = np.random.default_rng(1)
    hour = index.tz_convert(TZ).hour + index.tz_convert(TZ).minute / 60
    sun = np.clip(np.sin(np.pi * (hour - 6) / 12), 0, None)
    pv = pd.DataFrame({"pv_mw": 1.6 * sun * rng.uniform(0.3, 1.0, len(index))}, index=index)
    honest = forecast_day_ahead(pv, "pv_mw", DAY, TZ, ISSUE, model=model, pv_system=system)
    tampered = forecast_day_ahead(
        _perturbed(pv, "times_ten", "pv_mw"),
        "pv_mw",
        DAY,
        TZ,
        ISSUE,
        model=model,
        pv_system=system,
    )
    pd.testing.assert_frame_equal(honest.quantiles, tampered.quantiles, check_exact=True)


def test_backtest_forecasts_ignore_values_after_each_issue_time(load_frame: pd.DataFrame) -> None:
    """A day's backtest forecast equals the stand-alone forecast from history cut at its issue."""
    result = backtest_day_ahead(
        load_frame, "load_mw", TZ, DAY, DAY, models=["lgbm"], progress=False
    )
    alone = forecast_day_ahead(
        load_frame.loc[: ISSUE - pd.Timedelta(minutes=15)], "load_mw", DAY, TZ, ISSUE, model="lgbm"
    )
    np.testing.assert_array_equal(result.forecasts["lgbm"].to_numpy(), alone.values())
