"""Metered baselines: what a resource would have drawn on an event day had it not responded.

Delivered flexibility is a difference against a baseline, so the baseline decides the money.
These are the measured methods of market-rules §4.1, as pure functions of a metered series
(UTC-indexed, the service's sign convention: consumption < 0) and the market timezone:

* ``xofy`` — X-of-Y similar days (CAISO 10-of-10, PJM high-4-of-5): the Y most recent eligible
  days of the event day's type, keep the X with the highest consumption, average per clock
  interval; optionally a same-day adjustment (multiplicative or additive) from a window before
  the event, capped (CAISO ±20 %).
* ``cn_similar_days`` — the Chinese provincial rule: the average of the same 15-minute intervals
  on the last N similar days (workday / non-workday), excluding event and holiday days.
* ``meter_before_after`` — the mean of the intervals just before a short event, held flat.
* ``device`` — device metering (batteries): the baseline is zero and the device meter is the
  delivery.

A history day with a missing meter interval is not used and is named in ``skipped_days``; every
missing interval that was looked at is listed in ``missing``. Nothing is filled with zeros.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal

import numpy as np
import pandas as pd

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MeasurementVerification
from vpp.domain.timegrid import day_intervals, zone

Adjustment = Literal["none", "multiplicative", "additive"]
Direction = Literal["up", "down"]


@dataclass(frozen=True)
class Baseline:
    """A baseline on the event day's intervals and how it was obtained."""

    power_mw: pd.Series
    """Baseline power per UTC interval start [MW], sign convention of ``vpp.domain``."""
    days_used: tuple[date, ...] = ()
    skipped_days: tuple[date, ...] = ()
    """Eligible history days left out because a meter interval was missing."""
    missing: tuple[pd.Timestamp, ...] = ()
    """Every interval looked at that had no meter value (UTC starts)."""
    adjustment: float | None = None
    """Factor [-] (multiplicative) or offset [MW] (additive); None when not adjusted."""
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        """No meter interval that the method needed was missing."""
        return not self.missing


def is_workday(day: date, holidays: Collection[date] = ()) -> bool:
    """Monday to Friday and not a holiday."""
    return day.weekday() < 5 and day not in holidays


def _clock_key(index: pd.DatetimeIndex, tz: str) -> np.ndarray:
    local = index.tz_convert(zone(tz))
    return np.asarray(local.hour * 60 + local.minute)


def _day_values(meter_mw: pd.Series, day: date, tz: str, minutes: int) -> pd.Series:
    return meter_mw.reindex(day_intervals(day, tz, minutes))


def _check_meter(meter_mw: pd.Series) -> None:
    index = meter_mw.index
    if not isinstance(index, pd.DatetimeIndex) or index.tz is None:
        raise InvalidInputError(
            "metered series needs a timezone-aware DatetimeIndex",
            hint="index the meter readings by UTC interval start",
        )


def xofy_baseline(
    meter_mw: pd.Series,
    event_day: date,
    tz: str,
    *,
    x: int,
    y: int,
    interval_minutes: int = 15,
    event_days: Collection[date] = (),
    holidays: Collection[date] = (),
    lookback_days: int = 45,
    event_window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
    adjustment: Adjustment = "none",
    adjustment_hours: float = 3.0,
    adjustment_gap_hours: float = 1.0,
    adjustment_cap: float = 0.2,
) -> Baseline:
    """X-of-Y similar-day baseline with an optional capped same-day adjustment.

    Parameters
    ----------
    meter_mw : pandas.Series
        Metered power per UTC interval start [MW] (consumption < 0), covering the history.
    event_day : date
        Market day of the event.
    tz : str
        Market IANA timezone; day types and clock intervals are local.
    x, y : int
        Keep the ``x`` highest-consumption days of the ``y`` most recent eligible days [-].
    interval_minutes : int
        Meter interval [min].
    event_days, holidays : collection of date
        Days never used as history (earlier events; holidays, which also set the day type).
    lookback_days : int
        How far back eligible days are searched [days].
    event_window : (Timestamp, Timestamp), optional
        UTC start and end of the event; ranks days by consumption inside it (else the whole
        day) and anchors the same-day adjustment.
    adjustment : {"none", "multiplicative", "additive"}
        Same-day adjustment from the ``adjustment_hours`` ending ``adjustment_gap_hours``
        before the event start; needs ``event_window``.
    adjustment_cap : float
        Cap on the adjustment as a share of the unadjusted baseline [-] (0.2 = ±20 %).

    Returns
    -------
    Baseline
        Baseline on the event day's intervals [MW] with the days used and missing intervals.

    Raises
    ------
    InvalidInputError
        No eligible history day has complete meter data.
    """
    _check_meter(meter_mw)
    if not 1 <= x <= y:
        raise InvalidInputError(f"X-of-Y needs 1 <= x <= y, got x={x}, y={y}")
    if adjustment != "none" and event_window is None:
        raise InvalidInputError(
            f"a {adjustment} same-day adjustment needs the event window",
            hint="pass event_window=(start, end) or adjustment='none'",
        )
    wanted = is_workday(event_day, holidays)
    chosen: list[tuple[date, pd.Series]] = []
    skipped: list[date] = []
    missing: list[pd.Timestamp] = []
    for back in range(1, lookback_days + 1):
        day = event_day - timedelta(days=back)
        if day in event_days or day in holidays or is_workday(day, holidays) != wanted:
            continue
        values = _day_values(meter_mw, day, tz, interval_minutes)
        gaps = values.index[values.isna()]
        if len(gaps):
            skipped.append(day)
            missing.extend(gaps)
            continue
        chosen.append((day, values))
        if len(chosen) == y:
            break
    if not chosen:
        raise InvalidInputError(
            f"no complete {'workday' if wanted else 'non-workday'} in the {lookback_days} days "
            f"before {event_day}",
            hint="import the missing meter data or settle this event with another baseline",
        )
    kept = _highest(chosen, x, tz, event_window)
    profile = pd.concat([pd.Series(v.to_numpy(), index=_clock_key(v.index, tz)) for _, v in kept])
    by_clock = profile.groupby(level=0).mean()
    index = day_intervals(event_day, tz, interval_minutes)
    power = pd.Series(by_clock.reindex(_clock_key(index, tz)).to_numpy(), index=index)
    notes = [] if len(chosen) == y else [f"only {len(chosen)} of {y} eligible days found"]
    factor: float | None = None
    if adjustment != "none" and event_window is not None:
        power, factor, gaps = _adjust(
            power,
            meter_mw,
            event_window[0],
            adjustment,
            adjustment_hours,
            adjustment_gap_hours,
            adjustment_cap,
        )
        missing.extend(gaps)
    return Baseline(
        power_mw=power.rename("baseline_mw"),
        days_used=tuple(sorted(d for d, _ in kept)),
        skipped_days=tuple(sorted(skipped)),
        missing=tuple(sorted(missing)),
        adjustment=factor,
        notes=tuple(notes),
    )


def _highest(
    chosen: list[tuple[date, pd.Series]],
    x: int,
    tz: str,
    event_window: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> list[tuple[date, pd.Series]]:
    """The ``x`` days with the highest mean consumption (inside the event's clock window)."""
    if x >= len(chosen):
        return chosen

    def consumption(values: pd.Series) -> float:
        if event_window is None:
            return float(-values.mean())
        keys = _clock_key(values.index, tz)
        start, end = (_clock_key(pd.DatetimeIndex([t]), tz)[0] for t in event_window)
        inside = (keys >= start) & (keys < (end if end > start else 24 * 60))
        return float(-values[inside].mean())

    ranked = sorted(chosen, key=lambda item: consumption(item[1]), reverse=True)
    return ranked[:x]


def _adjust(
    power: pd.Series,
    meter_mw: pd.Series,
    event_start: pd.Timestamp,
    how: Adjustment,
    hours: float,
    gap_hours: float,
    cap: float,
) -> tuple[pd.Series, float | None, list[pd.Timestamp]]:
    end = pd.Timestamp(event_start) - pd.Timedelta(hours=gap_hours)
    start = end - pd.Timedelta(hours=hours)
    window = power.index[(power.index >= start) & (power.index < end)]
    if len(window) == 0:
        raise InvalidInputError(
            f"the adjustment window {start}..{end} is not on the event day",
            hint="shorten adjustment_hours/adjustment_gap_hours or use no adjustment",
        )
    metered = meter_mw.reindex(window)
    gaps = list(window[metered.isna()])
    present = metered.dropna()
    if present.empty:
        return power, None, gaps
    base = float(power[present.index].mean())
    seen = float(present.mean())
    if how == "multiplicative":
        factor = 1.0 if base == 0 else float(np.clip(seen / base, 1 - cap, 1 + cap))
        return power * factor, factor, gaps
    limit = cap * abs(base)
    offset = float(np.clip(seen - base, -limit, limit))
    return power + offset, offset, gaps


def cn_similar_days_baseline(
    meter_mw: pd.Series,
    event_day: date,
    tz: str,
    *,
    days: int = 5,
    interval_minutes: int = 15,
    event_days: Collection[date] = (),
    holidays: Collection[date] = (),
    lookback_days: int = 45,
) -> Baseline:
    """Average of the same intervals on the last ``days`` similar days (GB/T 32127 practice).

    Similar means the same day type (workday or non-workday); event days and holidays are
    excluded. Parameters and result as :func:`xofy_baseline` with ``x = y = days`` [MW].
    """
    return xofy_baseline(
        meter_mw,
        event_day,
        tz,
        x=days,
        y=days,
        interval_minutes=interval_minutes,
        event_days=event_days,
        holidays=holidays,
        lookback_days=lookback_days,
    )


def meter_before_after_baseline(
    meter_mw: pd.Series,
    event_start: pd.Timestamp,
    event_end: pd.Timestamp,
    *,
    interval_minutes: int = 15,
    before_minutes: int = 60,
) -> Baseline:
    """Mean metered power over the ``before_minutes`` before the event, held over the event.

    Parameters
    ----------
    meter_mw : pandas.Series
        Metered power per UTC interval start [MW].
    event_start, event_end : pandas.Timestamp
        UTC start (inclusive) and end (exclusive) of the event.
    interval_minutes, before_minutes : int
        Meter interval and length of the reference window [min].

    Returns
    -------
    Baseline
        Flat baseline on the event's intervals [MW].
    """
    _check_meter(meter_mw)
    step = f"{interval_minutes}min"
    start, end = pd.Timestamp(event_start), pd.Timestamp(event_end)
    before = pd.date_range(
        start - pd.Timedelta(minutes=before_minutes), start, freq=step, inclusive="left"
    )
    reference = meter_mw.reindex(before)
    gaps = tuple(before[reference.isna()])
    if reference.isna().all():
        raise InvalidInputError(
            f"no meter value in the {before_minutes} min before {start}",
            hint="import the meter data before the event or use a similar-day baseline",
        )
    event = pd.date_range(start, end, freq=step, inclusive="left")
    level = float(reference.mean())
    return Baseline(power_mw=pd.Series(level, index=event, name="baseline_mw"), missing=gaps)


def device_baseline(index: pd.DatetimeIndex) -> Baseline:
    """Device metering (batteries): the baseline is zero, the device meter is the delivery [MW]."""
    return Baseline(power_mw=pd.Series(0.0, index=index, name="baseline_mw"))


def delivered_mw(metered_mw: pd.Series, baseline_mw: pd.Series, direction: Direction) -> pd.Series:
    """Flexibility delivered per interval [MW] (> 0 = in the committed direction).

    With consumption < 0, curtailment (``up``) is ``metered - baseline`` (= B - M in load
    magnitudes) and valley filling (``down``) is ``baseline - metered``. An interval without
    a meter value stays NaN so that callers see it.
    """
    gap = metered_mw.reindex(baseline_mw.index) - baseline_mw
    return (gap if direction == "up" else -gap).rename("delivered_mw")


def baseline_for(
    mv: MeasurementVerification,
    meter_mw: pd.Series,
    event_day: date,
    tz: str,
    *,
    interval_minutes: int = 15,
    event_days: Collection[date] = (),
    holidays: Collection[date] = (),
    event_window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
) -> Baseline:
    """The baseline a product's M&V section (``products[].mv``) prescribes [MW]."""
    p = mv.params
    if mv.baseline in ("cn_similar_days", "xofy"):
        days = int(p.get("days", 5))
        x, y = (int(p.get("x", 10)), int(p.get("y", 10))) if mv.baseline == "xofy" else (days, days)
        adjustment: Adjustment = p.get("adjustment", "none") if mv.baseline == "xofy" else "none"
        return xofy_baseline(
            meter_mw,
            event_day,
            tz,
            x=x,
            y=y,
            interval_minutes=interval_minutes,
            event_days=event_days,
            holidays=holidays,
            event_window=event_window,
            adjustment=adjustment,
            adjustment_cap=float(p.get("cap", 0.2)),
        )
    if mv.baseline == "meter_before_after":
        if event_window is None:
            raise InvalidInputError("meter_before_after needs the event window")
        return meter_before_after_baseline(
            meter_mw,
            *event_window,
            interval_minutes=interval_minutes,
            before_minutes=int(p.get("before_minutes", 60)),
        )
    return device_baseline(day_intervals(event_day, tz, interval_minutes))
