"""Settle one delivered day: day-ahead energy, imbalance of what was not delivered, reserves.

Energy is paid at the day-ahead clearing price on the awarded position. The gap between the
delivered and the awarded position is settled as imbalance; with no real-time price series the
imbalance price is the day-ahead price, and the profile's deviation rule adds its penalty
(``price_factor``: the extra ``factor - 1`` times the price magnitude on every MWh of deviation
beyond the tolerance; ``fixed_price``: a fixed price per MWh beyond it). Reserve capacity is paid
its clearing price per MW and hour held (AGC: mileage x K x mileage price). The expected
activation energy of up/down products (``expected_activation_share`` of the capacity held), which
the model drains from or adds to the SoC and values at the energy price, is settled at the
day-ahead price in a ``<product>_activation`` line (sold for up, bought for down).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from vpp.domain.market import MarketProfile


def settle_day(
    profile: MarketProfile,
    prices: np.ndarray,
    awarded_mw: np.ndarray,
    delivered_mw: np.ndarray,
    reserves_mw: Mapping[str, np.ndarray],
    reserve_prices: Mapping[str, np.ndarray],
    agc_mileage_per_mw_h: float,
    agc_k: float,
) -> dict[str, float]:
    """Revenue by line for one day [currency]: energy, deviation, and one line per product."""
    dt = profile.interval_minutes / 60
    energy_id = profile.enabled_products("energy")[0].id
    lines = {energy_id: float(np.sum(awarded_mw * prices) * dt)}
    gap = delivered_mw - awarded_mw
    deviation = float(np.sum(gap * prices) * dt)
    rule = profile.settlement.deviation
    tolerance = (rule.tolerance_pct or 0.0) / 100 * np.abs(awarded_mw)
    excess = np.maximum(np.abs(gap) - tolerance, 0.0)
    if rule.penalty_rule == "price_factor" and rule.penalty_price_factor is not None:
        deviation -= float(np.sum(excess * np.abs(prices)) * dt) * max(
            rule.penalty_price_factor - 1, 0
        )
    elif rule.penalty_rule == "fixed_price" and rule.penalty_price_per_mwh is not None:
        deviation -= float(np.sum(excess) * dt) * rule.penalty_price_per_mwh
    lines["deviation"] = deviation
    for product_id, held in reserves_mw.items():
        price = np.asarray(reserve_prices[product_id], dtype=float)
        factor = (
            agc_mileage_per_mw_h * agc_k if profile.product(product_id).kind == "agc_fr" else 1.0
        )
        lines[product_id] = float(np.sum(held * price) * dt * factor)
        product = profile.product(product_id)
        share = product.activation.expected_activation_share
        if share > 0 and product.direction in {"up", "down"}:
            sign = 1.0 if product.direction == "up" else -1.0
            lines[f"{product_id}_activation"] = float(sign * share * np.sum(held * prices) * dt)
    return lines
