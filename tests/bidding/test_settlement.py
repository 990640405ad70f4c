"""Settlement of a delivered day agrees with what the optimiser valued."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from bidding import BidProblem, clear_day_ahead, solve_day_ahead
from bidding.dispatch import redispatch
from bidding.settlement import settle_day
from vpp.domain.assets import BatterySpec
from vpp.domain.market import MarketProfile

from .conftest import sine_prices


def test_activation_energy_is_settled_at_the_energy_price(de_lu: MarketProfile) -> None:
    n = 96
    prices = np.full(n, 100.0)
    held = {"afrr_pos": np.ones(n), "afrr_neg": np.ones(n), "fcr": np.ones(n)}
    lines = settle_day(de_lu, prices, np.zeros(n), np.zeros(n), held,
                       {k: np.full(n, 5.0) for k in held}, 4.0, 1.0)  # fmt: skip
    # 10 % of 1 MW over 24 h at 100 EUR/MWh, sold for up and bought for down; none for FCR
    assert np.isclose(lines["afrr_pos_activation"], 240.0)
    assert np.isclose(lines["afrr_neg_activation"], -240.0)
    assert "fcr_activation" not in lines
    assert np.isclose(lines["afrr_pos"], 120.0)


def test_perfect_foresight_settlement_matches_the_optimised_revenue(
    de_lu: MarketProfile, day: date
) -> None:
    # a fine quantity tick, so that bid rounding leaves (almost) no imbalance
    fmt = de_lu.bid_format.model_copy(update={"qty_tick_mw": 0.001, "min_bid_mw": 0.0})
    de_lu = de_lu.model_copy(update={"bid_format": fmt})
    intervals = de_lu.day_intervals(day)
    n = len(intervals)
    prices = sine_prices(n)
    battery = BatterySpec(
        id="b", power_mw=2.0, energy_mwh=4.0, round_trip_efficiency=0.9,
        soc_min=0.0, soc_max=1.0, soc_initial=0.5,
    )  # fmt: skip
    reserve = {"afrr_pos": np.full(n, 6.0)}
    problem = BidProblem(de_lu, [battery], intervals, prices[None, :], reserve_prices=reserve)
    result = solve_day_ahead(problem)
    assert result.schedule["reserve_afrr_pos_mw"].max() > 0
    realised = {k: pd.Series(v, index=intervals) for k, v in reserve.items()}
    awards = clear_day_ahead(result.bid_set, pd.Series(prices, index=intervals), realised, de_lu)
    outcome = redispatch(problem, awards)
    lines = settle_day(de_lu, prices, outcome.awarded_mw, outcome.delivered_mw,
                       outcome.reserves_mw, reserve, 4.0, 1.0)  # fmt: skip
    assert lines["afrr_pos_activation"] > 0
    # the optimiser counted the activation energy; the settlement must pay it too
    assert np.isclose(sum(lines.values()), result.expected_revenue, rtol=1e-3)
