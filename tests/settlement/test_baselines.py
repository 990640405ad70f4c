"""Metered baselines against small cases whose expected numbers are worked out by hand."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from vpp.domain.baselines import (
    baseline_for,
    cn_similar_days_baseline,
    delivered_mw,
    device_baseline,
    meter_before_after_baseline,
    xofy_baseline,
)
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile
from vpp.domain.timegrid import day_intervals

TZ = "Asia/Shanghai"


def hourly(days: dict[date, list[float] | float], tz: str = TZ) -> pd.Series:
    """A 60-minute meter series: a constant or 24 values per local day [MW]."""
    parts = []
    for day, values in days.items():
        index = day_intervals(day, tz, 60)
        data = [values] * len(index) if isinstance(values, float | int) else values
        parts.append(pd.Series(data, index=index, dtype=float))
    return pd.concat(parts).sort_index()


# Wednesday 18 March 2026 is the event day. Workdays before it, most recent first:
# Tue 17 (-10), Mon 16 (event day, excluded), Fri 13 (holiday, excluded), Thu 12 (-14),
# Wed 11 (-12), Tue 10 (-20, fourth eligible: outside Y=3). Weekends draw 1 MW.
EVENT = date(2026, 3, 18)
LEVELS = {
    date(2026, 3, 10): -20.0,
    date(2026, 3, 11): -12.0,
    date(2026, 3, 12): -14.0,
    date(2026, 3, 13): -50.0,
    date(2026, 3, 14): -1.0,
    date(2026, 3, 15): -1.0,
    date(2026, 3, 16): -100.0,
    date(2026, 3, 17): -10.0,
}


def with_event_day(morning: float) -> pd.Series:
    """History plus the event day, whose local 10:00-13:00 reads ``morning`` MW."""
    values = [-13.0] * 24
    values[10:13] = [morning] * 3
    return hourly({**LEVELS, EVENT: values})


def test_xofy_highest_two_of_last_three_workdays() -> None:
    # Eligible: Tue 17 (-10), Thu 12 (-14), Wed 11 (-12); highest two: Thu and Wed -> -13.
    result = xofy_baseline(
        hourly(LEVELS),
        EVENT,
        TZ,
        x=2,
        y=3,
        interval_minutes=60,
        event_days={date(2026, 3, 16)},
        holidays={date(2026, 3, 13)},
    )
    assert result.days_used == (date(2026, 3, 11), date(2026, 3, 12))
    assert len(result.power_mw) == 24
    assert np.allclose(result.power_mw, -13.0)
    assert result.complete and result.adjustment is None


WINDOW = (pd.Timestamp("2026-03-18 06:00", tz="UTC"), pd.Timestamp("2026-03-18 08:00", tz="UTC"))


@pytest.mark.parametrize(
    ("how", "morning", "expected_level", "expected_adjustment"),
    [
        # -14.3 / -13 = 1.1 inside the cap: baseline -13 x 1.1 = -14.3.
        ("multiplicative", -14.3, -14.3, 1.1),
        # -16.9 / -13 = 1.3, capped at 1.2: -13 x 1.2 = -15.6.
        ("multiplicative", -16.9, -15.6, 1.2),
        # -14 - (-13) = -1 inside the cap of 0.2 x 13 = 2.6 MW: -13 - 1 = -14.
        ("additive", -14.0, -14.0, -1.0),
        # -16.9 - (-13) = -3.9, capped at -2.6: -15.6.
        ("additive", -16.9, -15.6, -2.6),
    ],
)
def test_same_day_adjustment_is_capped(
    how: str, morning: float, expected_level: float, expected_adjustment: float
) -> None:
    # Event 14:00-16:00 local; the window is the 3 h ending 1 h before: 10:00-13:00 local.
    result = xofy_baseline(
        with_event_day(morning),
        EVENT,
        TZ,
        x=2,
        y=3,
        interval_minutes=60,
        event_days={date(2026, 3, 16)},
        holidays={date(2026, 3, 13)},
        event_window=WINDOW,
        adjustment=how,
        adjustment_cap=0.2,  # type: ignore[arg-type]
    )
    assert result.adjustment == pytest.approx(expected_adjustment)
    assert np.allclose(result.power_mw, expected_level)


def test_cn_similar_days_averages_each_interval() -> None:
    # Sunday 22 March; Sat 21 was an event day. Last two non-workdays: Sun 15 and Sat 14.
    # Sun 15 hour h reads -h, Sat 14 reads -(h + 2): the average is -(h + 1).
    meter = hourly(
        {
            date(2026, 3, 14): [-(h + 2.0) for h in range(24)],
            date(2026, 3, 15): [-float(h) for h in range(24)],
            date(2026, 3, 16): -99.0,  # a workday: never similar to a Sunday
            date(2026, 3, 21): -99.0,
        }
    )
    result = cn_similar_days_baseline(
        meter,
        date(2026, 3, 22),
        TZ,
        days=2,
        interval_minutes=60,
        event_days={date(2026, 3, 21)},
    )
    assert result.days_used == (date(2026, 3, 14), date(2026, 3, 15))
    assert result.power_mw.tolist() == [-(h + 1.0) for h in range(24)]


def test_missing_interval_skips_the_day_and_is_reported() -> None:
    # Sun 15 lacks 05:00 local (= 14 March 21:00 UTC): the method takes Sun 8 instead.
    sunday = [-2.0] * 24
    sunday[5] = float("nan")
    meter = hourly(
        {
            date(2026, 3, 8): -4.0,
            date(2026, 3, 14): -6.0,
            date(2026, 3, 15): sunday,
        }
    )
    result = cn_similar_days_baseline(
        meter, date(2026, 3, 22), TZ, days=2, interval_minutes=60, event_days={date(2026, 3, 21)}
    )
    assert result.skipped_days == (date(2026, 3, 15),)
    assert result.missing == (pd.Timestamp("2026-03-14 21:00", tz="UTC"),)
    assert not result.complete
    assert result.days_used == (date(2026, 3, 8), date(2026, 3, 14))
    assert np.allclose(result.power_mw, -5.0)  # (-4 + -6) / 2


def test_no_complete_history_is_an_error_that_says_what_to_do() -> None:
    with pytest.raises(InvalidInputError, match="import the missing meter data"):
        cn_similar_days_baseline(hourly({date(2026, 3, 18): -1.0}), EVENT, TZ, interval_minutes=60)


def test_meter_before_after_holds_the_mean_of_the_hour_before() -> None:
    index = pd.date_range("2026-03-18 05:00", periods=6, freq="15min", tz="UTC")
    meter = pd.Series([-4.0, -4.0, -5.0, -5.0, -1.0, -1.0], index=index)
    result = meter_before_after_baseline(meter, index[4], index[4] + pd.Timedelta(minutes=30))
    assert result.power_mw.tolist() == [-4.5, -4.5]  # (-4 - 4 - 5 - 5) / 4
    assert delivered_mw(meter, result.power_mw, "up").tolist() == [3.5, 3.5]


def test_device_metering_baseline_is_zero_and_gaps_stay_visible() -> None:
    index = pd.date_range("2026-03-18", periods=3, freq="15min", tz="UTC")
    battery = pd.Series([2.0, float("nan"), -1.0], index=index)
    base = device_baseline(index)
    assert base.power_mw.tolist() == [0.0, 0.0, 0.0]
    out = delivered_mw(battery, base.power_mw, "up")
    assert out.iloc[0] == 2.0 and np.isnan(out.iloc[1]) and out.iloc[2] == -1.0
    assert delivered_mw(battery, base.power_mw, "down").iloc[2] == 1.0


def test_dst_day_takes_each_local_clock_interval_from_history() -> None:
    # Sunday 29 March 2026 in Berlin has 23 hours (02:00 does not exist); Saturday 28 has 24.
    meter = hourly({date(2026, 3, 28): [-float(h) for h in range(24)]}, "Europe/Berlin")
    result = cn_similar_days_baseline(
        meter, date(2026, 3, 29), "Europe/Berlin", days=1, interval_minutes=60
    )
    assert len(result.power_mw) == 23
    assert result.power_mw.tolist() == [-float(h) for h in range(24) if h != 2]


def test_profile_mv_section_selects_the_method() -> None:
    mv = load_market_profile("cn-shandong").product("dr_peak_shaving").mv
    assert mv is not None and mv.baseline == "cn_similar_days"
    days = {date(2026, 3, d): float(-d) for d in range(9, 18)}  # Mon 9 .. Tue 17
    result = baseline_for(mv, hourly(days), EVENT, TZ, interval_minutes=60)
    # Five most recent workdays before Wed 18: 17, 16, 13, 12, 11 -> mean of -(17+16+13+12+11)/5
    assert result.days_used == tuple(date(2026, 3, d) for d in (11, 12, 13, 16, 17))
    assert np.allclose(result.power_mw, -13.8)
