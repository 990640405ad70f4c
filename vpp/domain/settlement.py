"""Settling a delivery day: what the market paid, what each asset's flexibility earned, who gets it.

Market side: day-ahead energy (awarded MW x price x hours, sell > 0), reserve capacity (awarded
MW x capacity price x hours) and the imbalance between metered and awarded position, priced by
the profile's deviation rule. Asset side: each flexible asset's value is its metered power minus
its baseline, priced at the day-ahead price, plus its share of the reserve income (pro rata to
the reserve MW it held). With an imbalance price equal to the day-ahead price these two sides
agree exactly; the difference under any other rule is a deviation cost the aggregator carries.
Enterprise shares follow each contract; every amount is a Decimal rounded to the cent, and the
rounding remainder is placed so that the parts sum to the total exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd

from vpp.domain.bids import Award
from vpp.domain.market import MarketProfile

CENT = Decimal("0.01")


def to_money(value: float | Decimal) -> Decimal:
    """Round to the cent, half to even."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


def allocate_cents(total: Decimal, weights: Mapping[str, float]) -> dict[str, Decimal]:
    """Split ``total`` (in cents) over ``weights`` so the parts sum to it exactly.

    Largest-remainder method on the absolute weights; works for negative totals too.
    """
    keys = list(weights)
    if not keys:
        return {}
    cents = int((total / CENT).to_integral_value())
    magnitude = sum(abs(w) for w in weights.values())
    shares = [abs(weights[k]) / magnitude if magnitude else 1 / len(keys) for k in keys]
    raw = [cents * s for s in shares]
    floors = [int(r // 1) for r in raw]
    remainder = cents - sum(floors)
    order = sorted(range(len(keys)), key=lambda i: raw[i] - floors[i], reverse=True)
    for i in order[: abs(remainder)]:
        floors[i] += 1 if remainder > 0 else -1
    return {k: Decimal(c) * CENT for k, c in zip(keys, floors, strict=True)}


@dataclass(frozen=True)
class MarketSettlement:
    """The portfolio's market result for one day [currency]."""

    energy: Decimal
    reserves: dict[str, Decimal]
    imbalance: Decimal
    imbalance_mwh: float

    @property
    def total(self) -> Decimal:
        """Energy + reserves + imbalance."""
        return self.energy + sum(self.reserves.values(), Decimal("0")) + self.imbalance


def awarded_energy_mw(
    awards: Sequence[Award], index: pd.DatetimeIndex, profile: MarketProfile
) -> pd.Series:
    """Net awarded day-ahead energy position per UTC interval of ``index`` [MW] (> 0 sell)."""
    energy_ids = {p.id for p in profile.products if p.kind == "energy"}
    position = pd.Series(0.0, index=index)
    for award in awards:
        if award.product_id in energy_ids:
            position[pd.Timestamp(award.interval_start).tz_convert("UTC")] += award.signed_mw
    return position


def settle_market(
    awards: Sequence[Award],
    delivered_net_mw: pd.Series,
    day_ahead_price: pd.Series,
    profile: MarketProfile,
) -> MarketSettlement:
    """Reproduce the market's settlement of one day from awards and metered net position.

    Parameters
    ----------
    awards : sequence of Award
        Energy and reserve awards of the day.
    delivered_net_mw : pandas.Series
        Metered park net position per UTC interval [MW] (> 0 export).
    day_ahead_price : pandas.Series
        Realised day-ahead price per interval [currency/MWh].
    profile : MarketProfile
        Supplies the interval length, the energy products and the deviation rule.
    """
    hours = profile.interval_minutes / 60
    energy_ids = {p.id for p in profile.products if p.kind == "energy"}
    awarded = awarded_energy_mw(awards, delivered_net_mw.index, profile)
    energy = 0.0
    reserves: dict[str, float] = {}
    for award in awards:
        if award.product_id in energy_ids:
            energy += award.signed_mw * award.price * hours
        else:
            reserves[award.product_id] = (
                reserves.get(award.product_id, 0.0) + award.quantity_mw * award.price * hours
            )
    gap = delivered_net_mw - awarded
    rule = profile.settlement.deviation
    if rule.penalty_rule == "fixed_price" and rule.penalty_price_per_mwh is not None:
        price = pd.Series(rule.penalty_price_per_mwh, index=gap.index)
        imbalance = float((gap * day_ahead_price).sum() * hours) - float(
            (gap.abs() * price).sum() * hours
        )
    else:
        factor = (
            rule.penalty_price_factor
            if rule.penalty_rule == "price_factor" and rule.penalty_price_factor
            else 1.0
        )
        imbalance = float((gap * day_ahead_price * factor).sum() * hours)
    return MarketSettlement(
        energy=to_money(energy),
        reserves={k: to_money(v) for k, v in sorted(reserves.items())},
        imbalance=to_money(imbalance),
        imbalance_mwh=float(gap.abs().sum() * hours),
    )


def flexibility_value(
    delivered_mw: pd.Series,
    baseline_mw: pd.Series,
    day_ahead_price: pd.Series,
    interval_minutes: int,
) -> float:
    """Value of one asset's deviation from its baseline at day-ahead prices [currency]."""
    return float(((delivered_mw - baseline_mw) * day_ahead_price).sum() * interval_minutes / 60)
