"""Dispatch plans: the setpoint each asset must hold per interval of a delivery day."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.engine import flush_or_conflict
from vpp.db.tables import AssetRow, SetpointRow
from vpp.domain.bids import DispatchPlan, Setpoint
from vpp.domain.errors import NotFoundError


class DispatchRepository:
    """Store a :class:`DispatchPlan` per market and day; saving again replaces it."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, plan: DispatchPlan) -> None:
        """Replace the setpoints of ``plan.market_id`` on ``plan.delivery_day``."""
        asset_ids = {s.asset_id for s in plan.setpoints}
        known = set(
            self.session.exec(select(col(AssetRow.id)).where(col(AssetRow.id).in_(asset_ids))).all()
        )
        if missing := sorted(asset_ids - known):
            raise NotFoundError(f"dispatch plan names unknown assets: {', '.join(missing)}")
        self.session.execute(
            sa.delete(SetpointRow).where(
                col(SetpointRow.market_id) == plan.market_id,
                col(SetpointRow.delivery_day) == plan.delivery_day,
            )
        )
        self.session.add_all(
            SetpointRow(
                asset_id=s.asset_id,
                interval_start=s.interval_start,
                market_id=plan.market_id,
                delivery_day=plan.delivery_day,
                power_mw=s.power_mw,
                reserve_up_mw=s.reserve_up_mw,
                reserve_down_mw=s.reserve_down_mw,
            )
            for s in plan.setpoints
        )
        flush_or_conflict(
            self.session,
            f"cannot save the dispatch plan of {plan.market_id} {plan.delivery_day}",
            hint="one setpoint per asset and interval",
        )

    def get(self, market_id: str, delivery_day: date) -> DispatchPlan:
        """The plan of one market and day; empty when none was saved."""
        rows = self.session.exec(
            select(SetpointRow)
            .where(
                col(SetpointRow.market_id) == market_id,
                col(SetpointRow.delivery_day) == delivery_day,
            )
            .order_by(col(SetpointRow.interval_start), col(SetpointRow.asset_id))
        )
        return DispatchPlan(
            market_id=market_id,
            delivery_day=delivery_day,
            setpoints=[_setpoint(r) for r in rows],
        )

    def for_asset(
        self, enterprise_id: str, asset_id: str, start: datetime, end: datetime
    ) -> list[Setpoint]:
        """Setpoints of one tenant's asset for intervals starting in ``[start, end)``."""
        rows = self.session.exec(
            select(SetpointRow)
            .join(AssetRow, col(AssetRow.id) == col(SetpointRow.asset_id))
            .where(
                col(AssetRow.enterprise_id) == enterprise_id,
                col(SetpointRow.asset_id) == asset_id,
                col(SetpointRow.interval_start) >= start,
                col(SetpointRow.interval_start) < end,
            )
            .order_by(col(SetpointRow.interval_start))
        )
        return [_setpoint(r) for r in rows]


def _setpoint(row: SetpointRow) -> Setpoint:
    return Setpoint(
        asset_id=row.asset_id,
        interval_start=row.interval_start,
        power_mw=row.power_mw,
        reserve_up_mw=row.reserve_up_mw,
        reserve_down_mw=row.reserve_down_mw,
    )
