"""API keys and dated asset outages for the enterprise and operator API.

Revision ID: 0002_api_keys_outages
Revises: 0001_initial
Create Date: 2026-11-23

Importing :mod:`vpp.db.auth_tables` registers the two tables in the shared metadata, so that
Alembic's comparison after an upgrade sees them even when nothing else imported the module.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vpp.db.auth_tables  # noqa: F401  (registers the tables in the metadata)

revision: str = "0002_api_keys_outages"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("enterprise_id", sa.String(64), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("expires_at", UTC_TS, nullable=True),
        sa.Column("revoked_at", UTC_TS, nullable=True),
        sa.Column("replaced_by", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_api_keys_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_enterprise_id", "api_keys", ["enterprise_id"])
    op.create_table(
        "asset_outages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("start", UTC_TS, nullable=False),
        sa.Column("end", UTC_TS, nullable=False),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"],
            ["assets.id"],
            name="fk_asset_outages_asset_id_assets",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_asset_outages"),
    )
    op.create_index("ix_asset_outages_asset_id", "asset_outages", ["asset_id"])


def downgrade() -> None:
    op.drop_table("asset_outages")
    op.drop_table("api_keys")
