"""The metered parts of a month: park consumption, behind-the-meter savings, DR events, AGC pay.

Each function is pure and takes the stored series as arguments; ``vpp.services.measured_month``
reads them and ``vpp.services.settle_month`` uses the results. A missing reading is never
filled: it stays NaN, and what could not be computed is returned as a readable problem line,
so the month is incomplete rather than wrong.

* Park consumption is the park's grid-connection meter when there is one, else the sum of the
  tenants' consumption meters (NaN on an interval where any tenant lacks a reading).
* Behind-the-meter savings of a tenant (``shared_savings`` contracts, market-rules §4.2): its
  bill under the profile's ``btm_tariff`` on the metered grid draw, against the bill on the
  draw it would have had without the VPP, i.e. with every dispatched asset at its declared
  baseline (batteries idle, flexible loads unshifted, backup generators off). The tenant meter
  reads consumption (>= 0), so grid draw = consumption - output of its own batteries, PV, wind
  and backup generators.
* AGC mileage pay (market-rules §1.5): per asset and hour, mileage x cleared mileage price x
  K from the measured response to the stored AGC commands (``vpp.domain.agc``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

import numpy as np
import pandas as pd

from vpp.domain.agc import KParams, hourly_mileage_pay, score_commands
from vpp.domain.assets import AssetSpec, BackupGeneratorSpec, BatterySpec, PvSpec, WindSpec
from vpp.domain.bids import Award
from vpp.domain.declared_baseline import asset_baseline
from vpp.domain.demand_response import DrEvent, DrResult, event_days, settle_dr_event
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import BtmTariff, Product
from vpp.domain.settlement import to_money
from vpp.domain.waterfall import btm_savings


def park_consumption(
    grid: pd.DatetimeIndex,
    park_meter_mw: pd.Series | None,
    tenant_mw: Mapping[str, pd.Series],
) -> pd.Series | None:
    """Park consumption on ``grid`` [MW]: the park meter, else the sum of the tenant meters.

    Returns None when the park has no consumption meter at all; NaN marks an interval without
    a reading (on the park meter, or on any tenant meter when summing).
    """
    if park_meter_mw is not None:
        return park_meter_mw.reindex(grid).rename("load_mw")
    if not tenant_mw:
        return None
    frame = pd.DataFrame({k: v.reindex(grid) for k, v in tenant_mw.items()}, index=grid)
    return frame.sum(axis=1, min_count=frame.shape[1]).rename("load_mw")


def grid_draws(
    consumption_mw: pd.Series,
    power_mw: pd.DataFrame,
    specs: Mapping[str, AssetSpec],
    tz: str,
) -> tuple[pd.Series, pd.Series]:
    """A tenant's metered grid draw and its draw without the VPP, both clipped at 0 [MW].

    Parameters
    ----------
    consumption_mw : pandas.Series
        The tenant's consumption meter per UTC interval start, >= 0 [MW].
    power_mw : pandas.DataFrame
        Metered power of each of its enrolled assets on the same index (sign convention:
        > 0 injection) [MW].
    specs : mapping of str to AssetSpec
        The assets' specs, for their declared baselines.
    tz : str
        Market timezone.
    """
    index = pd.DatetimeIndex(consumption_mw.index)
    sources = BatterySpec | PvSpec | WindSpec | BackupGeneratorSpec  # not in the consumption
    own = [a for a in power_mw.columns if isinstance(specs[a], sources)]
    actual = consumption_mw - power_mw[own].sum(axis=1, min_count=0)
    shift = pd.Series(0.0, index=index)
    for a in power_mw.columns:
        if isinstance(specs[a], PvSpec | WindSpec):
            continue  # renewables are not dispatched for the tenant's bill: same in both bills
        shift = shift + power_mw[a] - asset_baseline(specs[a], index, tz)
    return actual.clip(lower=0), (actual + shift).clip(lower=0)


def tenant_btm_savings(
    enterprise_id: str,
    consumption_mw: pd.Series | None,
    power_mw: pd.DataFrame,
    specs: Mapping[str, AssetSpec],
    tariff: BtmTariff | None,
    tz: str,
    interval_minutes: int,
) -> tuple[Decimal | None, list[str]]:
    """Bill saved by the VPP for one tenant over the month [currency], or why it cannot be.

    ``consumption_mw`` and ``power_mw`` cover every interval of the month; any NaN in them
    leaves the savings uncomputed and is reported.
    """
    if tariff is None:
        return None, [f"{enterprise_id}: shared savings need the profile's btm_tariff"]
    if consumption_mw is None:
        return None, [f"{enterprise_id}: shared savings need a tenant consumption meter"]
    problems = []
    if gaps := int(consumption_mw.isna().sum()):
        problems.append(f"{enterprise_id}: {gaps} intervals without consumption readings")
    for a in power_mw.columns:
        if gaps := int(power_mw[a].isna().sum()):
            problems.append(f"{enterprise_id}: {a}: {gaps} intervals without meter data")
    if problems:
        return None, problems
    actual, without = grid_draws(consumption_mw, power_mw, specs, tz)
    return btm_savings(actual, without, tariff, tz, interval_minutes), []


def settle_dr_events(
    events: list[DrEvent],
    history: list[DrEvent],
    consumption_mw: Mapping[str | None, pd.Series],
    products: Mapping[str, Product],
    tz: str,
    interval_minutes: int,
) -> tuple[list[DrResult], list[str]]:
    """Settle each of ``events`` against its resource's consumption meter.

    ``history`` holds every stored event from the start of the baselines' look-back (the
    events themselves included): their days are excluded from the baselines.
    ``consumption_mw`` maps an enterprise id (None = the park) to its meter [MW].
    """
    results, problems = [], []
    for event in events:
        name = f"DR event {event.id} ({event.product_id}, {event.enterprise_id or 'park'})"
        meter = consumption_mw.get(event.enterprise_id)
        if meter is None:
            problems.append(f"{name}: no consumption meter to measure it")
            continue
        product = products.get(event.product_id)
        if product is None:
            problems.append(f"{name}: the profile has no product {event.product_id}")
            continue
        excluded = event_days(history, tz, event.enterprise_id)
        try:
            result = settle_dr_event(
                event, meter, product, tz, interval_minutes, excluded_days=excluded
            )
        except InvalidInputError as error:
            problems.append(f"{name}: {error}")
            continue
        if missing := len(result.performance.missing):
            problems.append(f"{name}: {missing} event intervals without consumption readings")
        results.append(result)
    return results, problems


def agc_hourly_pay(
    setpoints_mw: Mapping[str, pd.Series],
    actual_mw: Mapping[str, pd.Series],
    rated_mw: Mapping[str, float],
    awards: list[Award],
    params: KParams,
    tz: str,
    m: float = 1.0,
) -> pd.DataFrame:
    """Hourly AGC mileage pay per asset from measured performance [currency].

    Parameters
    ----------
    setpoints_mw, actual_mw : mapping of str to pandas.Series
        Per asset, the AGC commands and the measured output on one regular, tz-aware index
        (e.g. 1 s or 4 s) [MW].
    rated_mw : mapping of str to float
        Rated power per asset [MW].
    awards : list of Award
        The day's awards of the AGC product; the hour's mileage price [currency/MW] is the
        mean award price of its intervals.
    params : KParams
        K-value rules of the product.
    tz : str
        Market timezone (hours are market hours).
    m : float
        The rules' scaling coefficient M [-].

    Returns
    -------
    pandas.DataFrame
        Rows per (asset, hour start UTC) with ``mileage_mw``, ``k_mean``, ``k_pay``, ``price``
        and ``pay`` [currency].
    """
    prices = pd.Series(
        [float(a.price) for a in awards],
        index=pd.DatetimeIndex([pd.Timestamp(a.interval_start) for a in awards]),
        dtype="float64",
    )
    if prices.empty:
        return pd.DataFrame(columns=["mileage_mw", "k_mean", "k_pay", "price", "pay"])
    local_hours = prices.index.tz_convert(tz).floor("h").tz_convert("UTC")
    hourly_price = prices.groupby(local_hours).mean()
    parts = {}
    for asset_id, setpoint in setpoints_mw.items():
        actual = actual_mw[asset_id].reindex(setpoint.index)
        scores = score_commands(setpoint, actual, rated_mw[asset_id], params)
        parts[asset_id] = hourly_mileage_pay(scores, hourly_price, tz, params, m)
    if not parts:
        return pd.DataFrame(columns=["mileage_mw", "k_mean", "k_pay", "price", "pay"])
    return pd.concat(parts, names=["asset_id", "hour"])


def agc_day_amount(hourly: pd.DataFrame) -> Decimal:
    """The day's total AGC mileage pay [currency], to the cent."""
    total = float(np.nansum(hourly["pay"].to_numpy(dtype=float))) if len(hourly) else 0.0
    return to_money(total)


def agc_missing(day: date, awards: list[Award], setpoints_mw: Mapping[str, pd.Series]) -> list[str]:
    """Problems when AGC was awarded on ``day`` but no command was stored to score."""
    if awards and not any(len(s) for s in setpoints_mw.values()):
        return [f"{day.isoformat()}: AGC awarded but no AGC commands stored to measure K"]
    return []
