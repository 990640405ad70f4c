"""The id of the HTTP request behind each audit entry.

Revision ID: 0004_audit_request_id
Revises: 0003_pipeline_jobs
Create Date: 2026-11-23

Adds the nullable ``audit_log.request_id`` (the ``X-Request-ID`` the API answered with; entries
made outside a request have none) and an index on it (``AuditRow.request_id``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_audit_request_id"
down_revision: str | None = "0003_pipeline_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.String(128), nullable=True))
        batch_op.create_index("ix_audit_log_request_id", ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_request_id")
        batch_op.drop_column("request_id")
