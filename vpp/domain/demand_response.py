"""Demand-response events and their settlement against a metered baseline.

A DR event calls one DR product on a tenant (or on the whole park) for a window, with the
committed flexibility [MW] and the event price [currency/MWh]. Delivery is measured against
the baseline the product's ``mv`` section prescribes (the Chinese ``cn_similar_days``: the
average of the same intervals on the last N similar days), computed from the tenant's
consumption meter with every earlier *event day* and holiday left out (market-rules §1.6,
§4.1). Those event days come from the stored events, so a day is excluded because an event was
recorded on it, not because someone remembered to pass it.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import pandas as pd

from vpp.domain.baselines import Baseline, Direction, baseline_for, delivered_mw
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import Product
from vpp.domain.performance import EventPerformance, settle_event
from vpp.domain.timegrid import zone


@dataclass(frozen=True)
class DrEvent:
    """One demand-response call: ``[start, end)`` in UTC on ``enterprise_id`` (None = park)."""

    park_id: str
    product_id: str
    start: datetime
    end: datetime
    committed_mw: float
    """Committed flexibility, >= 0 [MW]."""
    price_per_mwh: Decimal
    """Event price [currency/MWh]."""
    enterprise_id: str | None = None
    id: int | None = None

    def day(self, tz: str) -> date:
        """The market day the event starts on."""
        local: date = pd.Timestamp(self.start).tz_convert(zone(tz)).date()
        return local


def event_days(events: Iterable[DrEvent], tz: str, enterprise_id: str | None) -> frozenset[date]:
    """Market days with an event on ``enterprise_id`` or on the whole park (never baselines)."""
    return frozenset(
        e.day(tz) for e in events if e.enterprise_id is None or e.enterprise_id == enterprise_id
    )


@dataclass(frozen=True)
class DrResult:
    """An event with its baseline and its performance (ratio, pay, penalty) [currency]."""

    event: DrEvent
    baseline: Baseline
    performance: EventPerformance


def settle_dr_event(
    event: DrEvent,
    consumption_mw: pd.Series,
    product: Product,
    tz: str,
    interval_minutes: int,
    *,
    excluded_days: Collection[date],
    holidays: Collection[date] = (),
) -> DrResult:
    """Baseline, delivery and pay of one event from a consumption meter.

    Parameters
    ----------
    event : DrEvent
        The event.
    consumption_mw : pandas.Series
        The resource's metered consumption per UTC interval start, >= 0 while drawing [MW],
        covering the baseline's look-back; NaN = missing.
    product : Product
        The event's DR product; its ``mv`` section gives baseline, floor and cap.
    tz : str
        Market IANA timezone.
    interval_minutes : int
        Meter and settlement interval [min].
    excluded_days : collection of date
        Event days never used as baseline history (from the stored events).
    holidays : collection of date
        Holidays (excluded, and they set the day type).

    Returns
    -------
    DrResult
        Baseline [MW], per-interval performance and the event's pay and penalty [currency].
    """
    if product.mv is None:
        raise InvalidInputError(f"product {product.id} has no mv section to measure it")
    minutes = interval_minutes
    meter = -consumption_mw  # the service's sign convention: consumption < 0
    window = (pd.Timestamp(event.start), pd.Timestamp(event.end))
    day = event.day(tz)
    baseline = baseline_for(
        product.mv,
        meter,
        day,
        tz,
        interval_minutes=minutes,
        event_days=excluded_days,
        holidays=holidays,
        event_window=window,
    )
    intervals = pd.date_range(*window, freq=f"{minutes}min", inclusive="left")
    direction: Direction = "down" if product.direction == "down" else "up"
    delivered = delivered_mw(
        meter.reindex(intervals), baseline.power_mw.reindex(intervals), direction
    )
    committed = pd.Series(event.committed_mw, index=intervals)
    price = float(event.price_per_mwh)
    performance = settle_event(delivered, committed, price, product.mv, minutes)
    return DrResult(event, baseline, performance)
