"""The relational schema as SQLModel tables; repositories turn these rows into domain objects.

Choices worth knowing:

* Ids are the domain's own slugs. Sites are keyed by ``(enterprise_id, id)`` and an asset's site
  reference includes its enterprise, so an asset can never sit on another tenant's site.
* An asset's spec is one JSON document (the discriminated ``AssetSpec`` union) beside the columns
  queries filter on (enterprise, site, type); eight spec shapes would otherwise need eight tables.
* A bid curve is a row (filtered and matched to awards by product, interval and side) whose
  stepped segments are a JSON list: segments are only ever read and written with their curve,
  their order is the meaning, and a day of 15-minute curves stays 96 rows instead of ~1,000.
* Times are :class:`~vpp.db.types.UtcDateTime`; money and prices are
  :class:`~vpp.db.types.ExactNumeric`; power and energy stay floats like the domain's.
* Telemetry's primary key ``(asset_id, ts)`` makes re-delivered points an upsert, not a duplicate.
* Statements are keyed by ``(id, version)``: a correction is a new version, never an update.

Only the migrations create these tables; a test checks they agree with this metadata.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from vpp.db.types import ExactNumeric, UtcDateTime

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = SQLModel.metadata
"""The metadata every table below is registered in (Alembic compares against it)."""

ID = 64
"""Length of slug columns, matching the domain's ``Slug``/``AssetId`` limit."""


class ParkRow(SQLModel, table=True):
    __tablename__ = "parks"

    id: str = Field(primary_key=True, max_length=ID)
    name: str = Field(max_length=200)
    market_id: str = Field(max_length=ID)
    import_limit_mw: float
    export_limit_mw: float
    forecast_issue: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class EnterpriseRow(SQLModel, table=True):
    __tablename__ = "enterprises"

    id: str = Field(primary_key=True, max_length=ID)
    park_id: str = Field(foreign_key="parks.id", index=True, max_length=ID)
    name: str = Field(max_length=200)
    name_zh: str | None = Field(default=None, max_length=200)
    declared_load: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class SiteRow(SQLModel, table=True):
    __tablename__ = "sites"

    enterprise_id: str = Field(primary_key=True, foreign_key="enterprises.id", max_length=ID)
    id: str = Field(primary_key=True, max_length=ID)
    name: str = Field(max_length=200)
    latitude: float | None = None
    longitude: float | None = None
    connection_kva: float | None = None


class AssetRow(SQLModel, table=True):
    __tablename__ = "assets"
    __table_args__ = (
        sa.ForeignKeyConstraint(["enterprise_id", "site_id"], ["sites.enterprise_id", "sites.id"]),
    )

    id: str = Field(primary_key=True, max_length=ID)
    enterprise_id: str = Field(foreign_key="enterprises.id", index=True, max_length=ID)
    site_id: str | None = Field(default=None, max_length=ID)
    type: str = Field(max_length=32)
    spec: dict[str, Any] = Field(sa_type=sa.JSON)
    nominated_mw: float | None = None
    verification: str = Field(max_length=16)
    created_at: datetime = Field(sa_type=UtcDateTime)


class ContractRow(SQLModel, table=True):
    __tablename__ = "contracts"

    id: str = Field(primary_key=True, max_length=ID)
    enterprise_id: str = Field(foreign_key="enterprises.id", index=True, max_length=ID)
    scheme: str = Field(max_length=32)
    aggregator_share: float
    capacity_fee_per_mw_month: Decimal | None = Field(default=None, sa_type=ExactNumeric(18, 4))
    min_guarantee: Decimal | None = Field(default=None, sa_type=ExactNumeric(18, 2))
    savings_share: float | None = None
    penalty_pass_through: str = Field(max_length=32)
    currency: str = Field(max_length=3)
    valid_from: datetime = Field(sa_type=UtcDateTime)
    valid_to: datetime | None = Field(default=None, sa_type=UtcDateTime)
    terms_version: str = Field(max_length=32)


class ConsentRow(SQLModel, table=True):
    __tablename__ = "consents"

    id: int | None = Field(default=None, primary_key=True)
    enterprise_id: str = Field(foreign_key="enterprises.id", index=True, max_length=ID)
    contract_id: str = Field(foreign_key="contracts.id", max_length=ID)
    agreed_by: str = Field(max_length=200)
    agreed_at: datetime = Field(sa_type=UtcDateTime)
    terms_version: str = Field(max_length=32)
    products: list[str] = Field(sa_type=sa.JSON)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)


class ConsentAssetRow(SQLModel, table=True):
    """Which assets a consent names (no foreign key: a consent may precede the enrolment)."""

    __tablename__ = "consent_assets"

    consent_id: int = Field(primary_key=True, foreign_key="consents.id", ondelete="CASCADE")
    asset_id: str = Field(primary_key=True, index=True, max_length=ID)
    position: int = Field(description="Order of the asset in the signed record.")


class BidSetRow(SQLModel, table=True):
    __tablename__ = "bid_sets"
    __table_args__ = (sa.Index("ix_bid_sets_market_day", "market_id", "delivery_day"),)

    id: str = Field(primary_key=True, max_length=ID)
    market_id: str = Field(max_length=ID)
    delivery_day: date
    created_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(max_length=16)
    status_changed_at: datetime = Field(sa_type=UtcDateTime)


class BidCurveRow(SQLModel, table=True):
    __tablename__ = "bid_curves"
    __table_args__ = (sa.UniqueConstraint("bid_set_id", "product_id", "interval_start", "side"),)

    id: int | None = Field(default=None, primary_key=True)
    bid_set_id: str = Field(foreign_key="bid_sets.id", ondelete="CASCADE", max_length=ID)
    position: int
    product_id: str = Field(max_length=ID)
    interval_start: datetime = Field(sa_type=UtcDateTime)
    side: str = Field(max_length=4)
    segments: list[dict[str, Any]] = Field(sa_type=sa.JSON)


class AwardRow(SQLModel, table=True):
    __tablename__ = "awards"
    __table_args__ = (sa.UniqueConstraint("bid_set_id", "product_id", "interval_start", "side"),)

    id: int | None = Field(default=None, primary_key=True)
    bid_set_id: str = Field(foreign_key="bid_sets.id", ondelete="CASCADE", max_length=ID)
    product_id: str = Field(max_length=ID)
    interval_start: datetime = Field(sa_type=UtcDateTime)
    side: str = Field(max_length=4)
    quantity_mw: float
    price: Decimal = Field(sa_type=ExactNumeric(18, 6))


class SetpointRow(SQLModel, table=True):
    __tablename__ = "dispatch_setpoints"
    __table_args__ = (sa.Index("ix_dispatch_setpoints_market_day", "market_id", "delivery_day"),)

    asset_id: str = Field(primary_key=True, foreign_key="assets.id", max_length=ID)
    interval_start: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    market_id: str = Field(max_length=ID)
    delivery_day: date
    power_mw: float
    reserve_up_mw: float
    reserve_down_mw: float


class TelemetryRow(SQLModel, table=True):
    __tablename__ = "telemetry"

    asset_id: str = Field(primary_key=True, foreign_key="assets.id", max_length=ID)
    ts: datetime = Field(primary_key=True, sa_type=UtcDateTime)
    power_mw: float
    energy_mwh: float | None = None
    quality: str = Field(max_length=16)


class StatementRow(SQLModel, table=True):
    __tablename__ = "statements"

    id: str = Field(primary_key=True, max_length=ID)
    version: int = Field(primary_key=True)
    enterprise_id: str = Field(foreign_key="enterprises.id", index=True, max_length=ID)
    market_id: str = Field(max_length=ID)
    period_start: date
    period_end: date
    status: str = Field(max_length=16)
    issued_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    currency: str = Field(max_length=3)
    total: Decimal = Field(sa_type=ExactNumeric(18, 2))


class StatementLineRow(SQLModel, table=True):
    __tablename__ = "statement_lines"
    __table_args__ = (
        sa.ForeignKeyConstraint(
            ["statement_id", "statement_version"],
            ["statements.id", "statements.version"],
            ondelete="CASCADE",
        ),
    )

    statement_id: str = Field(primary_key=True, max_length=ID)
    statement_version: int = Field(primary_key=True)
    position: int = Field(primary_key=True)
    label: str = Field(max_length=200)
    label_zh: str | None = Field(default=None, max_length=200)
    product_id: str | None = Field(default=None, max_length=ID)
    quantity: float | None = None
    unit: str | None = Field(default=None, max_length=16)
    amount: Decimal = Field(sa_type=ExactNumeric(18, 2))


class AuditRow(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)
    actor: str = Field(max_length=200)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=64)
    entity_id: str = Field(max_length=200)
    before: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    after: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    request_id: str | None = Field(default=None, max_length=128, index=True)
