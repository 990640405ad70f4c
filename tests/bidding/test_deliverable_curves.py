"""Deliverable curves: whatever mix of scenario positions the hourly curves clear, a battery can
deliver it. Re-derived by replaying mixes through the battery, independent of the model."""

from __future__ import annotations

import numpy as np
import pytest

from bidding import BidProblem, solve_day_ahead
from vpp.domain.assets import BatterySpec
from vpp.domain.market import MarketProfile

BATTERY = BatterySpec(
    id="bess",
    power_mw=1.0,
    energy_mwh=2.0,
    round_trip_efficiency=0.85,
    soc_min=0.0,
    soc_max=1.0,
    soc_initial=0.5,
    soc_final=0.5,
)


def two_peaks(n: int) -> np.ndarray:
    """Three price scenarios [EUR/MWh]: a morning peak, an evening peak, both."""
    base = np.full(n, 50.0)
    morning, evening = base.copy(), base.copy()
    morning[n // 3 : n // 3 + n // 12] = 200.0
    evening[3 * n // 4 : 3 * n // 4 + n // 12] = 200.0
    cheap = np.full(n, 20.0)  # night charging is worth it in every scenario
    both = np.minimum(morning, evening) + (morning + evening - 100.0 - base) * 0.6
    out = np.vstack([morning, evening, both])
    out[:, : n // 6] = cheap[: n // 6]
    return out


def mix_breaches(positions: np.ndarray, dt_h: float, rng: np.random.Generator) -> int:
    """How many of 300 random hour-by-hour mixes of scenario positions no battery can deliver
    (SoC outside [0, 2] MWh or below 1 MWh at the end), with the least lossy split."""
    s, t = positions.shape
    eta = np.sqrt(0.85)
    bad = 0
    for _ in range(300):
        net = positions[rng.integers(0, s, t), np.arange(t)]
        drain = np.where(net > 0, net / eta, net * eta) * dt_h
        soc = 1.0 - np.cumsum(drain)
        if soc.min() < -1e-6 or soc.max() > 2.0 + 1e-6 or soc[-1] < 1.0 - 1e-6:
            bad += 1
    return bad


@pytest.mark.parametrize("deliverable", [False, True])
def test_every_mix_of_positions_is_deliverable_only_with_deliverable_curves(
    de_lu: MarketProfile, day: object, deliverable: bool
) -> None:
    intervals = de_lu.day_intervals(day)  # type: ignore[arg-type]
    prices = two_peaks(len(intervals))
    problem = BidProblem(
        de_lu, [BATTERY], intervals, prices, deliverable_curves=deliverable
    )  # fmt: skip
    result = solve_day_ahead(problem)
    breaches = mix_breaches(result.positions_mw, 0.25, np.random.default_rng(0))
    if deliverable:
        assert breaches == 0
    else:  # each scenario sells 1 MWh at its own peak: the morning of one and the evening of
        assert breaches > 0  # another add up to more than the battery holds


def test_deliverable_curves_cost_nothing_with_one_scenario(de_lu: MarketProfile, day) -> None:
    intervals = de_lu.day_intervals(day)
    prices = two_peaks(len(intervals))[2:]
    free = solve_day_ahead(BidProblem(de_lu, [BATTERY], intervals, prices))
    safe = solve_day_ahead(BidProblem(de_lu, [BATTERY], intervals, prices, deliverable_curves=True))
    assert safe.expected_revenue == pytest.approx(free.expected_revenue, rel=1e-9)


RESERVE_BATTERY = BATTERY.model_copy(update={"power_mw": 2.0, "max_charge_mw": 2.0})
#: de-lu sustain times [h] and the expected activation of aFRR+ (it drains the battery).
SUSTAIN_H = {"fcr": 0.25, "afrr_pos": 1.0}
AFRR_POS_SHARE = 0.1


def reserve_mix_breaches(positions: np.ndarray, held: dict[str, np.ndarray], dt_h: float) -> int:
    """Intervals where the worst hour-by-hour mix of scenario positions leaves the battery
    without the energy to sustain full activation of the reserves held (at the start or end of
    the interval), outside [0, 2] MWh, or (last interval) below 1 MWh at the end of the day.

    The lowest SoC any mix reaches by the end of interval t takes, in every interval up to t,
    the position that drains the battery most (least lossy split, plus the expected aFRR+
    activation); the highest takes the one that fills it most."""
    eta = np.sqrt(0.85)
    drain = np.where(positions > 0, positions / eta, positions * eta) * dt_h
    drift = AFRR_POS_SHARE * held["afrr_pos"] * dt_h / eta
    low_end = 1.0 - np.cumsum(drain.max(axis=0) + drift)
    high_end = 1.0 - np.cumsum(drain.min(axis=0) + drift)
    low = np.minimum(np.concatenate([[1.0], low_end[:-1]]), low_end)
    high = np.maximum(np.concatenate([[1.0], high_end[:-1]]), high_end)
    need = (SUSTAIN_H["fcr"] * held["fcr"] + SUSTAIN_H["afrr_pos"] * held["afrr_pos"]) / eta
    room = SUSTAIN_H["fcr"] * held["fcr"] * eta
    bad = (low < need - 1e-6) | (high > 2.0 - room + 1e-6)
    bad[-1] |= low_end[-1] < 1.0 - 1e-6
    return int(bad.sum())


@pytest.mark.parametrize("deliverable", [False, True])
def test_mixes_keep_the_energy_behind_the_reserves_sold_with_deliverable_curves(
    de_lu: MarketProfile, day: object, deliverable: bool
) -> None:
    intervals = de_lu.day_intervals(day)  # type: ignore[arg-type]
    n = len(intervals)
    block = np.arange(n) // 16  # 4-h blocks: FCR pays in the 1st, 3rd, 5th; aFRR+ in the others
    problem = BidProblem(
        de_lu,
        [RESERVE_BATTERY],
        intervals,
        two_peaks(n),
        reserve_prices={
            "fcr": np.where(block % 2 == 0, 2.0, 0.0),
            "afrr_pos": np.where(block % 2 == 1, 2.0, 0.0),
        },
        deliverable_curves=deliverable,
    )
    result = solve_day_ahead(problem)
    held = {pid: result.schedule[f"reserve_{pid}_mw"].to_numpy() for pid in SUSTAIN_H}
    assert held["fcr"].max() >= 1.0 and held["afrr_pos"].max() > 0  # reserves are in play
    breaches = reserve_mix_breaches(result.positions_mw, held, 0.25)
    if deliverable:
        assert breaches == 0
    else:
        assert breaches > 0
