"""Virtual batteries: many unlike batteries modelled as a few, every device plan still feasible."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding import BidProblem, solve_day_ahead
from bidding.aggregation import group_assets
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
        BatterySpec(id=f"c{k}", power_mw=0.5 * (k + 1), energy_mwh=1.0 * (k + 1))
        for k in range(6)
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
