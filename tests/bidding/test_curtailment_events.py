"""Curtailment events and generator runs are on/off decisions: counted, bounded, never slivers.

The event rules are checked on the plans by :func:`bidding.checks.curtailment_violations`,
which re-derives the events from the curtailment alone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bidding import BidProblem, clear_day_ahead, solve_day_ahead
from bidding.checks import curtailment_violations, generator_violations
from bidding.dispatch import redispatch
from vpp.domain.assets import BackupGeneratorSpec, CurtailableLoadSpec
from vpp.domain.market import MarketProfile

from .conftest import sine_prices


def furnace(**overrides: object) -> CurtailableLoadSpec:
    spec: dict[str, object] = {
        "id": "furnace",
        "max_curtail_mw": 4.0,
        "max_duration_min": 120,
        "max_events_per_day": 1,
        "rebound_fraction": 0.3,
        "cost_per_mwh": 90.0,
    }
    return CurtailableLoadSpec.model_validate(spec | overrides)


def wavy_prices(n: int) -> np.ndarray:
    """Two afternoon-and-evening humps above the furnace's 90/MWh cost [EUR/MWh]."""
    hours = np.arange(n) / 4
    return sine_prices(n, mean=90.0, amplitude=60.0) + 25 * np.sin(hours * 1.7)


def solve(
    profile: MarketProfile,
    day: object,
    spec: CurtailableLoadSpec | BackupGeneratorSpec,
    prices: np.ndarray,
    quantity: str = "curtail_mw",
    base_load_mw: float = 6.0,
    **kw: object,
) -> pd.Series:
    """One asset's plan of ``quantity`` [MW] for one price path."""
    intervals = profile.day_intervals(day)  # type: ignore[arg-type]
    problem = BidProblem(
        profile,
        [spec],
        intervals,
        prices[None, :],
        base_load_mw=np.full(len(intervals), base_load_mw),
        **kw,  # type: ignore[arg-type]
    )
    return solve_day_ahead(problem).assets[quantity][spec.id]


def events(curtail: pd.Series) -> list[tuple[int, int]]:
    on = (curtail.to_numpy() > 1e-6).astype(int)
    edges = np.diff(np.concatenate([[0], on, [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def test_relaxed_rules_spread_curtailment_and_the_check_sees_it(de_lu, day) -> None:
    spec = furnace()
    prices = wavy_prices(96)
    relaxed = solve(de_lu, day, spec, prices, exact_events=False)
    assert curtailment_violations(spec, relaxed.to_numpy(), 15) != []  # two events: a breach
    exact = solve(de_lu, day, spec, prices)
    assert curtailment_violations(spec, exact.to_numpy(), 15) == []
    assert len(events(exact)) == 1


def test_one_event_goes_to_the_best_window_and_two_take_both_spikes(de_lu, day) -> None:
    prices = np.full(96, 50.0)
    prices[32:36] = 300.0  # 08:00-09:00 UTC
    prices[72:76] = 400.0  # 18:00-19:00 UTC, the better one
    spec = furnace(max_duration_min=60, rebound_fraction=0.0)
    one = solve(de_lu, day, spec, prices)
    assert events(one) == [(72, 76)]
    assert one.iloc[72:76].to_numpy() == pytest.approx(4.0)
    two = solve(de_lu, day, furnace(max_duration_min=60, max_events_per_day=2), prices)
    assert events(two) == [(32, 36), (72, 76)]


def test_a_long_spike_is_cut_at_the_longest_event(de_lu, day) -> None:
    prices = np.full(96, 50.0)
    prices[40:64] = 250.0  # six hours of high prices
    curtail = solve(de_lu, day, furnace(max_duration_min=90, max_events_per_day=2), prices)
    found = events(curtail)
    # two events of at most 90 min, with an uncurtailed interval between them (touching events
    # would be one long event to the device, and events() would see one run)
    assert len(found) == 2 and all(stop - first <= 6 for first, stop in found)


def test_events_shorter_than_an_interval_still_get_one_interval(de_lu, day) -> None:
    prices = np.full(96, 50.0)
    prices[40] = 400.0
    spec = furnace(max_duration_min=10, rebound_fraction=0.0)
    curtail = solve(de_lu, day, spec, prices)
    assert events(curtail) == [(40, 41)]
    assert curtail.iloc[40] == pytest.approx(4.0 * 10 / 15)  # the rolling-energy row still binds
    assert curtailment_violations(spec, curtail.to_numpy(), 15) == []


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10_000),
    duration=st.sampled_from([15, 45, 120, 240]),
    count=st.integers(1, 3),
)
def test_random_prices_dispatch_plans_keep_the_event_rules(
    de_lu: MarketProfile, day: object, seed: int, duration: int, count: int
) -> None:
    rng = np.random.default_rng(seed)
    spec = furnace(max_duration_min=duration, max_events_per_day=count)
    intervals = de_lu.day_intervals(day)  # type: ignore[arg-type]
    scenarios = wavy_prices(96)[None, :] + rng.normal(0, 40, (3, 96))
    problem = BidProblem(
        de_lu, [spec], intervals, scenarios, base_load_mw=np.full(96, 6.0)
    )  # fmt: skip
    result = solve_day_ahead(problem)
    realised = pd.Series(scenarios[rng.integers(0, 3)] + rng.normal(0, 10, 96), index=intervals)
    awards = clear_day_ahead(result.bid_set, realised, {}, de_lu)
    curtail = redispatch(problem, awards).assets["curtail_mw"]["furnace"].to_numpy()
    assert curtailment_violations(spec, curtail, 15, intervals) == []


def test_a_generator_runs_at_or_above_its_minimum_within_its_run_hours(de_lu, day) -> None:
    spec = BackupGeneratorSpec(
        id="diesel", power_mw=2.0, min_power_mw=0.8, fuel_cost_per_mwh=150.0, max_run_h_per_day=3
    )
    prices = wavy_prices(96) + 40  # above the fuel cost for more than three hours
    output = solve(de_lu, day, spec, prices, "power_mw", 0.0).to_numpy()
    assert generator_violations(spec, output, 0.25) == []
    running = output > 1e-6
    assert running.sum() == 12  # all three hours used, at the best prices, at full output
    assert output[running] == pytest.approx(2.0)
    assert prices[running].sum() == pytest.approx(np.sort(prices)[-12:].sum())


def test_a_generator_held_below_its_minimum_stays_off(de_lu, day) -> None:
    spec = BackupGeneratorSpec(
        id="diesel", power_mw=2.0, min_power_mw=0.8, fuel_cost_per_mwh=150.0, max_run_h_per_day=3
    )
    prices = wavy_prices(96) + 40
    # the park may export only 0.5 MW: the LP idles the generator at 0.5 MW for 12 h
    relaxed = solve(
        de_lu, day, spec, prices, "power_mw", 0.0, exact_events=False, export_limit_mw=0.5
    )
    assert generator_violations(spec, relaxed.to_numpy(), 0.25) != []
    output = solve(de_lu, day, spec, prices, "power_mw", 0.0, export_limit_mw=0.5).to_numpy()
    assert generator_violations(spec, output, 0.25) == []
