"""The park's market position: net position, park limits, reserve totals, bid-curve shape, objective.

- ``define_reserve_totals``: one capacity figure per product and block (constant over the
  product's ``product_length_h``), the sum of what the assets hold. With a ``bid_increment_mw``
  it is an integer number of increments; with a ``min_bid_mw`` above that, zero or at least the
  minimum (a binary), so offers never need rounding.
- ``define_net_position``: per scenario, the net position is the sum of the assets' power minus
  the inflexible base load; it stays within the park connection even when every reserve sold is
  activated.
- ``define_bid_monotonicity``: positions are non-anticipative and non-decreasing in price across
  scenarios of the same interval, so that sorted scenarios form a valid stepped bid curve.
- ``define_objective``: expected profit (scenario-weighted) plus ``risk_weight`` x CVaR.
- ``define_delivery``: for re-dispatch after awards, the net position follows the award, with
  penalised deviation where it cannot.
"""

from __future__ import annotations

import numpy as np

from bidding.model.context import ModelContext
from bidding.model.lp import FloatArray, IntArray, Term


def define_reserve_totals(ctx: ModelContext, fixed: dict[str, FloatArray] | None = None) -> None:
    """Park-level capacity per reserve product and block [MW]; ``fixed`` pins awarded values."""
    lp, prep = ctx.lp, ctx.prep
    t = prep.n_intervals
    _, var_upper = lp.bounds()
    for product in prep.reserves:
        holders = [g.reserves[product.id] for g in ctx.groups.values() if product.id in g.reserves]
        if fixed is not None:
            award = np.asarray(fixed.get(product.id, np.zeros(t)), dtype=float)
            total = lp.add_variables(f"reserve_{product.id}_total", (t,), award, award)
            ctx.variables[f"reserve:{product.id}"] = total
            lp.add_constraints(
                f"reserve_{product.id}_held",
                [(1.0, total), *[(-1.0, r) for r in holders]],
                0.0,
                0.0,
                elastic=True,
                describe=f"hold the awarded {product.id} capacity",
            )
            continue
        blocks = product.n_blocks
        scale = product.increment_mw or 1.0
        upper = sum(float(np.max(var_upper[r])) for r in holders) if holders else 0.0
        whole = product.increment_mw is not None
        count = lp.add_variables(
            f"reserve_{product.id}_blocks",
            (blocks,),
            0.0,
            np.floor(upper / scale + 1e-9) if whole else upper,
            integer=whole,
        )
        per_interval = count[product.block]
        lp.add_constraints(
            f"reserve_{product.id}_sum",
            [(scale, per_interval), *[(-1.0, r) for r in holders]],
            0.0,
            0.0,
            describe=f"{product.id} capacity held by the assets",
        )
        if product.min_bid_mw > (product.increment_mw or 0.0) and upper > 0:
            on = lp.add_variables(
                f"reserve_{product.id}_offered", (blocks,), 0.0, 1.0, integer=True
            )
            ctx.variables[f"reserve_on:{product.id}"] = on
            lp.add_constraints(
                f"reserve_{product.id}_min_bid",
                [(scale, count), (-product.min_bid_mw, on)],
                lower=0.0,
                describe=f"{product.id} offer of at least {product.min_bid_mw} MW",
            )
            lp.add_constraints(
                f"reserve_{product.id}_offer_switch",
                [(scale, count), (-upper, on)],
                upper=0.0,
            )
        ctx.variables[f"reserve:{product.id}"] = count
        ctx.variables[f"reserve_scale:{product.id}"] = np.array([scale])
        revenue = np.bincount(product.block, product.value_per_mw_h * prep.dt_h, minlength=blocks)
        ctx.add_first_stage_profit(count, revenue * scale)
        if product.activation_share > 0 and product.up != product.down:
            sign = 1.0 if product.up else -1.0
            coef = sign * product.activation_share * prep.prices * prep.dt_h * scale
            ctx.add_scenario_profit(np.broadcast_to(per_interval, ctx.shape), coef)


def reserve_total_terms(ctx: ModelContext, product_id: str) -> Term:
    """(coefficient, ids) of a product's park total per interval, shape (T,)."""
    ids = ctx.variables[f"reserve:{product_id}"]
    scale_ids = ctx.variables.get(f"reserve_scale:{product_id}")
    if scale_ids is None:
        return 1.0, ids
    product = next(p for p in ctx.prep.reserves if p.id == product_id)
    return float(scale_ids[0]), ids[product.block]


def define_net_position(ctx: ModelContext) -> IntArray:
    """Net position per scenario and interval [MW] within the park connection."""
    lp, prep = ctx.lp, ctx.prep
    problem = prep.problem
    net = lp.add_variables("net_position_mw", ctx.shape, -np.inf, np.inf)
    terms: list[Term] = [(1.0, net)]
    for group in ctx.groups.values():
        terms.extend((-coef, ids) for coef, ids in group.net)
    lp.add_constraints(
        "power_balance", terms, -prep.base_load, -prep.base_load, describe="park power balance"
    )
    up: list[Term] = []
    down: list[Term] = []
    for product in prep.reserves:
        coef, ids = reserve_total_terms(ctx, product.id)
        if product.up:
            up.append((coef, ids[None, :]))
        if product.down:
            down.append((-coef, ids[None, :]))
    if prep.export_headroom_mw is not None:
        lp.add_constraints(
            "export_limit",
            [(1.0, net), *up],
            upper=prep.export_headroom_mw,
            elastic=True,
            describe="export headroom the park's other assets leave",
        )
    elif np.isfinite(problem.export_limit_mw):
        lp.add_constraints(
            "export_limit",
            [(1.0, net), *up],
            upper=problem.export_limit_mw,
            elastic=True,
            describe=f"park export limit {problem.export_limit_mw} MW",
        )
    if prep.import_headroom_mw is not None:
        lp.add_constraints(
            "import_limit",
            [(1.0, net), *down],
            lower=-prep.import_headroom_mw,
            elastic=True,
            describe="import headroom the park's other assets leave",
        )
    elif np.isfinite(problem.import_limit_mw):
        lp.add_constraints(
            "import_limit",
            [(1.0, net), *down],
            lower=-problem.import_limit_mw,
            elastic=True,
            describe=f"park import limit {problem.import_limit_mw} MW",
        )
    if prep.lots:
        tick = problem.profile.bid_format.qty_tick_mw
        _, var_upper = lp.bounds()
        reach = 0.0
        for group in ctx.groups.values():
            for coef, ids in group.net:
                reach += float(np.max(np.abs(coef))) * float(var_upper[ids].max())
        low = np.floor((-reach - prep.base_load) / tick)
        high = np.ceil((reach - prep.base_load) / tick)
        lots = lp.add_variables("net_position_lots", ctx.shape, low, high, integer=True)
        lp.add_constraints(
            "whole_lots", [(1.0, net), (-tick, lots)], 0.0, 0.0, describe="position in whole lots"
        )
        ctx.variables["lots"] = lots
    ctx.variables["net"] = net
    return net


def define_energy_revenue(ctx: ModelContext) -> None:
    """Day-ahead energy revenue of the net position in each scenario [currency]."""
    prep = ctx.prep
    ctx.add_scenario_profit(ctx.variables["net"], prep.prices * prep.dt_h)


def define_bid_monotonicity(ctx: ModelContext) -> None:
    """Positions non-decreasing in price across scenarios, equal where prices are equal."""
    prep = ctx.prep
    if prep.n_scenarios < 2:
        return
    order = np.argsort(prep.prices, axis=0, kind="stable")
    net = np.take_along_axis(ctx.variables["net"], order, axis=0)
    price = np.take_along_axis(prep.prices, order, axis=0)
    same = np.isclose(price[1:], price[:-1], rtol=0.0, atol=1e-9)
    ctx.lp.add_constraints(
        "bid_monotonicity",
        [(1.0, net[:-1]), (-1.0, net[1:])],
        lower=np.where(same, 0.0, -np.inf),
        upper=0.0,
        describe="position non-decreasing in price",
    )


def define_objective(ctx: ModelContext) -> None:
    """Maximise expected profit + risk_weight x CVaR_alpha(profit)."""
    lp, prep = ctx.lp, ctx.prep
    weights = prep.weights
    for ids, coef in ctx.scenario_profit:
        shaped = weights.reshape((-1,) + (1,) * (ids.ndim - 1))
        lp.add_objective(ids, coef * shaped)
    for ids, coef in ctx.first_stage_profit:
        lp.add_objective(ids, coef)
    beta = prep.problem.risk_weight
    if beta <= 0 or prep.n_scenarios < 2:
        return
    s = prep.n_scenarios
    alpha = prep.problem.cvar_alpha
    var = lp.add_variables("value_at_risk", (1,), -np.inf, np.inf)
    shortfall = lp.add_variables("cvar_shortfall", (s,), 0.0, np.inf)
    terms: list[Term] = [(1.0, shortfall), (-1.0, np.broadcast_to(var, (s,)))]
    for ids, coef in ctx.scenario_profit:
        flat_ids = ids.reshape(s, -1)
        flat_coef = coef.reshape(s, -1)
        terms.extend((flat_coef[:, k], flat_ids[:, k]) for k in range(flat_ids.shape[1]))
    for ids, coef in ctx.first_stage_profit:
        first_ids, first_coef = ids.ravel(), coef.ravel()
        terms.extend(
            (float(first_coef[k]), np.broadcast_to(first_ids[k], (s,)))
            for k in range(first_ids.size)
        )
    lp.add_constraints("cvar", terms, lower=0.0, describe="CVaR shortfall")
    lp.add_objective(var, beta)
    lp.add_objective(shortfall, -beta * weights / (1 - alpha))


def define_delivery(ctx: ModelContext, awarded_mw: FloatArray, penalty_per_mwh: float) -> None:
    """Follow the awarded net position; deviations cost ``penalty_per_mwh`` [currency/MWh]."""
    lp, prep = ctx.lp, ctx.prep
    net = ctx.variables["net"]
    over = lp.add_variables("deviation_over_mw", ctx.shape, 0.0, np.inf)
    under = lp.add_variables("deviation_under_mw", ctx.shape, 0.0, np.inf)
    lp.add_constraints(
        "follow_award",
        [(1.0, net), (-1.0, over), (1.0, under)],
        awarded_mw[None, :],
        awarded_mw[None, :],
        describe="deliver the awarded position",
    )
    lp.add_objective(over, -penalty_per_mwh * prep.dt_h)
    lp.add_objective(under, -penalty_per_mwh * prep.dt_h)
    ctx.variables["deviation_over"] = over
    ctx.variables["deviation_under"] = under
