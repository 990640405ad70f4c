"""forecast_day_ahead: horizon, issue time, flags, non-crossing quantiles, cold start."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from forecasting import forecast_day_ahead
from forecasting.history import build_known_history
from vpp.domain.errors import ForecastUnavailableError, InvalidInputError

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)


def _fc(history: pd.DataFrame, **kwargs):  # type: ignore[no-untyped-def]
    return forecast_day_ahead(history, "load_mw", DAY, TZ, ISSUE, **kwargs)


@pytest.mark.parametrize(
    "model", ["naive_daily", "naive_weekly", "naive_epf", "lgbm", "ets", "mstl", "auto"]
)
def test_quantiles_do_not_cross_and_cover_the_day(load_frame: pd.DataFrame, model: str) -> None:
    fc = _fc(load_frame, model=model, holidays_country="CN")
    values = fc.values()
    assert values.shape == (96, 3)
    assert np.isfinite(values).all()
    assert (np.diff(values, axis=1) >= 0).all()
    assert fc.issue_time == ISSUE.tz_convert("UTC")
    assert fc.quantiles.index[0] == pd.Timestamp("2024-02-19 16:00", tz="UTC")
    assert list(fc.quantiles.columns) == [0.1, 0.5, 0.9]


def test_auto_uses_lightgbm_with_enough_history(load_frame: pd.DataFrame) -> None:
    fc = _fc(load_frame)
    assert fc.model == "lgbm"
    assert fc.flags == ()


def test_gaps_are_flagged_not_filled(load_frame: pd.DataFrame) -> None:
    history = load_frame.copy()
    history.iloc[100:112, 0] = np.nan
    history.iloc[2000, 0] = np.nan
    fc = _fc(history, model="naive_weekly")
    assert "history_gaps:13" in fc.flags
    known = build_known_history(history, "load_mw", DAY, TZ, ISSUE, (), 15)
    assert known.known_y.isna().sum() == 13


def test_missing_rows_are_refused_not_guessed(load_frame: pd.DataFrame) -> None:
    history = load_frame.drop(load_frame.index[500:504])
    with pytest.raises(InvalidInputError, match="irregular step"):
        _fc(history)


@pytest.mark.parametrize(("day", "intervals"), [(date(2021, 3, 28), 92), (date(2021, 10, 31), 100)])
@pytest.mark.parametrize("model", ["naive_weekly", "lgbm"])
def test_dst_day_has_the_right_number_of_intervals(day: date, intervals: int, model: str) -> None:
    tz = "Europe/Berlin"
    history = pd.DataFrame(
        {"load_mw": np.arange(40 * 96, dtype=float) % 96},
        index=pd.date_range(
            pd.Timestamp(day, tz=tz) - pd.Timedelta(days=40),
            periods=40 * 96,
            freq="15min",
            name="timestamp",
        ).tz_convert("UTC"),
    )
    issue = pd.Timestamp(day, tz=tz) - pd.Timedelta(hours=16)
    fc = forecast_day_ahead(history, "load_mw", day, tz, issue, model=model)
    assert len(fc.quantiles) == intervals
    assert np.isfinite(fc.values()).all()


def test_cold_start_with_five_days_uses_the_profile(load_frame: pd.DataFrame) -> None:
    history = load_frame.loc[: ISSUE - pd.Timedelta(minutes=1)].iloc[-5 * 96 :]
    fc = _fc(history)
    assert "cold_start:profile" in fc.flags
    assert fc.model == "profile"
    assert len(fc.quantiles) == 96
    assert (np.diff(fc.values(), axis=1) >= 0).all()
    day_shift = fc.median.tz_convert(TZ).between_time("10:00", "18:00").mean()
    night = fc.median.tz_convert(TZ).between_time("00:00", "06:00").mean()
    assert day_shift > night + 2


def test_cold_start_with_a_declared_schedule(load_frame: pd.DataFrame) -> None:
    history = load_frame.loc[: ISSUE - pd.Timedelta(minutes=1)].iloc[-3 * 96 :]
    typical_day = pd.date_range(pd.Timestamp("2024-01-01", tz=TZ), periods=96, freq="15min")
    declared = pd.Series(np.linspace(1.0, 2.0, 96), index=typical_day)
    fc = _fc(history, declared_profile=declared)
    assert fc.flags[0] == "cold_start:declared_schedule"
    assert fc.model == "declared_schedule"
    np.testing.assert_allclose(fc.median.to_numpy(), np.linspace(1.0, 2.0, 96))
    assert (np.diff(fc.values(), axis=1) >= 0).all()


def test_declared_schedule_without_any_history_gets_an_assumed_band(
    load_frame: pd.DataFrame,
) -> None:
    history = load_frame.iloc[:0]
    horizon = pd.date_range(pd.Timestamp(DAY, tz=TZ), periods=96, freq="15min")
    fc = _fc(history, declared_profile=pd.Series(5.0, index=horizon))
    assert "cold_start:declared_schedule" in fc.flags
    assert "quantiles:assumed_spread_20pct" in fc.flags
    assert fc.quantile(0.9).iloc[0] == pytest.approx(6.0)


@pytest.mark.parametrize("empty", ["no_rows", "all_missing", "only_after_issue"])
def test_no_usable_data_raises(load_frame: pd.DataFrame, empty: str) -> None:
    history = load_frame.copy()
    if empty == "no_rows":
        history = history.iloc[:0]
    elif empty == "all_missing":
        history["load_mw"] = np.nan
    else:
        history = history.loc[ISSUE:]
    with pytest.raises(ForecastUnavailableError, match="declared schedule"):
        _fc(history)


def test_explicit_naive_model_runs_on_short_history(load_frame: pd.DataFrame) -> None:
    history = load_frame.loc[: ISSUE - pd.Timedelta(minutes=1)].iloc[-3 * 96 :]
    fc = _fc(history, model="naive_daily")
    assert fc.model == "naive_daily"
    assert np.isfinite(fc.values()).all()


def test_weekly_naive_without_last_week_falls_back_and_says_so(load_frame: pd.DataFrame) -> None:
    history = load_frame.loc[: ISSUE - pd.Timedelta(minutes=1)].iloc[-3 * 96 :]
    fc = _fc(history, model="naive_weekly")
    assert "fallback:profile:96" in fc.flags


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "prophet"}, "unknown forecast model"),
        ({"quantiles": (0.0, 0.5)}, "strictly between 0 and 1"),
        ({"exog": ("wind_speed",)}, "no column 'wind_speed'"),
        ({"holidays_country": "XX"}, "no holiday calendar"),
    ],
)
def test_bad_requests_are_refused(
    load_frame: pd.DataFrame, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        _fc(load_frame, **kwargs)


def test_issue_after_the_day_starts_is_refused(load_frame: pd.DataFrame) -> None:
    late = pd.Timestamp("2024-02-20 00:15", tz=TZ)
    with pytest.raises(InvalidInputError, match="after the start of day"):
        forecast_day_ahead(load_frame, "load_mw", DAY, TZ, late)


def test_naive_issue_time_is_refused(load_frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInputError, match="tz-aware"):
        forecast_day_ahead(load_frame, "load_mw", DAY, TZ, pd.Timestamp("2024-02-19 08:00"))


def test_hourly_history_is_spread_onto_quarter_hours(load_frame: pd.DataFrame) -> None:
    hourly = load_frame.resample("1h").mean()
    fc = _fc(hourly, model="naive_weekly")
    assert len(fc.quantiles) == 96
    hourly_fc = _fc(hourly, model="naive_weekly", interval_minutes=60)
    assert len(hourly_fc.quantiles) == 24
    np.testing.assert_allclose(fc.median.to_numpy()[::4], hourly_fc.median.to_numpy())


def test_exog_forecasts_for_the_day_are_used(load_frame: pd.DataFrame) -> None:
    base = _fc(load_frame, model="lgbm", exog=("temp_c",))
    warmer = load_frame.copy()
    horizon = base.quantiles.index
    warmer.loc[horizon, "temp_c"] += 30.0
    changed = _fc(warmer, model="lgbm", exog=("temp_c",))
    assert not np.array_equal(base.values(), changed.values())
