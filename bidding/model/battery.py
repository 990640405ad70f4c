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
from bidding.model.lp import IntArray, Term
from bidding.problem import ReserveProduct
from vpp.domain.assets import BatterySpec, clock_minutes


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
    up = [r for pid, r in reserves.items() if _product(ctx, pid).up]
    down = [r for pid, r in reserves.items() if _product(ctx, pid).down]
    if up:
        lp.add_constraints(
            "up_headroom",
            [(1.0, d), (-1.0, c), *[(1.0, r[None, :]) for r in up]],
            upper=spec.power_mw * on,
            asset=group_id,
            describe="discharge power headroom for up reserves",
        )
        need = [
            (-_product(ctx, pid).sustain_h / eta, r[None, :])
            for pid, r in reserves.items()
            if _product(ctx, pid).up
        ]
        for label, soc in (("start", start), ("end", e)):
            lp.add_constraints(
                f"up_energy_{label}",
                [(1.0, soc), *need],
                lower=e_min,
                asset=group_id,
                describe="energy to sustain up reserves above soc_min",
            )
    if down:
        lp.add_constraints(
            "down_headroom",
            [(1.0, c), (-1.0, d), *[(1.0, r[None, :]) for r in down]],
            upper=spec.max_charge_mw * on,
            asset=group_id,
            describe="charge power headroom for down reserves",
        )
        room = [
            (_product(ctx, pid).sustain_h * eta, r[None, :])
            for pid, r in reserves.items()
            if _product(ctx, pid).down
        ]
        for label, soc in (("start", start), ("end", e)):
            lp.add_constraints(
                f"down_energy_{label}",
                [(1.0, soc), *room],
                upper=e_max,
                asset=group_id,
                describe="room to absorb down reserves below soc_max",
            )
    if spec.degradation_cost_per_mwh:
        ctx.add_scenario_profit(d, -spec.degradation_cost_per_mwh * dt)
    handles.net = [(1.0, d), (-1.0, c)]
    handles.variables = {"charge_mw": c, "discharge_mw": d, "soc_mwh": e, "soc_start_mwh": e0}
    handles.reserves = reserves


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
        # a battery that cannot sustain full activation for the product's duration offers less
        out[product.id] = ctx.lp.add_variables(
            f"reserve_{product.id}_mw", (t,), 0.0, limit * on, asset=group_id
        )
    return out
