"""Features a day-ahead model may use: calendar, holidays, and lags known at issue time.

A lag is looked up at the same *local* clock time some days earlier, so a DST day still lines
up with yesterday's morning. Which lags are allowed depends on the issue time: every value a
lag reads for day D must be stamped before the issue time (:func:`min_lag_days`). Level
features (rolling means, last value) are read at each row's own issue time, the same lead
before its day as the real forecast, so training rows see what the forecast will see.
Same-kind features look up the latest earlier working (or non-working) days; the *operating*
variant skips days the site itself stood still on although the calendar said otherwise
(a shutdown week, a works holiday), so one such week does not drag the next weeks down.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from datetime import date, timedelta
from functools import lru_cache

import holidays as holidays_lib
import numpy as np
import pandas as pd

from forecasting.history import KnownHistory
from vpp.domain.errors import InvalidInputError
from vpp.domain.timegrid import zone

#: Extra lags (local days) used on top of the shortest allowed one, when allowed.
LAG_DAYS: tuple[int, ...] = (7, 14)
#: How far back the same-kind-of-day lookup searches [d].
SAME_KIND_REACH = 21
#: How many same-kind days the median of :func:`same_kind_features` takes [count].
SAME_KIND_DAYS = 5
#: A same-kind day counts as operating when its mean reaches this share of the typical
#: same-kind day's (the 80th percentile of those in reach) [fraction].
OPERATING_SHARE = 0.5
#: Holiday categories, besides the public ones, on which workplaces close, per country code.
#: Korea: Workers' Day (1 May) is a paid day off by law for employees, not a public holiday.
WORKPLACE_CATEGORIES: dict[str, tuple[str, ...]] = {"KR": ("bank",)}


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
    values: np.ndarray = series.reindex(times).to_numpy(dtype=float)
    return values


def min_lag_days(known: KnownHistory) -> int:
    """Smallest whole number of local days [d] whose lag is known at issue time for all of D."""
    return first_known_lag(known.horizon, known.tz, known.issue_time)


def first_known_lag(horizon: pd.DatetimeIndex, tz: str, issue_time: pd.Timestamp) -> int:
    """Smallest lag [d] whose values for every interval of ``horizon`` precede ``issue_time``."""
    for days in range(1, 60):
        if (same_clock_earlier(horizon, tz, days) < issue_time).all():
            return days
    raise InvalidInputError("issue time is more than 60 days before the forecast day")


def lags_from(first: int) -> tuple[int, ...]:
    """Lag days [d] from the shortest allowed one: it, the next, and a week or two."""
    return tuple(sorted({first, first + 1, *(d for d in LAG_DAYS if d >= first)}))


def allowed_lags(known: KnownHistory) -> tuple[int, ...]:
    """Lag days [d] usable for day D: the shortest allowed one, the next, and a week or two."""
    return lags_from(min_lag_days(known))


@lru_cache(maxsize=64)
def _calendar(country: str, years: tuple[int, ...]) -> holidays_lib.HolidayBase:
    extra = WORKPLACE_CATEGORIES.get(country.upper(), ())
    try:
        if extra:
            return holidays_lib.country_holidays(
                country, years=list(years), categories=("public", *extra)
            )
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
        ISO country code for the holiday calendar; None means weekends only. Days off by law
        for employees that are not public holidays count too (:data:`WORKPLACE_CATEGORIES`).

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
    """Target values at the same local clock time ``lags`` days earlier (NaN if unknown).

    Besides each raw lag: the lag smoothed over the surrounding hour (``lag_Nd_1h``), the mean
    of the same clock time over the last four weeks (``same_clock_4w``) and over the five
    most recent allowed days (``same_clock_5d``), which damp the noise of a single day.
    """
    y = known.y
    per_hour = max(1, 60 // known.interval_minutes)
    smooth = y.rolling(per_hour + 1, center=True, min_periods=1).mean()
    frame = pd.DataFrame(index=index)
    for d in lags:
        earlier = same_clock_earlier(index, known.tz, d)
        frame[f"lag_{d}d"] = lookup(y, earlier)
        frame[f"lag_{d}d_1h"] = lookup(smooth, earlier)
    first = min(lags)
    with warnings.catch_warnings():
        # All-NaN rows (no history that far back) are expected and stay NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        weeks = np.column_stack(
            [
                lookup(y, same_clock_earlier(index, known.tz, 7 * w))
                for w in range(max(1, -(-first // 7)), 5)
            ]
        )
        days = np.column_stack(
            [lookup(y, same_clock_earlier(index, known.tz, d)) for d in range(first, first + 5)]
        )
        frame["same_clock_4w"] = np.nanmean(weeks, axis=1)
        frame["same_clock_4w_median"] = np.nanmedian(weeks, axis=1)
        frame["same_clock_5d"] = np.nanmean(days, axis=1)
    return frame


def _day_span(unique: Sequence[date], reach: int) -> list[date]:
    """Every local day from ``reach`` days before the first of ``unique`` to its last."""
    first_day = min(unique) - timedelta(days=reach)
    return [first_day + timedelta(days=i) for i in range((max(unique) - first_day).days + 1)]


def _values_from_backs(
    index: pd.DatetimeIndex, known: KnownHistory, shifts: np.ndarray
) -> np.ndarray:
    """Target values at the same clock time ``shifts[row, k]`` days earlier (0: none, NaN)."""
    values = np.full(shifts.shape, np.nan)
    for back in np.unique(shifts[shifts > 0]):
        rows = (shifts == back).any(axis=1)
        looked = lookup(known.y, same_clock_earlier(index[rows], known.tz, int(back)))
        slots = shifts[rows] == back
        block = values[rows]
        block[slots] = np.repeat(looked[:, None], shifts.shape[1], axis=1)[slots]
        values[rows] = block
    return values


def _nanmedian_rows(values: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        # Rows with no comparable day in reach stay NaN.
        warnings.simplefilter("ignore", RuntimeWarning)
        median: np.ndarray = np.nanmedian(values, axis=1)
    return median


def same_kind_features(
    index: pd.DatetimeIndex, known: KnownHistory, first_lag: int, holidays_country: str | None
) -> pd.DataFrame:
    """Same clock time on the latest earlier days of the same kind (working or not).

    For a Monday after a weekend, or a day after a holiday, the closest comparable day is
    not yesterday but the last working day; these features look it up, at least
    ``first_lag`` days back. Columns ``same_kind_last`` and ``same_kind_median`` (median of
    the last :data:`SAME_KIND_DAYS` such days) [target unit].
    """
    codes, unique = pd.factorize(pd.Index(index.tz_convert(zone(known.tz)).date))
    table = np.zeros((len(unique), SAME_KIND_DAYS), dtype=int)
    if len(unique):
        reach = SAME_KIND_REACH + first_lag
        span = _day_span(unique, reach)
        working = day_kinds(span, holidays_country)["is_working_day"].to_numpy()
        for row, day in enumerate(unique):
            today = (day - span[0]).days
            backs = [b for b in range(first_lag, reach) if working[today - b] == working[today]]
            found = backs[:SAME_KIND_DAYS]
            table[row, : len(found)] = found
    values = _values_from_backs(index, known, table[codes])
    return pd.DataFrame(
        {"same_kind_last": values[:, 0], "same_kind_median": _nanmedian_rows(values)},
        index=index,
    )


def daily_means(known: KnownHistory) -> pd.Series:
    """Mean of the known target per local day [target unit], indexed by date."""
    y = known.known_y.dropna()
    local = y.index.tz_convert(zone(known.tz))
    means: pd.Series = y.groupby(pd.Index(local.date)).mean()
    return means


def operating_kind_features(
    index: pd.DatetimeIndex, known: KnownHistory, first_lag: int, holidays_country: str | None
) -> pd.DataFrame:
    """Same clock time on the latest earlier same-kind days the site actually operated on.

    Like :func:`same_kind_features`, but a candidate day whose mean is below
    :data:`OPERATING_SHARE` of the typical same-kind day in reach (the 80th percentile of
    their means) is skipped: a working day the plant stood still on (summer shutdown, works
    holiday, breakdown) is not a template for the next working day. Every day read lies at
    least ``first_lag`` days back, so it is wholly known at each row's own issue time.

    Returns
    -------
    pandas.DataFrame
        ``operating_kind_last``, ``operating_kind_median`` (median of up to
        :data:`SAME_KIND_DAYS` such days) and ``operating_kind_level`` (mean of those days'
        daily means) [target unit], NaN where no day qualifies.
    """
    codes, unique = pd.factorize(pd.Index(index.tz_convert(zone(known.tz)).date))
    table = np.zeros((len(unique), SAME_KIND_DAYS), dtype=int)
    levels = np.full(len(unique), np.nan)
    if len(unique):
        reach = SAME_KIND_REACH + first_lag
        span = _day_span(unique, reach)
        working = day_kinds(span, holidays_country)["is_working_day"].to_numpy()
        means = daily_means(known).reindex(pd.Index(span)).to_numpy(dtype=float)
        for row, day in enumerate(unique):
            today = (day - span[0]).days
            backs = np.array(
                [
                    b
                    for b in range(first_lag, reach)
                    if working[today - b] == working[today] and np.isfinite(means[today - b])
                ],
                dtype=int,
            )
            if not len(backs):
                continue
            level = means[today - backs]
            found = backs[level >= OPERATING_SHARE * np.percentile(level, 80)][:SAME_KIND_DAYS]
            table[row, : len(found)] = found
            if len(found):
                levels[row] = float(np.mean(means[today - found]))
    values = _values_from_backs(index, known, table[codes])
    return pd.DataFrame(
        {
            "operating_kind_last": values[:, 0],
            "operating_kind_median": _nanmedian_rows(values),
            "operating_kind_level": levels[codes],
        },
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
        Calendar, lag, same-kind, level, operating same-kind and exogenous columns, indexed
        like ``index``.
    """
    parts = [
        calendar_features(index, known.tz, holidays_country),
        lag_features(index, known, lags),
        same_kind_features(index, known, min(lags), holidays_country),
        level_features(index, known),
        operating_kind_features(index, known, min(lags), holidays_country),
    ]
    if known.exog:
        parts.append(exog_features(index, known))
    return pd.concat(parts, axis=1)


def exog_features(index: pd.DatetimeIndex, known: KnownHistory) -> pd.DataFrame:
    """Each exogenous forecast at ``index``, a day and a week earlier, and its change in a day.

    Exogenous columns are forecasts published before the issue time, so every value is known.
    """
    frame = pd.DataFrame(index=index)
    for column in known.exog:
        series = known.frame[column]
        now = lookup(series, index)
        day_before = lookup(series, same_clock_earlier(index, known.tz, 1))
        frame[column] = now
        frame[f"{column}_lag_1d"] = day_before
        frame[f"{column}_lag_7d"] = lookup(series, same_clock_earlier(index, known.tz, 7))
        frame[f"{column}_change_1d"] = now - day_before
    return frame
