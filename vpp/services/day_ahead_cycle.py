"""One day-ahead cycle of a park: forecast, bid, submit, receive awards, dispatch, settle.

This is the operator's daily job end to end. It takes the market gateway and the dispatch
channel as ports, so the demo runs it against the simulated exchange and a recording channel,
and production against the real ones, through the same code. Delivery is reproduced from the
dispatched setpoints and the metered series: flexible assets that confirmed their setpoints
deliver them, those that did not stay at their baseline (and are recorded as non-delivery),
renewables deliver what was available up to any curtailment, tenant loads are metered.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date

import numpy as np
import pandas as pd

from bidding import BidProblem, BidResult, plan_dispatch, solve_day_ahead
from forecasting import quantile_paths
from vpp.domain.assets import BatterySpec, PvSpec, WindSpec
from vpp.domain.bids import Award, BidSet, DispatchPlan
from vpp.domain.declared_baseline import asset_baseline
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile
from vpp.domain.ports import DispatchChannel, MarketGateway
from vpp.domain.settlement import MarketSettlement, settle_market
from vpp.services.forecast_park import ParkForecasts, forecast_park
from vpp.services.park_file import ParkData
from vpp.services.settle_day import DaySettlement, settle_day

Step = Callable[[str], None]


@dataclass(frozen=True)
class CycleResult:
    """Everything a day-ahead cycle produced."""

    day: date
    profile: MarketProfile
    forecasts: ParkForecasts
    bids: BidResult
    bid_set: BidSet
    receipt: str
    awards: list[Award]
    plan: DispatchPlan
    confirmed: list[str]
    delivered_mw: pd.DataFrame
    realised_price: pd.Series
    market: MarketSettlement
    settlement: DaySettlement
    notes: list[str] = field(default_factory=list)
    simulated_assets: list[str] = field(default_factory=list)
    """Assets whose readings of the day were simulated (replays only)."""

    def energy_awarded_mwh(self) -> tuple[float, float]:
        """Energy sold and bought in the day-ahead awards [MWh], both >= 0."""
        hours = self.profile.interval_minutes / 60
        energy = {p.id for p in self.profile.products if p.kind == "energy"}
        sold = sum(
            a.quantity_mw * hours
            for a in self.awards
            if a.product_id in energy and a.side == "sell"
        )
        bought = sum(
            a.quantity_mw * hours for a in self.awards if a.product_id in energy and a.side == "buy"
        )
        return sold, bought

    @property
    def delivered_net_mw(self) -> pd.Series:
        """Metered park net position [MW] (> 0 export)."""
        return self.delivered_mw.sum(axis=1).rename("net_mw")


def build_bid_problem(
    data: ParkData, profile: MarketProfile, forecasts: ParkForecasts, *, scenarios: int
) -> BidProblem:
    """Turn a park's forecasts and consented, verified assets into the optimiser's input.

    An asset with a declared outage anywhere in the delivery day is left out of the whole
    day's offer (the bid would otherwise promise flexibility it cannot deliver).

    The price scenarios are ``scenarios`` comonotone quantile paths of the price forecast: the
    curves are deliverable in any hour-by-hour mix (``BidProblem.deliverable_curves``) and no
    risk is weighed, so each interval's price distribution is all that counts."""
    energy = profile.enabled_products("energy")[0]
    intervals = profile.day_intervals(forecasts.day)
    step = pd.Timedelta(minutes=profile.interval_minutes)
    down = data.out_of_service(intervals[0].to_pydatetime(), (intervals[-1] + step).to_pydatetime())
    assets = [
        a for a in data.portfolio.offerable(energy.id, forecasts.issue_time) if a.id not in down
    ]
    if not assets:
        raise InvalidInputError(
            f"no asset of {data.park.id} has consent for {energy.id}",
            hint="record the enterprises' consent before bidding",
        )
    price_paths = quantile_paths(forecasts.price, scenarios)
    # each asset holds only the reserve products its owner consented to
    reserve_ids = [p.id for p in profile.enabled_products() if p.kind != "energy"]
    consented = {
        pid: {a.id for a in data.portfolio.offerable(pid, forecasts.issue_time)}
        for pid in reserve_ids
    }
    eligible = {a.id: {pid for pid in reserve_ids if a.id in consented[pid]} for a in assets}
    renewables = {
        asset_id: f.median.reindex(intervals).clip(lower=0).to_numpy()
        for asset_id, f in forecasts.generation.items()
        if any(a.id == asset_id for a in assets)
    }
    return BidProblem(
        profile=profile,
        assets=assets,
        intervals=intervals,
        price_scenarios=price_paths,
        base_load_mw=forecasts.inflexible_load_mw().reindex(intervals).to_numpy(),
        renewable_mw=renewables,
        reserve_prices={
            k: f.median.reindex(intervals).to_numpy() for k, f in forecasts.reserve_prices.items()
        },
        import_limit_mw=data.park.import_limit_mw,
        export_limit_mw=data.park.export_limit_mw,
        reserve_eligible=eligible,
    )


def realised(data: ParkData, column: str, intervals: pd.DatetimeIndex) -> pd.Series:
    """Metered or published values of ``column`` on ``intervals``; refuses a day with gaps."""
    values = data.series[column].reindex(intervals)
    if values.isna().any():
        first = values.index[values.isna()][0]
        raise InvalidInputError(
            f"{column} has no value at {first.isoformat()} on the delivery day",
            hint="choose a day with complete data",
        )
    return values


def asset_baselines(data: ParkData, profile: MarketProfile, day: date) -> pd.DataFrame:
    """Each enrolled asset's declared baseline on ``day``, renewables at their metered output [MW]."""
    intervals = profile.day_intervals(day)
    baselines: dict[str, pd.Series] = {}
    for enrolled in data.portfolio.assets:
        spec = enrolled.spec
        column = data.definition.generation.get(spec.id)
        available = realised(data, column, intervals).clip(lower=0) if column else None
        baselines[spec.id] = asset_baseline(spec, intervals, profile.timezone, available)
    return pd.DataFrame(baselines, index=intervals)


def delivered_power(
    data: ParkData,
    profile: MarketProfile,
    day: date,
    plan: DispatchPlan,
    confirmed: list[str],
    baselines: pd.DataFrame,
    measured: pd.DataFrame | None = None,
    *,
    simulate_missing: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """Metered power per asset and per tenant load on ``day`` [MW] (sign convention), and the
    assets whose readings were simulated.

    An asset whose meter (``measured``, one column per asset) covers the whole day delivered
    what it measured. Otherwise, in a replay (``simulate_missing``), its reading is simulated:
    the setpoints it confirmed, its baseline when it confirmed none, a renewable's available
    output (its recorded reading) up to any curtailment. Outside a replay a missing reading is an error that names
    the assets, since settling on invented numbers would pay for energy nobody measured.
    """
    intervals = profile.day_intervals(day)
    setpoints = plan.frame().reindex(intervals)
    columns: dict[str, pd.Series] = {}
    simulated: list[str] = []
    missing: list[str] = []
    for enrolled in data.portfolio.assets:
        spec = enrolled.spec
        renewable = isinstance(spec, PvSpec | WindSpec)
        complete = False
        if measured is not None and spec.id in measured:
            reading = measured[spec.id].reindex(intervals)
            complete = bool(reading.notna().all())
            # a replay's renewable reading is what was available, before any curtailment
            if complete and not (simulate_missing and renewable):
                columns[spec.id] = reading
                continue
        if not simulate_missing:
            missing.append(spec.id)
            continue
        if not complete:
            simulated.append(spec.id)
        baseline = baselines[spec.id]
        if renewable:
            ordered = setpoints.get(spec.id)
            columns[spec.id] = (
                baseline if ordered is None else np.minimum(baseline, ordered.fillna(np.inf))
            )
        elif spec.id in confirmed and spec.id in setpoints:
            columns[spec.id] = setpoints[spec.id].fillna(0.0)
        else:
            columns[spec.id] = baseline
    if missing:
        raise InvalidInputError(
            f"no complete meter readings on {day} for {', '.join(missing)}",
            hint="upload their telemetry (POST /v1/enterprises/{id}/assets/{asset}/telemetry) "
            "and advance the pipeline again",
        )
    for load in data.definition.loads:
        if load.column is not None:
            metered = realised(data, load.column, intervals)
        else:
            assert load.declared is not None
            metered = load.declared.profile(intervals, profile.timezone)
        columns[f"load:{load.enterprise_id}"] = -metered
    return pd.DataFrame(columns, index=intervals), simulated


@dataclass(frozen=True)
class PreparedBids:
    """The forecasts, the optimiser's input and its bids for one delivery day."""

    day: date
    forecasts: ParkForecasts
    problem: BidProblem
    bids: BidResult
    bid_set: BidSet


@dataclass(frozen=True)
class DeliveredDay:
    """What a dispatched day delivered and how the market and the tenants settle it."""

    delivered_mw: pd.DataFrame
    realised_price: pd.Series
    market: MarketSettlement
    settlement: DaySettlement
    simulated: list[str] = field(default_factory=list)


def run_key(park_id: str, market_id: str, day: date) -> str:
    """The id of a park's run and bid set for ``day``; also its idempotency key at the market."""
    return f"{park_id}:{market_id}:{day}"


def cycle_key(data: ParkData, profile: MarketProfile, day: date) -> str:
    """The id of a park's bid set for ``day``; also its idempotency key at the market."""
    return run_key(data.park.id, profile.market_id, day)


def issue_forecasts(data: ParkData, profile: MarketProfile, day: date) -> ParkForecasts:
    """Forecast everything the bid of ``day`` needs (the forecast stage)."""
    if profile.market_id != data.park.market_id:
        raise InvalidInputError(
            f"park {data.park.id} trades in {data.park.market_id}, not {profile.market_id}"
        )
    return forecast_park(data, profile, day)


def optimise_bids(
    data: ParkData, profile: MarketProfile, forecasts: ParkForecasts, *, scenarios: int = 9
) -> PreparedBids:
    """Optimise the bids of ``forecasts.day`` for the park's consented assets (the bid stage)."""
    problem = build_bid_problem(data, profile, forecasts, scenarios=scenarios)
    bids = solve_day_ahead(problem)
    bid_set = bids.bid_set.model_copy(update={"id": cycle_key(data, profile, forecasts.day)})
    return PreparedBids(forecasts.day, forecasts, problem, bids, bid_set)


def prepare_bids(
    data: ParkData,
    profile: MarketProfile,
    day: date,
    *,
    scenarios: int = 9,
    step: Step | None = None,
) -> PreparedBids:
    """Forecast the park for ``day`` and optimise its bids (deterministic)."""
    say = step or (lambda _: None)
    say("forecasting")
    forecasts = issue_forecasts(data, profile, day)
    say("optimising bids")
    return optimise_bids(data, profile, forecasts, scenarios=scenarios)


def non_delivery_notes(plan: DispatchPlan, confirmed: list[str]) -> list[str]:
    """One note per asset that was sent setpoints but never confirmed them."""
    return [
        f"{asset}: no confirmation, recorded as non-delivery"
        for asset in sorted({s.asset_id for s in plan.setpoints} - set(confirmed))
    ]


def settle_delivery(
    data: ParkData,
    profile: MarketProfile,
    day: date,
    awards: list[Award],
    plan: DispatchPlan,
    confirmed: list[str],
    measured: pd.DataFrame | None = None,
    *,
    simulate_missing: bool = True,
) -> DeliveredDay:
    """Measure what ``day`` delivered and settle it with the market and the tenants.

    ``measured`` holds the assets' meter readings of the day; see :func:`delivered_power` for
    what happens where they are missing."""
    realised_price = realised(data, data.definition.prices.day_ahead, profile.day_intervals(day))
    baselines = asset_baselines(data, profile, day)
    delivered, simulated = delivered_power(
        data, profile, day, plan, confirmed, baselines, measured, simulate_missing=simulate_missing
    )
    market = settle_market(awards, delivered.sum(axis=1), realised_price, profile)
    settlement = settle_day(data, profile, day, plan, delivered, baselines, realised_price, market)
    return DeliveredDay(delivered, realised_price, market, settlement, simulated)


def assemble_cycle(
    prepared: PreparedBids,
    profile: MarketProfile,
    receipt: str,
    awards: list[Award],
    plan: DispatchPlan,
    confirmed: list[str],
    delivered: DeliveredDay,
) -> CycleResult:
    """The full record of a cycle from its stages' outputs."""
    notes = non_delivery_notes(plan, confirmed)
    notes.extend(
        f"forecast {key}: {', '.join(f.flags)}"
        for key, f in prepared.forecasts.all().items()
        if f.flags
    )
    return CycleResult(
        prepared.day,
        profile,
        prepared.forecasts,
        prepared.bids,
        prepared.bid_set,
        receipt,
        awards,
        plan,
        confirmed,
        delivered.delivered_mw,
        delivered.realised_price,
        delivered.market,
        delivered.settlement,
        notes,
        list(delivered.simulated),
    )


def run_day_ahead_cycle(
    data: ParkData,
    profile: MarketProfile,
    day: date,
    gateway: MarketGateway,
    channel: DispatchChannel,
    *,
    scenarios: int = 9,
    step: Step | None = None,
) -> CycleResult:
    """Run forecast -> bid -> submit -> awards -> dispatch -> settle for delivery ``day``.

    The same stages the scheduled pipeline (``vpp.jobs``) runs one by one, here in a single call
    with the bids approved at once, as the demo and replays need.
    """
    say = step or (lambda _: None)
    realised(data, data.definition.prices.day_ahead, profile.day_intervals(day))
    prepared = prepare_bids(data, profile, day, scenarios=scenarios, step=step)
    bid_set = prepared.bid_set.model_copy(update={"status": "approved"})

    say("submitting and clearing")
    receipt = gateway.submit(bid_set, idempotency_key=bid_set.id)
    awards = list(gateway.awards(profile.market_id, day))

    say("dispatching")
    plan = plan_dispatch(prepared.problem, awards)
    confirmed = list(channel.send(plan.setpoints))

    say("settling")
    delivered = settle_delivery(data, profile, day, awards, plan, confirmed)
    return assemble_cycle(
        replace(prepared, bid_set=bid_set), profile, receipt, awards, plan, confirmed, delivered
    )


def battery_soc_mwh(plan: DispatchPlan, data: ParkData, interval_minutes: int) -> pd.DataFrame:
    """State of charge of each battery along the plan [MWh], from its setpoints."""
    frame = plan.frame()
    result: dict[str, pd.Series] = {}
    hours = interval_minutes / 60
    for enrolled in data.portfolio.assets:
        spec = enrolled.spec
        if not isinstance(spec, BatterySpec) or spec.id not in frame:
            continue
        power = frame[spec.id].fillna(0.0)
        eta = spec.one_way_efficiency
        change = np.where(power < 0, -power * eta, -power / eta) * hours
        result[spec.id] = (
            spec.soc_initial * spec.energy_mwh + pd.Series(change, index=power.index).cumsum()
        )
    return pd.DataFrame(result)
