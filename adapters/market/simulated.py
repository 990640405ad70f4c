"""A simulated exchange: clears submitted bids against historical prices.

It implements :class:`vpp.domain.ports.MarketGateway` with the backtester's clearing engine
(``bidding.clear_day_ahead``: pay-as-clear energy, reserve capacity accepted when offered at or
below the clearing price), so the demo and replays exercise the same submit/award path as a
live gateway. Submitting the same idempotency key twice returns the first receipt and changes
nothing.

The service's replays run it on the stored market series (:class:`StoredPrices`) and with a
``ledger`` that finds what was submitted in the service's own bid records, so a restarted
service still gets the awards of a bid set submitted before the restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date

import pandas as pd

from bidding import clear_day_ahead
from vpp.domain.bids import Award, BidSet
from vpp.domain.errors import ConflictError, NotFoundError
from vpp.services.park_file import ParkData

Prices = Callable[[str, date], tuple[pd.Series, Mapping[str, pd.Series]]]
"""Realised day-ahead prices and reserve prices by product of a market's delivery day."""
Ledger = Callable[[str, date], BidSet | None]
"""The bid set submitted for a market's delivery day, from a durable record, if any."""


class SimulatedExchange:
    """Clears bids at realised day-ahead and reserve prices (UTC-indexed series), or at the
    prices ``prices`` answers per market and day."""

    def __init__(
        self,
        energy_prices: pd.Series | None = None,
        reserve_prices: Mapping[str, pd.Series] | None = None,
        *,
        prices: Prices | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        if (energy_prices is None) == (prices is None):
            raise ValueError("give either energy_prices or a prices source")
        self.energy_prices = energy_prices
        self.reserve_prices = dict(reserve_prices or {})
        self._prices = prices
        self._ledger = ledger
        self._submitted: dict[str, BidSet] = {}
        self._by_day: dict[tuple[str, date], str] = {}

    @classmethod
    def from_park(cls, data: ParkData) -> SimulatedExchange:
        """An exchange clearing at the park file's historical day-ahead and reserve prices."""
        prices = data.series[data.definition.prices.day_ahead]
        reserves = {k: data.series[c] for k, c in data.definition.prices.reserves.items()}
        return cls(prices, reserves)

    def submit(self, bids: BidSet, idempotency_key: str) -> str:
        """Accept ``bids`` once per key; a second bid set for the same day needs a new key."""
        self._recall(bids.market_id, bids.delivery_day)
        if idempotency_key in self._submitted:
            return f"sim:{idempotency_key}"
        day_key = (bids.market_id, bids.delivery_day)
        if day_key in self._by_day:
            raise ConflictError(
                f"a bid set for {bids.market_id} {bids.delivery_day} was already submitted",
                hint=f"under idempotency key {self._by_day[day_key]!r}",
            )
        self._submitted[idempotency_key] = bids
        self._by_day[day_key] = idempotency_key
        return f"sim:{idempotency_key}"

    def awards(self, market_id: str, delivery_day: date) -> Sequence[Award]:
        """Clear the submitted bid set of ``delivery_day`` against the realised prices."""
        self._recall(market_id, delivery_day)
        key = self._by_day.get((market_id, delivery_day))
        if key is None:
            raise NotFoundError(f"no bids were submitted for {market_id} {delivery_day}")
        bids = self._submitted[key]
        if self._prices is not None:
            energy, reserves = self._prices(market_id, delivery_day)
            return clear_day_ahead(bids, energy, dict(reserves))
        assert self.energy_prices is not None
        return clear_day_ahead(bids, self.energy_prices, self.reserve_prices)

    def _recall(self, market_id: str, delivery_day: date) -> None:
        """Take a submission made before a restart from the ledger."""
        if self._ledger is None or (market_id, delivery_day) in self._by_day:
            return
        bids = self._ledger(market_id, delivery_day)
        if bids is not None:
            self._submitted[bids.id] = bids
            self._by_day[(market_id, delivery_day)] = bids.id
