"""Assemble the whole model from its ``define_*`` pieces."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bidding.aggregation import AssetGroup
from bidding.model.battery import define_battery
from bidding.model.context import ModelContext
from bidding.model.generation import define_generator, define_renewable
from bidding.model.loads import (
    define_curtailable_load,
    define_ev_fleet,
    define_shiftable_load,
    define_thermal,
)
from bidding.model.lp import FloatArray, IntArray, LinearProgram
from bidding.model.market import (
    define_bid_monotonicity,
    define_delivery,
    define_energy_revenue,
    define_net_position,
    define_objective,
    define_reserve_totals,
)
from bidding.problem import Prepared

DEFINE: dict[str, Callable[[ModelContext, str, Any], None]] = {
    "battery": define_battery,
    "pv": define_renewable,
    "wind": define_renewable,
    "curtailable_load": define_curtailable_load,
    "shiftable_load": define_shiftable_load,
    "thermal": define_thermal,
    "ev_fleet": define_ev_fleet,
    "backup_generator": define_generator,
}


def build_model(
    prep: Prepared,
    groups: Sequence[AssetGroup],
    *,
    awarded_mw: FloatArray | None = None,
    awarded_reserves: dict[str, FloatArray] | None = None,
    deviation_penalty: float = 0.0,
    fixed_reserves: dict[str, dict[str, FloatArray]] | None = None,
    block_reserves: bool = False,
    monotone: bool = True,
) -> ModelContext:
    """Build the bidding model, or with ``awarded_mw`` the re-dispatch model after awards.

    Parameters
    ----------
    prep : Prepared
        The checked problem.
    groups : sequence of AssetGroup
        Assets (or exact aggregates) to model.
    awarded_mw : numpy.ndarray, optional
        (T,) awarded net position [MW]; switches to re-dispatch: follow it, penalise deviation.
    awarded_reserves : dict, optional
        Product id -> (T,) awarded capacity [MW] to hold (re-dispatch).
    deviation_penalty : float
        Cost of a deviation from the award [currency/MWh] (re-dispatch).
    fixed_reserves : dict, optional
        Group id -> product id -> (T,) reserve the group holds [MW], decided beforehand (by a
        coarser model): its reserve variables are fixed there, and batteries turn their
        headroom and sustain-energy rows into bounds.
    block_reserves : bool
        Batteries hold one figure per product block (as the park offers it) instead of one
        per interval: a smaller, far less degenerate LP for many batteries; it gives up only
        moving reserve between batteries inside a block.
    monotone : bool
        Positions non-decreasing in price across scenarios (the bid-curve rule; ``False`` only
        for bounds, e.g. the separable relaxation of ``benchmarks/bidding_decomposition.py``).
    """
    ctx = ModelContext(
        LinearProgram(),
        prep,
        fixed_reserves=dict(fixed_reserves or {}),
        block_reserves=block_reserves,
    )
    eligible = prep.problem.reserve_eligible
    for group in groups:
        if eligible is not None:  # grouped members share their products
            ctx.eligible[group.id] = frozenset(eligible.get(group.members[0], ()))
        DEFINE[group.spec.type](ctx, group.id, group.spec)
    _fix_reserves(ctx)
    if awarded_mw is None:
        define_reserve_totals(ctx)
        define_net_position(ctx)
        define_energy_revenue(ctx)
        if monotone:
            define_bid_monotonicity(ctx)
    else:
        define_reserve_totals(ctx, fixed=awarded_reserves or {})
        define_net_position(ctx)
        define_energy_revenue(ctx)  # where an award cannot be met, deviate where it costs least
        define_delivery(ctx, np.asarray(awarded_mw, dtype=float), deviation_penalty)
    define_objective(ctx)
    return ctx


def _fix_reserves(ctx: ModelContext) -> None:
    """Pin the reserve variables of groups whose reserves were decided beforehand (one bulk
    bound update: the program's bounds are rewritten whole on each call)."""
    ids: list[IntArray] = []
    values: list[FloatArray] = []
    for group_id, fixed in ctx.fixed_reserves.items():
        for product_id, held in ctx.groups[group_id].reserves.items():
            ids.append(held)
            values.append(np.broadcast_to(np.asarray(fixed[product_id], float), held.shape))
    if ids:
        all_ids, all_values = np.concatenate(ids), np.concatenate(values)
        ctx.lp.set_lower(all_ids, all_values)
        ctx.lp.set_upper(all_ids, all_values)
