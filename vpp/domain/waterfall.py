"""The monthly revenue waterfall: who gets which cent of what the market paid the portfolio.

Order (market-rules §4.2): market revenue attributed to each enterprise by its contribution ->
market penalties attributed to whoever under-delivered, pro rata to shortfall -> the
aggregator's share -> the enterprise's share, per contract scheme:

``percentage_split``
    the aggregator keeps ``aggregator_share`` of the enterprise's revenue after penalties.
``capacity_plus_performance``
    as above for the performance part, plus a capacity payment ``capacity_fee_per_mw_month`` x
    nominated MW from the aggregator, scaled down by a performance ratio below 1 (capacity at
    risk).
``min_guarantee``
    as ``percentage_split``; when the enterprise's result falls below ``min_guarantee``
    [currency/month] the aggregator tops it up.
``shared_savings``
    market revenue as ``percentage_split``; of the behind-the-meter bill savings (time-of-use
    and demand charge against a counterfactual bill under the profile's ``btm_tariff``) the
    enterprise pays the aggregator ``savings_share``.

Every line after the attribution is a transfer between an enterprise and the aggregator and
appears on both statements with opposite signs, and penalties and revenue are split with
:func:`~vpp.domain.settlement.allocate_cents`; so the statements add up to the market total to
the cent by construction, and :attr:`Waterfall.reconciles` checks it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd

from vpp.domain.bids import StatementLine
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import BtmTariff
from vpp.domain.park import Contract
from vpp.domain.settlement import allocate_cents, to_money

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class EnterpriseMonth:
    """What one enterprise contributed in the month."""

    enterprise_id: str
    revenue: Mapping[str, Decimal]
    """Market revenue attributed to its assets, per product id [currency]."""
    shortfall_mwh: float = 0.0
    """Committed energy it did not deliver [MWh] (>= 0)."""
    nominated_mw: float = 0.0
    """Capacity it enrolled, for capacity payments [MW]."""
    performance_ratio: float | None = None
    """Delivered / committed over the month [-]; scales the capacity payment when below 1."""
    btm_savings: Decimal | None = None
    """Behind-the-meter bill savings against the counterfactual [currency]."""


@dataclass(frozen=True)
class Waterfall:
    """Statement lines per enterprise and for the aggregator [currency]."""

    market_total: Decimal
    enterprise_lines: dict[str, list[StatementLine]]
    aggregator_lines: list[StatementLine] = field(default_factory=list)

    def enterprise_total(self, enterprise_id: str) -> Decimal:
        """Sum of one enterprise's lines [currency]."""
        return sum((x.amount for x in self.enterprise_lines[enterprise_id]), ZERO)

    @property
    def aggregator_total(self) -> Decimal:
        """Sum of the aggregator's lines [currency]."""
        return sum((x.amount for x in self.aggregator_lines), ZERO)

    @property
    def reconciles(self) -> bool:
        """Enterprise totals plus the aggregator's equal the market total to the cent."""
        parts = sum((self.enterprise_total(e) for e in self.enterprise_lines), ZERO)
        return parts + self.aggregator_total == self.market_total


def _line(label: str, label_zh: str, amount: Decimal, **extra: Any) -> StatementLine:
    return StatementLine(label=label, label_zh=label_zh, amount=amount, **extra)


def attribute_penalties(
    penalties: Decimal,
    enterprises: list[EnterpriseMonth],
    contracts: Mapping[str, Contract],
) -> tuple[dict[str, Decimal], Decimal]:
    """Split ``penalties`` [currency, <= 0] pro rata to shortfall.

    Returns the part each pass-through enterprise bears and the part the aggregator bears
    (shares of enterprises whose contract says ``aggregator_bears`` or ``none``, or everything
    when nobody fell short).
    """
    short = {e.enterprise_id: e.shortfall_mwh for e in enterprises if e.shortfall_mwh > 0}
    if penalties == 0 or not short:
        return {}, penalties
    split = allocate_cents(penalties, short)
    borne = {
        e: amount
        for e, amount in split.items()
        if contracts[e].penalty_pass_through == "pro_rata_shortfall"
    }
    return borne, penalties - sum(borne.values(), ZERO)


def build_waterfall(
    enterprises: list[EnterpriseMonth],
    contracts: Mapping[str, Contract],
    *,
    penalties: Decimal = ZERO,
    unattributed: Decimal = ZERO,
    product_labels: Mapping[str, str] | None = None,
) -> Waterfall:
    """Run the waterfall for one month.

    Parameters
    ----------
    enterprises : list of EnterpriseMonth
        Revenue per product, shortfall, nominated capacity and BTM savings of each enterprise.
    contracts : mapping
        The contract in force for each enterprise id.
    penalties : Decimal
        Market penalties of the portfolio in the month [currency, <= 0].
    unattributed : Decimal
        Market result not attributable to an asset (e.g. imbalance settlement) [currency];
        it stays with the aggregator.
    product_labels : mapping, optional
        Chinese label per product id.

    Returns
    -------
    Waterfall
        Lines summing to ``sum(revenue) + penalties + unattributed`` to the cent.
    """
    if penalties > 0:
        raise InvalidInputError(f"penalties must be <= 0, got {penalties}")
    missing = [e.enterprise_id for e in enterprises if e.enterprise_id not in contracts]
    if missing:
        raise InvalidInputError(
            f"no contract in force for {', '.join(missing)}",
            hint="record a revenue-sharing contract for each enterprise before settling",
        )
    labels_zh = dict(product_labels or {})
    borne, aggregator_penalty = attribute_penalties(penalties, enterprises, contracts)
    revenue_total = sum((to_money(v) for e in enterprises for v in e.revenue.values()), ZERO)
    lines: dict[str, list[StatementLine]] = {}
    agg: list[StatementLine] = []
    for e in enterprises:
        contract = contracts[e.enterprise_id]
        own = [
            _line(
                f"Market revenue {p}", f"市场收益 {labels_zh.get(p, p)}", to_money(v), product_id=p
            )
            for p, v in sorted(e.revenue.items())
        ]
        if e.enterprise_id in borne:
            own.append(
                _line(
                    f"Penalty for shortfall ({e.shortfall_mwh:.3f} MWh)",
                    "考核分摊",
                    borne[e.enterprise_id],
                    quantity=e.shortfall_mwh,
                    unit="MWh",
                )
            )
        net = sum((x.amount for x in own), ZERO)
        transfers = _contract_transfers(e, contract, net)
        for label, label_zh, amount, extra in transfers:
            own.append(_line(label, label_zh, amount, **extra))
            agg.append(
                _line(
                    f"{label} — {e.enterprise_id}",
                    f"{label_zh} — {e.enterprise_id}",
                    -amount,
                    **extra,
                )
            )
        lines[e.enterprise_id] = own
    if aggregator_penalty:
        agg.append(_line("Penalties borne by the aggregator", "聚合商承担考核", aggregator_penalty))
    if unattributed:
        agg.append(
            _line(
                "Imbalance and unattributed market result",
                "偏差及未分摊结算",
                to_money(unattributed),
            )
        )
    total = revenue_total + penalties + to_money(unattributed)
    return Waterfall(market_total=total, enterprise_lines=lines, aggregator_lines=agg)


Transfer = tuple[str, str, Decimal, dict[str, Any]]


def _contract_transfers(e: EnterpriseMonth, contract: Contract, net: Decimal) -> list[Transfer]:
    """Lines moving money between the enterprise (sign as seen by it) and the aggregator."""
    share = Decimal(str(contract.aggregator_share))
    out: list[Transfer] = []
    cut = to_money(net * share)
    if cut:
        out.append((f"Aggregator share {share:.0%}", f"聚合商分成 {share:.0%}", -cut, {}))
    if contract.scheme == "capacity_plus_performance":
        fee = Decimal(str(contract.capacity_fee_per_mw_month or 0))
        at_risk = 1.0 if e.performance_ratio is None else min(1.0, max(0.0, e.performance_ratio))
        pay = to_money(fee * Decimal(str(e.nominated_mw)) * Decimal(str(at_risk)))
        if pay:
            out.append(
                ("Capacity payment", "容量补偿", pay, {"quantity": e.nominated_mw, "unit": "MW"})
            )
    elif contract.scheme == "min_guarantee":
        guarantee = to_money(contract.min_guarantee or 0)
        after = net - cut
        if after < guarantee:
            out.append(("Minimum guarantee top-up", "保底补足", guarantee - after, {}))
    elif contract.scheme == "shared_savings" and e.btm_savings:
        fee = to_money(e.btm_savings * Decimal(str(contract.savings_share or 0)))
        if fee:
            pct = f"{contract.savings_share:.0%}"
            out.append(
                (
                    f"Savings share {pct} of bill savings {e.btm_savings}",
                    f"节能收益分享 {pct}（节省电费 {e.btm_savings}）",
                    -fee,
                    {},
                )
            )
    return out


@dataclass(frozen=True)
class Bill:
    """A tenant's electricity bill under the behind-the-meter tariff [currency]."""

    energy: Decimal
    demand: Decimal
    peak_kw: float

    @property
    def total(self) -> Decimal:
        """Energy plus demand charge [currency]."""
        return self.energy + self.demand


def btm_bill(load_mw: pd.Series, tariff: BtmTariff, tz: str, interval_minutes: int) -> Bill:
    """Time-of-use energy charge plus demand charge for one month of metered load.

    Parameters
    ----------
    load_mw : pandas.Series
        Consumption drawn from the grid per UTC interval start, >= 0 [MW].
    tariff : BtmTariff
        The profile's ``btm_tariff``: TOU bands [currency/MWh] and demand charge
        [currency/kW/month] on the maximum ``window_min`` average demand.
    tz : str
        Market timezone (TOU windows are local clock times).
    interval_minutes : int
        Interval length of ``load_mw`` [min].
    """
    if load_mw.isna().any():
        raise InvalidInputError(
            f"{int(load_mw.isna().sum())} load intervals are missing",
            hint="import the meter data before computing a bill",
        )
    hours = interval_minutes / 60
    price = tariff.price_series(pd.DatetimeIndex(load_mw.index), tz)
    energy = to_money(float((load_mw * price).sum() * hours)) if tariff.tou_periods else ZERO
    charge = tariff.demand_charge
    peak_kw = 0.0
    demand = ZERO
    if charge is not None and charge.rate_per_kw_month is not None and len(load_mw):
        window = load_mw.resample(f"{charge.window_min}min").mean()
        peak_kw = float(window.max()) * 1000
        demand = to_money(peak_kw * charge.rate_per_kw_month)
    return Bill(energy=energy, demand=demand, peak_kw=peak_kw)


def btm_savings(
    actual_load_mw: pd.Series,
    counterfactual_load_mw: pd.Series,
    tariff: BtmTariff,
    tz: str,
    interval_minutes: int,
) -> Decimal:
    """Bill saved against the counterfactual (no VPP) load [currency]; negative if it cost more."""
    actual = btm_bill(actual_load_mw, tariff, tz, interval_minutes)
    without = btm_bill(counterfactual_load_mw, tariff, tz, interval_minutes)
    return without.total - actual.total
