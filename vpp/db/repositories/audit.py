"""An append-only audit trail: who did what to which entity, with its state before and after."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from vpp.db.tables import AuditRow


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
    ) -> int:
        """Append an entry and return its id; pydantic objects are stored as their JSON."""
        row = AuditRow(
            at=at or datetime.now(UTC),
            actor=actor,
            action=action,
            entity=entity,
            entity_id=entity_id,
            before=_document(before),
            after=_document(after),
        )
        self.session.add(row)
        self.session.flush()
        assert row.id is not None  # assigned by the flush
        return row.id

    def list_for(self, entity: str, entity_id: str) -> list[AuditEntry]:
        """Entries about one entity, oldest first."""
        rows = self.session.exec(
            select(AuditRow)
            .where(col(AuditRow.entity) == entity, col(AuditRow.entity_id) == entity_id)
            .order_by(col(AuditRow.at), col(AuditRow.id))
        )
        return [
            AuditEntry(
                id=r.id or 0,
                at=r.at,
                actor=r.actor,
                action=r.action,
                entity=r.entity,
                entity_id=r.entity_id,
                before=r.before,
                after=r.after,
            )
            for r in rows
        ]


def _document(value: BaseModel | dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None or isinstance(value, dict):
        return value
    return value.model_dump(mode="json")
