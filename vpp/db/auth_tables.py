"""Tables added for the enterprise and operator API: API credentials and dated asset outages.

They register in the same metadata as :mod:`vpp.db.tables` (imported first, so the naming
convention applies) and are created by migration ``0002_api_keys_outages``.

* An API key row stores only the SHA-256 of the secret; the secret is shown once at creation.
  ``id`` is the public half of the key, so a lookup is by primary key and the comparison of
  hashes is constant-time. ``park_ids`` (migration ``0007_park_scopes``) limits an operator or
  settlement key to those parks; NULL means every park.
* An outage is a dated window during which an asset cannot be dispatched (maintenance, a
  production run); daily availability windows stay in the asset spec.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from vpp.db.tables import ID, metadata
from vpp.db.types import UtcDateTime

__all__ = ["ApiKeyRow", "AssetOutageRow", "metadata"]


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=ID)
    secret_sha256: str = Field(max_length=64)
    role: str = Field(max_length=16)
    enterprise_id: str | None = Field(
        default=None, foreign_key="enterprises.id", index=True, max_length=ID
    )
    scopes: list[str] = Field(sa_type=sa.JSON)
    label: str = Field(max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)
    created_by: str = Field(max_length=200)
    expires_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    replaced_by: str | None = Field(default=None, max_length=ID)
    park_ids: list[str] | None = Field(default=None, sa_type=sa.JSON)


class AssetOutageRow(SQLModel, table=True):
    __tablename__ = "asset_outages"

    id: int | None = Field(default=None, primary_key=True)
    asset_id: str = Field(foreign_key="assets.id", index=True, max_length=ID, ondelete="CASCADE")
    start: datetime = Field(sa_type=UtcDateTime)
    end: datetime = Field(sa_type=UtcDateTime)
    reason: str = Field(max_length=200)
