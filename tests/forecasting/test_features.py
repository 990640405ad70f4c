"""Calendar and lag features: holidays incl. Chinese make-up workdays, DST-safe lags."""

from __future__ import annotations

from datetime import date

import pandas as pd

from forecasting.features import allowed_lags, calendar_features, day_kinds, same_clock_earlier
from forecasting.history import build_known_history


def test_spring_festival_is_a_holiday_and_the_sunday_before_a_workday() -> None:
    days = [date(2024, 2, 4), date(2024, 2, 10), date(2024, 2, 3), date(2024, 2, 5)]
    kinds = day_kinds(days, "CN")
    assert kinds["is_holiday"].tolist() == [0.0, 1.0, 0.0, 0.0]
    assert kinds["is_working_day"].tolist() == [1.0, 0.0, 0.0, 1.0]
    assert kinds["is_makeup_workday"].tolist() == [1.0, 0.0, 0.0, 0.0]


def test_without_a_country_only_weekends_are_off() -> None:
    kinds = day_kinds([date(2024, 2, 10), date(2024, 2, 12)], None)
    assert kinds["is_working_day"].tolist() == [0.0, 1.0]
    assert kinds["is_holiday"].tolist() == [0.0, 0.0]


def test_calendar_features_are_in_local_time() -> None:
    index = pd.DatetimeIndex([pd.Timestamp("2024-02-09 16:00", tz="UTC")])
    row = calendar_features(index, "Asia/Shanghai", "CN").iloc[0]
    assert row["hour"] == 0.0
    assert row["weekday"] == 5.0
    assert row["is_holiday"] == 1.0


def test_same_clock_lag_crosses_dst() -> None:
    index = pd.DatetimeIndex([pd.Timestamp("2021-03-28 10:00", tz="Europe/Berlin")]).tz_convert(
        "UTC"
    )
    earlier = same_clock_earlier(index, "Europe/Berlin", 1)
    assert earlier[0].tz_convert("Europe/Berlin").hour == 10
    assert index[0] - earlier[0] == pd.Timedelta(hours=23)


def test_lags_respect_the_issue_time() -> None:
    tz = "Asia/Shanghai"
    history = pd.DataFrame(
        {"y": range(96 * 20)},
        index=pd.date_range("2024-01-01", periods=96 * 20, freq="15min", tz="UTC"),
    )
    day = date(2024, 1, 18)
    d_minus_1 = build_known_history(
        history, "y", day, tz, pd.Timestamp("2024-01-17 08:00", tz=tz), (), 15
    )
    assert allowed_lags(d_minus_1)[0] == 2
    at_midnight = build_known_history(
        history, "y", day, tz, pd.Timestamp("2024-01-18 00:00", tz=tz), (), 15
    )
    assert allowed_lags(at_midnight)[0] == 1
