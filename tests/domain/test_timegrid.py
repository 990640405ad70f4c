"""The time grid on ordinary and DST days, in Europe (DST) and China (none)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from vpp.domain.errors import InvalidInputError, TimeSeriesError
from vpp.domain.timegrid import (
    day_intervals,
    horizon_intervals,
    infer_interval_minutes,
    market_day,
    market_time,
    to_grid,
)


@pytest.mark.parametrize(
    ("day", "tz", "count"),
    [
        (date(2021, 3, 28), "Europe/Berlin", 92),
        (date(2021, 10, 31), "Europe/Berlin", 100),
        (date(2021, 5, 5), "Europe/Berlin", 96),
        (date(2021, 3, 28), "Asia/Shanghai", 96),
        (date(2024, 2, 10), "Asia/Shanghai", 96),
    ],
)
def test_quarter_hours_per_day(day: date, tz: str, count: int) -> None:
    assert len(day_intervals(day, tz)) == count


def test_dst_spring_day_skips_the_missing_local_hour() -> None:
    local = day_intervals(date(2021, 3, 28), "Europe/Berlin").tz_convert("Europe/Berlin")
    assert local[0].hour == 0 and local[0].utcoffset() == timedelta(hours=1)
    assert not any(t.hour == 2 for t in local)
    assert local[-1].hour == 23 and local[-1].minute == 45
    assert local[-1].utcoffset() == timedelta(hours=2)


def test_dst_autumn_day_repeats_the_local_hour_with_two_offsets() -> None:
    local = day_intervals(date(2021, 10, 31), "Europe/Berlin").tz_convert("Europe/Berlin")
    twos = [t for t in local if t.hour == 2]
    assert len(twos) == 8
    assert {t.utcoffset() for t in twos} == {timedelta(hours=1), timedelta(hours=2)}


def test_intervals_are_utc_and_labelled_by_start() -> None:
    index = day_intervals(date(2024, 3, 1), "Asia/Shanghai")
    assert str(index.tz) == "UTC"
    assert index[0] == pd.Timestamp("2024-02-29T16:00Z")
    assert (index[1:] - index[:-1] == pd.Timedelta(minutes=15)).all()


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 12, 31)))
def test_consecutive_days_tile_time_without_gaps(day: date) -> None:
    for tz in ("Europe/Berlin", "Asia/Shanghai", "America/Chicago"):
        today = day_intervals(day, tz)
        tomorrow = day_intervals(day + timedelta(days=1), tz)
        assert tomorrow[0] - today[-1] == pd.Timedelta(minutes=15)
        assert all(market_day(t, tz) == day for t in today[[0, -1]])
        assert len(today) in (92, 96, 100)


def test_horizon_spans_days_in_order() -> None:
    index = horizon_intervals(date(2021, 3, 27), date(2021, 3, 29), "Europe/Berlin")
    assert len(index) == 96 + 92 + 96


def test_gate_closure_in_market_time_across_dst() -> None:
    # Delivery on 2021-03-29: gate D-1 12:00 local is after the clock change (CEST, UTC+2).
    assert market_time(date(2021, 3, 29), -1, "12:00", "Europe/Berlin") == pd.Timestamp(
        "2021-03-28T10:00Z"
    )
    assert market_time(date(2021, 3, 28), -1, "12:00", "Europe/Berlin") == pd.Timestamp(
        "2021-03-27T11:00Z"
    )


def test_nonexistent_local_time_moves_forward() -> None:
    stamp = market_time(date(2021, 3, 29), -1, "02:30", "Europe/Berlin")
    assert stamp == pd.Timestamp("2021-03-28T01:00Z")


def test_unknown_timezone_and_bad_interval_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="unknown timezone 'Mars/Olympus'"):
        day_intervals(date(2021, 1, 1), "Mars/Olympus")
    with pytest.raises(InvalidInputError, match="does not divide a day"):
        day_intervals(date(2021, 1, 1), "UTC", minutes=7)


def test_hourly_prices_spread_onto_quarter_hours() -> None:
    hours = pd.date_range("2021-03-27T23:00Z", periods=3, freq="h")
    prices = pd.Series([10.0, 20.0, 30.0], index=hours)
    fine = to_grid(prices, 15)
    assert len(fine) == 12
    assert fine.iloc[:4].tolist() == [10.0] * 4 and fine.iloc[-1] == 30.0


def test_quarter_hours_average_onto_hours_and_gaps_stay_missing() -> None:
    index = pd.date_range("2021-01-01T00:00Z", periods=8, freq="15min")
    power = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, None, 5.0, 5.0], index=index)
    hourly = to_grid(power, 60)
    assert hourly.iloc[0] == 2.5
    assert pd.isna(hourly.iloc[1])


def test_irregular_steps_and_duplicates_are_named() -> None:
    index = pd.DatetimeIndex(
        [
            "2021-01-01T00:00Z",
            "2021-01-01T00:15Z",
            "2021-01-01T00:45Z",
            "2021-01-01T01:00Z",
            "2021-01-01T01:15Z",
        ]
    )
    with pytest.raises(TimeSeriesError, match="irregular step at 2021-01-01T00:45:00"):
        infer_interval_minutes(index)
    with pytest.raises(TimeSeriesError, match="duplicate"):
        infer_interval_minutes(pd.DatetimeIndex([index[0], index[0], index[1]]))
