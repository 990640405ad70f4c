"""Consumption meters and readings, demand-response events and AGC setpoints.

Revision ID: 0005_metering_dr_agc
Revises: 0004_audit_request_id
Create Date: 2026-11-23

Tenant and park consumption become stored meter readings (the zero-carbon report and the
behind-the-meter savings need them), DR events are stored so that metered baselines can leave
event days out, and AGC commands are stored beside the measured response for the K value.
Importing :mod:`vpp.db.metering_tables` registers the tables in the shared metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vpp.db.metering_tables  # noqa: F401  (registers the tables in the metadata)
from vpp.db.types import ExactNumeric

revision: str = "0005_metering_dr_agc"
down_revision: str | None = "0004_audit_request_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "consumption_meters",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("park_id", sa.String(64), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["park_id"], ["parks.id"], name="fk_consumption_meters_park_id_parks"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprises.id"],
            name="fk_consumption_meters_enterprise_id_enterprises",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consumption_meters"),
    )
    op.create_index("ix_consumption_meters_park_id", "consumption_meters", ["park_id"])
    op.create_table(
        "consumption_readings",
        sa.Column("meter_id", sa.String(64), nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("power_mw", sa.Float(), nullable=False),
        sa.Column("quality", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["consumption_meters.id"],
            name="fk_consumption_readings_meter_id_consumption_meters",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meter_id", "ts", name="pk_consumption_readings"),
    )
    op.create_table(
        "dr_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("park_id", sa.String(64), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=True),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("start", UTC_TS, nullable=False),
        sa.Column("end", UTC_TS, nullable=False),
        sa.Column("committed_mw", sa.Float(), nullable=False),
        sa.Column("price_per_mwh", ExactNumeric(18, 6), nullable=False),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name="fk_dr_events_park_id_parks"),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_dr_events_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dr_events"),
    )
    op.create_index("ix_dr_events_park_start", "dr_events", ["park_id", "start"])
    op.create_table(
        "agc_setpoints",
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("setpoint_mw", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name="fk_agc_setpoints_asset_id_assets"
        ),
        sa.PrimaryKeyConstraint("asset_id", "ts", name="pk_agc_setpoints"),
    )


def downgrade() -> None:
    op.drop_table("agc_setpoints")
    op.drop_index("ix_dr_events_park_start", table_name="dr_events")
    op.drop_table("dr_events")
    op.drop_table("consumption_readings")
    op.drop_index("ix_consumption_meters_park_id", table_name="consumption_meters")
    op.drop_table("consumption_meters")
