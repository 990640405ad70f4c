"""Asset-by-asset solving of large portfolios (bidding.decompose): feasible plans, whole-increment
reserve offers, a value never above the joint model's bound, the fallback to the joint model
when the summed plan would break the park connection, and exact curtailment events."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from bidding import BidProblem, clear_day_ahead, solve_day_ahead
from bidding.aggregation import AssetGroup
from bidding.checks import plan_violations, reserve_rules_of
from bidding.decompose import FIX_EVENTS_ABOVE
from bidding.dispatch import redispatch
from bidding.model import build_model
from bidding.model.backend import solve_lp
from bidding.model.loads import best_events
from bidding.problem import prepare
from tests.bidding.conftest import sine_prices
from vpp.domain.assets import (
    BatterySpec,
    CurtailableLoadSpec,
    EvFleetSpec,
    EvSession,
    PvSpec,
    ShiftableLoadSpec,
    ThermalSpec,
)
from vpp.domain.errors import InvalidInputError


def mixed_fleet(n: int, seed: int) -> list:
    """A dissimilar fleet: every kind, continuous parameter spread."""
    rng = np.random.default_rng(seed)
    out: list = []
    for k in range(n):
        kind = k % 6
        if kind == 0:
            power = rng.uniform(0.2, 3.0)
            out.append(
                BatterySpec(
                    id=f"bat-{k}",
                    power_mw=power,
                    energy_mwh=power * rng.uniform(1.0, 4.0),
                    round_trip_efficiency=rng.uniform(0.8, 0.93),
                    soc_initial=rng.uniform(0.2, 0.8),
                    degradation_cost_per_mwh=rng.uniform(0.0, 10.0),
                )
            )
        elif kind == 1:
            out.append(
                CurtailableLoadSpec(
                    id=f"curt-{k}",
                    max_curtail_mw=rng.uniform(0.2, 2.0),
                    max_duration_min=int(rng.choice([30, 60, 120])),
                    max_events_per_day=int(rng.integers(1, 4)),
                    rebound_fraction=rng.uniform(0.0, 0.4),
                    cost_per_mwh=rng.uniform(20.0, 80.0),
                )
            )
        elif kind == 2:
            power = rng.uniform(0.2, 2.0)
            out.append(
                ShiftableLoadSpec(
                    id=f"shift-{k}",
                    power_mw=power,
                    energy_mwh=power * rng.uniform(1.0, 4.0),
                    window={"start": "06:00", "end": "18:00"},
                )
            )
        elif kind == 3:
            top = rng.uniform(0.3, 2.0)
            out.append(
                ThermalSpec(
                    id=f"therm-{k}",
                    max_power_mw=top,
                    baseline_power_mw=top * 0.5,
                    energy_capacity_mwh=rng.uniform(0.5, 2.0),
                    standing_loss_per_h=0.02,
                )
            )
        elif kind == 4:
            out.append(
                EvFleetSpec(
                    id=f"ev-{k}",
                    chargers=int(rng.integers(5, 30)),
                    charger_power_mw=0.022,
                    sessions=[
                        EvSession(arrival="18:00", departure="07:00", energy_mwh=0.03, vehicles=4)
                    ],
                )
            )
        else:
            out.append(
                PvSpec(
                    id=f"pv-{k}",
                    capacity_mw=rng.uniform(0.5, 3.0),
                    latitude=48.4,
                    longitude=5.6,
                )
            )
    return out


def fleet_problem(de_lu, day, assets, **extra) -> BidProblem:
    intervals = de_lu.day_intervals(day)
    n = len(intervals)
    base = sine_prices(n)
    hours = np.arange(n) / 4
    sun = np.clip(np.sin((hours - 6) / 14 * np.pi), 0.0, None)
    renewables = {a.id: 0.8 * a.capacity_mw * sun for a in assets if isinstance(a, PvSpec)}
    options = {
        "profile": de_lu,
        "assets": assets,
        "intervals": intervals,
        "price_scenarios": np.array([base - 15.0, base, base + 15.0]),
        "base_load_mw": np.full(n, 5.0),
        "renewable_mw": renewables,
        "reserve_prices": {"fcr": np.full(n, 12.0)},
    }
    options.update(extra)
    return BidProblem(**options)


def test_decomposed_plans_are_feasible_and_offer_whole_increments(de_lu, day, check_result):
    problem = fleet_problem(de_lu, day, mixed_fleet(24, seed=7), decompose=True)
    result = solve_day_ahead(problem)
    check_result(problem, result)
    offer = result.schedule["reserve_fcr_mw"].to_numpy()
    assert offer.max() > 0  # the fleet sells FCR
    np.testing.assert_allclose(offer, np.round(offer), atol=1e-9)  # whole 1-MW increments
    held = result.assets["reserve_fcr_mw"].sum(axis=1).to_numpy()
    np.testing.assert_allclose(held, offer, atol=1e-6)  # the assets hold exactly the offer


def test_decomposed_value_lies_below_the_joint_model_within_the_rounding(de_lu, day):
    """The decomposed plan is feasible for the joint model, so it cannot beat it (here the
    joint model with relaxed event rules, an upper bound). Without reserves it matches the
    joint energy value; with FCR it gives up at most what rounding the park's offer down to
    whole increments costs: one increment per block."""
    assets = mixed_fleet(18, seed=3)

    def value(decompose: bool, **extra) -> float:
        options = {"exact_events": False, "exact_mip": False} if not decompose else {}
        problem = fleet_problem(de_lu, day, assets, decompose=decompose, **options, **extra)
        return solve_day_ahead(problem).expected_revenue

    energy_split, energy_joint = value(True, reserve_prices={}), value(False, reserve_prices={})
    assert energy_split <= energy_joint + 1e-6
    assert energy_split == pytest.approx(energy_joint, rel=1e-3)
    split, joint = value(True), value(False)
    assert split <= joint + 1e-6
    fcr = fleet_problem(de_lu, day, assets)
    product = prepare(fcr).reserves[0]
    per_block = product.increment_mw * 12.0 * product.block.size / product.n_blocks / 4
    assert joint - split <= product.n_blocks * per_block + 1e-6


def test_breaking_the_park_limit_shares_the_connection_out(de_lu, day, check_result):
    """Batteries that all charge in the cheap hours would overload a tight connection: the
    summed plan is refused, each battery in turn gets the headroom the ones before it left,
    and the park stays inside its limit, earning no more than the joint model."""
    batteries = [
        BatterySpec(id=f"b{k}", power_mw=2.0 + 0.1 * k, energy_mwh=4.0 + 0.3 * k, soc_initial=0.2)
        for k in range(6)
    ]
    problem = fleet_problem(
        de_lu, day, batteries, decompose=True, import_limit_mw=9.0, reserve_prices={}
    )
    alone = solve_day_ahead(replace(problem, import_limit_mw=np.inf))
    assert (alone.positions_mw < -9.0).any()  # unconstrained, the fleet would draw more
    result = solve_day_ahead(problem)
    check_result(problem, result)
    assert (result.positions_mw >= -9.0 - 1e-6).all()
    assert not any("joint model" in note for note in result.notes)
    joint = solve_day_ahead(replace(problem, decompose=False))
    assert result.expected_revenue <= joint.expected_revenue + 1e-6
    assert result.expected_revenue >= alone.expected_revenue - abs(alone.expected_revenue)


def test_decompose_refuses_a_risk_term(de_lu, day):
    problem = fleet_problem(de_lu, day, mixed_fleet(6, seed=1), decompose=True, risk_weight=0.5)
    with pytest.raises(InvalidInputError, match="risk_weight"):
        solve_day_ahead(problem)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_best_events_match_the_event_mip(de_lu, day, seed):
    """For one load and one price path the dynamic programme's events are optimal: fixing them
    gives the value of the exact event MIP."""
    rng = np.random.default_rng(seed)
    spec = CurtailableLoadSpec(
        id="furnace",
        max_curtail_mw=1.5,
        max_duration_min=int(rng.choice([15, 45, 90, 120])),
        max_events_per_day=int(rng.integers(1, 4)),
        notice_min=int(rng.choice([0, 30])),
        rebound_fraction=float(rng.uniform(0.0, 0.5)),
        cost_per_mwh=float(rng.uniform(30.0, 90.0)),
    )
    n = len(de_lu.day_intervals(day))
    prices = sine_prices(n, amplitude=60.0) + rng.normal(0.0, 15.0, n)
    problem = fleet_problem(
        de_lu, day, [spec], price_scenarios=prices[None, :], reserve_prices={}, base_load_mw=None
    )
    prep = prepare(problem)
    group = AssetGroup(spec.id, spec, (spec.id,), np.ones(1))
    mip = solve_lp(build_model(prep, [group]).lp)
    ctx = build_model(prep, [group])
    events = best_events(prep, spec)
    block = next(b for b in ctx.lp.variable_blocks if b.name == "curtail_event")
    ids = np.arange(block.first, block.first + events.size)
    ctx.lp.set_lower(ids, events.ravel())
    ctx.lp.set_upper(ids, events.ravel())
    fixed = solve_lp(ctx.lp)
    assert mip.status == fixed.status == "optimal"
    assert fixed.objective == pytest.approx(mip.objective, abs=1e-6)


def test_redispatch_of_a_large_fleet_follows_the_awards_with_valid_events(de_lu, day):
    """Beyond FIX_EVENTS_ABOVE groups the re-dispatch fixes each curtailable load's events as it
    would choose them at the cleared prices (one MIP over all of them did not finish at 500
    assets): every device plan stays valid and the awards are delivered."""
    assets = mixed_fleet(FIX_EVENTS_ABOVE + 8, seed=11)
    problem = fleet_problem(de_lu, day, assets)
    result = solve_day_ahead(problem)
    intervals = problem.intervals
    realised = pd.Series(problem.price_scenarios[1], index=intervals)
    awards = clear_day_ahead(
        result.bid_set, realised, {"fcr": pd.Series(20.0, index=intervals)}, de_lu
    )
    done = redispatch(problem, awards)
    assert (
        np.abs(done.delivered_mw - done.awarded_mw).sum()
        <= 1e-3 * np.abs(done.awarded_mw).sum() + 1e-6
    )
    prep = prepare(problem)
    rules = reserve_rules_of(prep)
    assert plan_violations(list(prep.assets), done.assets, prep.dt_h, rules) == []
    assert (done.assets["curtail_mw"] > 0).any().any()  # some load does curtail
