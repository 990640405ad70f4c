"""API keys limited to parks.

Revision ID: 0007_park_scopes
Revises: 0006_live_service
Create Date: 2026-12-07

Adds the nullable ``api_keys.park_ids`` (a JSON list of park ids): an operator or settlement
key that names parks reaches only those parks' resources; NULL (every key created before) keeps
reaching every park.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_park_scopes"
down_revision: str | None = "0006_live_service"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("park_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_column("park_ids")
