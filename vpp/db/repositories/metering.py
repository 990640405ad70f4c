"""Consumption meters, demand-response events and AGC setpoints: rows to and from pandas/domain.

Consumption readings and AGC setpoints are upserts keyed by ``(meter or asset, ts)`` (a
re-sent reading overwrites, never duplicates) and are read back as UTC-indexed series. A
reading is a consumption magnitude [MW, >= 0 while drawing]; NaN is refused: a missing
reading is a missing row, so settlement sees the gap.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from vpp.db.metering_tables import (
    AgcSetpointRow,
    ConsumptionMeterRow,
    ConsumptionReadingRow,
    DrEventRow,
)
from vpp.db.tables import EnterpriseRow
from vpp.domain.demand_response import DrEvent
from vpp.domain.errors import InvalidInputError, NotFoundError

MeterKind = Literal["tenant", "park"]
BATCH_ROWS = 2000


def _utc(ts: Any) -> datetime:
    stamp = pd.Timestamp(ts)
    if stamp.tzinfo is None:
        raise InvalidInputError(f"naive timestamp {ts}", hint="index readings in UTC")
    converted: datetime = stamp.tz_convert("UTC").to_pydatetime()
    return converted


def _upsert(session: Session, table: sa.Table, keys: list[str], rows: list[dict[str, Any]]) -> int:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of ``rows`` on SQLite or PostgreSQL."""
    if not rows:
        return 0
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    values = [c for c in rows[0] if c not in keys]
    statement = insert.on_conflict_do_update(
        index_elements=keys, set_={name: insert.excluded[name] for name in values}
    )
    for first in range(0, len(rows), BATCH_ROWS):
        session.execute(statement, rows[first : first + BATCH_ROWS])
    return len(rows)


def _series(rows: list[Any], name: str) -> pd.Series:
    index = pd.DatetimeIndex([r[0] for r in rows], name="ts").as_unit("us")
    index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
    return pd.Series([r[1] for r in rows], index=index, dtype="float64", name=name)


def _finite(values: pd.Series, what: str) -> None:
    bad = values.index[~np.isfinite(values.to_numpy(dtype="float64"))]
    if len(bad):
        raise InvalidInputError(
            f"{what} @ {bad[0]}: value is {values[bad[0]]}",
            hint="leave missing readings out instead of sending NaN",
        )


class ConsumptionRepository:
    """Register consumption meters of a park and store and read their readings."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_meter(
        self, meter_id: str, park_id: str, kind: MeterKind, enterprise_id: str | None = None
    ) -> None:
        """Register (or re-register, idempotently) a tenant or park-connection meter."""
        if (kind == "tenant") != (enterprise_id is not None):
            raise InvalidInputError(
                f"meter {meter_id}: a tenant meter names its enterprise, a park meter none"
            )
        if enterprise_id is not None:
            owner = self.session.get(EnterpriseRow, enterprise_id)
            if owner is None or owner.park_id != park_id:
                raise NotFoundError(f"enterprise {enterprise_id} not found in park {park_id}")
        row = self.session.get(ConsumptionMeterRow, meter_id)
        if row is None:
            row = ConsumptionMeterRow(id=meter_id, park_id=park_id, kind=kind)
        row.park_id, row.kind, row.enterprise_id = park_id, kind, enterprise_id
        self.session.add(row)
        self.session.flush()

    def meters(self, park_id: str) -> list[ConsumptionMeterRow]:
        """The park's meters, by id."""
        query = select(ConsumptionMeterRow).where(col(ConsumptionMeterRow.park_id) == park_id)
        return list(self.session.exec(query.order_by(col(ConsumptionMeterRow.id))))

    def upsert_series(
        self, meter_id: str, power_mw: pd.Series, *, quality: str = "measured"
    ) -> int:
        """Insert or overwrite readings [MW consumed] indexed by tz-aware instants."""
        if self.session.get(ConsumptionMeterRow, meter_id) is None:
            raise NotFoundError(f"no consumption meter {meter_id}", hint="register it first")
        _finite(power_mw, meter_id)
        latest = {_utc(ts): float(v) for ts, v in power_mw.items()}
        rows = [
            {"meter_id": meter_id, "ts": ts, "power_mw": latest[ts], "quality": quality}
            for ts in sorted(latest)
        ]
        return _upsert(self.session, ConsumptionReadingRow.__table__, ["meter_id", "ts"], rows)  # type: ignore[attr-defined]

    def read(
        self,
        meter_id: str,
        start: datetime,
        end: datetime,
        qualities: tuple[str, ...] | None = None,
    ) -> pd.Series:
        """Readings of ``meter_id`` at instants in ``[start, end)`` [MW], UTC-indexed; only
        those of ``qualities`` when given."""
        r = ConsumptionReadingRow
        query = (
            sa.select(col(r.ts), col(r.power_mw))
            .where(col(r.meter_id) == meter_id, col(r.ts) >= start, col(r.ts) < end)
            .order_by(col(r.ts))
        )
        if qualities is not None:
            query = query.where(col(r.quality).in_(qualities))
        return _series(list(self.session.execute(query).all()), meter_id)

    def qualities(self, meter_ids: list[str], start: datetime, end: datetime) -> frozenset[str]:
        """Quality flags of the readings of ``meter_ids`` in ``[start, end)``."""
        r = ConsumptionReadingRow
        query = (
            sa.select(col(r.quality))
            .where(col(r.meter_id).in_(meter_ids), col(r.ts) >= start, col(r.ts) < end)
            .distinct()
        )
        return frozenset(self.session.execute(query).scalars())


class DrEventRepository:
    """Record demand-response events and list them per park."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, event: DrEvent) -> DrEvent:
        """Store ``event``; returns it with its id."""
        if event.end <= event.start:
            raise InvalidInputError(f"DR event end {event.end} is not after its start")
        if event.committed_mw < 0:
            raise InvalidInputError(f"DR event commitment {event.committed_mw} MW is negative")
        row = DrEventRow(
            park_id=event.park_id,
            enterprise_id=event.enterprise_id,
            product_id=event.product_id,
            start=_utc(event.start),
            end=_utc(event.end),
            committed_mw=event.committed_mw,
            price_per_mwh=Decimal(str(event.price_per_mwh)),
        )
        self.session.add(row)
        self.session.flush()
        return _event(row)

    def list_for_park(self, park_id: str, start: datetime, end: datetime) -> list[DrEvent]:
        """Events of the park starting in ``[start, end)``, by start."""
        query = (
            select(DrEventRow)
            .where(col(DrEventRow.park_id) == park_id)
            .where(col(DrEventRow.start) >= start, col(DrEventRow.start) < end)
            .order_by(col(DrEventRow.start), col(DrEventRow.id))
        )
        return [_event(r) for r in self.session.exec(query)]


def _event(row: DrEventRow) -> DrEvent:
    return DrEvent(
        park_id=row.park_id,
        product_id=row.product_id,
        start=row.start,
        end=row.end,
        committed_mw=row.committed_mw,
        price_per_mwh=Decimal(str(row.price_per_mwh)),
        enterprise_id=row.enterprise_id,
        id=row.id,
    )


class AgcSetpointRepository:
    """Store and read the AGC commands sent to an asset (seconds resolution)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert_series(self, asset_id: str, setpoint_mw: pd.Series) -> int:
        """Insert or overwrite AGC setpoints [MW] indexed by tz-aware instants."""
        _finite(setpoint_mw, asset_id)
        latest = {_utc(ts): float(v) for ts, v in setpoint_mw.items()}
        rows = [
            {"asset_id": asset_id, "ts": ts, "setpoint_mw": latest[ts]} for ts in sorted(latest)
        ]
        return _upsert(self.session, AgcSetpointRow.__table__, ["asset_id", "ts"], rows)  # type: ignore[attr-defined]

    def read(self, asset_id: str, start: datetime, end: datetime) -> pd.Series:
        """Setpoints of ``asset_id`` in ``[start, end)`` [MW], UTC-indexed."""
        r = AgcSetpointRow
        query = (
            sa.select(col(r.ts), col(r.setpoint_mw))
            .where(col(r.asset_id) == asset_id, col(r.ts) >= start, col(r.ts) < end)
            .order_by(col(r.ts))
        )
        return _series(list(self.session.execute(query).all()), asset_id)

    def asset_ids(self, start: datetime, end: datetime) -> list[str]:
        """Assets with at least one AGC setpoint in ``[start, end)``."""
        r = AgcSetpointRow
        query = (
            sa.select(col(r.asset_id))
            .where(col(r.ts) >= start, col(r.ts) < end)
            .distinct()
            .order_by(col(r.asset_id))
        )
        return list(self.session.execute(query).scalars())
