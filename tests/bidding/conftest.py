"""Fixtures for the bidding tests: market profiles and a re-derivation of invariants."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd
import pytest

from bidding import BidProblem, BidResult, clear_day_ahead
from bidding.checks import plan_violations, reserve_rules_of
from bidding.problem import prepare
from vpp.domain.bids import check_bid_set
from vpp.domain.market import MarketProfile, load_market_profile


@pytest.fixture(scope="session")
def de_lu() -> MarketProfile:
    return load_market_profile("de-lu")


@pytest.fixture(scope="session")
def shandong() -> MarketProfile:
    return load_market_profile("cn-shandong")


def sine_prices(n: int, mean: float = 80.0, amplitude: float = 40.0) -> np.ndarray:
    hours = np.arange(n) / 4
    return mean + amplitude * np.sin((hours - 9) / 24 * 2 * np.pi)


@pytest.fixture
def day() -> date:
    return date(2024, 6, 3)


@pytest.fixture
def check_result() -> Callable[[BidProblem, BidResult], None]:
    """Assert every invariant, re-derived from the solved result, not from the model."""

    def check(problem: BidProblem, result: BidResult) -> None:
        prep = prepare(problem)
        rules = reserve_rules_of(prep)
        totals = {pid: result.schedule[f"reserve_{pid}_mw"].to_numpy() for pid in rules}
        breaches = plan_violations(
            list(prep.assets),
            result.assets,
            prep.dt_h,
            rules,
            net_mw=result.positions_mw,
            reserves_total=totals,
            import_limit_mw=problem.import_limit_mw,
            export_limit_mw=problem.export_limit_mw,
        )
        assert breaches == []
        assert check_bid_set(result.bid_set, problem.profile) == []
        # clearing at each scenario's price gives back that scenario's position (to a tick)
        tick = problem.profile.bid_format.qty_tick_mw
        energy = problem.profile.enabled_products("energy")[0].id
        for s in range(prep.n_scenarios):
            prices = pd.Series(prep.prices[s], index=prep.intervals)
            awards = clear_day_ahead(result.bid_set, prices, {}, problem.profile)
            net = np.zeros(prep.n_intervals)
            position = {ts: k for k, ts in enumerate(prep.intervals)}
            for award in awards:
                if award.product_id == energy:
                    net[position[pd.Timestamp(award.interval_start)]] += award.signed_mw
            adjusted = [n for n in result.notes if not n.startswith("solved as one joint model")]
            dropped = (
                len(adjusted) > 0 or problem.profile.bid_format.max_segments < prep.n_scenarios
            )
            if not dropped:
                np.testing.assert_allclose(net, result.positions_mw[s], atol=tick / 2 + 1e-6)
        # setpoints agree with the per-asset plans
        frame = result.setpoints.frame()
        np.testing.assert_allclose(
            frame[result.assets["power_mw"].columns].to_numpy(),
            result.assets["power_mw"].to_numpy(),
            atol=1e-9,
        )

    return check
