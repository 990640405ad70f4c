"""Turn scenario positions into stepped bid curves that obey the market profile.

Per interval, scenarios sorted by price give price levels ``p_1 <= ... <= p_S`` and net
positions ``q_1 <= ... <= q_S`` (the model makes them non-decreasing and non-anticipative).
The curve is the step function ``f(price) = q_k`` for ``p_k <= price < p_{k+1}`` (``q_1`` below
``p_1``), so clearing at any scenario's price yields that scenario's position, and clearing at
any other price yields one of the scenario positions — each of which the fleet can deliver.

``f`` is written as a sell curve (the part above zero: the base ``max(q_1, 0)`` at the price
floor, then each increase at the price ``p_k`` where it starts) and a buy curve (the part below
zero: ``max(-q_S, 0)`` at the price cap, then each decrease of purchases at ``p_k`` minus one
tick, so it is bought at prices strictly below ``p_k``). Quantities are rounded to the
quantity tick (rounding is monotone, so order is kept); prices to the price tick inside the
bid limits. When a curve has more steps than ``max_segments``, the smallest steps are merged
into their neighbours, which again only ever selects among scenario positions. A curve whose
total is below ``min_bid_mw`` is raised to it on its always-cleared first step.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bidding.problem import Prepared, ReserveProduct
from vpp.domain.bids import BidCurve, BidSegment
from vpp.domain.market import MarketProfile


def _levels(
    prices: np.ndarray, ticks: np.ndarray, profile: MarketProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Distinct price levels (ascending, on tick) with the tick position at each."""
    rules = profile.bid_format
    bounds = profile.day_ahead.price_bounds
    order = np.argsort(prices, kind="stable")
    p = np.clip(
        np.round(prices[order] / rules.price_tick) * rules.price_tick,
        bounds.bid_min,
        bounds.bid_max,
    )
    n = np.maximum.accumulate(ticks[order])
    keep_p: list[float] = []
    keep_n: list[int] = []
    for price, qty in zip(p, n, strict=True):
        if keep_p and np.isclose(price, keep_p[-1]):
            keep_n[-1] = max(keep_n[-1], int(qty))
        elif keep_n and qty == keep_n[-1]:
            continue
        else:
            keep_p.append(float(price))
            keep_n.append(int(qty))
    return np.array(keep_p), np.array(keep_n, dtype=np.int64)


def _segment_counts(n: np.ndarray) -> tuple[int, int]:
    pos, neg = np.maximum(n, 0), np.maximum(-n, 0)
    sells = int(pos[0] > 0) + int((np.diff(pos) > 0).sum())
    buys = int(neg[-1] > 0) + int((np.diff(neg) < 0).sum())
    return sells, buys


def _merge(p: np.ndarray, n: np.ndarray, max_segments: int) -> tuple[np.ndarray, np.ndarray]:
    while len(n) > 1 and max(_segment_counts(n)) > max_segments:
        steps = np.diff(n)
        k = int(np.argmin(steps)) + 1  # drop breakpoint k: below p_{k+1} the position stays q_{k-1}
        p = np.delete(p, k)
        n = np.delete(n, k)
    return p, n


def energy_curves(
    prep: Prepared, positions_mw: np.ndarray, product_id: str
) -> tuple[list[BidCurve], list[str]]:
    """Sell and buy curves per interval from (S, T) scenario positions [MW].

    Returns the curves and notes on anything changed to meet the profile (curves below the
    minimum bid are raised to it: clearing the fleet a little more than planned is absorbed by
    the re-dispatch or settled as imbalance, where dropping would leave the whole curve open).
    """
    profile = prep.problem.profile
    rules = profile.bid_format
    bounds = profile.day_ahead.price_bounds
    tick = rules.qty_tick_mw
    ticks = np.round(positions_mw / tick).astype(np.int64)
    curves: list[BidCurve] = []
    notes: list[str] = []
    for t, start in enumerate(prep.intervals):
        p, n = _levels(prep.prices[:, t], ticks[:, t], profile)
        p, n = _merge(p, n, rules.max_segments)
        pos, neg = np.maximum(n, 0), np.maximum(-n, 0)
        sell = [(bounds.bid_min, int(pos[0]))] + [
            (float(p[k]), int(pos[k] - pos[k - 1])) for k in range(1, len(n))
        ]
        buy = [(bounds.bid_max, int(neg[-1]))] + [
            (max(float(p[k]) - rules.price_tick, bounds.bid_min), int(neg[k - 1] - neg[k]))
            for k in range(len(n) - 1, 0, -1)
        ]
        for side, steps in (("sell", sell), ("buy", buy)):
            curve = _curve(
                product_id, start, side, steps, tick, rules.min_segments, rules.price_tick
            )
            if curve is None:
                continue
            if curve.total_mw < rules.min_bid_mw - 1e-9:
                curve = _raise_to_minimum(curve, rules.min_bid_mw, tick)
                notes.append(
                    f"{side} curve at {start.isoformat()} raised to min_bid_mw "
                    f"{rules.min_bid_mw} MW; re-dispatch absorbs or settles the difference"
                )
            curves.append(curve)
    return curves, notes


def _curve(
    product_id: str,
    start: pd.Timestamp,
    side: str,
    steps: list[tuple[float, int]],
    tick: float,
    min_segments: int,
    price_tick: float,
) -> BidCurve | None:
    kept = [(price, qty) for price, qty in steps if qty > 0]
    if not kept:
        return None
    segments = [
        BidSegment(price=round(price / price_tick) * price_tick, quantity_mw=round(qty * tick, 9))
        for price, qty in kept
    ]
    segments = [
        BidSegment(price=round(s.price, 2 if price_tick >= 0.01 else 6), quantity_mw=s.quantity_mw)
        for s in segments
    ]
    while len(segments) < min_segments:
        segments.append(BidSegment(price=segments[-1].price, quantity_mw=0.0))
    return BidCurve(
        product_id=product_id, interval_start=start.to_pydatetime(), side=side, segments=segments
    )


def _raise_to_minimum(curve: BidCurve, minimum_mw: float, tick: float) -> BidCurve:
    """Add the shortfall to the first (always cleared) segment so the curve meets the minimum."""
    first = curve.segments[0]
    extra = minimum_mw - curve.total_mw
    quantity = round(round((first.quantity_mw + extra) / tick) * tick, 9)
    segments = [BidSegment(price=first.price, quantity_mw=quantity), *curve.segments[1:]]
    return curve.model_copy(update={"segments": segments})


def reserve_curves(prep: Prepared, product: ReserveProduct, held_mw: np.ndarray) -> list[BidCurve]:
    """One single-step sell offer per interval where capacity is offered [MW]."""
    curves = []
    for t, start in enumerate(prep.intervals):
        quantity = round(float(np.floor(held_mw[t] * 1000 + 1e-6) / 1000), 9)
        if quantity <= 0:
            continue
        curves.append(
            BidCurve(
                product_id=product.id,
                interval_start=start.to_pydatetime(),
                side="sell",
                segments=[
                    BidSegment(price=round(float(product.offer_price[t]), 2), quantity_mw=quantity)
                ],
            )
        )
    return curves
