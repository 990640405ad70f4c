"""The metered parts of a month, end to end through the database, every figure by hand.

On top of the seeded February 2026 (``conftest``): tenant consumption meters (zero-carbon report,
shared savings), a stored DR event settled on a similar-days baseline that leaves an earlier
stored event day out, and AGC mileage paid with the K value of measured responses.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from sqlmodel import Session

from tests.settlement.conftest import MONTH, TZ, Seeder
from tests.settlement.test_settle_cli import run
from vpp.db.engine import make_engine, session_scope
from vpp.db.repositories import (
    AgcSetpointRepository,
    AwardRepository,
    BidRepository,
    ConsumptionRepository,
    ContractRepository,
    DrEventRepository,
    TelemetryRepository,
)
from vpp.db.repositories.settlement_stores import settlement_stores
from vpp.domain.bids import Award, BidSet
from vpp.domain.demand_response import DrEvent
from vpp.domain.market import load_market_profile
from vpp.domain.park import Contract
from vpp.domain.timegrid import local_midnight
from vpp.services.park_month_inputs import load_park_month
from vpp.services.settle_measured import park_consumption
from vpp.services.settle_month import (
    MonthSettlement,
    award_amounts,
    month_intervals,
    settle_month,
    zero_carbon_month,
)

D = Decimal
PROFILE = load_market_profile("cn-shandong")
GRID = month_intervals(MONTH, TZ, 15)


def local(day: str, clock: str = "00:00") -> pd.Timestamp:
    """A market-local instant in UTC."""
    return pd.Timestamp(f"{day} {clock}", tz=TZ).tz_convert("UTC")


def settled(url: str, edit: Callable[[Session], None]) -> MonthSettlement:
    """Apply ``edit`` to the seeded database, then load and settle the month."""
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            edit(session)
        with session_scope(engine) as session:
            return settle_month(load_park_month(settlement_stores(session), "p", MONTH, PROFILE))
    finally:
        engine.dispose()


def meters(session: Session, **readings: pd.Series) -> None:
    repo = ConsumptionRepository(session)
    for owner, values in readings.items():
        kind = "park" if owner == "park" else "tenant"
        repo.add_meter(f"m-{owner}", "p", kind, None if kind == "park" else owner)
        repo.upsert_series(f"m-{owner}", values)


def test_park_consumption_prefers_the_park_meter_and_never_fills_gaps() -> None:
    grid = GRID[:4]
    a = pd.Series([1.0, 1.0, np.nan, 1.0], index=grid)
    b = pd.Series([2.0, 2.0, 2.0, 2.0], index=grid)
    summed = park_consumption(grid, None, {"a": a, "b": b})
    assert summed is not None
    assert summed.iloc[[0, 1, 3]].tolist() == [3.0, 3.0, 3.0] and np.isnan(summed.iloc[2])
    park = park_consumption(grid, pd.Series(5.0, index=grid[:3]), {"a": a, "b": b})
    assert park is not None and park.iloc[:3].tolist() == [5.0] * 3 and np.isnan(park.iloc[3])
    assert park_consumption(grid, None, {}) is None


def test_tenant_meters_give_the_zero_carbon_indicators(seed_month: Seeder) -> None:
    # a draws 2 MW, b 1 MW on every interval: 3 MW x 672 h = 2,016 MWh; PV 1 MW at 12:00-13:00
    # local on 28 days = 28 MWh, all self-consumed; imports 1,988 MWh x 0.5366 t/MWh.
    url = seed_month(with_pv=True)
    result = settled(
        url, lambda s: meters(s, a=pd.Series(2.0, index=GRID), b=pd.Series(1.0, index=GRID))
    )
    assert result.inputs.load_mw is not None and result.inputs.load_mw.sum() == 3.0 * len(GRID)
    report = zero_carbon_month(result.inputs, PROFILE.carbon_green)
    assert report.load_mwh == pytest.approx(2016.0)
    assert report.self_consumed_mwh == pytest.approx(28.0)
    assert report.grid_import_mwh == pytest.approx(1988.0)
    assert report.emissions_t == pytest.approx(1988.0 * 0.5366)
    assert report.indicator("self_use_of_generation").value == pytest.approx(1.0)
    assert report.indicator("share_of_load").value == pytest.approx(28 / 2016)
    assert report.indicator("share_of_load").status == "fail"  # 1.4 % < 30 %


def test_a_park_meter_wins_and_missing_readings_are_reported(seed_month: Seeder) -> None:
    url = seed_month(with_pv=True)
    gap = GRID.drop(local("2026-02-10", "09:00"))
    result = settled(
        url,
        lambda s: meters(s, a=pd.Series(2.0, index=GRID), b=pd.Series(1.0, index=gap)),
    )
    report = zero_carbon_month(result.inputs, PROFILE.carbon_green)
    assert report.load_mwh is None
    reasons = {i.reason for i in report.indicators}
    assert reasons == {f"1 of {len(GRID)} intervals lack park consumption data"}
    result = settled(url, lambda s: meters(s, park=pd.Series(5.0, index=GRID)))
    report = zero_carbon_month(result.inputs, PROFILE.carbon_green)
    assert report.load_mwh == pytest.approx(5.0 * 672)


SAVINGS_CONTRACT = Contract(
    id="c-a-savings",
    enterprise_id="a",
    scheme="shared_savings",
    aggregator_share=0.2,
    savings_share=0.5,
    currency="CNY",
    valid_from=datetime(2026, 1, 15, tzinfo=UTC),
)
"""Tenant a shares 50 % of its bill savings (and 20 % of market revenue)."""


def test_shared_savings_are_billed_on_the_metered_consumption(seed_month: Seeder) -> None:
    # Tenant a consumes 2 MW throughout; bat-a discharges 2 MW 18:00-19:00 local (peak band,
    # 1,000 CNY/MWh) every day and idles otherwise, so a draws 0 MW then instead of 2 MW:
    # 2 MW x 1 h x 28 days x 1,000 = 56,000.00 saved on energy; the 15-min peak demand is
    # 2 MW with and without the battery, so the demand charge is unchanged. A 50 % share of
    # the savings is 28,000.00 from a to the aggregator.
    url = seed_month()

    def edit(session: Session) -> None:
        meters(session, a=pd.Series(2.0, index=GRID))
        power = pd.Series(0.0, index=GRID)
        power[(GRID.tz_convert(TZ).hour == 18)] = 2.0
        TelemetryRepository(session).upsert_series("bat-a", power)
        ContractRepository(session).add(SAVINGS_CONTRACT)

    result = settled(url, edit)
    assert result.complete, result.problems()
    assert result.inputs.btm_savings == {"a": D("56000.00")}
    lines = {x.label: x.amount for x in result.waterfall.enterprise_lines["a"]}
    assert lines["Savings share 50% of bill savings 56000.00"] == D("-28000.00")
    assert result.waterfall.reconciles


def test_shared_savings_without_full_meter_data_make_the_month_incomplete(
    seed_month: Seeder,
) -> None:
    url = seed_month()

    def edit(session: Session) -> None:
        meters(session, a=pd.Series(2.0, index=GRID[:-4]))
        ContractRepository(session).add(SAVINGS_CONTRACT)

    result = settled(url, edit)
    assert not result.complete and result.inputs.btm_savings == {}
    assert "a: 4 intervals without consumption readings" in result.problems()
    # bat-a is only metered in its dispatched hour: 27 x 24 h x 4 intervals are missing
    assert f"a: bat-a: {len(GRID) - 28 * 4} intervals without meter data" in result.problems()


def dr_meter() -> pd.Series:
    """Tenant b's consumption from 18 December: 4 MW, except 1 MW all day on 29 January (a
    stored event day) and 3 MW 10:00-11:00 on 3 February (the event being settled)."""
    index = pd.date_range(local("2025-12-18"), local("2026-03-01"), freq="15min", inclusive="left")
    values = pd.Series(4.0, index=index)
    day = index.tz_convert(TZ).date
    values[day == date(2026, 1, 29)] = 1.0
    values[(index >= local("2026-02-03", "10:00")) & (index < local("2026-02-03", "11:00"))] = 3.0
    return values


def dr_event(day: str, clock: str, end: str) -> DrEvent:
    return DrEvent(
        park_id="p",
        enterprise_id="b",
        product_id="dr_peak_shaving",
        start=local(day, clock).to_pydatetime(),
        end=local(day, end).to_pydatetime(),
        committed_mw=1.0,
        price_per_mwh=D("2000"),
    )


@pytest.mark.parametrize("stored_earlier_event", [True, False])
def test_dr_event_baseline_leaves_stored_event_days_out(
    seed_month: Seeder, stored_earlier_event: bool
) -> None:
    # Similar days before Tue 3 Feb (5 workdays): 2 Feb, 30 Jan, [29 Jan: event], 28, 27, 26 Jan.
    # Excluding 29 Jan the baseline is 4 MW, delivery 4 - 3 = 1 MW = the commitment: ratio 1,
    # pay 1 MW x 1 h x 2,000 = 2,000.00. Had 29 Jan been used: (4 x 4 + 1) / 5 = 3.4 MW,
    # delivery 0.4 MW, ratio 0.4 < floor 0.5: nothing paid.
    url = seed_month()

    def edit(session: Session) -> None:
        meters(session, b=dr_meter())
        events = DrEventRepository(session)
        if stored_earlier_event:
            events.add(dr_event("2026-01-29", "10:00", "12:00"))
        events.add(dr_event("2026-02-03", "10:00", "11:00"))

    result = settled(url, edit)
    assert result.complete, result.problems()
    (dr,) = result.dr_results
    days = [date(2026, 2, 2), date(2026, 1, 30), date(2026, 1, 28), date(2026, 1, 27)]
    if stored_earlier_event:
        assert dr.baseline.days_used == tuple(sorted([*days, date(2026, 1, 26)]))
        assert dr.baseline.power_mw.unique().tolist() == [-4.0]  # consumption < 0
        assert dr.performance.ratio == pytest.approx(1.0)
        assert dr.performance.pay == D("2000.00")
    else:
        assert dr.baseline.days_used == tuple(sorted([*days, date(2026, 1, 29)]))
        assert dr.performance.ratio == pytest.approx(0.4)
        assert dr.performance.pay == D("0")
    pay = D("2000.00") if stored_earlier_event else D("0.00")
    market = award_amounts(result.inputs)
    row = market[market["product_id"] == "dr_peak_shaving"]
    assert row.to_dict("records") == [
        {"day": date(2026, 2, 3), "product_id": "dr_peak_shaving", "amount": pay}
    ]
    revenue = {x.label: x.amount for x in result.waterfall.enterprise_lines["b"]}
    assert sum(a for label, a in revenue.items() if "dr_peak_shaving" in label) == pay


def store_agc(session: Session, *, with_commands: bool = True) -> None:
    """An agc_fr award of 10 MW at 8 CNY/MW for 10:00-11:00 on 2 Feb, and bat-a's response."""
    start = local("2026-02-02", "10:00")
    hour = pd.date_range(start, periods=4, freq="15min")
    bid_set = BidSet(
        id="agc-2026-02-02",
        market_id="cn-shandong",
        delivery_day=date(2026, 2, 2),
        created_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    bids = BidRepository(session)
    bids.save(bid_set)
    for status in ("review", "approved", "submitted"):
        bids.set_status(bid_set.id, status)
    AwardRepository(session).save(
        bid_set.id,
        [
            Award(product_id="agc_fr", interval_start=t, side="sell", quantity_mw=10, price=8)
            for t in hour
        ],
    )
    if not with_commands:
        return
    seconds = pd.date_range(start, periods=60, freq="1s")
    setpoint = np.where((np.arange(60) >= 10) & (np.arange(60) < 40), 1.0, 0.0)
    actual = np.zeros(60)
    actual[12], actual[13:44], actual[44] = 0.5, 1.0, 0.5
    AgcSetpointRepository(session).upsert_series("bat-a", pd.Series(setpoint, index=seconds))
    TelemetryRepository(session).upsert_series("bat-a", pd.Series(actual, index=seconds))


def test_agc_mileage_is_paid_with_the_measured_k_value(seed_month: Seeder) -> None:
    # bat-a (2 MW): standard rate 2 MW/min, deadband 0.02 MW, tolerance E0 0.04 MW, T0 5 s.
    # Command 1 at 10 s, 0 -> 1 MW: moves at 12 s (T 2 s), on target at 13 s (1 MW in 1 s =
    # 60 MW/min): K1 = min(30, 3) = 3, K2 = 1 - 2/5 = 0.6, K3 = 1; K = 1.2 + 0.18 + 0.3 = 1.68.
    # Command 2 at 40 s, 1 -> 0 MW: moves at 44 s (T 4 s), on target at 45 s: K1 = 3,
    # K2 = 0.2, K3 = 1; K = 1.2 + 0.06 + 0.3 = 1.56. Hour: mileage 2 MW, mean K 1.62 (< cap 2,
    # >= entry 0.3), price 8 CNY/MW: 2 x 8 x 1.62 = 25.92 CNY, not 10 MW x 8 x 1 h = 80.00.
    url = seed_month()
    result = settled(url, store_agc)
    assert result.complete, result.problems()
    assert result.inputs.agc_amounts == {(date(2026, 2, 2), "agc_fr"): D("25.92")}
    market = award_amounts(result.inputs)
    assert market[market["product_id"] == "agc_fr"].to_dict("records") == [
        {"day": date(2026, 2, 2), "product_id": "agc_fr", "amount": D("25.92")}
    ]


def test_agc_awards_without_commands_are_reported(seed_month: Seeder) -> None:
    url = seed_month()
    result = settled(url, lambda s: store_agc(s, with_commands=False))
    assert not result.complete
    assert "2026-02-02: AGC awarded but no AGC commands stored to measure K" in result.problems()
    assert result.inputs.agc_amounts == {}


def test_month_grid_starts_at_local_midnight() -> None:
    assert GRID[0] == local_midnight(date(2026, 2, 1), TZ) and len(GRID) == 28 * 96


def test_settle_cli_lists_the_dr_events(
    seed_month: Seeder, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = seed_month()

    def edit(session: Session) -> None:
        meters(session, b=dr_meter())
        DrEventRepository(session).add(dr_event("2026-01-29", "10:00", "12:00"))
        DrEventRepository(session).add(dr_event("2026-02-03", "10:00", "11:00"))

    settled(url, edit)
    code, text = run(url, monkeypatch, "--month", MONTH)
    assert code == 0, text
    assert "demand-response events" in text
    assert "2026-02-03 10:00" in text and "100.0%" in text and "2,000.00" in text
    assert "reconciles to the cent" in text
