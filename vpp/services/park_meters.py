"""What a park's site meters read over a month: tenant consumption and on-site generation.

A replayed park (the demo) has no gateways streaming meter data, but its park file holds the
history they would have sent: each tenant's inflexible load (a metered column, or a declared
schedule for a tenant without one) and the measured output of its PV and wind. A tenant's
consumption meter reads its whole draw: the inflexible load plus its flexible loads
(curtailable, shiftable, thermal, EV), at their declared baseline on days the VPP did not
dispatch them and as delivered on the dispatched day. Batteries and generation are not
consumption; they have their own meters (telemetry).

Every series carries a quality flag for what it is: ``measured`` (from a metered column),
``declared`` (a tenant's declared schedule or a flexible load's declared baseline enters it)
or ``simulated`` (the replayed delivery day).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from vpp.domain.assets import (
    CurtailableLoadSpec,
    EvFleetSpec,
    ShiftableLoadSpec,
    ThermalSpec,
)
from vpp.domain.declared_baseline import asset_baseline
from vpp.domain.market import MarketProfile
from vpp.domain.park import consumption_meter_id
from vpp.services.park_file import ParkData
from vpp.services.settle_month import month_intervals

__all__ = [
    "FLEXIBLE_LOADS",
    "MeterSeries",
    "consumption_meter_id",
    "delivered_consumption",
    "month_history",
    "tenant_consumption",
]

FLEXIBLE_LOADS = (CurtailableLoadSpec, ShiftableLoadSpec, ThermalSpec, EvFleetSpec)


@dataclass(frozen=True)
class MeterSeries:
    """One meter's readings per UTC interval start [MW] and their quality flag."""

    power_mw: pd.Series
    quality: str


def tenant_consumption(
    data: ParkData, profile: MarketProfile, intervals: pd.DatetimeIndex
) -> dict[str, MeterSeries]:
    """Each tenant's consumption on ``intervals`` without VPP dispatch, >= 0 [MW].

    Tenants with neither a load source nor a flexible load get no meter. Intervals the park
    file has no value for stay NaN.
    """
    tz = profile.timezone
    parts: dict[str, list[pd.Series]] = {}
    declared: set[str] = set()
    for load in data.definition.loads:
        if load.column is not None:
            values = data.series[load.column].reindex(intervals)
        else:
            assert load.declared is not None
            values = load.declared.profile(intervals, tz)
            declared.add(load.enterprise_id)
        parts.setdefault(load.enterprise_id, []).append(values)
    for enrolled in data.portfolio.assets:
        if isinstance(enrolled.spec, FLEXIBLE_LOADS):
            # the flexible part only: zero for a curtailable load, whose draw the load has
            draw = -asset_baseline(enrolled.spec, intervals, tz)
            parts.setdefault(enrolled.enterprise_id, []).append(draw)
            if draw.any():
                declared.add(enrolled.enterprise_id)
    return {
        owner: MeterSeries(
            pd.concat(series, axis=1).sum(axis=1, min_count=len(series)).clip(lower=0),
            "declared" if owner in declared else "measured",
        )
        for owner, series in parts.items()
    }


def delivered_consumption(data: ParkData, delivered_mw: pd.DataFrame) -> dict[str, pd.Series]:
    """Each tenant's consumption on a dispatched day from its metered columns, >= 0 [MW].

    ``delivered_mw`` is a cycle's metered power per asset and ``load:<enterprise>`` column
    (sign convention: consumption < 0).
    """
    owner = {a.spec.id: a.enterprise_id for a in data.portfolio.assets}
    flexible = {a.spec.id for a in data.portfolio.assets if isinstance(a.spec, FLEXIBLE_LOADS)}
    parts: dict[str, list[pd.Series]] = {}
    for column in delivered_mw.columns:
        if column.startswith("load:"):
            parts.setdefault(column.removeprefix("load:"), []).append(-delivered_mw[column])
        elif column in flexible:
            parts.setdefault(owner[column], []).append(-delivered_mw[column])
    return {k: pd.concat(v, axis=1).sum(axis=1).clip(lower=0) for k, v in parts.items()}


def month_history(
    data: ParkData, profile: MarketProfile, day: date
) -> tuple[pd.DatetimeIndex, dict[str, MeterSeries], dict[str, MeterSeries]]:
    """The month of ``day``: its intervals, tenant consumption and generation meter history.

    Generation is the park file's measured output column of each PV and wind asset [MW].
    """
    month = f"{day.year:04d}-{day.month:02d}"
    grid = month_intervals(month, profile.timezone, profile.interval_minutes)
    generation = {
        asset_id: MeterSeries(data.series[column].reindex(grid).clip(lower=0), "measured")
        for asset_id, column in data.definition.generation.items()
    }
    return grid, tenant_consumption(data, profile, grid), generation
