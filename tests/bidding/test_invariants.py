"""Invariants of solved problems over random small fleets, reserves and price scenarios."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding import BidProblem, solve_day_ahead
from vpp.domain.assets import (
    BackupGeneratorSpec,
    BatterySpec,
    CurtailableLoadSpec,
    DailyWindow,
    EvFleetSpec,
    EvSession,
    PvSpec,
    ShiftableLoadSpec,
    ThermalSpec,
)
from vpp.domain.market import MarketProfile

DAY = date(2024, 6, 3)


def battery_strategy(k: int) -> st.SearchStrategy[BatterySpec]:
    return st.builds(
        BatterySpec,
        id=st.just(f"bess-{k}"),
        power_mw=st.floats(0.2, 5.0),
        energy_mwh=st.floats(0.2, 10.0),
        round_trip_efficiency=st.floats(0.7, 1.0),
        soc_min=st.floats(0.0, 0.2),
        soc_max=st.floats(0.8, 1.0),
        soc_initial=st.floats(0.3, 0.7),
        degradation_cost_per_mwh=st.floats(0.0, 30.0),
    )


fleets = st.integers(1, 3).flatmap(lambda n: st.tuples(*[battery_strategy(k) for k in range(n)]))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fleet=fleets,
    seed=st.integers(0, 10_000),
    scenarios=st.integers(1, 4),
    with_reserves=st.booleans(),
    negative=st.booleans(),
)
def test_random_battery_fleets_keep_every_invariant(
    de_lu: MarketProfile, check_result, fleet, seed, scenarios, with_reserves, negative
) -> None:
    rng = np.random.default_rng(seed)
    intervals = de_lu.day_intervals(DAY)
    n = len(intervals)
    base = 60 + 40 * np.sin(np.arange(n) / n * 4 * np.pi) - (80 if negative else 0)
    prices = np.round(base[None, :] + rng.normal(0, 20, (scenarios, n)), 2)
    reserves = (
        {"fcr": np.full(n, 12.0), "afrr_pos": np.full(n, 6.0), "afrr_neg": np.full(n, 4.0)}
        if with_reserves
        else {}
    )
    problem = BidProblem(
        de_lu,
        list(fleet),
        intervals,
        prices,
        base_load_mw=np.full(n, 1.0),
        reserve_prices=reserves,
        import_limit_mw=20.0,
        export_limit_mw=3.0,
        risk_weight=0.3 if scenarios > 1 else 0.0,
    )
    result = solve_day_ahead(problem)
    check_result(problem, result)


def test_mixed_park_solves_and_keeps_invariants(de_lu: MarketProfile, check_result) -> None:
    intervals = de_lu.day_intervals(DAY)
    n = len(intervals)
    hours = np.arange(n) / 4
    pv = np.clip(3 * np.sin((hours - 6) / 12 * np.pi), 0, None)
    assets = [
        BatterySpec(id="bess", power_mw=2, energy_mwh=4, degradation_cost_per_mwh=10),
        PvSpec(id="pv", capacity_mw=3, latitude=52, longitude=13),
        CurtailableLoadSpec(
            id="furnace",
            max_curtail_mw=1,
            max_duration_min=60,
            max_events_per_day=2,
            rebound_fraction=0.3,
            cost_per_mwh=20,
        ),
        ShiftableLoadSpec(
            id="batch", power_mw=0.5, energy_mwh=2, window=DailyWindow(start="08:00", end="20:00")
        ),
        ThermalSpec(id="cold", max_power_mw=1, baseline_power_mw=0.5, energy_capacity_mwh=1),
        EvFleetSpec(
            id="depot",
            chargers=4,
            charger_power_mw=0.05,
            sessions=[EvSession(arrival="18:00", departure="06:00", energy_mwh=0.2, vehicles=4)],
        ),
        BackupGeneratorSpec(id="diesel", power_mw=1, fuel_cost_per_mwh=250, max_run_h_per_day=2),
    ]
    prices = 60 + 50 * np.sin((hours - 9) / 24 * 2 * np.pi)
    problem = BidProblem(
        de_lu,
        assets,
        intervals,
        prices[None, :],
        base_load_mw=np.full(n, 2.0),
        renewable_mw={"pv": pv},
        reserve_prices={"fcr": np.full(n, 15.0)},
        import_limit_mw=6.0,
        export_limit_mw=4.0,
    )
    result = solve_day_ahead(problem)
    check_result(problem, result)
    power = result.assets["power_mw"]
    # shiftable batch gets its energy inside the window, EV sessions theirs
    assert -power["batch"].sum() * 0.25 == pytest.approx(2.0, abs=1e-6)
    assert (power["pv"] <= pv + 1e-9).all()
    assert (power["diesel"] >= -1e-9).all() and power["diesel"].sum() * 0.25 <= 2.0 + 1e-6


def test_scaled_copies_aggregate_exactly(de_lu: MarketProfile) -> None:
    intervals = de_lu.day_intervals(DAY)
    n = len(intervals)
    prices = (60 + 40 * np.sin(np.arange(n) / n * 4 * np.pi))[None, :]
    fleet = [
        BatterySpec(id=f"b{k}", power_mw=0.5 + 0.1 * k, energy_mwh=2 * (0.5 + 0.1 * k))
        for k in range(5)
    ]
    together = solve_day_ahead(BidProblem(de_lu, fleet, intervals, prices, aggregate=True))
    apart = solve_day_ahead(BidProblem(de_lu, fleet, intervals, prices, aggregate=False))
    assert together.expected_revenue == pytest.approx(apart.expected_revenue, rel=1e-7)
    # pro-rata split: each member's power is its share of the group's
    power = together.assets["power_mw"]
    share = power["b3"] / 0.8
    np.testing.assert_allclose(power["b0"] / 0.5, share, atol=1e-9)


def test_dst_day_has_92_intervals_and_solves(de_lu: MarketProfile, check_result) -> None:
    intervals = de_lu.day_intervals(date(2021, 3, 28))
    assert len(intervals) == 92
    prices = (50 + 30 * np.sin(np.arange(92) / 92 * 2 * np.pi))[None, :]
    problem = BidProblem(
        de_lu,
        [BatterySpec(id="b", power_mw=1, energy_mwh=2)],
        intervals,
        prices,
        reserve_prices={"fcr": np.full(92, 10.0)},
    )
    result = solve_day_ahead(problem)
    assert len(result.schedule) == 92
    check_result(problem, result)


def test_shandong_agc_and_five_segment_limit(shandong: MarketProfile, check_result) -> None:
    intervals = shandong.day_intervals(DAY)
    n = len(intervals)
    rng = np.random.default_rng(1)
    prices = np.round(
        400 + 200 * np.sin(np.arange(n) / n * 2 * np.pi) + rng.normal(0, 60, (12, n)), 2
    )
    fleet = [BatterySpec(id="bess", power_mw=20, energy_mwh=40)]
    problem = BidProblem(
        shandong, fleet, intervals, prices, reserve_prices={"agc_fr": np.full(n, 6.0)}
    )
    result = solve_day_ahead(problem)
    check_result(problem, result)
    energy = [c for c in result.bid_set.curves if c.product_id == "spot_energy"]
    assert energy and max(len(c.segments) for c in energy) <= 5


def test_reserves_are_offered_only_by_assets_consented_for_them(de_lu: MarketProfile) -> None:
    intervals = de_lu.day_intervals(DAY)
    n = len(intervals)
    prices = (60 + 40 * np.sin(np.arange(n) / n * 4 * np.pi))[None, :]
    twins = [BatterySpec(id=f"twin{k}", power_mw=2.0, energy_mwh=4.0) for k in range(2)]
    fcr = {"fcr": np.full(n, 40.0)}  # rich enough that every eligible battery holds FCR

    def held(eligible: dict[str, set[str]] | None) -> dict[str, float]:
        problem = BidProblem(
            de_lu, twins, intervals, prices, reserve_prices=fcr, reserve_eligible=eligible
        )
        result = solve_day_ahead(problem)
        plan = result.setpoints.frame()
        assert not plan.empty
        reserve = dict.fromkeys(("twin0", "twin1"), 0.0)
        for s in result.setpoints.setpoints:
            reserve[s.asset_id] = max(reserve[s.asset_id], s.reserve_up_mw, s.reserve_down_mw)
        return reserve

    both = held(None)
    assert both["twin0"] > 0 and both["twin1"] > 0
    only_one = held({"twin0": {"fcr"}})  # twin1's owner consented to energy only
    assert only_one["twin0"] > 0 and only_one["twin1"] == 0
    assert held({}) == {"twin0": 0.0, "twin1": 0.0}
