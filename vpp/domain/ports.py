"""Ports: the interfaces through which services reach the outside world.

Adapters implement them (a simulated exchange and an HTTP gateway for markets; Modbus, OCPP,
OpenADR and MQTT channels for devices); services depend only on these protocols, and one set of
contract tests runs against every implementation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Protocol, runtime_checkable

import pandas as pd

from vpp.domain.bids import Award, BidSet, Setpoint
from vpp.domain.forecast import Forecast
from vpp.domain.park import ConsentRecord, Contract, EnrolledAsset, Park
from vpp.domain.park_data import ParkData


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


# -- storage: the service database is the single source of truth ------------------------------

#: Site id under which park-wide weather forecasts are stored (other sites are the park's own).
PARK_WEATHER_SITE = "park"

#: Canonical name of a market's day-ahead energy price series [currency/MWh].
DAY_AHEAD_PRICE = "day_ahead_price_per_mwh"


def reserve_price_series(product_id: str) -> str:
    """Canonical name of a reserve product's capacity price series [currency/MW/h]."""
    return f"{product_id}_price_per_mw_h"


@runtime_checkable
class ParkSource(Protocol):
    """Parks as the enterprises enrolled them, with the series the day-ahead stages read."""

    def park_ids(self) -> list[str]:
        """Ids of every park."""
        ...

    def load(
        self, park_id: str, as_of: pd.Timestamp, *, history_days: int | None = None
    ) -> ParkData:
        """The park, its portfolio and its series as known at ``as_of`` (weather forecasts
        issued later are left out); ``history_days`` of series before it (``None``: as many
        as the forecasts train on)."""
        ...


@runtime_checkable
class MarketData(Protocol):
    """Stored market series (prices per product), one column per canonical series name."""

    def upsert(self, market_id: str, frame: pd.DataFrame) -> int:
        """Write ``frame`` (UTC index, canonical columns); return the values written."""
        ...

    def read(self, market_id: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """Series of ``market_id`` on ``[start, end)``, one column per stored series."""
        ...


@runtime_checkable
class Meter(Protocol):
    """What the meters measured per enrolled asset [MW], and the replay's simulated readings."""

    def measured(
        self, asset_ids: Sequence[str], start: pd.Timestamp, end: pd.Timestamp
    ) -> pd.DataFrame:
        """Readings of ``asset_ids`` on ``[start, end)`` (one column per asset, NaN = none)."""
        ...

    def record_simulated(self, frame: pd.DataFrame) -> int:
        """Store simulated readings flagged as such, only where no reading exists yet."""
        ...


@runtime_checkable
class ForecastStore(Protocol):
    """Issued forecasts of a pipeline run, kept with their issue time, model and quantiles."""

    def save(self, run_id: str, forecasts: Mapping[str, Forecast]) -> None:
        """Store (or replace) the run's forecasts under their keys."""
        ...

    def load(self, run_id: str) -> dict[str, Forecast]:
        """The run's forecasts by key (empty when none were issued)."""
        ...


@runtime_checkable
class PreparedStore(Protocol):
    """The optimiser's prepared problem and solution of a run, so later stages never re-solve."""

    def save(self, run_id: str, prepared: object) -> None:
        """Store the run's prepared bids."""
        ...

    def load(self, run_id: str) -> object | None:
        """The run's prepared bids, or ``None``."""
        ...


@runtime_checkable
class MarketDataFeed(Protocol):
    """A source of published market data (an exchange's or a TSO's transparency API)."""

    def day_ahead_prices(self, area: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
        """Day-ahead prices of bidding zone ``area`` on ``[start, end)`` [currency/MWh]."""
        ...


@runtime_checkable
class EnrolmentStore(Protocol):
    """Where parks, enrolments, agreements and their measured series are written (one
    transaction per use case); the API and ``vpp park import`` write through the same rules."""

    def find_park(self, park_id: str) -> Park | None:
        """The stored park, or ``None``."""
        ...

    def save_park(self, park: Park) -> None:
        """Insert or update the park with its enterprises and sites."""
        ...

    def has_asset(self, asset_id: str) -> bool:
        """Whether any enterprise holds ``asset_id``."""
        ...

    def add_asset(self, asset: EnrolledAsset) -> None:
        """Enrol ``asset``."""
        ...

    def has_contract(self, enterprise_id: str, contract_id: str) -> bool:
        """Whether the contract is stored."""
        ...

    def add_contract(self, contract: Contract) -> None:
        """Store a signed contract."""
        ...

    def consents(self, enterprise_id: str) -> list[ConsentRecord]:
        """The enterprise's consent records."""
        ...

    def add_consent(self, consent: ConsentRecord) -> None:
        """Record a consent."""
        ...

    def write_market_series(self, market_id: str, frame: pd.DataFrame) -> int:
        """Upsert market series (canonical columns); return the values written."""
        ...

    def write_weather(self, park_id: str, site_id: str, frame: pd.DataFrame) -> int:
        """Store weather forecasts (``issued_at`` column beside the variables)."""
        ...

    def add_consumption(
        self, park_id: str, enterprise_id: str, power_mw: pd.Series, quality: str = "measured"
    ) -> int:
        """Store tenant consumption where no reading exists yet [MW, magnitude]."""
        ...

    def add_telemetry(self, asset_id: str, power_mw: pd.Series) -> int:
        """Store measured asset readings where no reading exists yet [MW]."""
        ...

    def audit(self, actor: str, action: str, entity: str, entity_id: str, after: object) -> None:
        """Append to the audit log."""
        ...
