"""A park as the day-ahead stages read it: the portfolio plus the time series it needs.

The same shape comes from two places: a park file (``vpp.services.park_file``, an import and the
backtests' input) and the service database (the live source, ``vpp.domain.ports.ParkSource``).
Either way, ``series`` is one UTC-indexed frame whose columns the definition names: prices per
product, each tenant's metered load or its declared schedule, generation per PV or wind asset,
and weather.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from vpp.domain.market import MarketTime
from vpp.domain.park import ConsentRecord, Contract, DeclaredLoad, EnrolledAsset, Park
from vpp.domain.portfolio import Portfolio

__all__ = ["DeclaredLoad", "LoadSource", "Outage", "ParkData", "ParkFile", "PriceColumns"]


class LoadSource(BaseModel):
    """Where a tenant's inflexible consumption comes from: a metered column or a declaration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enterprise_id: str
    column: str | None = None
    declared: DeclaredLoad | None = None

    @model_validator(mode="after")
    def _one_source(self) -> LoadSource:
        if (self.column is None) == (self.declared is None):
            raise ValueError("give exactly one of column (metered history) or declared")
        return self


class PriceColumns(BaseModel):
    """Columns of realised market prices."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    day_ahead: str
    reserves: dict[str, str] = Field(default_factory=dict)


class ParkFile(BaseModel):
    """Schema of a park definition file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    park: Park
    series: str
    prices: PriceColumns
    weather: dict[str, str] = Field(default_factory=dict)
    loads: list[LoadSource] = Field(default_factory=list)
    generation: dict[str, str] = Field(default_factory=dict)
    demo_day: date | None = None
    forecast_issue: MarketTime
    assets: list[EnrolledAsset] = Field(default_factory=list)
    contracts: list[Contract] = Field(default_factory=list)
    consents: list[ConsentRecord] = Field(default_factory=list)


@dataclass(frozen=True)
class Outage:
    """``asset_id`` cannot be dispatched in ``[start, end)`` (UTC), for ``reason``."""

    asset_id: str
    start: datetime
    end: datetime
    reason: str


@dataclass(frozen=True)
class ParkData:
    """A loaded park: its portfolio, its time series and what each column means, and the
    outages its enterprises declared."""

    definition: ParkFile
    portfolio: Portfolio
    series: pd.DataFrame
    source: str
    outages: tuple[Outage, ...] = field(default_factory=tuple)

    def out_of_service(self, start: datetime, end: datetime) -> dict[str, str]:
        """Asset id -> reason, for every asset with an outage overlapping ``[start, end)``."""
        return {
            o.asset_id: f"outage {o.start.isoformat()} to {o.end.isoformat()}: {o.reason}"
            for o in self.outages
            if o.start < end and o.end > start
        }

    @property
    def park(self) -> Park:
        """The park."""
        return self.portfolio.park
