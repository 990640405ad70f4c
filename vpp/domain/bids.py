"""Bids, awards, dispatch plans and statements: the value objects a day-ahead cycle produces.

A bid curve is a list of stepped price-quantity segments for one product and interval.
Quantities are MW over the interval, always >= 0; the ``side`` says whether they are offered
(``sell``) or bid (``buy``). A sell curve's prices never fall along it; a buy curve's never rise.
``check_bid_set`` tests a bid set against a market profile and returns every breach.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from vpp.domain.market import MarketProfile

Side = Literal["sell", "buy"]


class BidSegment(BaseModel):
    """One step of a curve: ``quantity_mw`` offered or bid at ``price_per_mwh``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price: float = Field(description="Price [currency/MWh, or the product's unit].")
    quantity_mw: Annotated[float, Field(ge=0)]


class BidCurve(BaseModel):
    """All segments for one product, interval and side."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: str
    interval_start: AwareDatetime
    side: Side
    segments: list[BidSegment] = Field(min_length=1)

    @property
    def total_mw(self) -> float:
        """Sum of the segment quantities [MW]."""
        return sum(s.quantity_mw for s in self.segments)

    def cleared_mw(self, price: float) -> float:
        """Quantity accepted at clearing price ``price`` [MW] under pay-as-clear."""
        if self.side == "sell":
            return sum(s.quantity_mw for s in self.segments if s.price <= price)
        return sum(s.quantity_mw for s in self.segments if s.price >= price)


BidStatus = Literal["draft", "review", "approved", "submitted", "awarded", "rejected"]


class BidSet(BaseModel):
    """Every curve a portfolio sends for one delivery day."""

    model_config = ConfigDict(extra="forbid")

    id: str
    market_id: str
    delivery_day: date
    created_at: AwareDatetime
    status: BidStatus = "draft"
    curves: list[BidCurve] = Field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per segment: product, interval start, side, step, price, quantity."""
        rows = [
            {
                "product_id": c.product_id,
                "interval_start": pd.Timestamp(c.interval_start).tz_convert("UTC"),
                "side": c.side,
                "step": k,
                "price": s.price,
                "quantity_mw": s.quantity_mw,
            }
            for c in self.curves
            for k, s in enumerate(c.segments)
        ]
        columns = ["product_id", "interval_start", "side", "step", "price", "quantity_mw"]
        return pd.DataFrame(rows, columns=columns)


class Award(BaseModel):
    """What the market accepted for one product and interval (signed by ``side``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: str
    interval_start: AwareDatetime
    side: Side
    quantity_mw: Annotated[float, Field(ge=0)]
    price: float

    @property
    def signed_mw(self) -> float:
        """Quantity in the service's sign convention (sell > 0, buy < 0) [MW]."""
        return self.quantity_mw if self.side == "sell" else -self.quantity_mw


class Setpoint(BaseModel):
    """Power an asset must hold over one interval, in the service's sign convention [MW]."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    asset_id: str
    interval_start: AwareDatetime
    power_mw: float
    reserve_up_mw: Annotated[float, Field(ge=0)] = 0.0
    reserve_down_mw: Annotated[float, Field(ge=0)] = 0.0


class DispatchPlan(BaseModel):
    """Setpoints for every asset and interval of a delivery day."""

    model_config = ConfigDict(extra="forbid")

    market_id: str
    delivery_day: date
    setpoints: list[Setpoint] = Field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """Power setpoints as a table: UTC interval starts by asset id [MW]."""
        if not self.setpoints:
            return pd.DataFrame()
        rows = pd.DataFrame([s.model_dump() for s in self.setpoints])
        rows["interval_start"] = pd.to_datetime(rows["interval_start"], utc=True)
        return rows.pivot(index="interval_start", columns="asset_id", values="power_mw")


class StatementLine(BaseModel):
    """One line of a statement: a product or adjustment and its amount in the currency."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str
    label_zh: str | None = None
    product_id: str | None = None
    quantity: float | None = None
    unit: str | None = None
    amount: Decimal = Field(description="Money, rounded to the cent.")


class Statement(BaseModel):
    """An enterprise's (or the aggregator's) statement for a period; immutable once issued."""

    model_config = ConfigDict(extra="forbid")

    id: str
    enterprise_id: str
    market_id: str
    period_start: date
    period_end: date
    currency: str
    version: int = 1
    status: Literal["draft", "issued", "superseded"] = "draft"
    issued_at: AwareDatetime | None = None
    lines: list[StatementLine] = Field(default_factory=list)

    @property
    def total(self) -> Decimal:
        """Sum of the lines [currency]."""
        return sum((line.amount for line in self.lines), Decimal("0"))


def _on_tick(value: float, tick: float) -> bool:
    steps = value / tick
    return math.isclose(steps, round(steps), abs_tol=1e-6)


def check_bid_set(bids: BidSet, profile: MarketProfile) -> list[str]:
    """Every breach of the profile's bid rules in ``bids``; empty when the set is valid.

    Checks segment counts, price bounds and ticks, quantity ticks, minimum bid size per curve,
    monotonicity per side, the allowed sides, and that each interval is on the bid grid of
    the delivery day.
    """
    rules = profile.bid_format
    bounds = profile.day_ahead.price_bounds
    problems: list[str] = []
    if bids.market_id != profile.market_id:
        problems.append(f"bid set is for {bids.market_id}, profile is {profile.market_id}")
    grid = set(profile.day_intervals(bids.delivery_day))
    energy = {p.id for p in profile.enabled_products("energy")}
    for curve in bids.curves:
        where = (
            f"{curve.product_id} {curve.side} @ {pd.Timestamp(curve.interval_start).isoformat()}"
        )
        if pd.Timestamp(curve.interval_start).tz_convert("UTC") not in grid:
            problems.append(f"{where}: not an interval of {bids.delivery_day}")
        if curve.product_id not in energy:
            continue
        if rules.side != "both" and curve.side != rules.side:
            problems.append(f"{where}: side {curve.side} not allowed ({rules.side} only)")
        count = len(curve.segments)
        if not rules.min_segments <= count <= rules.max_segments:
            problems.append(
                f"{where}: {count} segments, allowed {rules.min_segments}..{rules.max_segments}"
            )
        prices = [s.price for s in curve.segments]
        for s in curve.segments:
            if not bounds.bid_min <= s.price <= bounds.bid_max:
                problems.append(
                    f"{where}: price {s.price} outside {bounds.bid_min}..{bounds.bid_max}"
                )
            if not _on_tick(s.price, rules.price_tick):
                problems.append(f"{where}: price {s.price} not on tick {rules.price_tick}")
            if not _on_tick(s.quantity_mw, rules.qty_tick_mw):
                problems.append(
                    f"{where}: quantity {s.quantity_mw} not on tick {rules.qty_tick_mw}"
                )
        ordered = sorted(prices) if curve.side == "sell" else sorted(prices, reverse=True)
        if prices != ordered:
            trend = "non-decreasing" if curve.side == "sell" else "non-increasing"
            problems.append(f"{where}: prices {prices} are not {trend}")
        if 0 < curve.total_mw < rules.min_bid_mw - 1e-9:
            problems.append(f"{where}: {curve.total_mw} MW is below min_bid_mw {rules.min_bid_mw}")
    return problems
