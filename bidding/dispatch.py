"""Re-dispatch after awards: device setpoints that deliver the awarded position and reserves.

The model is the bidding model with one scenario, the awarded reserve capacity pinned, and the
net position tied to the awarded energy by penalised deviation variables: where the fleet can
deliver the award exactly it does; where rounding to the quantity tick or a curve raised to the
minimum bid left an award it cannot meet, the cheapest deviation is planned and reported, to be
settled as imbalance. Device limits are never relaxed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bidding.disaggregation import asset_frames
from bidding.problem import BidProblem, prepare
from bidding.setpoints import dispatch_plan
from bidding.solve import solve_model
from vpp.domain.bids import Award, DispatchPlan
from vpp.domain.errors import InvalidInputError


@dataclass
class Redispatch:
    """Setpoints plus what the plan delivers against the awards."""

    plan: DispatchPlan
    assets: dict[str, pd.DataFrame]
    awarded_mw: np.ndarray  # (T,) awarded net energy position
    delivered_mw: np.ndarray  # (T,) planned net position
    reserves_mw: dict[str, np.ndarray]  # awarded capacity held per product
    prices: np.ndarray  # (T,) energy clearing prices


def awarded_arrays(
    problem: BidProblem, awards: Sequence[Award]
) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """Awarded net energy [MW], reserve capacity per product [MW] and clearing prices per interval."""
    index = pd.DatetimeIndex(problem.intervals).tz_convert("UTC")
    position = {ts: k for k, ts in enumerate(index)}
    energy = {p.id for p in problem.profile.products if p.kind == "energy"}
    net = np.zeros(len(index))
    prices = np.full(len(index), np.nan)
    reserves: dict[str, np.ndarray] = {}
    for award in awards:
        t = position.get(pd.Timestamp(award.interval_start).tz_convert("UTC"))
        if t is None:
            raise InvalidInputError(f"award at {award.interval_start} is not in the problem's day")
        if award.product_id in energy:
            net[t] += award.signed_mw
            prices[t] = award.price
        else:
            reserves.setdefault(award.product_id, np.zeros(len(index)))[t] += award.quantity_mw
    expected = np.atleast_2d(np.asarray(problem.price_scenarios, dtype=float)).mean(axis=0)
    prices = np.where(np.isnan(prices), expected, prices)
    return net, reserves, prices


def redispatch(problem: BidProblem, awards: Sequence[Award]) -> Redispatch:
    """Plan device setpoints for the awards; see the module docstring."""
    net, reserves, prices = awarded_arrays(problem, awards)
    base = problem.base_load_mw
    if base is not None and np.ndim(base) == 2:
        base = np.asarray(base, dtype=float).mean(axis=0)
    reserve_prices = {pid: np.zeros(len(prices)) for pid, v in reserves.items() if v.any()}
    single = replace(
        problem,
        price_scenarios=prices[None, :],
        scenario_weights=None,
        base_load_mw=base,
        reserve_prices=reserve_prices,
        risk_weight=0.0,
        whole_lots=False,
    )
    prep = prepare(single)
    penalty = 1000.0 + 10.0 * float(np.max(np.abs(prices)))
    held = {pid: reserves[pid] for pid in reserve_prices}
    solved = solve_model(prep, awarded_mw=net, awarded_reserves=held, deviation_penalty=penalty)
    frames = asset_frames(solved.ctx, solved.groups, solved.x)
    delivered = solved.x[solved.ctx.variables["net"]][0]
    plan = dispatch_plan(problem.profile.market_id, prep.day, frames)
    return Redispatch(plan, frames, net, delivered, held, prices)


def plan_dispatch(problem: BidProblem, awards: Sequence[Award]) -> DispatchPlan:
    """Device setpoints that deliver ``awards`` and hold the awarded reserves.

    Parameters
    ----------
    problem : BidProblem
        The problem the bids were built from (assets, limits, SoC at the start of the day).
    awards : sequence of Award
        Cleared energy [MW] and reserve capacity [MW] per interval.

    Returns
    -------
    DispatchPlan
        One setpoint per asset and interval [MW], within every device limit.
    """
    return redispatch(problem, awards).plan
