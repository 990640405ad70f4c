"""Checks before and after optimisation: infeasibility pre-checks that say which asset, which
constraint and which interval, and invariants re-derived from a solved plan.

The invariants here do not use the model: they take power, SoC and reserve figures as a device
would see them and test the physics and the market rules again (SoC recurrence, power and energy
headroom behind every reserve, the park connection). The backtester counts their breaches as
violations; the tests call them on every solved result.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from bidding.model.loads import ev_session_parts
from bidding.problem import Prepared
from vpp.domain.assets import (
    AssetSpec,
    BackupGeneratorSpec,
    BatterySpec,
    CurtailableLoadSpec,
    EvFleetSpec,
    ShiftableLoadSpec,
    ThermalSpec,
    clock_minutes,
)
from vpp.domain.errors import InfeasibleProblemError

TOL = 1e-6


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _count(prep: Prepared, start: int, end: int) -> int:
    step = prep.problem.profile.interval_minutes
    m = prep.minute_of_day
    return int(((m >= start) & (m + step <= end)).sum())


def precheck(prep: Prepared) -> None:
    """Raise :class:`InfeasibleProblemError` for inputs that no schedule can satisfy."""
    reasons: list[str] = []
    dt = prep.dt_h
    for asset in prep.assets:
        if isinstance(asset, EvFleetSpec):
            for k, start, end, energy in ev_session_parts(asset):
                vehicles = asset.sessions[k].vehicles
                slots = _count(prep, start, end)
                most = vehicles * asset.charger_power_mw * asset.charging_efficiency * dt * slots
                if vehicles * energy > most + TOL:
                    reasons.append(
                        f"asset {asset.id}: constraint ev_session{k}_energy: session {k} needs "
                        f"{vehicles * energy:.3f} MWh between {_clock(start)} and {_clock(end)} "
                        f"on {prep.day} but the chargers deliver at most {most:.3f} MWh in its "
                        f"{slots} intervals"
                    )
        if isinstance(asset, ShiftableLoadSpec):
            start, end = clock_minutes(asset.window.start), clock_minutes(asset.window.end)
            slots = _count(prep, start, end)
            if asset.energy_mwh > asset.power_mw * dt * slots + TOL:
                reasons.append(
                    f"asset {asset.id}: constraint shift_energy: {asset.energy_mwh} MWh do not fit "
                    f"in the {slots} intervals of {_clock(start)}-{_clock(end)} on {prep.day} "
                    f"at {asset.power_mw} MW"
                )
        if isinstance(asset, ThermalSpec):
            loss = asset.holding_loss_mw(asset.soc_initial)
            room = asset.max_power_mw - asset.baseline_power_mw
            if loss > room + TOL:
                reasons.append(
                    f"asset {asset.id}: constraint thermal_final: holding its stored energy "
                    f"(state {asset.soc_initial:.3f}) loses {loss:.3f} MW but it can draw only "
                    f"{room:.3f} MW above its baseline, so it cannot end {prep.day} where it began"
                )
    reasons.extend(_park_limit_reasons(prep))
    if reasons:
        raise InfeasibleProblemError(
            f"the bidding problem for {prep.day} has no feasible schedule", reasons=reasons
        )


def _flexible_room(prep: Prepared) -> tuple[np.ndarray, np.ndarray]:
    """Most the assets can add to (up) or take from (down) the net position per interval [MW]."""
    t = prep.n_intervals
    up, down = np.zeros(t), np.zeros(t)
    for asset in prep.assets:
        if isinstance(asset, BatterySpec):
            up += asset.power_mw
            down += asset.max_charge_mw
        elif asset.type in {"pv", "wind"}:
            forecast = np.asarray(prep.problem.renewable_mw[asset.id], dtype=float)
            up += forecast
            if not asset.curtailable:
                down -= forecast
        elif isinstance(asset, BackupGeneratorSpec):
            up += asset.power_mw
        elif isinstance(asset, CurtailableLoadSpec):
            up += asset.max_curtail_mw
        elif isinstance(asset, ThermalSpec):
            up -= asset.min_power_mw
            down += asset.max_power_mw
        elif isinstance(asset, ShiftableLoadSpec):
            down += asset.power_mw
        elif isinstance(asset, EvFleetSpec):
            down += asset.chargers * asset.charger_power_mw
    return up, down


def _park_limit_reasons(prep: Prepared) -> list[str]:
    problem = prep.problem
    up, _down = _flexible_room(prep)
    reasons: list[str] = []
    if np.isfinite(problem.import_limit_mw):
        short = prep.base_load - up[None, :] - problem.import_limit_mw
        for s, t in zip(*np.nonzero(short > TOL), strict=True):
            reasons.append(
                f"park: constraint import_limit at {prep.intervals[t].isoformat()}"
                f"{f' (scenario {s})' if prep.n_scenarios > 1 else ''}: base load "
                f"{prep.base_load[s, t]:.3f} MW exceeds the import limit "
                f"{problem.import_limit_mw} MW and the flexible assets can relieve at most "
                f"{up[t]:.3f} MW"
            )
            if len(reasons) >= 20:
                break
    return reasons


def _when(intervals: pd.DatetimeIndex | None, t: int | np.integer) -> str:
    """Interval ``t`` as an ISO timestamp, or its position when the intervals are not known."""
    return intervals[int(t)].isoformat() if intervals is not None else str(int(t))


def battery_violations(
    asset: BatterySpec,
    power_mw: np.ndarray,
    charge_mw: np.ndarray,
    discharge_mw: np.ndarray,
    soc_mwh: np.ndarray,
    soc_start_mwh: float,
    dt_h: float,
    reserves: Mapping[str, tuple[np.ndarray, bool, bool, float, float]] | None = None,
    intervals: pd.DatetimeIndex | None = None,
) -> list[str]:
    """Device-rule breaches of one battery's plan, re-derived from its trajectories.

    Parameters
    ----------
    power_mw, charge_mw, discharge_mw, soc_mwh : numpy.ndarray
        (T,) net power, charge, discharge [MW] and SoC at the end of each interval [MWh].
    soc_start_mwh : float
        SoC at the start of the day [MWh].
    dt_h : float
        Interval length [h].
    reserves : mapping, optional
        Product id -> ((T,) MW held, needs up room, needs down room, sustain [h], expected
        activation share [-]).
    """
    tol = 1e-5 * max(1.0, asset.power_mw)
    eta = asset.one_way_efficiency
    out: list[str] = []

    start = np.concatenate([[soc_start_mwh], soc_mwh[:-1]])
    expected = start + eta * charge_mw * dt_h - discharge_mw * dt_h / eta
    drift = np.zeros_like(soc_mwh)
    up_need = np.zeros_like(soc_mwh)
    down_need = np.zeros_like(soc_mwh)
    up_mw = np.zeros_like(soc_mwh)
    down_mw = np.zeros_like(soc_mwh)
    for held, up, down, sustain, share in (reserves or {}).values():
        if up != down:
            drift += -share * held * dt_h / eta if up else share * held * dt_h * eta
        if up:
            up_mw += held
            up_need += held * sustain / eta
        if down:
            down_mw += held
            down_need += held * sustain * eta
    checks = [
        ("net power != discharge - charge", np.abs(power_mw - (discharge_mw - charge_mw)) > tol),
        ("charge above limit", charge_mw > asset.max_charge_mw + tol),
        ("discharge above limit", discharge_mw > asset.power_mw + tol),
        ("negative charge or discharge", (charge_mw < -tol) | (discharge_mw < -tol)),
        ("SoC below soc_min", soc_mwh < asset.soc_min * asset.energy_mwh - tol),
        ("SoC above soc_max", soc_mwh > asset.soc_max * asset.energy_mwh + tol),
        ("up reserve without power headroom", power_mw + up_mw > asset.power_mw + tol),
        ("down reserve without power headroom", -power_mw + down_mw > asset.max_charge_mw + tol),
        (
            "up reserve without energy to sustain it",
            np.minimum(start, soc_mwh) - up_need < asset.soc_min * asset.energy_mwh - tol,
        ),
        (
            "down reserve without room to absorb it",
            np.maximum(start, soc_mwh) + down_need > asset.soc_max * asset.energy_mwh + tol,
        ),
    ]
    checks.append(("SoC recurrence broken", np.abs(soc_mwh - expected - drift) > tol * 10))
    for what, bad in checks:
        for t in np.flatnonzero(bad)[:3]:
            out.append(f"asset {asset.id}: {what} at {_when(intervals, t)}")
    return out


def curtailment_violations(
    asset: CurtailableLoadSpec,
    curtail_mw: np.ndarray,
    interval_minutes: int,
    intervals: pd.DatetimeIndex | None = None,
) -> list[str]:
    """Event-rule breaches of one curtailable load's plan, re-derived from its curtailment.

    An event is a maximal run of intervals curtailed by more than a tolerance; the plan may have
    at most ``max_events_per_day`` of them, none longer than ``max_duration_min`` (at least one
    interval), and never more than ``max_curtail_mw``.

    Parameters
    ----------
    curtail_mw : numpy.ndarray
        (T,) reduction below the baseline [MW].
    interval_minutes : int
        Interval length [min].
    """
    tol = 1e-5 * max(1.0, asset.max_curtail_mw)
    on = curtail_mw > tol
    edges = np.diff(np.concatenate([[0], on.astype(int), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    longest = max(asset.max_duration_min // interval_minutes, 1)

    out: list[str] = []
    if len(starts) > asset.max_events_per_day:
        out.append(
            f"asset {asset.id}: {len(starts)} curtailment events, at most "
            f"{asset.max_events_per_day} a day (starts at "
            f"{', '.join(_when(intervals, k) for k in starts[:5])})"
        )
    for first, stop in zip(starts, ends, strict=True):
        if stop - first > longest:
            out.append(
                f"asset {asset.id}: curtailment event of {(stop - first) * interval_minutes} min "
                f"from {_when(intervals, first)}, longer than max_duration_min {asset.max_duration_min}"
            )
    for t in np.flatnonzero(curtail_mw > asset.max_curtail_mw + tol)[:3]:
        out.append(f"asset {asset.id}: curtailment above max_curtail_mw at {_when(intervals, t)}")
    return out


def generator_violations(
    asset: BackupGeneratorSpec,
    output_mw: np.ndarray,
    dt_h: float,
    intervals: pd.DatetimeIndex | None = None,
) -> list[str]:
    """Breaches of one backup generator's plan: output between its minimum stable output and
    rating while running, at most ``max_run_h_per_day`` hours running."""
    tol = 1e-5 * max(1.0, asset.power_mw)
    running = output_mw > tol
    out: list[str] = []
    for t in np.flatnonzero(running & (output_mw < asset.min_power_mw - tol))[:3]:
        out.append(f"asset {asset.id}: output below min_power_mw at {_when(intervals, t)}")
    for t in np.flatnonzero(output_mw > asset.power_mw + tol)[:3]:
        out.append(f"asset {asset.id}: output above power_mw at {_when(intervals, t)}")
    hours = float(running.sum() * dt_h)
    if hours > asset.max_run_h_per_day + 1e-9:
        out.append(
            f"asset {asset.id}: runs {hours:g} h, max_run_h_per_day {asset.max_run_h_per_day}"
        )
    return out


def plan_violations(
    problem_assets: list[AssetSpec],
    frames: Mapping[str, pd.DataFrame],
    dt_h: float,
    reserve_rules: Mapping[str, tuple[bool, bool, float, float]],
    net_mw: np.ndarray | None = None,
    reserves_total: Mapping[str, np.ndarray] | None = None,
    import_limit_mw: float = np.inf,
    export_limit_mw: float = np.inf,
) -> list[str]:
    """Every device or park-limit breach in per-asset plans, re-derived from the plans alone.

    Parameters
    ----------
    problem_assets : list of AssetSpec
        The assets, with the SoC they started the day at.
    frames : mapping
        Per-asset plans as returned in ``BidResult.assets`` [MW, MWh].
    dt_h : float
        Interval length [h].
    reserve_rules : mapping
        Product id -> (needs up room, needs down room, sustain [h], activation share [-]).
    net_mw : numpy.ndarray, optional
        (S, T) or (T,) net positions to check against the park limits [MW].
    reserves_total : mapping, optional
        Product id -> (T,) park total held [MW], added to the net position for the limits.
    """
    out: list[str] = []
    power = frames["power_mw"]
    index = power.index if isinstance(power.index, pd.DatetimeIndex) else None
    for asset in problem_assets:
        if isinstance(asset, BatterySpec) and asset.id in power.columns:
            held = {
                pid: (frames[f"reserve_{pid}_mw"][asset.id].to_numpy(), *rule)
                for pid, rule in reserve_rules.items()
                if f"reserve_{pid}_mw" in frames and asset.id in frames[f"reserve_{pid}_mw"]
            }
            out += battery_violations(
                asset,
                power[asset.id].to_numpy(),
                frames["charge_mw"][asset.id].to_numpy(),
                frames["discharge_mw"][asset.id].to_numpy(),
                frames["soc_mwh"][asset.id].to_numpy(),
                asset.soc_initial * asset.energy_mwh,
                dt_h,
                held,
                index,
            )
        if isinstance(asset, BackupGeneratorSpec) and asset.id in power.columns:
            out += generator_violations(asset, power[asset.id].to_numpy(), dt_h, index)
        if isinstance(asset, CurtailableLoadSpec) and asset.id in frames.get("curtail_mw", {}):
            out += curtailment_violations(
                asset,
                frames["curtail_mw"][asset.id].to_numpy(),
                round(dt_h * 60),
                index,
            )
    if net_mw is not None:
        net = np.atleast_2d(net_mw)
        up = np.zeros(net.shape[1])
        down = np.zeros(net.shape[1])
        for pid, total in (reserves_total or {}).items():
            needs_up, needs_down, _, _ = reserve_rules[pid]
            up += total if needs_up else 0.0
            down += total if needs_down else 0.0
        tol = 1e-6 * max(1.0, float(np.abs(net).max()))
        for t in np.flatnonzero(((net + up) > export_limit_mw + tol).any(axis=0))[:3]:
            out.append(f"park: export limit exceeded at interval {t}")
        for t in np.flatnonzero(((net - down) < -import_limit_mw - tol).any(axis=0))[:3]:
            out.append(f"park: import limit exceeded at interval {t}")
    return out


def reserve_rules_of(prep: Prepared) -> dict[str, tuple[bool, bool, float, float]]:
    """(up, down, sustain [h], activation share) per offered product, from the market profile."""
    return {p.id: (p.up, p.down, p.sustain_h, p.activation_share) for p in prep.reserves}
