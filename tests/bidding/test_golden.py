"""Small cases with a hand-computed optimum."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from bidding import BidProblem, clear_day_ahead, plan_dispatch, solve_day_ahead
from vpp.domain.assets import BatterySpec
from vpp.domain.market import MarketProfile


def four_block_prices(n: int) -> np.ndarray:
    """10, 100, 10, 100 EUR/MWh over four 6-hour blocks."""
    return np.repeat([10.0, 100.0, 10.0, 100.0], n // 4)


@pytest.mark.parametrize(("degradation", "expected"), [(0.0, 270.0), (5.0, 255.0)])
def test_lossless_battery_arbitrage_matches_hand_computation(
    de_lu: MarketProfile, day: date, degradation: float, expected: float, check_result
) -> None:
    # 1 MW / 2 MWh, lossless, full window, starts and ends at 1 MWh:
    # buy 1 MWh at 10, sell 2 at 100, buy 2 at 10, sell 1 at 100 = -10 + 200 - 20 + 100 = 270;
    # 3 MWh discharged at 5 EUR/MWh degradation costs 15.
    battery = BatterySpec(
        id="bess-1",
        power_mw=1.0,
        energy_mwh=2.0,
        round_trip_efficiency=1.0,
        soc_min=0.0,
        soc_max=1.0,
        soc_initial=0.5,
        degradation_cost_per_mwh=degradation,
    )
    intervals = de_lu.day_intervals(day)
    prices = four_block_prices(len(intervals))
    problem = BidProblem(de_lu, [battery], intervals, prices[None, :])
    result = solve_day_ahead(problem)
    assert result.expected_revenue == pytest.approx(expected, abs=1e-6)
    check_result(problem, result)
    soc = result.assets["soc_mwh"]["bess-1"].to_numpy()
    assert soc[-1] == pytest.approx(1.0, abs=1e-6)


def test_efficiency_losses_hand_computed(de_lu: MarketProfile, day: date) -> None:
    # eta = 0.9 each way: to sell 1 MWh we must store 1/0.9 and buy 1/0.81.
    battery = BatterySpec(
        id="b",
        power_mw=10.0,
        energy_mwh=1.0,
        round_trip_efficiency=0.81,
        soc_min=0.0,
        soc_max=1.0,
        soc_initial=0.0,
    )
    intervals = de_lu.day_intervals(day)
    prices = np.full(len(intervals), 50.0)
    prices[:4] = 10.0
    prices[-4:] = 100.0
    problem = BidProblem(de_lu, [battery], intervals, prices[None, :])
    result = solve_day_ahead(problem)
    # buy 1/0.9 MWh at 10 to fill 1 MWh, sell 0.9 MWh at 100
    assert result.expected_revenue == pytest.approx(-10 / 0.9 + 100 * 0.9, abs=1e-6)


def test_award_replay_and_dispatch_deliver_the_position(de_lu: MarketProfile, day: date) -> None:
    battery = BatterySpec(id="b", power_mw=1.0, energy_mwh=2.0, round_trip_efficiency=0.85)
    intervals = de_lu.day_intervals(day)
    prices = four_block_prices(len(intervals))
    problem = BidProblem(de_lu, [battery], intervals, prices[None, :])
    result = solve_day_ahead(problem)
    awards = clear_day_ahead(result.bid_set, pd.Series(prices, index=intervals), {}, de_lu)
    plan = plan_dispatch(problem, awards)
    power = plan.frame()["b"].to_numpy()
    awarded = np.zeros(len(intervals))
    where = {ts: k for k, ts in enumerate(intervals)}
    for award in awards:
        awarded[where[pd.Timestamp(award.interval_start)]] += award.signed_mw
    np.testing.assert_allclose(power, awarded, atol=1e-6)
    assert np.all(np.abs(power) <= 1.0 + 1e-9)
