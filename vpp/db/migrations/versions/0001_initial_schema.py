"""Initial schema: parks, tenants, assets, agreements, bids, dispatch, telemetry, statements, audit.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23

Written to run on SQLite and PostgreSQL alike. Timestamps are ``TIMESTAMP WITH TIME ZONE``
(naive UTC text on SQLite, read back as UTC by ``vpp.db.types.UtcDateTime``). Money uses
``vpp.db.types.ExactNumeric``: ``NUMERIC(p, s)`` on PostgreSQL, decimal text on SQLite; it is
imported rather than inlined because its DDL depends on the dialect.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vpp.db.types import ExactNumeric

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def slug(name: str, *, nullable: bool = False, primary_key: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(64), nullable=nullable, primary_key=primary_key)


def text(name: str, length: int = 200, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "parks",
        slug("id"),
        text("name"),
        slug("market_id"),
        sa.Column("import_limit_mw", sa.Float(), nullable=False),
        sa.Column("export_limit_mw", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_parks"),
    )
    op.create_table(
        "enterprises",
        slug("id"),
        slug("park_id"),
        text("name"),
        text("name_zh", nullable=True),
        sa.ForeignKeyConstraint(["park_id"], ["parks.id"], name="fk_enterprises_park_id_parks"),
        sa.PrimaryKeyConstraint("id", name="pk_enterprises"),
    )
    op.create_index("ix_enterprises_park_id", "enterprises", ["park_id"])
    op.create_table(
        "sites",
        slug("enterprise_id"),
        slug("id"),
        text("name"),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("connection_kva", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_sites_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("enterprise_id", "id", name="pk_sites"),
    )
    op.create_table(
        "assets",
        slug("id"),
        slug("enterprise_id"),
        slug("site_id", nullable=True),
        text("type", 32),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("nominated_mw", sa.Float(), nullable=True),
        text("verification", 16),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id", "site_id"],
            ["sites.enterprise_id", "sites.id"],
            name="fk_assets_enterprise_id_site_id_sites",
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_assets_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_assets"),
    )
    op.create_index("ix_assets_enterprise_id", "assets", ["enterprise_id"])
    op.create_table(
        "contracts",
        slug("id"),
        slug("enterprise_id"),
        text("scheme", 32),
        sa.Column("aggregator_share", sa.Float(), nullable=False),
        sa.Column("capacity_fee_per_mw_month", ExactNumeric(18, 4), nullable=True),
        sa.Column("min_guarantee", ExactNumeric(18, 2), nullable=True),
        sa.Column("savings_share", sa.Float(), nullable=True),
        text("penalty_pass_through", 32),
        text("currency", 3),
        sa.Column("valid_from", UTC_TS, nullable=False),
        sa.Column("valid_to", UTC_TS, nullable=True),
        text("terms_version", 32),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_contracts_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_contracts"),
    )
    op.create_index("ix_contracts_enterprise_id", "contracts", ["enterprise_id"])
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        slug("enterprise_id"),
        slug("contract_id"),
        text("agreed_by"),
        sa.Column("agreed_at", UTC_TS, nullable=False),
        text("terms_version", 32),
        sa.Column("products", sa.JSON(), nullable=False),
        sa.Column("revoked_at", UTC_TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contracts.id"], name="fk_consents_contract_id_contracts"
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_consents_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_consents"),
    )
    op.create_index("ix_consents_enterprise_id", "consents", ["enterprise_id"])
    op.create_table(
        "consent_assets",
        sa.Column("consent_id", sa.Integer(), nullable=False),
        slug("asset_id"),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["consent_id"],
            ["consents.id"],
            name="fk_consent_assets_consent_id_consents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("consent_id", "asset_id", name="pk_consent_assets"),
    )
    op.create_index("ix_consent_assets_asset_id", "consent_assets", ["asset_id"])

    op.create_table(
        "bid_sets",
        slug("id"),
        slug("market_id"),
        sa.Column("delivery_day", sa.Date(), nullable=False),
        sa.Column("created_at", UTC_TS, nullable=False),
        text("status", 16),
        sa.Column("status_changed_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bid_sets"),
    )
    op.create_index("ix_bid_sets_market_day", "bid_sets", ["market_id", "delivery_day"])
    for name, columns in (
        (
            "bid_curves",
            [
                sa.Column("position", sa.Integer(), nullable=False),
                slug("product_id"),
                sa.Column("interval_start", UTC_TS, nullable=False),
                text("side", 4),
                sa.Column("segments", sa.JSON(), nullable=False),
            ],
        ),
        (
            "awards",
            [
                slug("product_id"),
                sa.Column("interval_start", UTC_TS, nullable=False),
                text("side", 4),
                sa.Column("quantity_mw", sa.Float(), nullable=False),
                sa.Column("price", ExactNumeric(18, 6), nullable=False),
            ],
        ),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Integer(), nullable=False),
            slug("bid_set_id"),
            *columns,
            sa.ForeignKeyConstraint(
                ["bid_set_id"],
                ["bid_sets.id"],
                name=f"fk_{name}_bid_set_id_bid_sets",
                ondelete="CASCADE",
            ),
            sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
            sa.UniqueConstraint(
                "bid_set_id",
                "product_id",
                "interval_start",
                "side",
                name=f"uq_{name}_bid_set_id_product_id_interval_start_side",
            ),
        )
    op.create_table(
        "dispatch_setpoints",
        slug("asset_id"),
        sa.Column("interval_start", UTC_TS, nullable=False),
        slug("market_id"),
        sa.Column("delivery_day", sa.Date(), nullable=False),
        sa.Column("power_mw", sa.Float(), nullable=False),
        sa.Column("reserve_up_mw", sa.Float(), nullable=False),
        sa.Column("reserve_down_mw", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["asset_id"], ["assets.id"], name="fk_dispatch_setpoints_asset_id_assets"
        ),
        sa.PrimaryKeyConstraint("asset_id", "interval_start", name="pk_dispatch_setpoints"),
    )
    op.create_index(
        "ix_dispatch_setpoints_market_day", "dispatch_setpoints", ["market_id", "delivery_day"]
    )
    op.create_table(
        "telemetry",
        slug("asset_id"),
        sa.Column("ts", UTC_TS, nullable=False),
        sa.Column("power_mw", sa.Float(), nullable=False),
        sa.Column("energy_mwh", sa.Float(), nullable=True),
        text("quality", 16),
        sa.ForeignKeyConstraint(["asset_id"], ["assets.id"], name="fk_telemetry_asset_id_assets"),
        sa.PrimaryKeyConstraint("asset_id", "ts", name="pk_telemetry"),
    )

    op.create_table(
        "statements",
        slug("id"),
        sa.Column("version", sa.Integer(), nullable=False),
        slug("enterprise_id"),
        slug("market_id"),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        text("status", 16),
        sa.Column("issued_at", UTC_TS, nullable=True),
        text("currency", 3),
        sa.Column("total", ExactNumeric(18, 2), nullable=False),
        sa.ForeignKeyConstraint(
            ["enterprise_id"], ["enterprises.id"], name="fk_statements_enterprise_id_enterprises"
        ),
        sa.PrimaryKeyConstraint("id", "version", name="pk_statements"),
    )
    op.create_index("ix_statements_enterprise_id", "statements", ["enterprise_id"])
    op.create_table(
        "statement_lines",
        slug("statement_id"),
        sa.Column("statement_version", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        text("label"),
        text("label_zh", nullable=True),
        slug("product_id", nullable=True),
        sa.Column("quantity", sa.Float(), nullable=True),
        text("unit", 16, nullable=True),
        sa.Column("amount", ExactNumeric(18, 2), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id", "statement_version"],
            ["statements.id", "statements.version"],
            name="fk_statement_lines_statement_id_statement_version_statements",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "statement_id", "statement_version", "position", name="pk_statement_lines"
        ),
    )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TS, nullable=False),
        text("actor"),
        text("action", 64),
        text("entity", 64),
        text("entity_id"),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_index("ix_audit_log_entity", "audit_log", ["entity", "entity_id"])


def downgrade() -> None:
    for table in (
        "audit_log",
        "statement_lines",
        "statements",
        "telemetry",
        "dispatch_setpoints",
        "awards",
        "bid_curves",
        "bid_sets",
        "consent_assets",
        "consents",
        "contracts",
        "assets",
        "sites",
        "enterprises",
        "parks",
    ):
        op.drop_table(table)
