"""Statements: editable as drafts, immutable once issued, corrected only by a new version.

A statement is keyed by ``(id, version)``. Issuing freezes a version; :meth:`correct` issues
``version + 1`` and marks the previous one ``superseded`` in the same transaction, and both stay
readable, so what an enterprise was sent can always be shown again. Status changes are
compare-and-set on the stored status, so concurrent corrections cannot both win.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.engine import flush_or_conflict
from vpp.db.tables import EnterpriseRow, StatementLineRow, StatementRow
from vpp.domain.bids import Statement, StatementLine
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError


class StatementRepository:
    """Drafts, issue and corrections of :class:`Statement` objects, one tenant at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save_draft(self, statement: Statement) -> None:
        """Insert a new draft (version 1) or replace the stored draft of the same version."""
        if statement.status != "draft" or statement.issued_at is not None:
            raise InvalidInputError(
                f"statement {statement.id} is {statement.status}; save_draft takes drafts",
                hint="issue a draft with issue(), correct an issued one with correct()",
            )
        latest = self._latest_row(statement.id)
        if latest is None:
            if statement.version != 1:
                raise InvalidInputError(
                    f"a new statement starts at version 1, not {statement.version}"
                )
            self._insert(statement, status="draft", issued_at=None)
            return
        self._same_owner(latest, statement)
        if latest.status != "draft" or latest.version != statement.version:
            raise ConflictError(
                f"statement {statement.id} v{latest.version} is {latest.status}; "
                "issued statements are immutable",
                hint="use correct() to issue a new version",
            )
        self.session.execute(
            sa.delete(StatementLineRow).where(
                col(StatementLineRow.statement_id) == statement.id,
                col(StatementLineRow.statement_version) == statement.version,
            )
        )
        self.session.delete(latest)
        flush_or_conflict(self.session, f"cannot replace draft {statement.id}")
        self._insert(statement, status="draft", issued_at=None)

    def issue(self, enterprise_id: str, statement_id: str, *, at: datetime) -> Statement:
        """Issue the draft of ``statement_id``; issuing twice raises :class:`ConflictError`."""
        latest = self._owned_latest(enterprise_id, statement_id)
        if latest.status != "draft":
            raise ConflictError(
                f"statement {statement_id} v{latest.version} is already {latest.status}",
                hint="use correct() to issue a new version",
            )
        self._move(latest, "draft", "issued", issued_at=at)
        return self.get(enterprise_id, statement_id, latest.version)

    def correct(self, corrected: Statement, *, at: datetime) -> Statement:
        """Issue ``corrected`` as the next version and supersede the issued one."""
        latest = self._owned_latest(corrected.enterprise_id, corrected.id)
        if latest.status != "issued":
            raise ConflictError(
                f"statement {corrected.id} v{latest.version} is {latest.status}, not issued",
                hint="edit the draft with save_draft() instead",
            )
        self._move(latest, "issued", "superseded", issued_at=latest.issued_at)
        version = latest.version + 1
        self._insert(corrected, status="issued", issued_at=at, version=version)
        return self.get(corrected.enterprise_id, corrected.id, version)

    def get(self, enterprise_id: str, statement_id: str, version: int | None = None) -> Statement:
        """A version of a statement of ``enterprise_id``; the newest when ``version`` is None."""
        if version is None:
            return self._to_domain(self._owned_latest(enterprise_id, statement_id))
        row = self.session.exec(
            select(StatementRow).where(
                col(StatementRow.id) == statement_id,
                col(StatementRow.version) == version,
                col(StatementRow.enterprise_id) == enterprise_id,
            )
        ).first()
        if row is None:
            raise NotFoundError(
                f"statement {statement_id} v{version} not found for enterprise {enterprise_id}"
            )
        return self._to_domain(row)

    def versions(self, enterprise_id: str, statement_id: str) -> list[Statement]:
        """Every version of a statement, oldest first."""
        rows = self.session.exec(
            select(StatementRow)
            .where(
                col(StatementRow.id) == statement_id,
                col(StatementRow.enterprise_id) == enterprise_id,
            )
            .order_by(col(StatementRow.version))
        ).all()
        if not rows:
            raise NotFoundError(
                f"statement {statement_id} not found for enterprise {enterprise_id}"
            )
        return [self._to_domain(r) for r in rows]

    def list_for_enterprise(
        self, enterprise_id: str, *, include_superseded: bool = False
    ) -> list[Statement]:
        """Statements of one enterprise by period, then id and version."""
        query = select(StatementRow).where(col(StatementRow.enterprise_id) == enterprise_id)
        if not include_superseded:
            query = query.where(col(StatementRow.status) != "superseded")
        rows = self.session.exec(
            query.order_by(
                col(StatementRow.period_start), col(StatementRow.id), col(StatementRow.version)
            )
        ).all()
        return [self._to_domain(r) for r in rows]

    def summaries(
        self,
        enterprise_id: str,
        *,
        status: str | None = None,
        period_from: date | None = None,
        period_before: date | None = None,
    ) -> list[StatementSummary]:
        """Every stored version of the enterprise's statements, without lines, newest first
        (latest period first, then id, then highest version first).

        ``status`` keeps one status only; ``period_from``/``period_before`` keep statements whose
        period starts in ``[period_from, period_before)``.
        """
        query = select(StatementRow).where(col(StatementRow.enterprise_id) == enterprise_id)
        if status is not None:
            query = query.where(col(StatementRow.status) == status)
        if period_from is not None:
            query = query.where(col(StatementRow.period_start) >= period_from)
        if period_before is not None:
            query = query.where(col(StatementRow.period_start) < period_before)
        rows = self.session.exec(
            query.order_by(
                col(StatementRow.period_start).desc(),
                col(StatementRow.id),
                col(StatementRow.version).desc(),
            )
        ).all()
        return [_summary(r) for r in rows]

    def _insert(
        self,
        statement: Statement,
        *,
        status: str,
        issued_at: datetime | None,
        version: int | None = None,
    ) -> None:
        if self.session.get(EnterpriseRow, statement.enterprise_id) is None:
            raise NotFoundError(f"enterprise {statement.enterprise_id} not found")
        version = statement.version if version is None else version
        self.session.add(
            StatementRow(
                id=statement.id,
                version=version,
                enterprise_id=statement.enterprise_id,
                market_id=statement.market_id,
                period_start=statement.period_start,
                period_end=statement.period_end,
                status=status,
                issued_at=issued_at,
                currency=statement.currency,
                total=statement.total,
            )
        )
        flush_or_conflict(self.session, f"cannot store statement {statement.id} v{version}")
        self.session.add_all(
            StatementLineRow(
                statement_id=statement.id,
                statement_version=version,
                position=k,
                label=line.label,
                label_zh=line.label_zh,
                product_id=line.product_id,
                quantity=line.quantity,
                unit=line.unit,
                amount=line.amount,
            )
            for k, line in enumerate(statement.lines)
        )
        flush_or_conflict(self.session, f"cannot store the lines of statement {statement.id}")

    def _move(
        self, row: StatementRow, current: str, status: str, *, issued_at: datetime | None
    ) -> None:
        moved = self.session.execute(
            sa.update(StatementRow)
            .where(
                col(StatementRow.id) == row.id,
                col(StatementRow.version) == row.version,
                col(StatementRow.status) == current,
            )
            .values(status=status, issued_at=issued_at)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(
                f"statement {row.id} v{row.version} changed concurrently; reload it"
            )
        self.session.expire_all()

    def _latest_row(self, statement_id: str) -> StatementRow | None:
        return self.session.exec(
            select(StatementRow)
            .where(col(StatementRow.id) == statement_id)
            .order_by(col(StatementRow.version).desc())
            .limit(1)
        ).first()

    def _owned_latest(self, enterprise_id: str, statement_id: str) -> StatementRow:
        row = self.session.exec(
            select(StatementRow)
            .where(
                col(StatementRow.id) == statement_id,
                col(StatementRow.enterprise_id) == enterprise_id,
            )
            .order_by(col(StatementRow.version).desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFoundError(
                f"statement {statement_id} not found for enterprise {enterprise_id}"
            )
        return row

    @staticmethod
    def _same_owner(row: StatementRow, statement: Statement) -> None:
        if row.enterprise_id != statement.enterprise_id:
            raise ConflictError(
                f"statement id {statement.id} is taken", hint="choose another statement id"
            )

    def _to_domain(self, row: StatementRow) -> Statement:
        lines: Sequence[StatementLineRow] = self.session.exec(
            select(StatementLineRow)
            .where(
                col(StatementLineRow.statement_id) == row.id,
                col(StatementLineRow.statement_version) == row.version,
            )
            .order_by(col(StatementLineRow.position))
        ).all()
        statement = Statement(
            id=row.id,
            enterprise_id=row.enterprise_id,
            market_id=row.market_id,
            period_start=row.period_start,
            period_end=row.period_end,
            currency=row.currency,
            version=row.version,
            status=row.status,
            issued_at=row.issued_at,
            lines=[
                StatementLine(
                    label=line.label,
                    label_zh=line.label_zh,
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit=line.unit,
                    amount=line.amount,
                )
                for line in lines
            ],
        )
        if statement.total != row.total:
            raise ConflictError(
                f"statement {row.id} v{row.version}: stored total {row.total} differs from its "
                f"lines ({statement.total})",
                hint="the row was edited outside parkvpp; restore it from the audit log",
            )
        return statement


@dataclass(frozen=True, slots=True)
class StatementSummary:
    """One stored version of a statement without its lines; ``total`` is the stored total."""

    id: str
    version: int
    enterprise_id: str
    market_id: str
    period_start: date
    period_end: date
    status: str
    issued_at: datetime | None
    currency: str
    total: Decimal


def _summary(row: StatementRow) -> StatementSummary:
    return StatementSummary(
        id=row.id,
        version=row.version,
        enterprise_id=row.enterprise_id,
        market_id=row.market_id,
        period_start=row.period_start,
        period_end=row.period_end,
        status=row.status,
        issued_at=row.issued_at,
        currency=row.currency,
        total=row.total,
    )
