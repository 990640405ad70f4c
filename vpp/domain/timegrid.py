"""The market time grid: intervals labelled by their start, stored in UTC, read in market time.

A market day is a calendar day in the market's IANA timezone. Its intervals are the UTC instants
from local midnight to the next local midnight, so a DST day in Europe/Berlin has 92 or 100
quarter-hours and a day in Asia/Shanghai always has 96. Everything here is a pure function of
its arguments; nothing reads the wall clock.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from vpp.domain.errors import InvalidInputError, TimeSeriesError

MINUTES_PER_DAY = 24 * 60


def zone(tz: str) -> ZoneInfo:
    """Return the IANA zone named ``tz``, or raise an error that names it."""
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInputError(
            f"unknown timezone {tz!r}", hint="use an IANA name such as 'Asia/Shanghai'"
        ) from exc


def check_interval_minutes(minutes: int) -> int:
    """Return ``minutes`` if it divides a day evenly [min], else raise."""
    if minutes <= 0 or MINUTES_PER_DAY % minutes:
        raise InvalidInputError(
            f"interval of {minutes} min does not divide a day",
            hint="use 5, 15, 30 or 60 minutes",
        )
    return minutes


def local_midnight(day: date, tz: str) -> pd.Timestamp:
    """Start of market day ``day`` as a UTC timestamp."""
    return pd.Timestamp(datetime.combine(day, time(0), tzinfo=zone(tz))).tz_convert("UTC")


def day_intervals(day: date, tz: str, minutes: int = 15) -> pd.DatetimeIndex:
    """All interval starts of market day ``day`` in UTC.

    Parameters
    ----------
    day : date
        The market (local) calendar day.
    tz : str
        IANA timezone of the market.
    minutes : int
        Interval length [min].

    Returns
    -------
    pandas.DatetimeIndex
        UTC interval starts; 96 for 15-minute intervals on an ordinary day, 92 or 100 on a DST
        transition day.
    """
    check_interval_minutes(minutes)
    start = local_midnight(day, tz)
    end = local_midnight(day + timedelta(days=1), tz)
    return pd.date_range(start, end, freq=f"{minutes}min", inclusive="left", name="timestamp")


def horizon_intervals(
    first_day: date, last_day: date, tz: str, minutes: int = 15
) -> pd.DatetimeIndex:
    """Interval starts of every market day from ``first_day`` to ``last_day`` inclusive, in UTC."""
    if last_day < first_day:
        raise InvalidInputError(f"end day {last_day} is before start day {first_day}")
    check_interval_minutes(minutes)
    start = local_midnight(first_day, tz)
    end = local_midnight(last_day + timedelta(days=1), tz)
    return pd.date_range(start, end, freq=f"{minutes}min", inclusive="left", name="timestamp")


def intervals_per_day(day: date, tz: str, minutes: int = 15) -> int:
    """Number of intervals in market day ``day`` (92/96/100 for quarter-hours in Europe)."""
    return len(day_intervals(day, tz, minutes))


def market_day(ts: pd.Timestamp | datetime, tz: str) -> date:
    """The market day that the instant ``ts`` (tz-aware) falls in."""
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        raise TimeSeriesError(f"timestamp {stamp} has no timezone", hint="give a UTC offset")
    local: date = stamp.tz_convert(zone(tz)).date()
    return local


def market_time(day: date, day_offset: int, clock: str | time, tz: str) -> pd.Timestamp:
    """The UTC instant of local clock time ``clock`` on ``day + day_offset`` days.

    Used for gate open, gate closure and result times, which profiles give in market time
    relative to the delivery day (``day_offset=-1`` is the day before delivery).
    A clock time that does not exist on a spring-forward day is moved forward by the gap;
    an ambiguous one on a fall-back day takes its first occurrence.
    """
    wall = clock if isinstance(clock, time) else time.fromisoformat(clock)
    target = day + timedelta(days=day_offset)
    local = pd.Timestamp(datetime.combine(target, wall)).tz_localize(
        zone(tz), ambiguous=True, nonexistent="shift_forward"
    )
    return local.tz_convert("UTC")


def require_utc_index(index: pd.Index, what: str = "series") -> pd.DatetimeIndex:
    """Return ``index`` converted to UTC, refusing naive or non-datetime indexes."""
    if not isinstance(index, pd.DatetimeIndex):
        raise TimeSeriesError(f"{what} is not indexed by timestamps")
    if index.tz is None:
        raise TimeSeriesError(
            f"{what} has naive timestamps", hint="add a UTC offset such as +08:00 or Z"
        )
    return index.tz_convert("UTC")


def infer_interval_minutes(index: pd.DatetimeIndex, what: str = "series") -> int:
    """The regular step of ``index`` [min]; raise if it has duplicates or irregular steps."""
    if len(index) < 2:
        raise TimeSeriesError(f"{what} needs at least two timestamps to know its step")
    if index.has_duplicates:
        first = index[index.duplicated()][0]
        raise TimeSeriesError(f"{what} has a duplicate timestamp {first.isoformat()}")
    steps = pd.Series(index[1:] - index[:-1])
    if (steps <= pd.Timedelta(0)).any():
        raise TimeSeriesError(f"{what} timestamps are not increasing")
    step = steps.mode().iloc[0]
    odd = steps[steps != step]
    if not odd.empty:
        position = int(odd.index[0]) + 1
        raise TimeSeriesError(
            f"{what} has an irregular step at {index[position].isoformat()} "
            f"({steps.iloc[position - 1]} instead of {step})",
            hint="fill the gap with empty cells rather than leaving the row out",
        )
    return check_interval_minutes(int(step / pd.Timedelta(minutes=1)))


def to_grid(series: pd.Series, minutes: int, how: str = "mean") -> pd.Series:
    """Put a UTC-indexed series onto a regular grid of ``minutes`` [min].

    A coarser series is spread onto the finer grid by holding each value over its interval
    (an hourly price applies to each of its four quarter-hours); a finer series is aggregated
    with ``how`` ("mean" for power and prices, "sum" for energy).
    """
    index = require_utc_index(series.index)
    series = series.set_axis(index)
    source = infer_interval_minutes(index)
    if source == minutes:
        return series
    if source > minutes:
        if source % minutes:
            raise TimeSeriesError(f"cannot spread {source}-min data onto a {minutes}-min grid")
        end = index[-1] + pd.Timedelta(minutes=source)
        fine = pd.date_range(index[0], end, freq=f"{minutes}min", inclusive="left", name=index.name)
        return series.reindex(fine, method="ffill", limit=source // minutes - 1)
    if minutes % source:
        raise TimeSeriesError(f"cannot aggregate {source}-min data onto a {minutes}-min grid")
    grouped = series.resample(f"{minutes}min", label="left", closed="left")
    result = grouped.sum(min_count=1) if how == "sum" else grouped.mean()
    counts = grouped.count()
    return result.where(counts == minutes // source)
