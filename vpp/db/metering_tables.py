"""Tables for what settlement measures beyond the enrolled assets: consumption, DR events, AGC.

They register in the same metadata as :mod:`vpp.db.tables` and are created by migration
``0005_metering_dr_agc``.

* A consumption meter belongs to a park and reads either one tenant's total consumption
  (``kind="tenant"``, ``enterprise_id`` set) or the park's grid connection (``kind="park"``,
  no enterprise). Readings are consumption magnitudes [MW, >= 0 while drawing] keyed by
  ``(meter_id, ts)``, so a re-sent reading is an upsert, like telemetry.
* A demand-response event is a dated call of one DR product on a tenant (or the whole park when
  ``enterprise_id`` is NULL) with its committed flexibility and price; settlement reads it to
  measure delivery and to leave event days out of later baselines.
* AGC setpoints are the dispatcher's regulation commands to an asset at seconds resolution; the
  asset's measured response lives in ``telemetry`` and both are scored for the K value.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from vpp.db.tables import ID, metadata
from vpp.db.types import ExactNumeric, UtcDateTime

__all__ = [
    "AgcSetpointRow",
    "ConsumptionMeterRow",
    "ConsumptionReadingRow",
    "DrEventRow",
    "metadata",
]


class ConsumptionMeterRow(SQLModel, table=True):
    __tablename__ = "consumption_meters"

    id: str = Field(primary_key=True, max_length=ID)
    park_id: str = Field(foreign_key="parks.id", index=True, max_length=ID)
    enterprise_id: str | None = Field(default=None, foreign_key="enterprises.id", max_length=ID)
    kind: str = Field(max_length=16)


class ConsumptionReadingRow(SQLModel, table=True):
    __tablename__ = "consumption_readings"

    meter_id: str = Field(
        primary_key=True, foreign_key="consumption_meters.id", ondelete="CASCADE", max_length=ID
    )
    ts: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    power_mw: float
    quality: str = Field(max_length=16)


class DrEventRow(SQLModel, table=True):
    __tablename__ = "dr_events"
    __table_args__ = (sa.Index("ix_dr_events_park_start", "park_id", "start"),)

    id: int | None = Field(default=None, primary_key=True)
    park_id: str = Field(foreign_key="parks.id", max_length=ID)
    enterprise_id: str | None = Field(default=None, foreign_key="enterprises.id", max_length=ID)
    product_id: str = Field(max_length=ID)
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime = Field(sa_type=UtcDateTime)
    committed_mw: float
    price_per_mwh: Decimal = Field(sa_type=ExactNumeric(18, 6))


class AgcSetpointRow(SQLModel, table=True):
    __tablename__ = "agc_setpoints"

    asset_id: str = Field(primary_key=True, foreign_key="assets.id", max_length=ID)
    ts: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    setpoint_mw: float
