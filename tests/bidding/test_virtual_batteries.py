"""Virtual batteries: many unlike batteries modelled as a few, every device plan still feasible."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding import BidProblem, clear_day_ahead, solve_day_ahead
from bidding.aggregation import group_assets, nested_groups
from bidding.checks import plan_violations, reserve_rules_of
from bidding.dispatch import redispatch
from bidding.problem import prepare
from bidding.solve import JOINT_REDISPATCH_MAX
from vpp.domain.assets import BatterySpec
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile

DAY = date(2024, 6, 3)


def fleet(n: int, seed: int, soc_final: float | None = None) -> list[BatterySpec]:
    """Batteries of two products, in 1-4 racks, each starting the day at its own SoC."""
    rng = np.random.default_rng(seed)
    products = [(0.5, 2.0, 0.88), (1.0, 4.0, 0.85)]  # (MW per rack, hours, RTE)
    out = []
    for i in range(n):
        p0, hours, rte = products[i % 2]
        p = p0 * int(rng.integers(1, 5))
        out.append(
            BatterySpec(
                id=f"b{i}",
                power_mw=p,
                energy_mwh=p * hours,
                round_trip_efficiency=rte,
                soc_min=0.1,
                soc_max=0.9,
                soc_initial=float(rng.uniform(0.2, 0.8)),
                soc_final=soc_final,
                degradation_cost_per_mwh=float(rng.uniform(1.0, 8.0)),
            )
        )
    return out


def problem(
    profile: MarketProfile, assets: list[BatterySpec], reserves: bool = True, **options: object
) -> BidProblem:
    """Three price scenarios; with FCR and aFRR up offers unless ``reserves`` is False."""
    intervals = profile.day_intervals(DAY)
    n = len(intervals)
    rng = np.random.default_rng(3)
    hours = np.arange(n) / 4
    prices = 80 + 40 * np.sin((hours - 9) / 24 * 2 * np.pi) + rng.normal(0, 10, (3, n))
    reserve_prices = {"fcr": np.full(n, 12.0), "afrr_pos": np.full(n, 6.0)} if reserves else {}
    return BidProblem(
        profile,
        assets,
        intervals,
        np.round(prices, 2),
        reserve_prices=reserve_prices,
        import_limit_mw=50.0,
        export_limit_mw=50.0,
        **options,  # type: ignore[arg-type]
    )


def test_virtual_batteries_keep_every_device_feasible_and_lose_little(
    de_lu: MarketProfile, check_result
) -> None:
    # energy only: the exact problem of a larger fleet with reserves is a slow MIP for a test
    # (reserves are checked with the random fleets below)
    assets = fleet(24, seed=1)
    exact = solve_day_ahead(problem(de_lu, assets, reserves=False, virtual_groups=0))
    virtual_problem = problem(de_lu, assets, reserves=False, virtual_groups=6)
    virtual = solve_day_ahead(virtual_problem)
    check_result(virtual_problem, virtual)  # SoC, power, headroom of every member, re-derived
    assert set(virtual.assets["power_mw"].columns) == {a.id for a in assets}
    # an inner approximation: never better than exact; with 6 bins for 24 members, close
    assert virtual.expected_revenue <= exact.expected_revenue + 1e-6
    assert virtual.expected_revenue >= 0.75 * exact.expected_revenue
    finer = solve_day_ahead(problem(de_lu, assets, reserves=False, virtual_groups=12))
    assert finer.expected_revenue >= virtual.expected_revenue - 1e-6


def test_each_member_keeps_its_own_state_of_charge(de_lu: MarketProfile) -> None:
    assets = fleet(10, seed=2)
    result = solve_day_ahead(problem(de_lu, assets, virtual_groups=2))
    start = result.assets["soc_start_mwh"].iloc[0]
    for a in assets:
        assert start[a.id] == pytest.approx(a.soc_initial * a.energy_mwh, abs=1e-6)
        soc = result.assets["soc_mwh"][a.id]
        assert soc.min() >= a.soc_min * a.energy_mwh - 1e-6
        assert soc.max() <= a.soc_max * a.energy_mwh + 1e-6
        assert soc.iloc[-1] >= a.soc_initial * a.energy_mwh - 1e-6


def test_scaled_copies_in_one_bin_lose_nothing(de_lu: MarketProfile) -> None:
    assets = [
        BatterySpec(id=f"c{k}", power_mw=0.5 * (k + 1), energy_mwh=1.0 * (k + 1)) for k in range(6)
    ]
    exact = solve_day_ahead(problem(de_lu, assets, virtual_groups=0))
    virtual = solve_day_ahead(problem(de_lu, assets, virtual_groups=1))
    assert virtual.expected_revenue == pytest.approx(exact.expected_revenue, rel=1e-6)


def test_automatic_mode_only_beyond_the_threshold() -> None:
    small = fleet(30, seed=4)
    assert all(not g.virtual for g in group_assets(small))
    assert any(g.virtual for g in group_assets(small, virtual_groups=4))
    assert all(not g.virtual for g in group_assets(small, aggregate=False, virtual_groups=4))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(2, 12),
    bins=st.integers(1, 4),
    soc_final=st.one_of(st.none(), st.floats(0.15, 0.85)),
)
def test_random_fleets_split_into_feasible_device_plans(
    de_lu: MarketProfile, check_result, seed: int, n: int, bins: int, soc_final: float | None
) -> None:
    # a shared end-of-day target the members start above or below: bins whose targets cannot
    # share one schedule are halved until they can
    assets = fleet(n, seed, soc_final=soc_final)
    virtual_problem = problem(de_lu, assets, virtual_groups=bins)
    check_result(virtual_problem, solve_day_ahead(virtual_problem))


def test_a_negative_group_count_is_refused(de_lu: MarketProfile) -> None:
    with pytest.raises(InvalidInputError, match="virtual_groups must be >= 0"):
        solve_day_ahead(problem(de_lu, fleet(3, seed=0), reserves=False, virtual_groups=-1))


def test_coarse_virtual_batteries_are_unions_of_whole_fine_ones() -> None:
    assets = fleet(60, seed=5)
    nested = nested_groups(assets, virtual_groups=12, coarse_groups=3)
    assert nested is not None
    coarse = {g.id: set(g.members) for g in nested.coarse}
    assert len(nested.coarse) < len(nested.fine)
    fine_members = [m for g in nested.fine for m in g.members]
    assert sorted(fine_members) == sorted(a.id for a in assets)  # a partition
    share_sum: dict[str, float] = {}
    for g in nested.fine:
        top, share = nested.parent[g.id]
        assert set(g.members) <= coarse[top]
        share_sum[top] = share_sum.get(top, 0.0) + share
    for top, total in share_sum.items():  # the fine groups of a coarse one fill it exactly
        assert total == pytest.approx(1.0)
        assert (
            set().union(*(set(g.members) for g in nested.fine if nested.parent[g.id][0] == top))
            == coarse[top]
        )
    # no coarse level when it would not be coarser, or without virtual batteries
    assert nested_groups(assets, virtual_groups=12, coarse_groups=12) is None
    assert nested_groups(assets, virtual_groups=0, coarse_groups=3) is None


def test_reserves_decided_on_coarse_batteries_keep_every_member_feasible(
    de_lu: MarketProfile, check_result
) -> None:
    assets = fleet(40, seed=6)
    two_stage_problem = problem(de_lu, assets, virtual_groups=8, reserve_groups=2, exact_mip=False)
    two_stage = solve_day_ahead(two_stage_problem)
    check_result(two_stage_problem, two_stage)  # headroom and sustain energy of every member
    held = two_stage.assets["reserve_fcr_mw"].sum(axis=1).to_numpy()
    assert held.max() > 0  # reserves are offered, not dropped by the second stage
    assert held == pytest.approx(two_stage.schedule["reserve_fcr_mw"].to_numpy(), abs=1e-6)
    # the coarse plan split by shares is feasible for the fine model: never worse than it
    coarse = solve_day_ahead(problem(de_lu, assets, virtual_groups=2, exact_mip=False))
    assert two_stage.expected_revenue >= coarse.expected_revenue - 1e-6
    # and the fine model re-plans energy around the reserves: strictly better here
    assert two_stage.expected_revenue > coarse.expected_revenue + 1.0


def test_a_negative_reserve_group_count_is_refused(de_lu: MarketProfile) -> None:
    with pytest.raises(InvalidInputError, match="reserve_groups must be >= 0"):
        solve_day_ahead(problem(de_lu, fleet(3, seed=0), reserve_groups=-1))


def test_block_reserves_hold_one_figure_per_block_and_never_earn_more(
    de_lu: MarketProfile, check_result
) -> None:
    assets = fleet(6, seed=7)
    free = solve_day_ahead(problem(de_lu, assets, exact_mip=False))
    blocked_problem = problem(de_lu, assets, exact_mip=False, block_reserves=True)
    blocked = solve_day_ahead(blocked_problem)
    check_result(blocked_problem, blocked)
    held = blocked.assets["reserve_fcr_mw"]
    blocks = held.groupby(np.arange(len(held)) // 16)  # FCR: 4-h blocks of 15-min intervals
    assert float((blocks.max() - blocks.min()).abs().to_numpy().max()) < 1e-6
    assert held.to_numpy().max() > 0
    assert blocked.expected_revenue <= free.expected_revenue + 1e-6  # a restriction


@pytest.mark.parametrize("n, fine, coarse", [(40, 8, 2), (160, 64, 4)])
def test_redispatch_of_virtual_fleets_keeps_devices_feasible_and_holds_awards(
    de_lu: MarketProfile, n: int, fine: int, coarse: int
) -> None:
    # 8 fine batteries re-dispatch jointly and deliver exactly; 64 go through the two stages
    assets = fleet(n, seed=8)
    bid_problem = problem(
        de_lu, assets, virtual_groups=fine, reserve_groups=coarse, exact_mip=False
    )
    result = solve_day_ahead(bid_problem)
    intervals = bid_problem.intervals
    realised = pd.Series(bid_problem.price_scenarios[1], index=intervals)
    reserve_prices = {pid: pd.Series(20.0, index=intervals) for pid in ("fcr", "afrr_pos")}
    awards = clear_day_ahead(result.bid_set, realised, reserve_prices, de_lu)
    done = redispatch(bid_problem, awards)
    shortfall = np.abs(done.delivered_mw - done.awarded_mw)
    if fine <= JOINT_REDISPATCH_MAX:
        assert shortfall.max() < 1e-4
    else:  # a coarse reserve split may cost a little delivery, settled as imbalance
        assert shortfall.sum() <= 0.02 * np.abs(done.awarded_mw).sum()
    for product_id, awarded in done.reserves_mw.items():
        held = done.assets[f"reserve_{product_id}_mw"].sum(axis=1).to_numpy()
        assert held == pytest.approx(awarded, abs=1e-6)
    prep = prepare(bid_problem)
    rules = reserve_rules_of(prep)
    assert plan_violations(list(prep.assets), done.assets, prep.dt_h, rules) == []
