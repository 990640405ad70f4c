"""Reading what settlement measures beyond the enrolled assets' telemetry, for one park month.

:func:`load_measured` reads the park's consumption meters (per interval means, from the DR
baselines' look-back to the month's end) through the settlement ports, computes park
consumption and the metered bill savings of shared-savings tenants, lists the stored DR events
of the month and of the look-back, and scores the stored AGC commands of the park's assets
against the measured response to price the AGC awards with the K value. Everything it cannot
measure is returned as a problem line, per tenant where it concerns one tenant only;
:func:`vpp.services.park_month_inputs.load_park_month` puts the result into ``MonthInputs``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from vpp.domain.agc import KParams
from vpp.domain.assets import BatterySpec
from vpp.domain.bids import Award
from vpp.domain.demand_response import DrEvent
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile
from vpp.domain.park import Contract, EnrolledAsset
from vpp.domain.settlement_ports import (
    AgcCommandLog,
    ConsumptionMeters,
    DeviceMeters,
    SettlementStores,
)
from vpp.domain.timegrid import local_midnight
from vpp.services.settle_measured import (
    agc_day_amount,
    agc_hourly_pay,
    agc_missing,
    park_consumption,
    tenant_btm_savings,
)
from vpp.services.settle_month import month_days, month_intervals

LOOKBACK_DAYS = 45
"""Days of consumption history read before the month for the DR baselines [days]."""


@dataclass(frozen=True)
class MeasuredMonth:
    """The metered inputs of a month (see the ``MonthInputs`` fields of the same names)."""

    load_mw: pd.Series | None
    load_quality: frozenset[str]
    consumption_mw: dict[str | None, pd.Series]
    btm_savings: dict[str, Decimal]
    dr_events: list[DrEvent]
    dr_history: list[DrEvent]
    agc_amounts: dict[tuple[date, str], Decimal]
    problems: tuple[str, ...]
    """What could not be measured for the park as a whole (AGC performance)."""
    enterprise_problems: dict[str, tuple[str, ...]]
    """What could not be measured for one tenant (its shared savings), by enterprise id."""


def load_measured(
    stores: SettlementStores,
    park_id: str,
    month: str,
    assets: list[EnrolledAsset],
    contracts: dict[str, Contract],
    awarded: dict[date, list[Award]],
    profile: MarketProfile,
) -> MeasuredMonth:
    """Consumption, shared savings, DR events and AGC pay of ``park_id`` in ``month``."""
    tz = profile.timezone
    days = month_days(month)
    grid = month_intervals(month, tz, profile.interval_minutes)
    meters, load_quality = _consumption(stores.consumption, park_id, grid, profile)
    in_month = {k: v.reindex(grid) for k, v in meters.items()}
    tenants = {k: v for k, v in in_month.items() if k is not None}
    telemetry = stores.telemetry
    savings, btm_problems = _btm_savings(telemetry, assets, contracts, in_month, grid, profile)
    agc, agc_problems = _agc_amounts(stores.agc, telemetry, assets, awarded, profile)
    events = stores.dr_events
    start = local_midnight(days[0], tz).to_pydatetime()
    end = local_midnight(days[-1] + timedelta(days=1), tz).to_pydatetime()
    look_back = local_midnight(days[0] - timedelta(days=LOOKBACK_DAYS), tz).to_pydatetime()
    return MeasuredMonth(
        load_mw=park_consumption(grid, in_month.get(None), tenants),
        load_quality=load_quality,
        consumption_mw=meters,
        btm_savings=savings,
        dr_events=events.list_for_park(park_id, start, end),
        dr_history=events.list_for_park(park_id, look_back, end),
        agc_amounts=agc,
        problems=tuple(agc_problems),
        enterprise_problems={e: tuple(lines) for e, lines in btm_problems.items() if lines},
    )


def _consumption(
    repo: ConsumptionMeters, park_id: str, grid: pd.DatetimeIndex, profile: MarketProfile
) -> tuple[dict[str | None, pd.Series], frozenset[str]]:
    """Each consumption meter's mean reading per market interval [MW], from the DR look-back
    to the month's end, keyed by enterprise (None = park meter), and the readings' quality."""
    step = f"{profile.interval_minutes}min"
    first = local_midnight(
        grid[0].tz_convert(profile.timezone).date() - timedelta(days=LOOKBACK_DAYS),
        profile.timezone,
    )
    end = grid[-1] + pd.Timedelta(step)
    history = pd.date_range(first, end, freq=step, inclusive="left")
    out: dict[str | None, pd.Series] = {}
    rows = repo.meters(park_id)
    for meter in rows:
        readings = repo.read(meter.id, first.to_pydatetime(), end.to_pydatetime())
        power = readings.resample(step, label="left", closed="left").mean().reindex(history)
        key = meter.enterprise_id if meter.kind == "tenant" else None
        out[key] = power if key not in out else out[key] + power
    ids = [m.id for m in rows]
    quality = repo.qualities(ids, grid[0].to_pydatetime(), end.to_pydatetime()) if ids else None
    return out, quality or frozenset()


def _btm_savings(
    telemetry: DeviceMeters,
    assets: list[EnrolledAsset],
    contracts: dict[str, Contract],
    meters: dict[str | None, pd.Series],
    grid: pd.DatetimeIndex,
    profile: MarketProfile,
) -> tuple[dict[str, Decimal], dict[str, list[str]]]:
    """Metered bill savings of every tenant on a ``shared_savings`` contract [currency], and
    per tenant why they cannot be computed."""
    step = f"{profile.interval_minutes}min"
    start, end = grid[0].to_pydatetime(), (grid[-1] + pd.Timedelta(step)).to_pydatetime()
    savings: dict[str, Decimal] = {}
    problems: dict[str, list[str]] = {}
    for owner, contract in contracts.items():
        if contract.scheme != "shared_savings":
            continue
        own = [a for a in assets if a.enterprise_id == owner]
        power = pd.DataFrame(
            {
                a.spec.id: telemetry.read(a.spec.id, start, end)
                .resample(step, label="left", closed="left")
                .mean()
                .reindex(grid)
                for a in own
            },
            index=grid,
        )
        value, found = tenant_btm_savings(
            owner,
            meters.get(owner),
            power,
            {a.spec.id: a.spec for a in own},
            profile.btm_tariff,
            profile.timezone,
            profile.interval_minutes,
        )
        problems[owner] = found
        if value is not None:
            savings[owner] = value
    return savings, problems


def agc_products(profile: MarketProfile) -> frozenset[str]:
    """Ids of the profile's AGC products paid by mileage x price x K."""
    return frozenset(
        p.id for p in profile.products if p.kind == "agc_fr" and p.performance.method == "k_value"
    )


def _agc_amounts(
    commands: AgcCommandLog,
    telemetry: DeviceMeters,
    assets: list[EnrolledAsset],
    awarded: dict[date, list[Award]],
    profile: MarketProfile,
) -> tuple[dict[tuple[date, str], Decimal], list[str]]:
    """AGC mileage pay per (day, product) from the stored commands and measured response."""
    rated = {a.spec.id: a.spec.power_mw for a in assets if isinstance(a.spec, BatterySpec)}
    amounts: dict[tuple[date, str], Decimal] = {}
    problems: list[str] = []
    for product_id in sorted(agc_products(profile)):
        params = profile.product(product_id).performance.params
        for day, awards in sorted(awarded.items()):
            mine = [a for a in awards if a.product_id == product_id and a.quantity_mw > 0]
            if not mine:
                continue
            start = local_midnight(day, profile.timezone).to_pydatetime()
            end = local_midnight(day + timedelta(days=1), profile.timezone).to_pydatetime()
            park_assets = {a.spec.id for a in assets}
            setpoints = {
                a: commands.read(a, start, end)
                for a in commands.asset_ids(start, end)
                if a in park_assets
            }
            missing = agc_missing(day, mine, setpoints)
            missing += [
                f"{day}: AGC asset {a} is not a battery" for a in set(setpoints) - set(rated)
            ]
            if missing:
                problems += missing
                continue
            actual = {a: telemetry.read(a, start, end) for a in setpoints}
            try:
                hourly = agc_hourly_pay(
                    setpoints,
                    actual,
                    rated,
                    mine,
                    KParams.from_profile(params),
                    profile.timezone,
                    float(params.get("m", 1.0)),
                )
            except InvalidInputError as error:
                problems.append(f"{day.isoformat()}: AGC performance: {error}")
                continue
            amounts[(day, product_id)] = agc_day_amount(hourly)
    return amounts, problems
