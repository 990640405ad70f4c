"""The scheduled pipeline: runs and stages, job runs, alerts, the dispatch outbox, the job store.

Revision ID: 0003_pipeline_jobs
Revises: 0002_api_keys_outages
Create Date: 2026-11-23

Importing :mod:`vpp.db.job_tables` registers these tables in the shared metadata, so that
Alembic's comparison after an upgrade sees them even when nothing else imported the module.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vpp.db.job_tables  # noqa: F401  (registers the tables in the metadata)

revision: str = "0003_pipeline_jobs"
down_revision: str | None = "0002_api_keys_outages"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", UTC_TS, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("webhook_status", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_at"), ["at"], unique=False)

    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.String(191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False
        )

    op.create_table(
        "dispatch_outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("asset_id", sa.String(64), nullable=False),
        sa.Column("market_id", sa.String(64), nullable=False),
        sa.Column("delivery_day", sa.Date(), nullable=False),
        sa.Column("setpoints", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC_TS, nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dispatch_outbox")),
        sa.UniqueConstraint("run_id", "asset_id", name=op.f("uq_dispatch_outbox_run_id_asset_id")),
    )
    with op.batch_alter_table("dispatch_outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dispatch_outbox_status_next", ["status", "next_attempt_at"], unique=False
        )

    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(200), nullable=True),
        sa.Column("stage", sa.String(16), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", UTC_TS, nullable=False),
        sa.Column("finished_at", UTC_TS, nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
    )
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.create_index("ix_job_runs_run_id_stage", ["run_id", "stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_job_runs_started_at"), ["started_at"], unique=False)

    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.String(200), nullable=False),
        sa.Column("park_id", sa.String(64), nullable=False),
        sa.Column("market_id", sa.String(64), nullable=False),
        sa.Column("delivery_day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("receipt", sa.String(200), nullable=True),
        sa.Column("created_at", UTC_TS, nullable=False),
        sa.Column("updated_at", UTC_TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pipeline_runs_delivery_day"), ["delivery_day"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_pipeline_runs_park_id"), ["park_id"], unique=False)

    op.create_table(
        "pipeline_stages",
        sa.Column("run_id", sa.String(200), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("finished_at", UTC_TS, nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pipeline_runs.id"],
            name=op.f("fk_pipeline_stages_run_id_pipeline_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "stage", name=op.f("pk_pipeline_stages")),
    )


def downgrade() -> None:
    op.drop_table("pipeline_stages")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_park_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_delivery_day"))

    op.drop_table("pipeline_runs")
    with op.batch_alter_table("job_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_job_runs_started_at"))
        batch_op.drop_index("ix_job_runs_run_id_stage")

    op.drop_table("job_runs")
    with op.batch_alter_table("dispatch_outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_dispatch_outbox_status_next")

    op.drop_table("dispatch_outbox")
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))

    op.drop_table("apscheduler_jobs")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alerts_at"))

    op.drop_table("alerts")
