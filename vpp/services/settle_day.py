"""Settle one delivery day: flexibility value per asset, split by contract into statements.

The flexibility the VPP sold is worth the market result minus what the park would have had at
its baseline (every asset at its baseline, tenant loads as metered, at the day-ahead price).
That total is attributed to assets (their metered-minus-baseline energy at the day-ahead price,
plus reserve income pro rata to the reserve MW each held), and whatever the imbalance rule adds
beyond that stays with the aggregator as a deviation line. Each enterprise's statement lists its
assets' value and the aggregator's share under its contract; the aggregator's statement lists
the shares and the deviation. The statements sum to the flexibility total to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd

from vpp.domain.bids import DispatchPlan, Statement, StatementLine
from vpp.domain.market import MarketProfile
from vpp.domain.park import AGGREGATOR_ID
from vpp.domain.settlement import MarketSettlement, flexibility_value, to_money
from vpp.services.park_file import ParkData

AGGREGATOR = AGGREGATOR_ID
IMBALANCE_LABEL = "Imbalance and deviation"
"""Label of the aggregator's day line for the imbalance the market settled on the day."""
IMBALANCE_PRODUCT = "imbalance"
"""Product id under which the imbalance is reconciled with the market operator."""


@dataclass(frozen=True)
class DaySettlement:
    """The day's flexibility value, its attribution and the statements."""

    baseline_value: Decimal
    flexibility_total: Decimal
    asset_values: dict[str, Decimal]
    reserve_income: dict[str, Decimal]
    statements: list[Statement]

    @property
    def reconciles(self) -> bool:
        """Statements sum to the flexibility total to the cent."""
        return sum((s.total for s in self.statements), Decimal("0")) == self.flexibility_total


def _reserve_shares(
    plan: DispatchPlan, reserves: dict[str, Decimal]
) -> dict[str, dict[str, Decimal]]:
    """Reserve income per product split over assets by the reserve MW each held."""
    held: dict[str, float] = {}
    for s in plan.setpoints:
        held[s.asset_id] = held.get(s.asset_id, 0.0) + s.reserve_up_mw + s.reserve_down_mw
    total = sum(held.values())
    shares: dict[str, dict[str, Decimal]] = {}
    for product, income in reserves.items():
        if income == 0 or total <= 0:
            continue
        split = {a: to_money(float(income) * mw / total) for a, mw in held.items() if mw > 0}
        first = max(split, key=lambda a: held[a])
        split[first] += income - sum(split.values(), Decimal("0"))
        shares[product] = split
    return shares


def settle_day(
    data: ParkData,
    profile: MarketProfile,
    day: date,
    plan: DispatchPlan,
    delivered_mw: pd.DataFrame,
    baselines: pd.DataFrame,
    price: pd.Series,
    market: MarketSettlement,
) -> DaySettlement:
    """Attribute the day's market result to assets and issue day statements per enterprise.

    ``baselines`` holds each enrolled asset's baseline power [MW], one column per asset.
    """
    step = profile.interval_minutes
    loads = [c for c in delivered_mw.columns if c.startswith("load:")]
    baseline_net = baselines.sum(axis=1) + delivered_mw[loads].sum(axis=1)
    baseline_value = to_money(float((baseline_net * price).sum() * step / 60))
    flexibility_total = market.total - baseline_value

    asset_values = {
        a: to_money(flexibility_value(delivered_mw[a], baselines[a], price, step))
        for a in baselines.columns
    }
    reserve_shares = _reserve_shares(plan, market.reserves)
    reserve_income = {
        product: sum(split.values(), Decimal("0")) for product, split in reserve_shares.items()
    }
    attributed = sum(asset_values.values(), Decimal("0")) + sum(
        reserve_income.values(), Decimal("0")
    )
    deviation = flexibility_total - attributed

    statements: list[Statement] = []
    aggregator_lines: list[StatementLine] = []
    for enterprise in data.park.enterprises:
        owned = [a.spec.id for a in data.portfolio.assets if a.enterprise_id == enterprise.id]
        lines = [
            StatementLine(
                label=f"Flexibility value {a}",
                label_zh=f"灵活性收益 {a}",
                product_id="energy",
                amount=asset_values[a],
            )
            for a in owned
            if asset_values[a] != 0
        ]
        for product, split in reserve_shares.items():
            amount = sum((v for a, v in split.items() if a in owned), Decimal("0"))
            if amount:
                lines.append(
                    StatementLine(
                        label=f"Reserve capacity {product}",
                        label_zh=f"备用容量 {product}",
                        product_id=product,
                        amount=amount,
                    )
                )
        subtotal = sum((line.amount for line in lines), Decimal("0"))
        contract = data.portfolio.contract_of(enterprise.id)
        share = contract.aggregator_share if contract else profile.revenue_sharing.aggregator_share
        cut = to_money(subtotal * Decimal(str(share)))
        if cut:
            lines.append(
                StatementLine(
                    label=f"Aggregator share {share:.0%}",
                    label_zh=f"聚合商分成 {share:.0%}",
                    amount=-cut,
                )
            )
            aggregator_lines.append(
                StatementLine(
                    label=f"Share of {enterprise.id}",
                    label_zh=f"{enterprise.name_zh or enterprise.id} 分成",
                    amount=cut,
                )
            )
        statements.append(_statement(enterprise.id, profile, day, lines))
    aggregator_lines.append(
        StatementLine(label=IMBALANCE_LABEL, label_zh="偏差结算", amount=deviation)
    )
    # parks share a market: the aggregator's statement of the day names its park
    statements.append(
        _statement(AGGREGATOR, profile, day, aggregator_lines, key=f"{AGGREGATOR}:{data.park.id}")
    )
    return DaySettlement(
        baseline_value, flexibility_total, asset_values, reserve_income, statements
    )


def _statement(
    owner: str,
    profile: MarketProfile,
    day: date,
    lines: list[StatementLine],
    key: str | None = None,
) -> Statement:
    return Statement(
        id=f"{key or owner}:{profile.market_id}:{day.isoformat()}:v1",
        enterprise_id=owner,
        market_id=profile.market_id,
        period_start=day,
        period_end=day,
        currency=profile.currency,
        lines=lines,
    )
