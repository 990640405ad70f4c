"""An append-only audit trail: who did what to which entity, with its state before and after.

Each entry also names the HTTP request that made it (``request_id``, the ``X-Request-ID`` the
API answered with), so a log line, a client's report and the audit row can be matched. The API
middleware binds the id of the request being served with :func:`bind_request_id`;
:meth:`AuditRepository.record` picks it up from there unless one is passed explicitly, and
entries made outside a request (jobs, the CLI) carry none.

``request_id`` was added by migration ``0004``. Entries are written with one Core ``INSERT ...
RETURNING`` and read with Core selects.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session

from vpp.db.tables import AuditRow

REQUEST_ID_LENGTH = 128
"""Longest request id the API accepts (and the width of the column)."""
AUDIT: sa.Table = AuditRow.__table__  # type: ignore[attr-defined]

_request_id: ContextVar[str | None] = ContextVar("vpp_audit_request_id", default=None)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


@contextmanager
def bind_request_id(request_id: str | None) -> Iterator[None]:
    """Make ``request_id`` the one audit entries recorded in this context carry."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One recorded action; ``before``/``after`` are JSON documents (None when absent)."""

    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> AuditEntry:
        """An entry from a selected ``audit_log`` row (all columns)."""
        return cls(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            entity=row.entity,
            entity_id=row.entity_id,
            before=row.before,
            after=row.after,
            request_id=row.request_id,
        )


class AuditRepository:
    """Record and list audit entries; nothing here updates or deletes one."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def record(
        self,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        *,
        before: BaseModel | dict[str, Any] | None = None,
        after: BaseModel | dict[str, Any] | None = None,
        at: datetime | None = None,
        request_id: str | None = None,
    ) -> int:
        """Append an entry and return its id; pydantic objects are stored as their JSON.

        ``request_id`` defaults to the one bound for the current request, if any.
        """
        values = {
            "at": at or datetime.now(UTC),
            "actor": actor,
            "action": action,
            "entity": entity,
            "entity_id": entity_id,
            "before": _document(before),
            "after": _document(after),
            "request_id": request_id or current_request_id(),
        }
        new_id = self.session.execute(
            sa.insert(AUDIT).values(values).returning(AUDIT.c.id)
        ).scalar_one()
        return int(new_id)

    def list_for(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """Entries about one entity, oldest first."""
        rows = self.session.execute(
            sa.select(AUDIT)
            .where(AUDIT.c.entity == entity, AUDIT.c.entity_id == entity_id)
            .order_by(AUDIT.c.at, AUDIT.c.id)
        )
        return [AuditEntry.from_row(r) for r in rows]

    def query(
        self,
        *,
        entity: str | None = None,
        entity_id: str | None = None,
        actor: str | None = None,
        request_id: str | None = None,
        since: datetime | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries matching every given filter, by id, at most ``limit`` after ``after_id``."""
        query = sa.select(AUDIT).order_by(AUDIT.c.id).limit(limit)
        if after_id is not None:
            query = query.where(AUDIT.c.id > after_id)
        for column, value in (
            (AUDIT.c.entity, entity),
            (AUDIT.c.entity_id, entity_id),
            (AUDIT.c.actor, actor),
            (AUDIT.c.request_id, request_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(AUDIT.c.at >= since)
        return [AuditEntry.from_row(r) for r in self.session.execute(query)]


def _document(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return value.model_dump(mode="json")
