"""Batteries: charge and discharge, state of charge, and the headroom behind every reserve sold.

Charge ``c`` and discharge ``d`` are separate non-negative variables with one-way efficiency
``sqrt(RTE)`` each, so ``SoC[t] = SoC[t-1] + eta*c*dt - d*dt/eta`` [MWh]. The LP may charge and
discharge in the same interval only when that earns money (negative prices); it is then a
physically realisable fast cycle within the interval, and the setpoint is the net ``d - c``.
Reserves are first-stage (one MW figure per interval for all scenarios); each needs power room
in its direction from the scenario's net power and energy to hold full activation for the
product's ``min_sustain_min`` inside the SoC window, at the start and the end of the interval.
Expected activation energy (``expected_activation_share``) drains or fills the SoC.
"""

from __future__ import annotations

import numpy as np

from bidding.model.context import ModelContext, available
from bidding.model.lp import FloatArray, IntArray, Term
from bidding.problem import ReserveProduct
from vpp.domain.assets import BatterySpec, clock_minutes
from vpp.domain.errors import VppError


def define_battery(ctx: ModelContext, group_id: str, spec: BatterySpec) -> None:
    """Add one battery (or an exact aggregate of scaled copies) to the model."""
    lp, prep = ctx.lp, ctx.prep
    s, t = ctx.shape
    dt = prep.dt_h
    eta = spec.one_way_efficiency
    windows = [(clock_minutes(w.start), clock_minutes(w.end)) for w in spec.availability]
    on = available(windows, prep).astype(float)
    e_min, e_max = spec.soc_min * spec.energy_mwh, spec.soc_max * spec.energy_mwh
    e_init = spec.soc_initial * spec.energy_mwh
    final = spec.soc_final if spec.soc_final is not None else spec.soc_initial
    handles = ctx.group(group_id, "battery")
    c = lp.add_variables("charge_mw", (s, t), 0.0, spec.max_charge_mw * on, asset=group_id)
    d = lp.add_variables("discharge_mw", (s, t), 0.0, spec.power_mw * on, asset=group_id)
    e = lp.add_variables("soc_mwh", (s, t), e_min, e_max, asset=group_id)
    e0 = lp.add_variables("soc_start_mwh", (s, 1), e_init, e_init, asset=group_id)
    start = np.concatenate([e0, e[:, :-1]], axis=1)
    reserves = _define_reserve_capacity(ctx, group_id, spec, on)
    drift: list[Term] = []
    for product in prep.reserves:
        if product.id in reserves and product.activation_share > 0 and product.up != product.down:
            sign = 1.0 if product.up else -1.0
            factor = dt / eta if product.up else dt * eta
            drift.append((sign * product.activation_share * factor, reserves[product.id][None, :]))
    lp.add_constraints(
        "soc_balance",
        [(1.0, e), (-1.0, start), (-eta * dt, c), (dt / eta, d), *drift],
        0.0,
        0.0,
        asset=group_id,
        describe="state-of-charge balance",
    )
    # the end-of-day SoC is a requirement the operator may have to relax
    lp.add_constraints(
        "soc_final",
        [(1.0, e[:, -1])],
        lower=max(final * spec.energy_mwh, e_min),
        asset=group_id,
        elastic=True,
        describe=f"end-of-day SoC >= {final:.0%}",
    )
    fixed = ctx.fixed_reserves.get(group_id)
    if fixed is not None:  # reserves known: headroom and sustain energy become bounds
        _bound_by_fixed_reserves(ctx, group_id, spec, on, c, d, e, fixed)
    else:
        _headroom_rows(ctx, group_id, spec, on, reserves, c, d, start, e)
    # Not with fixed reserves (the fine stage of a two-stage virtual fleet): there the worst-mix
    # rows took dual simplex 1.4 s -> 456 s on 64 virtual batteries x 3 scenarios.
    if prep.problem.deliverable_curves and s > 1 and fixed is None:
        low, high = _deliverable_mix(
            ctx, group_id, spec, start, e, max(final * spec.energy_mwh, e_min)
        )
        _sustain_energy_rows(ctx, group_id, spec, reserves, low, high, "mix_", " in the worst mix")
    if spec.degradation_cost_per_mwh:
        ctx.add_scenario_profit(d, -spec.degradation_cost_per_mwh * dt)
    handles.net = [(1.0, d), (-1.0, c)]
    handles.variables = {"charge_mw": c, "discharge_mw": d, "soc_mwh": e, "soc_start_mwh": e0}
    handles.reserves = reserves


def _deliverable_mix(
    ctx: ModelContext,
    group_id: str,
    spec: BatterySpec,
    start: IntArray,
    e: IntArray,
    final_mwh: float,
) -> tuple[dict[str, IntArray], dict[str, IntArray]]:
    """Keep every mix of the scenarios' positions deliverable (``BidProblem.deliverable_curves``).

    Curves clear hour by hour, so the day's awards can take one scenario's position in one
    interval and another's in the next. A mix can follow, in each interval, the charge and
    discharge of the scenario whose position it took, so its SoC moves by that scenario's
    change in that interval. ``drain`` bounds, per interval, what any scenario takes out of the
    battery (``start - e``, expected reserve activation included) and ``fill`` what any puts in.
    The SoC of the worst mixes (``low``: the largest drain in every interval so far; ``high``:
    the largest fill) must stay in the SoC window (:func:`_sustain_energy_rows` adds the sustain
    energy of the reserves held), and ``low`` must end the day at the end-of-day target. Power
    headroom needs nothing more: in every interval a mix stands where one scenario stands.

    Returns the ``low`` and ``high`` SoC ids at the ``start`` and ``end`` of every interval,
    (1, T) each.
    """
    lp, prep = ctx.lp, ctx.prep
    _, t = ctx.shape
    dt = prep.dt_h
    e_min, e_max = spec.soc_min * spec.energy_mwh, spec.soc_max * spec.energy_mwh
    e_init = spec.soc_initial * spec.energy_mwh
    drain = lp.add_variables("mix_drain_mw", (1, t), -np.inf, np.inf, asset=group_id)
    fill = lp.add_variables("mix_fill_mw", (1, t), -np.inf, np.inf, asset=group_id)
    lp.add_constraints(
        "mix_drain",
        [(dt, drain), (-1.0, start), (1.0, e)],
        lower=0.0,
        asset=group_id,
        describe="largest drain of any scenario",
    )
    lp.add_constraints(
        "mix_fill",
        [(dt, fill), (1.0, start), (-1.0, e)],
        lower=0.0,
        asset=group_id,
        describe="largest fill of any scenario",
    )
    out: list[dict[str, IntArray]] = []
    for name, rate, sign, low, high in (
        ("mix_low_mwh", drain, -1.0, e_min, np.inf),
        ("mix_high_mwh", fill, 1.0, -np.inf, e_max),
    ):
        path = lp.add_variables(name, (1, t), low, high, asset=group_id)
        begin = lp.add_variables(f"{name}_start", (1, 1), e_init, e_init, asset=group_id)
        starts: IntArray = np.concatenate([begin, path[:, :-1]], axis=1)
        lp.add_constraints(
            name,
            [(1.0, path), (-1.0, starts), (-sign * dt, rate)],
            0.0,
            0.0,
            asset=group_id,
            describe="SoC of the worst mix of scenario positions",
        )
        out.append({"start": starts, "end": path})
        if sign < 0:
            lp.add_constraints(
                "mix_final",
                [(1.0, path[:, -1])],
                lower=final_mwh,
                asset=group_id,
                elastic=True,
                describe="end-of-day SoC of the worst mix",
            )
    return out[0], out[1]


def _sustain_energy_rows(
    ctx: ModelContext,
    group_id: str,
    spec: BatterySpec,
    reserves: dict[str, IntArray],
    low: dict[str, IntArray],
    high: dict[str, IntArray],
    prefix: str = "",
    whose: str = "",
) -> None:
    """Energy to sustain full activation of the reserves held at both ends of every interval:
    the SoC ``low[label]`` (start / end of the interval) keeps the up reserves' energy above
    soc_min, ``high[label]`` the down reserves' room below soc_max."""
    eta = spec.one_way_efficiency
    e_min, e_max = spec.soc_min * spec.energy_mwh, spec.soc_max * spec.energy_mwh
    products = {pid: _product(ctx, pid) for pid in reserves}
    need = [
        (-products[p].sustain_h / eta, r[None, :]) for p, r in reserves.items() if products[p].up
    ]
    room = [
        (products[p].sustain_h * eta, r[None, :]) for p, r in reserves.items() if products[p].down
    ]
    for label in ("start", "end"):
        if need:
            ctx.lp.add_constraints(
                f"{prefix}up_energy_{label}",
                [(1.0, low[label]), *need],
                lower=e_min,
                asset=group_id,
                describe=f"energy to sustain up reserves above soc_min{whose}",
            )
        if room:
            ctx.lp.add_constraints(
                f"{prefix}down_energy_{label}",
                [(1.0, high[label]), *room],
                upper=e_max,
                asset=group_id,
                describe=f"room to absorb down reserves below soc_max{whose}",
            )


def _headroom_rows(
    ctx: ModelContext,
    group_id: str,
    spec: BatterySpec,
    on: FloatArray,
    reserves: dict[str, IntArray],
    c: IntArray,
    d: IntArray,
    start: IntArray,
    e: IntArray,
) -> None:
    """Power headroom, and energy to sustain full activation at both ends of every interval."""
    lp = ctx.lp
    up = {pid: r for pid, r in reserves.items() if _product(ctx, pid).up}
    down = {pid: r for pid, r in reserves.items() if _product(ctx, pid).down}
    if up:
        lp.add_constraints(
            "up_headroom",
            [(1.0, d), (-1.0, c), *[(1.0, r[None, :]) for r in up.values()]],
            upper=spec.power_mw * on,
            asset=group_id,
            describe="discharge power headroom for up reserves",
        )
    if down:
        lp.add_constraints(
            "down_headroom",
            [(1.0, c), (-1.0, d), *[(1.0, r[None, :]) for r in down.values()]],
            upper=spec.max_charge_mw * on,
            asset=group_id,
            describe="charge power headroom for down reserves",
        )
    soc = {"start": start, "end": e}
    _sustain_energy_rows(ctx, group_id, spec, reserves, soc, soc)


def _bound_by_fixed_reserves(
    ctx: ModelContext,
    group_id: str,
    spec: BatterySpec,
    on: FloatArray,
    c: IntArray,
    d: IntArray,
    e: IntArray,
    fixed: dict[str, FloatArray],
) -> None:
    """The same requirements with the reserves known, as bounds: discharge and charge each
    leave their reserves' power free (stricter than the net headroom rows only when charging
    and discharging at once), and the SoC at the end of interval ``t`` sustains the reserves
    of ``t`` and of ``t + 1`` (it is the start of the next interval)."""
    t = ctx.prep.n_intervals
    eta = spec.one_way_efficiency
    e_min, e_max = spec.soc_min * spec.energy_mwh, spec.soc_max * spec.energy_mwh
    e_init = spec.soc_initial * spec.energy_mwh
    up_mw, down_mw, need, room = np.zeros(t), np.zeros(t), np.zeros(t), np.zeros(t)
    for product in ctx.prep.reserves:
        held = np.asarray(fixed.get(product.id, np.zeros(t)), dtype=float)
        if product.up:
            up_mw += held
            need += product.sustain_h / eta * held
        if product.down:
            down_mw += held
            room += product.sustain_h * eta * held
    if e_init < e_min + need[0] - 1e-6 or e_init > e_max - room[0] + 1e-6:
        raise VppError(
            f"{group_id}: the reserves fixed for the first interval do not fit its initial SoC"
        )
    lower = e_min + np.maximum(need, np.append(need[1:], 0.0))
    upper = e_max - np.maximum(room, np.append(room[1:], 0.0))
    touching = (lower > upper) & (lower - upper < 1e-6)  # rounding, not a real conflict
    lower[touching] = upper[touching] = 0.5 * (lower[touching] + upper[touching])
    lp = ctx.lp
    lp.set_lower(e, np.broadcast_to(lower, e.shape))
    lp.set_upper(e, np.broadcast_to(upper, e.shape))
    d_max, c_max = spec.power_mw * on - up_mw, spec.max_charge_mw * on - down_mw
    d_max[d_max < 1e-9] = 0.0  # slivers from rounding only slow the solver down
    c_max[c_max < 1e-9] = 0.0
    lp.set_upper(d, np.broadcast_to(d_max, d.shape))
    lp.set_upper(c, np.broadcast_to(c_max, c.shape))


def _product(ctx: ModelContext, product_id: str) -> ReserveProduct:
    return next(p for p in ctx.prep.reserves if p.id == product_id)


def _define_reserve_capacity(
    ctx: ModelContext, group_id: str, spec: BatterySpec, on: np.ndarray
) -> dict[str, IntArray]:
    """Capacity per reserve product a battery holds in each interval [MW]."""
    out: dict[str, IntArray] = {}
    t = ctx.prep.n_intervals
    for product in ctx.prep.reserves:
        if not ctx.may_hold(group_id, product.id):
            continue
        limit = min(
            spec.power_mw if product.up else np.inf, spec.max_charge_mw if product.down else np.inf
        )
        cap = limit * on
        if ctx.block_reserves:  # one figure per block, the lowest limit within it
            upper = np.full(product.n_blocks, np.inf)
            np.minimum.at(upper, product.block, cap)
            held = ctx.lp.add_variables(
                f"reserve_{product.id}_mw", (product.n_blocks,), 0.0, upper, asset=group_id
            )
            out[product.id] = held[product.block]
        else:
            out[product.id] = ctx.lp.add_variables(
                f"reserve_{product.id}_mw", (t,), 0.0, cap, asset=group_id
            )
    return out
