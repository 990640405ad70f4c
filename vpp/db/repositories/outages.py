"""Dated outages of enrolled assets, always read through the owning enterprise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from vpp.db.auth_tables import AssetOutageRow
from vpp.db.tables import AssetRow, EnterpriseRow
from vpp.domain.errors import InvalidInputError, NotFoundError


@dataclass(frozen=True, slots=True)
class Outage:
    """``asset_id`` cannot be dispatched in ``[start, end)``."""

    id: int
    asset_id: str
    start: datetime
    end: datetime
    reason: str


class OutageRepository:
    """Add and list outages; the enterprise id is part of every query."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(
        self, enterprise_id: str, asset_id: str, start: datetime, end: datetime, reason: str
    ) -> Outage:
        """Record an outage of one of ``enterprise_id``'s assets."""
        if end <= start:
            raise InvalidInputError(f"outage end {end} is not after its start {start}")
        owned = self.session.exec(
            select(AssetRow.id).where(
                col(AssetRow.id) == asset_id, col(AssetRow.enterprise_id) == enterprise_id
            )
        ).first()
        if owned is None:
            raise NotFoundError(f"asset {asset_id} not found for enterprise {enterprise_id}")
        row = AssetOutageRow(asset_id=asset_id, start=start, end=end, reason=reason)
        self.session.add(row)
        self.session.flush()
        return _outage(row)

    def list_for_asset(self, enterprise_id: str, asset_id: str) -> list[Outage]:
        """Outages of one asset of ``enterprise_id``, by start time."""
        rows = self.session.exec(
            select(AssetOutageRow)
            .join(AssetRow, col(AssetRow.id) == col(AssetOutageRow.asset_id))
            .where(col(AssetRow.enterprise_id) == enterprise_id)
            .where(col(AssetOutageRow.asset_id) == asset_id)
            .order_by(col(AssetOutageRow.start), col(AssetOutageRow.id))
        )
        return [_outage(r) for r in rows]

    def overlapping_for_park(self, park_id: str, start: datetime, end: datetime) -> list[Outage]:
        """Outages of the park's assets that overlap ``[start, end)`` (the operator's view)."""
        rows = self.session.exec(
            select(AssetOutageRow)
            .join(AssetRow, col(AssetRow.id) == col(AssetOutageRow.asset_id))
            .join(EnterpriseRow, col(EnterpriseRow.id) == col(AssetRow.enterprise_id))
            .where(col(EnterpriseRow.park_id) == park_id)
            .where(col(AssetOutageRow.start) < end, col(AssetOutageRow.end) > start)
            .order_by(col(AssetOutageRow.start), col(AssetOutageRow.id))
        )
        return [_outage(r) for r in rows]


def _outage(row: AssetOutageRow) -> Outage:
    assert row.id is not None  # assigned by the flush
    return Outage(row.id, row.asset_id, row.start, row.end, row.reason)
