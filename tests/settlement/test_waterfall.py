"""The revenue waterfall: hand-computed statements per scheme and the to-the-cent identity."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vpp.domain.errors import InvalidInputError
from vpp.domain.market import load_market_profile
from vpp.domain.park import Contract
from vpp.domain.waterfall import EnterpriseMonth, btm_bill, btm_savings, build_waterfall

T0 = datetime(2026, 1, 1, tzinfo=UTC)
D = Decimal


def contract(enterprise: str, scheme: str = "percentage_split", **terms: object) -> Contract:
    return Contract(
        id=f"c-{enterprise}",
        enterprise_id=enterprise,
        scheme=scheme,
        currency="CNY",
        valid_from=T0,
        **terms,  # type: ignore[arg-type]
    )


CONTRACTS = {
    "a": contract("a", aggregator_share=0.2),
    "b": contract("b", "min_guarantee", aggregator_share=0.2, min_guarantee=500),
    "c": contract(
        "c", "capacity_plus_performance", aggregator_share=0.3, capacity_fee_per_mw_month=100
    ),
    "d": contract("d", "shared_savings", aggregator_share=0.1, savings_share=0.5),
}
MONTH = [
    EnterpriseMonth("a", {"spot_energy": D("1000.00")}, shortfall_mwh=3.0),
    EnterpriseMonth("b", {"spot_energy": D("200.00")}, shortfall_mwh=1.0),
    EnterpriseMonth("c", {"spot_energy": D("400.00")}, nominated_mw=2.0, performance_ratio=0.75),
    EnterpriseMonth("d", {}, btm_savings=D("300.00")),
]


def test_each_scheme_by_hand() -> None:
    w = build_waterfall(MONTH, CONTRACTS, penalties=D("-80.00"), unattributed=D("15.25"))
    # Penalty -80 split by shortfall 3:1 -> a -60, b -20.
    # a: 1000 - 60 = 940, aggregator 20 % = 188 -> 752.
    assert w.enterprise_total("a") == D("752.00")
    # b: 200 - 20 = 180, 20 % = 36 -> 144, below the guarantee 500: top-up 356 -> 500.
    assert w.enterprise_total("b") == D("500.00")
    assert [x.amount for x in w.enterprise_lines["b"]][-1] == D("356.00")
    # c: 400, 30 % = 120 -> 280, capacity 100 x 2 MW x 0.75 = 150 -> 430.
    assert w.enterprise_total("c") == D("430.00")
    # d: no market revenue; pays 50 % of 300 savings = 150.
    assert w.enterprise_total("d") == D("-150.00")
    # aggregator: 188 + 36 - 356 + 120 - 150 + 150 + 15.25 = 3.25.
    assert w.aggregator_total == D("3.25")
    assert w.market_total == D("1535.25")  # 1600 - 80 + 15.25
    assert w.reconciles


def test_aggregator_bears_penalty_when_the_contract_says_so() -> None:
    contracts = {**CONTRACTS, "a": contract("a", penalty_pass_through="aggregator_bears")}
    w = build_waterfall(MONTH, contracts, penalties=D("-80.00"))
    assert w.enterprise_total("a") == D("800.00")  # 1000 - 20 %
    borne = [x for x in w.aggregator_lines if x.label.startswith("Penalties borne")]
    assert [x.amount for x in borne] == [D("-60.00")]
    assert w.reconciles


def test_no_shortfall_means_the_aggregator_carries_the_penalty() -> None:
    only = [EnterpriseMonth("a", {"spot_energy": D("10.00")})]
    w = build_waterfall(only, CONTRACTS, penalties=D("-4.00"))
    assert w.enterprise_total("a") == D("8.00")
    assert w.aggregator_total == D("-2.00")  # 2.00 share - 4.00 penalty


def test_missing_contract_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="record a revenue-sharing contract"):
        build_waterfall([EnterpriseMonth("zz", {})], CONTRACTS)


def test_btm_savings_by_hand() -> None:
    profile = load_market_profile("cn-shandong")
    assert profile.btm_tariff is not None
    tz = profile.timezone
    index = profile.day_intervals(pd.Timestamp("2026-03-18").date())
    local_hour = index.tz_convert(tz).hour
    actual = pd.Series(1.0, index=index).where(~((local_hour >= 16) & (local_hour < 22)), 0.5)
    without = pd.Series(1.0, index=index)
    without.iloc[12] = 1.2  # 03:00 local, valley 250 CNY/MWh
    # energy: 0.5 MW x 6 h x 1000 = 3000; + 0.2 MW x 0.25 h x 250 = 12.5
    # demand: (1200 - 1000) kW x 38 CNY/kW-month = 7600
    saved = btm_savings(actual, without, profile.btm_tariff, tz, 15)
    assert saved == D("10612.50")
    bill = btm_bill(actual, profile.btm_tariff, tz, 15)
    assert bill.peak_kw == pytest.approx(1000.0)


def test_bill_refuses_missing_intervals() -> None:
    profile = load_market_profile("cn-shandong")
    assert profile.btm_tariff is not None
    index = pd.date_range("2026-03-18", periods=4, freq="15min", tz="UTC")
    load = pd.Series([1.0, None, 1.0, 1.0], index=index, dtype=float)
    with pytest.raises(InvalidInputError, match="import the meter data"):
        btm_bill(load, profile.btm_tariff, profile.timezone, 15)


cents = st.integers(min_value=-(10**9), max_value=10**9).map(lambda c: Decimal(c) / 100)
shares = st.integers(min_value=0, max_value=100).map(lambda p: p / 100)


@st.composite
def months(draw: st.DrawFn) -> tuple[list[EnterpriseMonth], dict[str, Contract], Decimal, Decimal]:
    n = draw(st.integers(min_value=1, max_value=12))
    enterprises, contracts = [], {}
    for k in range(n):
        eid = f"e{k}"
        scheme = draw(
            st.sampled_from(
                ["percentage_split", "capacity_plus_performance", "min_guarantee", "shared_savings"]
            )
        )
        contracts[eid] = contract(
            eid,
            scheme,
            aggregator_share=draw(shares),
            capacity_fee_per_mw_month=draw(st.floats(0, 1e5)),
            min_guarantee=draw(st.floats(0, 1e6)),
            savings_share=draw(shares),
            penalty_pass_through=draw(
                st.sampled_from(["pro_rata_shortfall", "aggregator_bears", "none"])
            ),
        )
        products = draw(st.lists(st.sampled_from(["spot_energy", "agc_fr", "dr"]), unique=True))
        enterprises.append(
            EnterpriseMonth(
                eid,
                {p: draw(cents) for p in products},
                shortfall_mwh=draw(st.floats(0, 1e4)),
                nominated_mw=draw(st.floats(0, 500)),
                performance_ratio=draw(st.none() | st.floats(0, 2)),
                btm_savings=draw(st.none() | cents),
            )
        )
    penalties = -abs(draw(cents))
    return enterprises, contracts, penalties, draw(cents)


@settings(max_examples=150, deadline=None)
@given(months())
def test_statements_sum_to_the_market_total_to_the_cent(
    month: tuple[list[EnterpriseMonth], dict[str, Contract], Decimal, Decimal],
) -> None:
    enterprises, contracts, penalties, unattributed = month
    w = build_waterfall(enterprises, contracts, penalties=penalties, unattributed=unattributed)
    revenue = sum((v for e in enterprises for v in e.revenue.values()), Decimal("0"))
    assert w.market_total == revenue + penalties + unattributed
    every = [x for lines in w.enterprise_lines.values() for x in lines] + w.aggregator_lines
    assert all(x.amount == x.amount.quantize(Decimal("0.01")) for x in every)
    assert sum((x.amount for x in every), Decimal("0")) == w.market_total
    assert w.reconciles
