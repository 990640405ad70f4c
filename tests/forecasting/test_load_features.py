"""Load-specific features: the Korean workplace calendar, operating same-kind days, and that
every feature of a training row is what the forecast for that row's day would have seen."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from forecasting.features import allowed_lags, build_features, day_kinds
from forecasting.gbm import GbmParams, fit_gbm
from forecasting.history import build_known_history

TZ = "Asia/Shanghai"
DAY = date(2024, 2, 20)
ISSUE = pd.Timestamp("2024-02-19 08:00", tz=TZ)


def test_korean_holidays_and_workers_day_are_flagged() -> None:
    days = [date(2018, 9, 24), date(2018, 5, 1), date(2018, 5, 2), date(2018, 10, 3)]
    kinds = day_kinds(days, "KR")
    assert kinds["is_holiday"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert kinds["is_working_day"].tolist() == [0.0, 0.0, 1.0, 0.0]


def test_training_rows_see_only_what_their_own_forecast_would_see(
    load_frame: pd.DataFrame,
) -> None:
    """Features of a past day's rows equal those built from history cut at that day's issue.

    This covers every feature, the operating same-kind ones included: the training rows of a
    fit read the whole known history, so any value after a row's own issue time would show.
    """
    known = build_known_history(load_frame, "load_mw", DAY, TZ, ISSUE, ("temp_c",), 15)
    lags = allowed_lags(known)
    for back in (3, 9, 20):
        past = known.rewind(DAY - timedelta(days=back))
        # Values after the past issue time are present in ``known`` but blanked in ``past``:
        # any feature reading them would differ.
        from_training = build_features(past.horizon, known, lags, "CN")
        from_forecast = build_features(past.horizon, past, lags, "CN")
        pd.testing.assert_frame_equal(from_training, from_forecast, rtol=1e-9)


def test_operating_same_kind_days_skip_a_shutdown() -> None:
    """After a shutdown week the plain same-kind median sees idle days, the operating one not."""
    tz = "Asia/Seoul"
    local = pd.date_range("2018-06-01", "2018-07-12", freq="15min", tz=tz, inclusive="left")
    hour = local.hour.to_numpy()
    working = local.day_of_week.to_numpy() < 5
    load = np.where(working & (hour >= 8) & (hour < 20), 10.0, 0.5)
    shutdown = (local >= pd.Timestamp("2018-07-02", tz=tz)) & (
        local < pd.Timestamp("2018-07-07", tz=tz)
    )
    load[shutdown] = 0.2
    frame = pd.DataFrame({"load_mw": load}, index=local.tz_convert("UTC"))
    day = date(2018, 7, 11)  # Wednesday; the last five known working days: Mon 9 and Jul 2-6
    issue = pd.Timestamp("2018-07-10 08:00", tz=tz)
    known = build_known_history(frame, "load_mw", day, tz, issue, (), 15)
    features = build_features(known.horizon, known, allowed_lags(known), "KR")
    ten = features.index.tz_convert(tz).hour == 10
    assert (features.loc[ten, "same_kind_median"] == 0.2).all()
    assert (features.loc[ten, "operating_kind_median"] == 10.0).all()
    assert (features.loc[ten, "operating_kind_last"] == 10.0).all()


def test_day_of_year_needs_a_year_of_training(load_frame: pd.DataFrame) -> None:
    known = build_known_history(load_frame, "load_mw", DAY, TZ, ISSUE, (), 15)
    short = fit_gbm([known], (0.5,), params=GbmParams(num_boost_round=5))
    assert "day_of_year" not in short.columns
    kept = fit_gbm([known], (0.5,), params=GbmParams(num_boost_round=5, min_seasonal_days=0))
    assert "day_of_year" in kept.columns
