"""Explain a solved or an infeasible model in words.

``binding_constraints`` lists the constraint families and variable limits that sit at a bound
in the optimum (what limits revenue). ``explain_infeasible`` re-solves an infeasible model with
elastic slack on its requirement rows (end-of-day SoC, EV and batch energy, park limits, awarded
reserves) and names every row that had to give: asset, constraint and interval.
"""

from __future__ import annotations

import copy

import numpy as np

from bidding.model.backend import LpSolution, solve_lp
from bidding.model.context import ModelContext
from bidding.model.lp import Block, FloatArray, LinearProgram
from vpp.domain.errors import InfeasibleProblemError, VppError

TOL = 1e-6
LIMIT_VARIABLES = {
    "charge_mw": "charge power limit",
    "discharge_mw": "discharge power limit",
    "soc_mwh": "SoC window",
    "output_mw": "available output",
    "curtail_mw": "curtailment limit",
}


def _when(ctx: ModelContext, block: Block, position: tuple[int, ...]) -> str:
    intervals = ctx.prep.intervals
    if block.shape and block.shape[-1] == len(intervals) and position:
        return str(intervals[position[-1]].isoformat())
    if block.name.endswith("_final"):
        return f"the end of the day ({intervals[-1].isoformat()})"
    return f"the whole day {ctx.prep.day}"


def row_activity(lp: LinearProgram, x: FloatArray) -> FloatArray:
    """A x for every row."""
    rows, cols, vals = lp.triplets()
    activity: FloatArray = np.bincount(rows, vals * x[cols], minlength=lp.n_rows).astype(float)
    return activity


def binding_constraints(ctx: ModelContext, x: FloatArray, limit: int = 20) -> list[str]:
    """Constraint families and limits at a bound in the solution, most frequent first."""
    lp = ctx.lp
    t_count = ctx.prep.n_intervals
    activity = row_activity(lp, x)
    lower, upper = lp.row_bounds()
    scale = np.maximum(1.0, np.abs(activity))
    at_bound = (np.abs(activity - upper) <= TOL * scale) | (np.abs(activity - lower) <= TOL * scale)
    at_bound &= lower != upper
    found: list[tuple[int, str]] = []
    for block in lp.blocks:
        hits = int(at_bound[block.first : block.first + block.size].sum())
        if (hits and block.describe != block.name) or (hits and block.asset):
            who = f"asset {block.asset}" if block.asset else "park"
            found.append(
                (hits, f"{who}: {block.describe} binding in {hits} (scenario x interval) rows")
            )
    var_low, var_up = lp.bounds()
    for vb in lp.variable_blocks:
        if vb.name not in LIMIT_VARIABLES or not vb.shape or vb.shape[-1] != t_count:
            continue
        ids = np.arange(vb.first, vb.first + int(np.prod(vb.shape)))
        top = (var_up[ids] > TOL) & (
            np.abs(x[ids] - var_up[ids]) <= TOL * np.maximum(1, var_up[ids])
        )
        bottom = (vb.name == "soc_mwh") & (
            np.abs(x[ids] - var_low[ids]) <= TOL * np.maximum(1, np.abs(var_low[ids]))
        )
        hits = int(top.sum() + np.sum(bottom))
        if hits:
            found.append(
                (
                    hits,
                    f"asset {vb.asset}: {LIMIT_VARIABLES[vb.name]} reached in {hits} (scenario x interval) cells",
                )
            )
    found.sort(key=lambda item: -item[0])
    return [text for _, text in found[:limit]]


def explain_infeasible(ctx: ModelContext, solver: str) -> list[str]:
    """Reasons for infeasibility: elastic rows that must be violated, with amounts."""
    lp = copy.deepcopy(ctx.lp)
    lp.objective = []
    lp.objective_offset = 0.0
    elastic = [b for b in lp.blocks if b.elastic]
    slack_sets = []
    for block in elastic:
        rows = np.arange(block.first, block.first + block.size, dtype=np.int64)
        plus = lp.add_variables(f"slack+{block.name}", (block.size,), 0.0, np.inf)
        minus = lp.add_variables(f"slack-{block.name}", (block.size,), 0.0, np.inf)
        lp.rows += [rows, rows]
        lp.cols += [plus, minus]
        lp.coefs += [np.ones(block.size), -np.ones(block.size)]
        lp.add_objective(plus, -1.0)
        lp.add_objective(minus, -1.0)
        slack_sets.append((block, plus, minus))
    solution = solve_lp(lp, solver)
    if solution.status not in {"optimal", "feasible"}:
        return [
            "no requirement can be relaxed to make the problem feasible: check device limits "
            "(power, SoC window, availability) against the park limits"
        ]
    reasons: list[str] = []
    for block, plus, minus in slack_sets:
        gap = solution.x[plus] - solution.x[minus]
        for k in np.flatnonzero(np.abs(gap) > 1e-6)[:10]:
            position = np.unravel_index(int(k), block.shape) if block.shape else ()
            who = f"asset {block.asset}" if block.asset else "park"
            reasons.append(
                f"{who}: constraint {block.name} ({block.describe}) misses by {abs(gap[k]):.3f} "
                f"at {_when(ctx, block, tuple(int(p) for p in position))}"
            )
    return reasons or ["the solver reports infeasibility that no single requirement explains"]


SOLVED = {"optimal", "feasible"}


def raise_unless_solved(solution: LpSolution, ctx: ModelContext) -> None:
    """Raise :class:`InfeasibleProblemError` (with the reasons in words) for an infeasible
    model, :class:`VppError` for any other answer than a solution."""
    prep = ctx.prep
    if solution.status == "infeasible":
        raise InfeasibleProblemError(
            f"the bidding problem for {prep.day} is infeasible",
            reasons=explain_infeasible(ctx, prep.problem.solver),
        )
    if solution.status not in SOLVED:
        raise VppError(
            f"the solver ({prep.problem.solver}) ended with {solution.status}: {solution.detail}"
        )
