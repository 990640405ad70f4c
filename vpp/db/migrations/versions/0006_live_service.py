"""The live service: stored market series and weather forecasts, issued forecasts, prepared bids.

Revision ID: 0006_live_service
Revises: 0005_metering_dr_agc
Create Date: 2026-12-07

The database becomes the single source of truth of the running service: market prices and
weather are stored series (not columns of a park file), a park carries its forecast issue time
and each tenant its declared load, and every pipeline run keeps the forecasts it issued and the
bid problem it prepared, so a restarted service never forecasts or solves a stage again.
Importing :mod:`vpp.db.live_tables` registers the tables in the shared metadata.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vpp.db.live_tables  # noqa: F401  (registers the tables in the metadata)

revision: str = "0006_live_service"
down_revision: str | None = "0005_metering_dr_agc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("parks") as batch:
        batch.add_column(sa.Column("forecast_issue", sa.JSON(), nullable=True))
    with op.batch_alter_table("enterprises") as batch:
        batch.add_column(sa.Column("declared_load", sa.JSON(), nullable=True))
    op.create_table(
        "market_series",
        sa.Column("market_id", sa.String(64), nullable=False),
        sa.Column("series", sa.String(64), nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("market_id", "series", "ts", name="pk_market_series"),
    )
    op.create_table(
        "weather_forecasts",
        sa.Column("park_id", sa.String(64), nullable=False),
        sa.Column("site_id", sa.String(64), nullable=False),
        sa.Column("variable", sa.String(64), nullable=False),
        sa.Column("issued_at", UTC_TS, nullable=False),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["park_id"], ["parks.id"], name="fk_weather_forecasts_park_id_parks"
        ),
        sa.PrimaryKeyConstraint(
            "park_id", "site_id", "variable", "issued_at", "ts", name="pk_weather_forecasts"
        ),
    )
    op.create_table(
        "issued_forecasts",
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("issue_time", UTC_TS, nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.Column("quantiles", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_issued_forecasts"),
    )
    op.create_table(
        "prepared_bids",
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", name="pk_prepared_bids"),
    )


def downgrade() -> None:
    op.drop_table("prepared_bids")
    op.drop_table("issued_forecasts")
    op.drop_table("weather_forecasts")
    op.drop_table("market_series")
    with op.batch_alter_table("enterprises") as batch:
        batch.drop_column("declared_load")
    with op.batch_alter_table("parks") as batch:
        batch.drop_column("forecast_issue")
