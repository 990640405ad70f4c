"""Bid sets with their curves, their review workflow, and the awards the market returned.

The workflow is ``draft -> review -> approved -> submitted -> awarded | rejected``. Only a draft
may be edited; every status change is a compare-and-set on the stored status, so two reviewers
approving at once cannot both succeed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.engine import flush_or_conflict
from vpp.db.tables import AwardRow, BidCurveRow, BidSetRow
from vpp.db.types import to_decimal
from vpp.domain.bids import Award, BidCurve, BidSegment, BidSet, BidStatus
from vpp.domain.errors import ConflictError, InvalidInputError, NotFoundError

ALLOWED_TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"review"}),
    "review": frozenset({"approved", "draft"}),  # draft: the operator sent it back
    "approved": frozenset({"submitted"}),
    "submitted": frozenset({"awarded", "rejected"}),
    "awarded": frozenset(),
    "rejected": frozenset(),
}
"""Status -> statuses a bid set may move to next."""

AWARDABLE = ("submitted", "awarded")
PRICE_SCALE = 6
"""Decimal places kept for a price [currency/MWh]; finer than any market's tick."""


class BidRepository:
    """Save, read and move :class:`BidSet` objects through their workflow."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, bids: BidSet, *, at: datetime | None = None) -> None:
        """Insert a new draft bid set or replace a stored draft's curves."""
        if bids.status != "draft":
            raise InvalidInputError(
                f"bid set {bids.id} has status {bids.status}; only drafts are saved",
                hint="save it as draft and move it on with set_status",
            )
        row = self.session.get(BidSetRow, bids.id)
        if row is not None and row.status != "draft":
            raise ConflictError(
                f"bid set {bids.id} is {row.status}; only a draft can be changed",
                hint="create a new bid set instead",
            )
        if row is None:
            row = BidSetRow(
                id=bids.id,
                market_id=bids.market_id,
                delivery_day=bids.delivery_day,
                created_at=bids.created_at,
                status="draft",
                status_changed_at=at or datetime.now(UTC),
            )
        else:
            self.session.execute(
                sa.delete(BidCurveRow).where(col(BidCurveRow.bid_set_id) == bids.id)
            )
        row.market_id = bids.market_id
        row.delivery_day = bids.delivery_day
        self.session.add(row)
        self.session.flush()  # the parent row first: no ORM relationship orders the inserts
        self.session.add_all(
            BidCurveRow(
                bid_set_id=bids.id,
                position=k,
                product_id=c.product_id,
                interval_start=c.interval_start,
                side=c.side,
                segments=[s.model_dump(mode="json") for s in c.segments],
            )
            for k, c in enumerate(bids.curves)
        )
        flush_or_conflict(
            self.session,
            f"cannot save bid set {bids.id}",
            hint="each product, interval and side may have one curve",
        )

    def get(self, bid_set_id: str) -> BidSet:
        """Bid set ``bid_set_id`` with its curves in the order they were saved."""
        row = self._row(bid_set_id)
        curves = self.session.exec(
            select(BidCurveRow)
            .where(col(BidCurveRow.bid_set_id) == bid_set_id)
            .order_by(col(BidCurveRow.position))
        ).all()
        return _bid_set(row, curves)

    def list_for_day(self, market_id: str, delivery_day: date) -> list[BidSet]:
        """Every bid set for one market and delivery day, oldest first."""
        ids = self.session.exec(
            select(col(BidSetRow.id))
            .where(
                col(BidSetRow.market_id) == market_id, col(BidSetRow.delivery_day) == delivery_day
            )
            .order_by(col(BidSetRow.created_at), col(BidSetRow.id))
        ).all()
        return [self.get(i) for i in ids]

    def set_status(
        self, bid_set_id: str, status: BidStatus, *, at: datetime | None = None
    ) -> BidSet:
        """Move a bid set to ``status``; a move the workflow does not allow is a conflict."""
        current = self._row(bid_set_id).status
        if status not in ALLOWED_TRANSITIONS[current]:
            allowed = sorted(ALLOWED_TRANSITIONS[current]) or ["nothing"]
            raise ConflictError(
                f"bid set {bid_set_id} cannot go from {current} to {status}",
                hint=f"from {current} it may go to {', '.join(allowed)}",
            )
        moved = self.session.execute(
            sa.update(BidSetRow)
            .where(col(BidSetRow.id) == bid_set_id, col(BidSetRow.status) == current)
            .values(status=status, status_changed_at=at or datetime.now(UTC))
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            raise ConflictError(f"bid set {bid_set_id} changed status concurrently; reload it")
        self.session.expire_all()
        return self.get(bid_set_id)

    def _row(self, bid_set_id: str) -> BidSetRow:
        row = self.session.get(BidSetRow, bid_set_id)
        if row is None:
            raise NotFoundError(f"bid set {bid_set_id} not found")
        return row


class AwardRepository:
    """Awards, stored against the bid set they answer."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, bid_set_id: str, awards: Sequence[Award]) -> None:
        """Replace the awards of a submitted (or already awarded) bid set."""
        row = self.session.get(BidSetRow, bid_set_id)
        if row is None:
            raise NotFoundError(f"bid set {bid_set_id} not found")
        if row.status not in AWARDABLE:
            raise ConflictError(
                f"bid set {bid_set_id} is {row.status}; awards belong to a submitted bid set"
            )
        self.session.execute(sa.delete(AwardRow).where(col(AwardRow.bid_set_id) == bid_set_id))
        self.session.add_all(
            AwardRow(
                bid_set_id=bid_set_id,
                product_id=a.product_id,
                interval_start=a.interval_start,
                side=a.side,
                quantity_mw=a.quantity_mw,
                price=to_decimal(a.price, PRICE_SCALE),
            )
            for a in awards
        )
        flush_or_conflict(
            self.session,
            f"cannot save awards of bid set {bid_set_id}",
            hint="each product, interval and side may have one award",
        )

    def list_for_bid_set(self, bid_set_id: str) -> list[Award]:
        """Awards of one bid set by interval, product and side."""
        return self._awards(col(AwardRow.bid_set_id) == bid_set_id)

    def list_for_day(self, market_id: str, delivery_day: date) -> list[Award]:
        """Awards of every bid set for one market and delivery day."""
        sets = select(col(BidSetRow.id)).where(
            col(BidSetRow.market_id) == market_id, col(BidSetRow.delivery_day) == delivery_day
        )
        return self._awards(col(AwardRow.bid_set_id).in_(sets))

    def _awards(self, where: sa.ColumnElement[bool]) -> list[Award]:
        rows = self.session.exec(
            select(AwardRow)
            .where(where)
            .order_by(col(AwardRow.interval_start), col(AwardRow.product_id), col(AwardRow.side))
        )
        return [
            Award(
                product_id=r.product_id,
                interval_start=r.interval_start,
                side=r.side,
                quantity_mw=r.quantity_mw,
                price=float(r.price),
            )
            for r in rows
        ]


def _bid_set(row: BidSetRow, curves: Sequence[BidCurveRow]) -> BidSet:
    return BidSet(
        id=row.id,
        market_id=row.market_id,
        delivery_day=row.delivery_day,
        created_at=row.created_at,
        status=row.status,
        curves=[
            BidCurve(
                product_id=c.product_id,
                interval_start=c.interval_start,
                side=c.side,
                segments=[BidSegment.model_validate(s) for s in c.segments],
            )
            for c in curves
        ],
    )
