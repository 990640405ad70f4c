"""The operator's portfolio view: the flexibility envelope and who is in or out of it."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class EnvelopeIntervalPublic(BaseModel):
    """Aggregated flexibility in one interval (UTC start)."""

    start: datetime
    up_mw: float = Field(description="More power into the grid the portfolio can give [MW].")
    down_mw: float = Field(description="Less power into the grid (more drawn) [MW].")
    up_mwh: float = Field(description="Upward energy deliverable in the interval [MWh].")
    down_mwh: float = Field(description="Downward energy deliverable in the interval [MWh].")
    assets: int = Field(description="Assets contributing in this interval.")
    capped: bool = Field(
        default=False, description="The park connection (import + export limit) caps the sum."
    )


class AssetFlexPublic(BaseModel):
    """What one offered asset contributes at most."""

    asset_id: str
    enterprise_id: str
    type: str
    up_mw: float
    down_mw: float
    energy_mwh: float
    verification: str


class PortfolioEnvelope(BaseModel):
    """Envelope of one park, product and delivery day."""

    park_id: str
    market_id: str
    product_id: str
    day: str
    interval_minutes: int
    timezone: str
    intervals: list[EnvelopeIntervalPublic]
    offered: list[AssetFlexPublic]
    excluded: dict[str, str] = Field(description="Asset id -> why it is not offered.")
    peak_up_mw: float
    peak_down_mw: float
