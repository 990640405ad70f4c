"""Features a day-ahead model may use: calendar, holidays, and lags known at issue time.

A lag is looked up at the same *local* clock time some days earlier, so a DST day still lines
up with yesterday's morning. Which lags are allowed depends on the issue time: every value a
lag reads for day D must be stamped before the issue time (:func:`min_lag_days`). Level
features (rolling means, last value) are read at each row's own issue time, the same lead
before its day as the real forecast, so training rows see what the forecast will see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

import holidays as holidays_lib
import numpy as np
import pandas as pd

from forecasting.history import KnownHistory
from vpp.domain.errors import InvalidInputError
from vpp.domain.timegrid import zone

#: Extra lags (local days) used on top of the shortest allowed one, when allowed.
LAG_DAYS: tuple[int, ...] = (7, 14)


def same_clock_earlier(index: pd.DatetimeIndex, tz: str, days: int) -> pd.DatetimeIndex:
    """The UTC instants at the same local clock time ``days`` days earlier.

    A wall time that falls in a spring-forward gap moves forward; an ambiguous one on a
    fall-back day takes its first occurrence.
    """
    wall = index.tz_convert(zone(tz)).tz_localize(None) - pd.Timedelta(days=days)
    local = wall.tz_localize(
        zone(tz), ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
    )
    return local.tz_convert("UTC")


def lookup(series: pd.Series, times: pd.DatetimeIndex) -> np.ndarray:
    """Values of ``series`` at ``times`` (NaN where the series has no such instant)."""
    return series.reindex(times).to_numpy(dtype=float)


def min_lag_days(known: KnownHistory) -> int:
    """Smallest whole number of local days [d] whose lag is known at issue time for all of D."""
    for days in range(1, 60):
        if (same_clock_earlier(known.horizon, known.tz, days) < known.issue_time).all():
            return days
    raise InvalidInputError("issue time is more than 60 days before the forecast day")


def allowed_lags(known: KnownHistory) -> tuple[int, ...]:
    """Lag days [d] usable for day D: the shortest allowed one, the next, and a week or two."""
    first = min_lag_days(known)
    return tuple(sorted({first, first + 1, *(d for d in LAG_DAYS if d >= first)}))


@lru_cache(maxsize=64)
def _calendar(country: str, years: tuple[int, ...]) -> holidays_lib.HolidayBase:
    try:
        return holidays_lib.country_holidays(country, years=list(years))
    except NotImplementedError as exc:
        raise InvalidInputError(
            f"no holiday calendar for country {country!r}",
            hint="use an ISO 3166 code known to the holidays package, e.g. 'CN' or 'DE'",
        ) from exc


def day_kinds(days: Sequence[date], country: str | None) -> pd.DataFrame:
    """Holiday and working-day flags per local day.

    Parameters
    ----------
    days : sequence of date
        Local calendar days.
    country : str or None
        ISO country code for the holiday calendar; None means weekends only.

    Returns
    -------
    pandas.DataFrame
        Columns ``is_holiday``, ``is_working_day`` and ``is_makeup_workday`` (a weekend day
        made a working day, as in China's adjusted holidays), each 0.0 or 1.0.
    """
    weekend = np.array([d.weekday() >= 5 for d in days])
    if country is None:
        holiday = np.zeros(len(days), dtype=bool)
        working = ~weekend
    else:
        cal = _calendar(country, tuple(sorted({d.year for d in days})))
        holiday = np.array([d in cal for d in days])
        working = np.array([cal.is_working_day(d) for d in days])
    return pd.DataFrame(
        {
            "is_holiday": holiday.astype(float),
            "is_working_day": working.astype(float),
            "is_makeup_workday": (weekend & working).astype(float),
        }
    )


def calendar_features(
    index: pd.DatetimeIndex, tz: str, holidays_country: str | None
) -> pd.DataFrame:
    """Local-time calendar features for UTC interval starts ``index``.

    Returns
    -------
    pandas.DataFrame
        ``minute_of_day`` [min, local], ``hour`` [h], ``weekday`` (0 = Monday),
        ``day_of_year`` and the holiday flags of :func:`day_kinds`, indexed like ``index``.
    """
    local = index.tz_convert(zone(tz))
    days = pd.Index(local.date)
    unique = list(dict.fromkeys(days))
    kinds = day_kinds(unique, holidays_country).set_axis(pd.Index(unique))
    frame = pd.DataFrame(
        {
            "minute_of_day": (local.hour * 60 + local.minute).to_numpy(dtype=float),
            "hour": local.hour.to_numpy(dtype=float),
            "weekday": local.day_of_week.to_numpy(dtype=float),
            "day_of_year": local.day_of_year.to_numpy(dtype=float),
        },
        index=index,
    )
    for column in kinds.columns:
        frame[column] = kinds[column].reindex(days).to_numpy()
    return frame


def issue_times_of(index: pd.DatetimeIndex, known: KnownHistory) -> pd.DatetimeIndex:
    """For each row, the issue time with the forecast's lead before that row's local day."""
    local = index.tz_convert(zone(known.tz))
    midnight = local.normalize().tz_convert("UTC")
    return pd.DatetimeIndex(midnight - known.lead)


def _value_before(series: pd.Series, instants: pd.DatetimeIndex) -> np.ndarray:
    """Value of ``series`` at its last stamp strictly before each instant (NaN if none)."""
    positions = series.index.searchsorted(instants, side="left") - 1
    values = series.to_numpy(dtype=float)
    out = np.full(len(instants), np.nan)
    ok = positions >= 0
    out[ok] = values[positions[ok]]
    return out


def level_features(index: pd.DatetimeIndex, known: KnownHistory) -> pd.DataFrame:
    """Recent levels of the target read at each row's own issue time.

    Returns
    -------
    pandas.DataFrame
        ``mean_24h`` and ``mean_7d`` (means of the known target over the day and week before
        the issue time) and ``last_value`` (the latest known value), in the target's unit.
    """
    y = known.known_y
    instants = issue_times_of(index, known)
    frame = pd.DataFrame(index=index)
    for name, window in (("mean_24h", "24h"), ("mean_7d", "7D")):
        rolled = y.rolling(window, min_periods=1).mean()
        frame[name] = _value_before(rolled, instants)
    frame["last_value"] = _value_before(y.ffill(), instants)
    return frame


def lag_features(index: pd.DatetimeIndex, known: KnownHistory, lags: Sequence[int]) -> pd.DataFrame:
    """Target values at the same local clock time ``lags`` days earlier (NaN if unknown)."""
    y = known.y
    return pd.DataFrame(
        {f"lag_{d}d": lookup(y, same_clock_earlier(index, known.tz, d)) for d in lags},
        index=index,
    )


def build_features(
    index: pd.DatetimeIndex,
    known: KnownHistory,
    lags: Sequence[int],
    holidays_country: str | None,
) -> pd.DataFrame:
    """All model features for the UTC interval starts ``index`` (training rows or day D).

    Parameters
    ----------
    index : pandas.DatetimeIndex
        UTC interval starts to describe.
    known : KnownHistory
        History cut at issue time; lags and levels read only its known target values.
    lags : sequence of int
        Lag days [d]; each must be at least :func:`min_lag_days` for day D.
    holidays_country : str or None
        ISO country code of the holiday calendar.

    Returns
    -------
    pandas.DataFrame
        Calendar, lag, level and exogenous columns, indexed like ``index``.
    """
    parts = [
        calendar_features(index, known.tz, holidays_country),
        lag_features(index, known, lags),
        level_features(index, known),
    ]
    if known.exog:
        parts.append(known.frame[list(known.exog)].reindex(index))
    return pd.concat(parts, axis=1)
