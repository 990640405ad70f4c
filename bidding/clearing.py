"""Clear a bid set against realised prices (a pay-as-clear replay of the auction).

Energy: each curve clears at the interval's realised price — a sell step is accepted when its
price is at or below the clearing price, a buy step when at or above — and is paid the clearing
price. Reserve offers: accepted when the offer price is at or below the product's realised
clearing price, and paid that clearing price.
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from vpp.domain.bids import Award, BidSet
from vpp.domain.errors import InvalidInputError
from vpp.domain.market import MarketProfile, load_market_profile


def _price_at(series: pd.Series, stamp: pd.Timestamp, what: str) -> float:
    try:
        value = float(series.loc[stamp])
    except KeyError:
        raise InvalidInputError(f"no realised {what} price for {stamp.isoformat()}") from None
    if value != value:
        raise InvalidInputError(f"realised {what} price for {stamp.isoformat()} is missing (NaN)")
    return value


def clear_day_ahead(
    bid_set: BidSet,
    realised_energy_prices: pd.Series,
    realised_reserve_prices: Mapping[str, pd.Series],
    profile: MarketProfile | None = None,
) -> list[Award]:
    """Awards for every curve of ``bid_set`` at realised prices.

    Parameters
    ----------
    bid_set : BidSet
        Energy curves and reserve offers of one delivery day.
    realised_energy_prices : pandas.Series
        Day-ahead clearing price per UTC interval start [currency/MWh].
    realised_reserve_prices : mapping
        Product id -> clearing capacity price per UTC interval start [currency/MW/h]. A reserve
        offer whose product has no price here is not accepted.
    profile : MarketProfile, optional
        The market; loaded from ``bid_set.market_id`` when omitted.

    Returns
    -------
    list of Award
        One award per curve (quantity 0 when nothing cleared), ``price`` = clearing price.
    """
    market = profile or load_market_profile(bid_set.market_id)
    energy = {p.id for p in market.products if p.kind == "energy"}
    energy_prices = _utc(realised_energy_prices)
    reserve_prices = {k: _utc(v) for k, v in realised_reserve_prices.items()}
    awards: list[Award] = []
    for curve in bid_set.curves:
        stamp = pd.Timestamp(curve.interval_start).tz_convert("UTC")
        if curve.product_id in energy:
            price = _price_at(energy_prices, stamp, "energy")
            quantity = curve.cleared_mw(price)
        elif curve.product_id in reserve_prices:
            price = _price_at(reserve_prices[curve.product_id], stamp, curve.product_id)
            quantity = sum(s.quantity_mw for s in curve.segments if s.price <= price)
        else:
            price, quantity = 0.0, 0.0
        awards.append(
            Award(
                product_id=curve.product_id,
                interval_start=curve.interval_start,
                side=curve.side,
                quantity_mw=round(quantity, 9),
                price=price,
            )
        )
    return awards


def _utc(series: pd.Series) -> pd.Series:
    index = pd.DatetimeIndex(series.index)
    if index.tz is None:
        raise InvalidInputError("realised prices need a tz-aware index")
    return series.set_axis(index.tz_convert("UTC"))
