"""Tables of the live service: stored market series, weather forecasts, issued forecasts and the
prepared bid problems of pipeline runs.

They register in the same metadata as :mod:`vpp.db.tables` and are created by migration
``0006_live_service``.

* Market series are long: one row per ``(market, series, ts)``, where ``series`` is a canonical
  column name (``day_ahead_price_per_mwh``, ``fcr_price_per_mw_h`` ...); an upload is an upsert.
* Weather forecasts keep their issue time in the key: a later run of the same model adds rows
  instead of overwriting, so a forecast for day D can be rebuilt from what was known at its
  issue time. ``site_id`` is a site of the park, or ``"park"`` for the park as a whole.
* Issued forecasts are one row per ``(run, key)`` with their quantiles as a JSON document
  (levels, interval starts, values): they are read and written whole.
* A prepared bid problem is the optimiser's input and solution of a run, serialised, so stages
  after a restart read it back instead of forecasting and solving again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from vpp.db.tables import ID, metadata
from vpp.db.types import UtcDateTime

__all__ = [
    "IssuedForecastRow",
    "MarketSeriesRow",
    "PreparedBidsRow",
    "WeatherForecastRow",
    "metadata",
]


class MarketSeriesRow(SQLModel, table=True):
    __tablename__ = "market_series"

    market_id: str = Field(primary_key=True, max_length=ID)
    series: str = Field(primary_key=True, max_length=ID)
    ts: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    value: float


class WeatherForecastRow(SQLModel, table=True):
    __tablename__ = "weather_forecasts"

    park_id: str = Field(primary_key=True, foreign_key="parks.id", max_length=ID)
    site_id: str = Field(primary_key=True, max_length=ID)
    variable: str = Field(primary_key=True, max_length=ID)
    issued_at: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    ts: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    value: float


class IssuedForecastRow(SQLModel, table=True):
    __tablename__ = "issued_forecasts"

    run_id: str = Field(primary_key=True, max_length=200)
    key: str = Field(primary_key=True, max_length=200)
    target: str = Field(max_length=200)
    model: str = Field(max_length=200)
    issue_time: datetime = Field(sa_type=UtcDateTime)
    flags: list[str] = Field(sa_type=sa.JSON)
    quantiles: dict[str, Any] = Field(sa_type=sa.JSON)


class PreparedBidsRow(SQLModel, table=True):
    __tablename__ = "prepared_bids"

    run_id: str = Field(primary_key=True, max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)
    payload: bytes = Field(sa_type=sa.LargeBinary)
