"""Impossible inputs are refused with reasons that name asset, constraint and interval."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from bidding import BidProblem, solve_day_ahead
from vpp.domain.assets import BatterySpec, EvFleetSpec, EvSession, ThermalSpec
from vpp.domain.errors import InfeasibleProblemError
from vpp.domain.market import MarketProfile


def test_base_load_above_import_limit_names_park_limit_and_interval(de_lu: MarketProfile) -> None:
    intervals = de_lu.day_intervals(date(2024, 6, 3))
    base = np.full(len(intervals), 2.0)
    base[40] = 9.0
    problem = BidProblem(
        de_lu,
        [BatterySpec(id="b", power_mw=1, energy_mwh=2)],
        intervals,
        np.full((1, len(intervals)), 50.0),
        base_load_mw=base,
        import_limit_mw=5.0,
    )
    with pytest.raises(InfeasibleProblemError) as caught:
        solve_day_ahead(problem)
    reasons = caught.value.reasons
    assert len(reasons) == 1
    assert "import_limit" in reasons[0] and intervals[40].isoformat() in reasons[0]


def test_energy_shortfall_found_by_the_solver_is_explained(de_lu: MarketProfile) -> None:
    # 1.5 MW all day against a 1 MW import limit: the battery covers power, not 12 MWh of energy
    intervals = de_lu.day_intervals(date(2024, 6, 3))
    problem = BidProblem(
        de_lu,
        [BatterySpec(id="b", power_mw=1, energy_mwh=2)],
        intervals,
        np.full((1, len(intervals)), 50.0),
        base_load_mw=np.full(len(intervals), 1.5),
        import_limit_mw=1.0,
    )
    with pytest.raises(InfeasibleProblemError) as caught:
        solve_day_ahead(problem)
    text = " | ".join(caught.value.reasons)
    assert "import_limit" in text or "soc_final" in text
    assert "T" in text  # an ISO interval or the end of the day is named


def test_ev_session_that_the_dst_day_cannot_hold_names_asset_and_window(
    de_lu: MarketProfile,
) -> None:
    # 01:00-04:00 is 3 h on paper, 2 h on 2021-03-28 in Berlin
    depot = EvFleetSpec(
        id="depot",
        chargers=1,
        charger_power_mw=0.1,
        charging_efficiency=1.0,
        sessions=[EvSession(arrival="01:00", departure="04:00", energy_mwh=0.28)],
    )
    intervals = de_lu.day_intervals(date(2021, 3, 28))
    problem = BidProblem(de_lu, [depot], intervals, np.full((1, len(intervals)), 40.0))
    with pytest.raises(InfeasibleProblemError) as caught:
        solve_day_ahead(problem)
    (reason,) = caught.value.reasons
    assert "depot" in reason and "ev_session0_energy" in reason and "01:00" in reason


def test_thermal_store_that_cannot_hold_its_carried_over_energy_is_refused(
    de_lu: MarketProfile,
) -> None:
    # the spec is fine at its own initial state; a carried-over fuller store leaks more than
    # the 0.1 MW of headroom above the baseline can replace
    store = ThermalSpec(
        id="cold-room",
        max_power_mw=0.2,
        baseline_power_mw=0.1,
        energy_capacity_mwh=3.0,
        soc_initial=0.5,
        standing_loss_per_h=0.05,
    )
    intervals = de_lu.day_intervals(date(2024, 6, 3))
    problem = BidProblem(
        profile=de_lu,
        assets=[store],
        intervals=intervals,
        price_scenarios=np.full((1, len(intervals)), 50.0),
        soc_initial={"cold-room": 0.9},
    )
    with pytest.raises(InfeasibleProblemError) as caught:
        solve_day_ahead(problem)
    assert "cold-room" in caught.value.reasons[0]
    assert "thermal_final" in caught.value.reasons[0]
