"""API credentials: keys stored as SHA-256 hashes, looked up by their public id.

The repository never sees a secret in clear; the API hashes it and asks for the row by the
key's public id. Revocation and rotation are timestamps on the row, so the audit log and a
token minted from a key can both be checked against it later. A key may be limited to parks
(``park_ids``); None reaches every park.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from vpp.db.auth_tables import ApiKeyRow
from vpp.db.engine import flush_or_conflict
from vpp.db.tables import EnterpriseRow, ParkRow
from vpp.domain.errors import ConflictError, NotFoundError


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored key without its secret; ``enterprise_id`` is set for enterprise keys only,
    ``park_ids`` for keys limited to those parks (None: every park)."""

    id: str
    secret_sha256: str
    role: str
    enterprise_id: str | None
    scopes: tuple[str, ...]
    label: str
    created_at: datetime
    created_by: str
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    replaced_by: str | None = None
    park_ids: tuple[str, ...] | None = None

    def usable_at(self, at: datetime) -> bool:
        """Whether the key authenticates at instant ``at``."""
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        return self.expires_at is None or at < self.expires_at


class ApiKeyRepository:
    """Add, find, list, expire and revoke :class:`ApiKeyRecord` rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, key: ApiKeyRecord) -> None:
        """Store a new key; an enterprise key needs an existing enterprise, a park-limited
        key existing parks."""
        if (
            key.enterprise_id is not None
            and self.session.get(EnterpriseRow, key.enterprise_id) is None
        ):
            raise NotFoundError(f"enterprise {key.enterprise_id} not found")
        for park_id in key.park_ids or ():
            if self.session.get(ParkRow, park_id) is None:
                raise NotFoundError(f"park {park_id} not found", hint="register the park first")
        self.session.add(
            ApiKeyRow(
                id=key.id,
                secret_sha256=key.secret_sha256,
                role=key.role,
                enterprise_id=key.enterprise_id,
                scopes=list(key.scopes),
                label=key.label,
                created_at=key.created_at,
                created_by=key.created_by,
                expires_at=key.expires_at,
                revoked_at=key.revoked_at,
                park_ids=None if key.park_ids is None else list(key.park_ids),
            )
        )
        flush_or_conflict(self.session, f"cannot add API key {key.id}")

    def find(self, key_id: str) -> ApiKeyRecord | None:
        """The key with public id ``key_id``, or None."""
        row = self.session.get(ApiKeyRow, key_id)
        return None if row is None else _record(row)

    def get(self, key_id: str) -> ApiKeyRecord:
        """The key ``key_id``; raises :class:`NotFoundError` when absent."""
        found = self.find(key_id)
        if found is None:
            raise NotFoundError(f"API key {key_id} not found")
        return found

    def list(self, *, after: str | None = None, limit: int = 100) -> list[ApiKeyRecord]:
        """Keys ordered by id, ``limit`` of them after id ``after`` (keyset pagination)."""
        query = select(ApiKeyRow).order_by(col(ApiKeyRow.id)).limit(limit)
        if after is not None:
            query = query.where(col(ApiKeyRow.id) > after)
        return [_record(r) for r in self.session.exec(query)]

    def revoke(self, key_id: str, at: datetime) -> ApiKeyRecord:
        """Revoke ``key_id`` from ``at`` on; revoking twice raises :class:`ConflictError`."""
        row = self._row(key_id)
        if row.revoked_at is not None:
            raise ConflictError(f"API key {key_id} is already revoked")
        row.revoked_at = at
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def retire(self, key_id: str, *, replaced_by: str, expires_at: datetime) -> ApiKeyRecord:
        """Mark ``key_id`` as replaced by a rotated key, usable until ``expires_at``."""
        row = self._row(key_id)
        if row.revoked_at is not None or row.replaced_by is not None:
            raise ConflictError(f"API key {key_id} was already revoked or rotated")
        row.replaced_by = replaced_by
        if row.expires_at is None or expires_at < row.expires_at:
            row.expires_at = expires_at
        self.session.add(row)
        self.session.flush()
        return _record(row)

    def _row(self, key_id: str) -> ApiKeyRow:
        row = self.session.get(ApiKeyRow, key_id)
        if row is None:
            raise NotFoundError(f"API key {key_id} not found")
        return row


def _record(row: ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=row.id,
        secret_sha256=row.secret_sha256,
        role=row.role,
        enterprise_id=row.enterprise_id,
        scopes=tuple(row.scopes),
        label=row.label,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        replaced_by=row.replaced_by,
        park_ids=None if row.park_ids is None else tuple(row.park_ids),
    )
