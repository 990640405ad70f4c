"""Large portfolios solved asset by asset, with the market quantities decided on the park.

One joint model of a park grows faster than linearly with its assets (a park of 500
dissimilar assets, 96 quarter-hours and 9 price scenarios is an LP of ~800,000 variables and
~1,000,000 rows that HiGHS did not finish in 20 minutes). Without a risk term, the assets are
coupled only by park-level rows: the connection limits, the bid curve's monotonicity in
price, and reserve offers in whole increments. So each asset group is solved as a model of its
own, with the same ``define_*`` physics, as a price taker over the same scenarios:

* its own net position is non-decreasing in price across scenarios (the bid-curve rule per
  asset; sums of such positions are too, so the park's curves need no repair);
* it may hold reserves in any amount (no increments, no minimum bid: those apply to the
  park's offer);
* a curtailable load's events are chosen exactly by :func:`bidding.model.loads.best_events`
  and fixed, so its model is an LP (HiGHS took up to 20 s and more on some of these MIPs);
  other device switches (generators, loads holding demand response) stay a small MIP.

Then the park's reserve offer per product and block is the sum rounded down to whole
increments (zero below the minimum bid), every holder's share is scaled down by the same
factor, and each holder whose share shrank re-plans its energy with its reserves fixed (less
reserve only loosens the rows reserves tighten, so that plan exists). The sum of the asset positions, less the base load, must keep
the park within its connection limits; when it does not, :func:`solve_pieces` returns
``None`` and the caller solves the joint model.

The result is feasible for the joint model and its value a lower bound of the joint optimum;
the gap (the per-asset monotonicity and the rounding of reserve totals) is measured against the
joint model in ``benchmarks/bidding_decomposition.py``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from bidding.aggregation import AssetGroup
from bidding.diagnosis import binding_constraints, raise_unless_solved
from bidding.disaggregation import asset_frames
from bidding.model import build_model
from bidding.model.backend import solve_lp
from bidding.model.context import ModelContext
from bidding.model.loads import best_events
from bidding.model.market import reserve_total_terms
from bidding.problem import Prepared, ReserveProduct
from vpp.domain.assets import CurtailableLoadSpec
from vpp.domain.errors import InfeasibleProblemError, InvalidInputError

#: Model groups above which ``BidProblem.decompose=None`` (the default) solves asset by asset.
#: The joint model grows faster than its groups: the sample park (8 groups, 9 scenarios) is a
#: MIP of 25k rows solved in seconds; a 20-asset park is 100k rows, whose LP relaxation alone
#: takes 45 s (barrier) and whose MIP did not finish in 15 min on this 2-core machine, while
#: asset by asset it takes about a second for 2.6 % below the joint bound
#: (benchmarks/results/bidding_decomposition.md).
DECOMPOSE_ABOVE = 12
#: Model groups above which a re-dispatch fixes each curtailable load's events as it would
#: choose them at the cleared prices (one MIP over all their events does not finish at 500
#: assets); up to it the re-dispatch keeps them free, so the awards are delivered exactly.
FIX_EVENTS_ABOVE = 40
#: Most threads solving pieces at once (HiGHS releases the GIL while it solves; pieces are
#: independent, so the plan does not depend on the count).
MAX_THREADS = 8

TOL = 1e-6


@dataclass
class Piece:
    """One asset group's own model and its solution."""

    group: AssetGroup
    ctx: ModelContext
    x: np.ndarray


@dataclass
class ParkPlan:
    """The park's plan: from its pieces, or from one joint model (``joint``: that model and
    its solution, which every piece then shares)."""

    pieces: list[Piece]
    positions: np.ndarray  # (S, T) park net position [MW]
    held: dict[str, np.ndarray]  # product id -> (T,) park offer [MW]
    expected_revenue: float
    build_s: float
    solve_s: float
    joint: tuple[ModelContext, np.ndarray] | None = None

    def frames(self) -> dict[str, pd.DataFrame]:
        """Per-asset plans, as :func:`bidding.disaggregation.asset_frames` gives them."""
        if self.joint is not None:
            ctx, x = self.joint
            return asset_frames(ctx, [p.group for p in self.pieces], x)
        parts: dict[str, list[pd.DataFrame]] = {}
        for piece in self.pieces:
            for quantity, frame in asset_frames(piece.ctx, [piece.group], piece.x).items():
                parts.setdefault(quantity, []).append(frame)
        return {q: pd.concat(frames, axis=1) for q, frames in parts.items()}

    def binding(self, limit: int = 20) -> list[str]:
        """The most frequent binding rows over all pieces."""
        if self.joint is not None:
            return binding_constraints(*self.joint, limit=limit)
        found: list[tuple[int, str]] = []
        for piece in self.pieces:
            for text in binding_constraints(piece.ctx, piece.x, limit=3):
                hits = re.search(r"in (\d+) ", text)
                found.append((int(hits.group(1)) if hits else 0, text))
        found.sort(key=lambda item: -item[0])
        return [text for _, text in found[:limit]]


def decomposes(prep: Prepared, n_groups: int) -> bool:
    """Whether to solve asset by asset (``BidProblem.decompose``; ``None``: by size)."""
    problem = prep.problem
    coupled = problem.risk_weight > 0 and prep.n_scenarios > 1
    if problem.decompose is None:
        return n_groups > DECOMPOSE_ABOVE and not coupled and not prep.lots
    if problem.decompose and (coupled or prep.lots):
        raise InvalidInputError(
            "decompose=True needs risk_weight=0 and whole_lots=False: a risk term or whole "
            "lots tie the assets together",
            hint="leave decompose at None to choose automatically",
        )
    return bool(problem.decompose)


def solve_pieces(prep: Prepared, groups: list[AssetGroup]) -> ParkPlan | None:
    """Solve each group alone, round the park's reserve offers and assemble the plan.

    Returns ``None`` when the summed plan breaks a park connection limit (solve jointly).

    Raises
    ------
    InfeasibleProblemError
        A group has no feasible plan on its own (so the park has none): reasons in words.
    """
    t0 = time.perf_counter()
    alone = piece_prep(prep)

    def piece(group: AssetGroup) -> Piece:
        ctx = build_model(alone, [group])
        return Piece(group, ctx, _solve(ctx, group))

    with ThreadPoolExecutor(max_workers=_threads()) as pool:
        pieces = list(pool.map(piece, groups))
        held = _round_reserves(prep, alone, pieces, pool)
        positions = sum(p.x[p.ctx.variables["net"]] for p in pieces) - prep.base_load
        if not _within_limits(prep, positions, held):
            # together they break the connection: each asset in turn gets what the ones
            # before it left of the connection
            shared = _within_headroom(prep, alone, groups)
            if shared is None:
                return None
            pieces = shared
            held = _round_reserves(prep, alone, pieces, pool)
            positions = sum(p.x[p.ctx.variables["net"]] for p in pieces) - prep.base_load
            if not _within_limits(prep, positions, held):
                return None
    revenue = sum(p.ctx.expected_profit(p.x) for p in pieces)
    revenue -= float(prep.weights @ (prep.prices * prep.base_load * prep.dt_h).sum(axis=1))
    return ParkPlan(pieces, positions, held, revenue, 0.0, time.perf_counter() - t0)


def _within_headroom(
    prep: Prepared, alone: Prepared, groups: list[AssetGroup]
) -> list[Piece] | None:
    """Each group in turn, limited to the import and export headroom (per scenario and
    interval, reserves activated) that the groups before it left; ``None`` when one cannot fit
    (the park is then solved as one model)."""
    problem = prep.problem
    net = -prep.base_load.copy()  # the park's net position so far [MW], (S, T)
    up = np.zeros(prep.n_intervals)
    down = np.zeros(prep.n_intervals)
    pieces: list[Piece] = []
    for group in groups:
        own = replace(
            alone,
            export_headroom_mw=problem.export_limit_mw - net - up,
            import_headroom_mw=problem.import_limit_mw + net - down,
        )
        ctx = build_model(own, [group])
        try:
            x = _solve(ctx, group)
        except InfeasibleProblemError:
            return None
        pieces.append(Piece(group, ctx, x))
        net = net + x[ctx.variables["net"]]
        for product in prep.reserves:
            coef, ids = reserve_total_terms(ctx, product.id)
            held = np.maximum(coef * x[ids], 0.0)
            if product.up:
                up = up + held
            if product.down:
                down = down + held
    return pieces


def _threads() -> int:
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


def piece_prep(prep: Prepared) -> Prepared:
    """The problem as one asset sees it: no base load, no park limits, reserves in any MW."""
    problem = replace(prep.problem, import_limit_mw=np.inf, export_limit_mw=np.inf)
    reserves = tuple(replace(r, increment_mw=None, min_bid_mw=0.0) for r in prep.reserves)
    return replace(
        prep, problem=problem, base_load=np.zeros_like(prep.base_load), reserves=reserves
    )


def fix_curtailment_events(ctx: ModelContext, groups: Sequence[AssetGroup]) -> None:
    """Fix the events of every curtailable load that holds no reserve to those it would choose
    on its own at the model's prices (:func:`bidding.model.loads.best_events`): what was a MIP
    over all their events becomes an LP in their depths."""
    if not ctx.prep.problem.exact_events:
        return
    for group in groups:
        if isinstance(group.spec, CurtailableLoadSpec) and not ctx.groups[group.id].reserves:
            _fix_block(ctx, group.id, "curtail_event", best_events(ctx.prep, group.spec))


def _solve(ctx: ModelContext, group: AssetGroup) -> np.ndarray:
    problem = ctx.prep.problem
    fix_curtailment_events(ctx, [group])
    # fixed events stay integer variables: presolve removes them, and HiGHS answered "model
    # status unknown" to some of these models passed as plain LPs
    solution = solve_lp(
        ctx.lp,
        problem.solver,
        problem.time_limit_s,
        relax_integers=True,
        keep_device_integers=True,
    )
    raise_unless_solved(solution, ctx)
    return solution.x


def _fix_block(ctx: ModelContext, asset: str, name: str, values: np.ndarray) -> None:
    block = next(b for b in ctx.lp.variable_blocks if b.name == name and b.asset == asset)
    ids = np.arange(block.first, block.first + values.size)
    ctx.lp.set_lower(ids, values.ravel())
    ctx.lp.set_upper(ids, values.ravel())


def _round_reserves(
    prep: Prepared, alone: Prepared, pieces: list[Piece], pool: ThreadPoolExecutor
) -> dict[str, np.ndarray]:
    """Park offers in whole increments (zero below the minimum bid), each holder's share scaled
    down to match; every holder whose share shrank then re-plans its energy around it (less
    reserve only loosens the rows reserves tighten, so the re-plan is feasible and earns at
    least the scaled plan)."""
    held: dict[str, np.ndarray] = {}
    shrunk: dict[int, dict[str, np.ndarray]] = {}
    for product in prep.reserves:
        key = f"reserve:{product.id}"
        totals = np.asarray(sum(p.x[p.ctx.variables[key]] for p in pieces), dtype=float)
        offer = _offer(product, totals)
        factor = np.divide(offer, totals, out=np.zeros_like(offer), where=totals > TOL)
        factor = np.minimum(factor, 1.0)
        for i, piece in enumerate(pieces):
            ids = piece.ctx.groups[piece.group.id].reserves.get(product.id)
            if ids is None or not (piece.x[ids] > TOL).any():
                continue
            if (factor[product.block] < 1.0 - TOL).any():
                shrunk.setdefault(i, {})[product.id] = (
                    np.maximum(piece.x[ids], 0.0) * factor[product.block]
                )
        held[product.id] = offer[product.block]
    again = pool.map(lambda item: _resolve(pieces[item[0]], item[1]), shrunk.items())
    for i, redone in zip(shrunk, again, strict=True):
        pieces[i] = redone
    return held


def _offer(product: ReserveProduct, totals: np.ndarray) -> np.ndarray:
    """(blocks,) park offer: whole increments rounded down, zero below the minimum bid."""
    offer = totals.copy()
    if product.increment_mw:
        offer = np.floor(totals / product.increment_mw + TOL) * product.increment_mw
    return np.where(offer >= product.min_bid_mw - 1e-9, offer, 0.0)


def _resolve(piece: Piece, changed: dict[str, np.ndarray]) -> Piece:
    """Re-plan one holder with its reserves fixed: ``changed`` where given, else as held."""
    handles = piece.ctx.groups[piece.group.id]
    fixed = {pid: np.maximum(piece.x[ids], 0.0) for pid, ids in handles.reserves.items()}
    fixed.update(changed)
    # within the headroom its first plan had (a piece of a shared connection keeps its share)
    ctx = build_model(piece.ctx.prep, [piece.group], fixed_reserves={piece.group.id: fixed})
    return Piece(piece.group, ctx, _solve(ctx, piece.group))


def _within_limits(prep: Prepared, positions: np.ndarray, held: dict[str, np.ndarray]) -> bool:
    """Whether the park stays inside its connection with every reserve sold activated."""
    problem = prep.problem
    up = sum((held[r.id] for r in prep.reserves if r.up), np.zeros(prep.n_intervals))
    down = sum((held[r.id] for r in prep.reserves if r.down), np.zeros(prep.n_intervals))
    export_ok = (positions + up <= problem.export_limit_mw + TOL).all()
    import_ok = (positions - down >= -problem.import_limit_mw - TOL).all()
    return bool(export_ok and import_ok)
