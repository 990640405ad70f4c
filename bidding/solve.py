"""Solve the day-ahead bidding problem and package the answer as bids, schedule and setpoints.

``solve_day_ahead`` runs: prepare inputs -> infeasibility pre-checks -> group assets -> build the
model -> solve -> (if infeasible) explain which asset, constraint and interval -> build bid
curves from scenario positions -> check them against the profile -> split group plans back to
assets. Nothing falls back silently: an impossible problem raises InfeasibleProblemError.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from bidding.aggregation import (
    RESERVE_GROUPS,
    AssetGroup,
    NestedGroups,
    group_assets,
    nested_groups,
)
from bidding.checks import precheck
from bidding.curves import energy_curves, reserve_curves
from bidding.decompose import (
    FIX_EVENTS_ABOVE,
    ParkPlan,
    Piece,
    decomposes,
    fix_curtailment_events,
    solve_pieces,
)
from bidding.diagnosis import SOLVED, raise_unless_solved
from bidding.model import build_model
from bidding.model.backend import LpSolution, solve_lp
from bidding.model.context import ModelContext
from bidding.model.market import reserve_total_terms
from bidding.problem import BidProblem, Prepared, ReserveProduct, prepare
from bidding.setpoints import dispatch_plan
from vpp.domain.bids import BidSet, DispatchPlan, check_bid_set
from vpp.domain.errors import VppError


@dataclass
class BidResult:
    """What a day-ahead optimisation produced.

    Attributes
    ----------
    bid_set : BidSet
        Energy curves per interval and reserve offers, already valid for the profile.
    schedule : pandas.DataFrame
        Per interval: expected, lowest and highest net position [MW], expected price
        [currency/MWh], base load [MW], reserve held per product ``reserve_<id>_mw`` [MW],
        total battery SoC [MWh].
    assets : dict of str to pandas.DataFrame
        Per-asset plans (see ``bidding.disaggregation.asset_frames``).
    expected_revenue : float
        Optimal objective: expected profit (+ risk term) [currency].
    binding : list of str
        Constraints that limit the plan, in words.
    positions_mw : numpy.ndarray
        (S, T) net position per price scenario [MW].
    notes : list of str
        Adjustments made to meet the profile.
    seconds : dict
        Wall time of ``build``, ``solve`` and ``total`` [s].
    """

    bid_set: BidSet
    schedule: pd.DataFrame
    assets: dict[str, pd.DataFrame]
    expected_revenue: float
    binding: list[str]
    positions_mw: np.ndarray
    market_id: str
    notes: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)

    @cached_property
    def setpoints(self) -> DispatchPlan:
        """Expected setpoints per asset and interval (built on first use)."""
        return dispatch_plan(self.market_id, self.bid_set.delivery_day, self.assets)


@dataclass
class Solved:
    """A solved model with everything needed to read it."""

    prep: Prepared
    ctx: ModelContext
    x: np.ndarray
    objective: float
    groups: list[AssetGroup]
    build_s: float
    solve_s: float


def solve_model(prep: Prepared, **build: object) -> Solved:
    """Build and solve; raise :class:`InfeasibleProblemError` with reasons when impossible.

    With virtual batteries and reserve products the solve has two stages (see
    :class:`~bidding.aggregation.NestedGroups`): reserves are decided on a coarse model, each
    fine virtual battery then holds its share of its coarse battery's reserves, and the fine
    model re-plans energy around them. The coarse plan split by shares is feasible for the fine
    model, so the second stage never earns less than the first.
    """
    t0 = time.perf_counter()
    problem = prep.problem
    nested = None
    if prep.reserves:
        coarse = RESERVE_GROUPS if problem.reserve_groups is None else problem.reserve_groups
        nested = nested_groups(
            prep.assets,
            problem.aggregate,
            problem.reserve_eligible,
            problem.virtual_groups,
            coarse,
        )
        if nested is not None and build and len(nested.fine) <= JOINT_REDISPATCH_MAX:
            nested = None  # re-dispatch must deliver the awards: solve it jointly while cheap
    if nested is None:
        groups = group_assets(
            prep.assets, problem.aggregate, problem.reserve_eligible, problem.virtual_groups
        )
        ctx = build_model(
            prep,
            groups,
            block_reserves=problem.block_reserves,
            **build,  # type: ignore[arg-type]
        )
        if build and len(groups) > FIX_EVENTS_ABOVE:
            # a large re-dispatch: one MIP over every load's events does not finish
            fix_curtailment_events(ctx, groups)
        t1 = time.perf_counter()
        solution = _solve_relax_and_fix(ctx, prep)
    else:
        groups = nested.fine
        first_ctx = build_model(
            prep,
            nested.coarse,
            block_reserves=True,
            **build,  # type: ignore[arg-type]
        )
        first = _solve_coarse(first_ctx, prep)
        raise_unless_solved(first, first_ctx)
        held = _coarse_reserves(first_ctx, first.x, nested)
        ctx = build_model(
            prep,
            groups,
            fixed_reserves=held,
            **build,  # type: ignore[arg-type]
        )
        if build and len(groups) > FIX_EVENTS_ABOVE:
            fix_curtailment_events(ctx, groups)
        t1 = time.perf_counter()
        solution = solve_lp(
            ctx.lp,
            problem.solver,
            problem.time_limit_s,
            relax_integers=not prep.lots,
            keep_device_integers=True,
        )
    t2 = time.perf_counter()
    raise_unless_solved(solution, ctx)
    return Solved(prep, ctx, solution.x, solution.objective, groups, t1 - t0, t2 - t1)


def _solve_coarse(ctx: ModelContext, prep: Prepared) -> LpSolution:
    """The coarse model, ending on an LP vertex (a MIP incumbent can break bounds by the
    solver's tolerances, which fixed reserves would carry into the fine model).

    Relax-and-fix needs no second LP when no product drains or fills the SoC by expected
    activation: scaling every holder's reserves down to the whole increments of the park total
    keeps each of its rows satisfied, and the fine model re-plans the energy anyway.
    """
    problem = prep.problem
    algorithm = COARSE_LP_ALGORITHM if problem.solver.lower() == "highs" else None
    if not ctx.lp.offer_integer_ids().size:  # e.g. re-dispatch: the awarded reserves are given
        return solve_lp(ctx.lp, problem.solver, problem.time_limit_s, lp_algorithm=algorithm)
    if problem.exact_mip:
        mip = solve_lp(ctx.lp, problem.solver, problem.time_limit_s)
        if mip.status not in SOLVED:
            return mip
        return _fix_increments(ctx, prep, mip.x, algorithm=algorithm)
    drift = any(p.activation_share > 0 and p.up != p.down for p in prep.reserves)
    if drift or prep.lots:
        return _relax_and_fix(ctx, prep, algorithm)
    first = solve_lp(
        ctx.lp, problem.solver, problem.time_limit_s, relax_integers=True, lp_algorithm=algorithm
    )
    if first.status not in SOLVED:
        return first
    x = first.x.copy()
    for product in prep.reserves:
        count, rounded, on = _whole_increments(ctx, product, x, down=True)
        total = x[count]
        factor = np.divide(rounded, total, out=np.zeros_like(total), where=total > 1e-9)
        for handles in ctx.groups.values():
            held = handles.reserves.get(product.id)
            if held is not None:
                x[held] = np.maximum(x[held], 0.0) * np.minimum(factor[product.block], 1.0)
        x[count] = rounded
        if on is not None:
            x[on] = (rounded > 0).astype(float)
    objective = float(ctx.lp.objective_vector() @ x + ctx.lp.objective_offset)
    return LpSolution(first.status, first.detail, x, objective, first.seconds)


def _coarse_reserves(
    coarse: ModelContext, x: np.ndarray, nested: NestedGroups
) -> dict[str, dict[str, np.ndarray]]:
    """Fine group -> product -> its share of its coarse group's reserves [MW]."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for group_id, (top, share) in nested.parent.items():
        source = coarse.groups[top].reserves
        out[group_id] = {
            pid: np.where(x[ids] > 1e-9, share * x[ids], 0.0) for pid, ids in source.items()
        }
    return out


JOINT_REDISPATCH_MAX = 50
"""Re-dispatch of up to this many fine virtual batteries is solved as one model: reserves split
by a coarse model can leave a fine battery short of the energy an award needs (settled as
imbalance); beyond it the joint model is too slow and the two stages are used."""

COARSE_LP_ALGORITHM = "barrier"
"""The coarse reserve model is a large, degenerate LP: interior point (with crossover, so the
answer is a vertex) beats simplex on it by about half."""

AUTO_MIP_NODE_LIMIT = 500
"""Branch-and-bound nodes the automatic mode lets the exact reserve MIP explore before keeping
relax-and-fix. A limit on work, not on wall-clock time: a time limit made the answer depend on
how busy the machine was (the MIP proven optimal on an idle machine, cut short under load)."""


def _solve_relax_and_fix(ctx: ModelContext, prep: Prepared) -> LpSolution:
    """Solve the model; reserve increments make it a MIP, handled per ``BidProblem.exact_mip``.

    * ``True``: the MIP, exactly.
    * ``False``: relax-and-fix: solve the LP, round offers down to whole increments (zero below
      the minimum bid), fix them and solve again. Rounding down keeps every constraint that
      reserves tighten satisfiable; the revenue lost is at most one increment per block, which
      for a 1 MW battery and 1 MW FCR increments can be the whole offer.
    * ``None`` (default): the MIP within :data:`AUTO_MIP_NODE_LIMIT` nodes (and the problem's
      own time limit, if it sets one); if it is not proven optimal by then, relax-and-fix too,
      keeping the better of the two solutions.
    """
    problem = prep.problem
    lp = ctx.lp
    if not prep.reserves or not lp.offer_integer_ids().size or problem.exact_mip:
        return solve_lp(lp, problem.solver, problem.time_limit_s)
    exact: LpSolution | None = None
    if problem.exact_mip is None:
        exact = solve_lp(lp, problem.solver, problem.time_limit_s, node_limit=AUTO_MIP_NODE_LIMIT)
        if exact.status == "optimal":
            return exact
    fixed = _relax_and_fix(ctx, prep)
    exact_better = (
        exact is not None
        and exact.status in SOLVED
        and (fixed.status not in SOLVED or exact.objective >= fixed.objective)
    )
    return exact if exact_better and exact is not None else fixed


def _relax_and_fix(ctx: ModelContext, prep: Prepared, algorithm: str | None = None) -> LpSolution:
    problem = prep.problem
    first = solve_lp(
        ctx.lp, problem.solver, problem.time_limit_s, relax_integers=True, lp_algorithm=algorithm
    )
    if first.status not in SOLVED:
        return first
    return _fix_increments(ctx, prep, first.x, down=True, algorithm=algorithm)


def _fix_increments(
    ctx: ModelContext,
    prep: Prepared,
    x: np.ndarray,
    down: bool = False,
    algorithm: str | None = None,
) -> LpSolution:
    """Fix reserve offers at whole increments of ``x`` (rounded down, or to the nearest) and
    solve what is left."""
    problem = prep.problem
    lp = ctx.lp
    for product in prep.reserves:
        count, rounded, on = _whole_increments(ctx, product, x, down)
        if on is not None:
            lp.set_lower(on, (rounded > 0).astype(float))
            lp.set_upper(on, (rounded > 0).astype(float))
        lp.set_lower(count, rounded)
        lp.set_upper(count, rounded)
    relax = not prep.lots
    return solve_lp(
        lp,
        problem.solver,
        problem.time_limit_s,
        relax_integers=relax,
        lp_algorithm=algorithm if relax else None,
        keep_device_integers=True,
    )


def _whole_increments(
    ctx: ModelContext, product: ReserveProduct, x: np.ndarray, down: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A product's block counts in ``x`` as whole increments (rounded down, or to the nearest),
    zero where below the minimum bid: ``(count ids, rounded counts, offered-switch ids)``."""
    count = ctx.variables[f"reserve:{product.id}"]
    scale = float(ctx.variables[f"reserve_scale:{product.id}"][0])
    rounded = np.floor(x[count] + 1e-6) if down else np.round(x[count])
    on = ctx.variables.get(f"reserve_on:{product.id}")
    if on is not None:
        rounded = np.where(rounded * scale >= product.min_bid_mw - 1e-9, rounded, 0.0)
    return count, rounded, on


def solve_day_ahead(problem: BidProblem) -> BidResult:
    """Optimise day-ahead energy bids and reserve offers for ``problem``.

    Parameters
    ----------
    problem : BidProblem
        Portfolio, market profile, price scenarios [currency/MWh] and limits.

    Returns
    -------
    BidResult
        Profile-valid bid set, schedule, per-asset plans and expected revenue [currency].

    Raises
    ------
    InfeasibleProblemError
        No schedule meets every device limit and requirement; ``reasons`` name the asset,
        the constraint and the interval.
    InvalidInputError
        Malformed inputs.
    """
    t0 = time.perf_counter()
    prep = prepare(problem)
    precheck(prep)
    plan, solved_as = _plan(prep)
    positions = plan.positions
    energy_id = problem.profile.enabled_products("energy")[0].id
    curves, notes = energy_curves(prep, positions, energy_id)
    notes = [*solved_as, *notes]
    for product in prep.reserves:
        curves.extend(reserve_curves(prep, product, plan.held[product.id]))
    bid_set = BidSet(
        id=f"bids-{prep.day.isoformat()}-{uuid.uuid4().hex[:8]}",
        market_id=problem.profile.market_id,
        delivery_day=prep.day,
        created_at=pd.Timestamp.now(tz="UTC").to_pydatetime(),
        curves=curves,
    )
    breaches = check_bid_set(bid_set, problem.profile)
    if breaches:  # a bug, not an input problem: the curves are built to meet the profile
        raise VppError("built bids break the profile: " + "; ".join(breaches[:5]))
    frames = plan.frames()
    schedule = _schedule(prep, positions, plan.held, frames)
    return BidResult(
        bid_set=bid_set,
        schedule=schedule,
        assets=frames,
        expected_revenue=plan.expected_revenue,
        binding=plan.binding(),
        positions_mw=positions,
        market_id=problem.profile.market_id,
        notes=notes,
        seconds={
            "build": plan.build_s,
            "solve": plan.solve_s,
            "total": time.perf_counter() - t0,
        },
    )


def _plan(prep: Prepared) -> tuple[ParkPlan, list[str]]:
    """The park's plan: asset by asset for large portfolios (``bidding.decompose``) while the
    park stays inside its connection, else from one joint model; and a note when the asset-by-
    asset plan was given up."""
    problem = prep.problem
    groups = group_assets(
        prep.assets, problem.aggregate, problem.reserve_eligible, problem.virtual_groups
    )
    notes: list[str] = []
    if decomposes(prep, len(groups)):
        plan = solve_pieces(prep, groups)
        if plan is not None:
            return plan, notes
        notes.append(
            "solved as one joint model: the asset-by-asset plan would break a park connection limit"
        )
    solved = solve_model(prep)
    ctx, x = solved.ctx, solved.x
    held: dict[str, np.ndarray] = {}
    for product in prep.reserves:
        coef, ids = reserve_total_terms(ctx, product.id)
        held[product.id] = np.maximum(coef * x[ids], 0.0)
    return ParkPlan(
        pieces=[Piece(group, ctx, x) for group in solved.groups],
        positions=x[ctx.variables["net"]],
        held=held,
        expected_revenue=ctx.expected_profit(x),
        build_s=solved.build_s,
        solve_s=solved.solve_s,
        joint=(ctx, x),
    ), notes


def _schedule(
    prep: Prepared,
    positions: np.ndarray,
    held: dict[str, np.ndarray],
    frames: dict[str, pd.DataFrame],
) -> pd.DataFrame:
    schedule = pd.DataFrame(index=prep.intervals)
    schedule["net_position_mw"] = prep.weights @ positions
    schedule["net_position_min_mw"] = positions.min(axis=0)
    schedule["net_position_max_mw"] = positions.max(axis=0)
    schedule["price_expected"] = prep.weights @ prep.prices
    schedule["base_load_mw"] = prep.weights @ prep.base_load
    for product_id, values in held.items():
        schedule[f"reserve_{product_id}_mw"] = values
    if "soc_mwh" in frames:
        schedule["battery_soc_mwh"] = frames["soc_mwh"].sum(axis=1).to_numpy()
    schedule.index.name = "interval_start"
    return schedule
