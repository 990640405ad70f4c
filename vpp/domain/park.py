"""The park, its tenant enterprises and their sites: who owns which asset, and where it connects."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from vpp.domain.assets import AssetId, AssetSpec
from vpp.domain.market import MarketTime
from vpp.domain.timegrid import zone

Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")]


class Site(BaseModel):
    """A metered connection point of one enterprise inside the park."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    name: str
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    connection_kva: Annotated[float, Field(gt=0)] | None = None


class DeclaredLoad(BaseModel):
    """A tenant's declared flat consumption by day type [MW, magnitude].

    Stands in for metered history while a new tenant has none; forecasts built on it are flagged
    as a cold start.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    weekday_mw: Annotated[float, Field(ge=0)]
    weekend_mw: Annotated[float, Field(ge=0)]

    def profile(self, index: pd.DatetimeIndex, tz: str) -> pd.Series:
        """The declared load on each UTC interval start of ``index`` [MW]."""
        weekend = index.tz_convert(zone(tz)).day_of_week >= 5
        return pd.Series(np.where(weekend, self.weekend_mw, self.weekday_mw), index=index)


class Enterprise(BaseModel):
    """A tenant company that enrols assets and shares in the revenue.

    ``declared_load`` is its inflexible consumption while its consumption meter has no history.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    name: str
    name_zh: str | None = None
    sites: list[Site] = Field(default_factory=list)
    declared_load: DeclaredLoad | None = None


class Park(BaseModel):
    """An industrial park behind one grid connection, traded in one market."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    name: str
    market_id: str
    import_limit_mw: Annotated[float, Field(gt=0)] = Field(
        description="Transformer or contract limit on power drawn from the grid [MW]."
    )
    export_limit_mw: Annotated[float, Field(ge=0)] = Field(
        description="Limit on power fed into the grid [MW]."
    )
    enterprises: list[Enterprise] = Field(default_factory=list)
    forecast_issue: MarketTime | None = Field(
        default=None,
        description="When the park's day-ahead forecasts are issued, in market time "
        "(default: the pipeline policy's forecast time, kept before the earliest gate).",
    )


ContractScheme = Literal[
    "percentage_split", "capacity_plus_performance", "min_guarantee", "shared_savings"
]


class Contract(BaseModel):
    """Revenue-share terms between the aggregator and one enterprise.

    ``aggregator_share`` applies to market revenue after penalties (``percentage_split``);
    ``capacity_fee_per_mw_month`` pays for nominated capacity (``capacity_plus_performance``);
    ``min_guarantee`` is topped up by the aggregator when the enterprise share falls below it;
    ``savings_share`` splits behind-the-meter savings (``shared_savings``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    enterprise_id: Slug
    scheme: ContractScheme = "percentage_split"
    aggregator_share: Annotated[float, Field(ge=0, le=1)] = 0.2
    capacity_fee_per_mw_month: Annotated[float, Field(ge=0)] | None = None
    min_guarantee: Annotated[float, Field(ge=0)] | None = None
    savings_share: Annotated[float, Field(ge=0, le=1)] | None = None
    penalty_pass_through: Literal["pro_rata_shortfall", "aggregator_bears", "none"] = (
        "pro_rata_shortfall"
    )
    currency: Annotated[str, Field(min_length=3, max_length=3)]
    valid_from: AwareDatetime
    valid_to: AwareDatetime | None = None
    terms_version: str = "1"

    @model_validator(mode="after")
    def _scheme_fields(self) -> Contract:
        needed = {
            "capacity_plus_performance": "capacity_fee_per_mw_month",
            "min_guarantee": "min_guarantee",
            "shared_savings": "savings_share",
        }.get(self.scheme)
        if needed and getattr(self, needed) is None:
            raise ValueError(f"scheme {self.scheme} needs {needed}")
        if self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self


class ConsentRecord(BaseModel):
    """Who agreed, when, to which terms, for which assets and products.

    An asset without a consent record covering a product is never offered in that product.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enterprise_id: Slug
    asset_ids: list[AssetId] = Field(min_length=1)
    agreed_by: str = Field(min_length=1, description="Name and role of the signatory.")
    agreed_at: AwareDatetime
    contract_id: Slug
    terms_version: str
    products: list[str] = Field(
        default_factory=list, description="Product ids consented to; empty = all."
    )
    revoked_at: AwareDatetime | None = None

    def covers(self, asset_id: str, product_id: str, at: datetime) -> bool:
        """Whether this record lets ``asset_id`` be offered in ``product_id`` at ``at``."""
        active = self.agreed_at <= at and (self.revoked_at is None or at < self.revoked_at)
        product_ok = not self.products or product_id in self.products
        return active and product_ok and asset_id in self.asset_ids


class EnrolledAsset(BaseModel):
    """An asset as enrolled: its spec, owner, nominated capacity and verification status."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    spec: AssetSpec
    enterprise_id: Slug
    site_id: Slug | None = None
    nominated_mw: Annotated[float, Field(ge=0)] | None = None
    verification: Literal["unverified", "scheduled", "passed", "failed"] = "unverified"


AGGREGATOR_ID = "aggregator"
"""The aggregator's own statement holder, stored beside a park's tenants; never a tenant."""


def consumption_meter_id(enterprise_id: str) -> str:
    """The id under which a tenant's consumption meter is stored."""
    return f"{enterprise_id}:consumption"
