"""Ports: the interfaces through which services reach the outside world.

Adapters implement them (a simulated exchange and an HTTP gateway for markets; Modbus, OCPP,
OpenADR and MQTT channels for devices); services depend only on these protocols, and one set of
contract tests runs against every implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from vpp.domain.bids import Award, BidSet, Setpoint


@runtime_checkable
class Clock(Protocol):
    """Tells the time; tests inject a fixed one."""

    def now(self) -> pd.Timestamp:
        """The current instant, tz-aware UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> pd.Timestamp:
        """The current instant, tz-aware UTC."""
        return pd.Timestamp.now(tz="UTC")


class FixedClock:
    """A clock that always answers the same instant (tests, replays)."""

    def __init__(self, instant: pd.Timestamp) -> None:
        self.instant = instant.tz_convert("UTC")

    def now(self) -> pd.Timestamp:
        """The fixed instant."""
        return self.instant


@runtime_checkable
class MarketGateway(Protocol):
    """Where bids go and awards come from."""

    def submit(self, bids: BidSet, idempotency_key: str) -> str:
        """Submit ``bids``; return the market's receipt id. Resubmitting the same key is a no-op."""
        ...

    def awards(self, market_id: str, delivery_day: date) -> Sequence[Award]:
        """The awards for ``delivery_day`` once results are published."""
        ...


@runtime_checkable
class DispatchChannel(Protocol):
    """Sends setpoints to devices and reads back what they hold."""

    def send(self, setpoints: Sequence[Setpoint]) -> Sequence[str]:
        """Send ``setpoints``; return the ids of assets that confirmed them."""
        ...
