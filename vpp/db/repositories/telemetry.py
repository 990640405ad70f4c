"""Metered power per asset: idempotent bulk upsert and time-range reads as pandas series.

Meters and gateways re-send points after reconnects and deliver them out of order, so writing
is an ``INSERT ... ON CONFLICT (asset_id, ts) DO UPDATE`` (the same statement on PostgreSQL and
SQLite): a point delivered twice is one row holding the latest values. Points are written sorted
by key, so concurrent writers lock rows in the same order and cannot deadlock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from vpp.db.tables import metadata
from vpp.domain.errors import InvalidInputError, NotFoundError

BATCH_ROWS = 2000
"""Rows sent per executemany batch."""
COLUMNS = ("power_mw", "energy_mwh", "quality")
TELEMETRY: sa.Table = metadata.tables["telemetry"]
ASSETS: sa.Table = metadata.tables["assets"]


@dataclass(frozen=True, slots=True)
class TelemetryPoint:
    """One metered value: ``power_mw`` in the service's sign convention at instant ``ts``."""

    asset_id: str
    ts: datetime
    power_mw: float
    energy_mwh: float | None = None
    quality: str = "measured"


class TelemetryRepository:
    """Write and read :class:`TelemetryPoint` rows."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(self, points: Iterable[TelemetryPoint]) -> int:
        """Insert or overwrite ``points``; returns how many distinct (asset, ts) were written.

        Within one call a later point for the same asset and instant wins.
        """
        latest: dict[tuple[str, datetime], dict[str, Any]] = {}
        for p in points:
            if not math.isfinite(p.power_mw):
                raise InvalidInputError(
                    f"{p.asset_id} @ {p.ts}: power_mw is {p.power_mw}",
                    hint="leave missing points out instead of sending NaN",
                )
            if p.ts.tzinfo is None:
                raise InvalidInputError(f"{p.asset_id}: naive timestamp {p.ts}", hint="use UTC")
            ts = pd.Timestamp(p.ts).tz_convert("UTC").to_pydatetime()
            latest[(p.asset_id, ts)] = {
                "asset_id": p.asset_id,
                "ts": ts,
                "power_mw": float(p.power_mw),
                "energy_mwh": None if p.energy_mwh is None else float(p.energy_mwh),
                "quality": p.quality,
            }
        if not latest:
            return 0
        self._require_assets({asset_id for asset_id, _ in latest})
        statement = self._upsert_statement()
        rows = [latest[key] for key in sorted(latest)]
        for batch in _batches(rows, BATCH_ROWS):
            self.session.execute(statement, batch)
        return len(rows)

    def upsert_series(
        self,
        asset_id: str,
        power_mw: pd.Series,
        *,
        energy_mwh: pd.Series | None = None,
        quality: str = "measured",
    ) -> int:
        """Upsert a tz-aware series of power [MW] (and optionally energy [MWh]) for one asset."""
        if not isinstance(power_mw.index, pd.DatetimeIndex) or power_mw.index.tz is None:
            raise InvalidInputError(
                f"telemetry of {asset_id} needs a tz-aware DatetimeIndex", hint="localise to UTC"
            )
        energy = None if energy_mwh is None else energy_mwh.reindex(power_mw.index)
        return self.upsert(
            TelemetryPoint(
                asset_id=asset_id,
                ts=ts.to_pydatetime(),
                power_mw=float(value),
                energy_mwh=None if energy is None or pd.isna(energy[ts]) else float(energy[ts]),
                quality=quality,
            )
            for ts, value in power_mw.items()
        )

    def read(
        self, asset_id: str, start: datetime, end: datetime, *, enterprise_id: str | None = None
    ) -> pd.Series:
        """Power [MW] of ``asset_id`` at instants in ``[start, end)``, UTC-indexed.

        Pass ``enterprise_id`` on tenant-facing paths: rows of another tenant's asset are then
        filtered out in SQL and the series is empty.
        """
        frame = self.read_frame(asset_id, start, end, enterprise_id=enterprise_id)
        return frame["power_mw"].rename("power_mw")

    def read_frame(
        self, asset_id: str, start: datetime, end: datetime, *, enterprise_id: str | None = None
    ) -> pd.DataFrame:
        """Power [MW], energy [MWh] and quality of ``asset_id`` in ``[start, end)``."""
        table = TELEMETRY
        query = (
            sa.select(table.c.ts, table.c.power_mw, table.c.energy_mwh, table.c.quality)
            .where(table.c.asset_id == asset_id, table.c.ts >= start, table.c.ts < end)
            .order_by(table.c.ts)
        )
        if enterprise_id is not None:
            assets = ASSETS
            query = query.join(assets, assets.c.id == table.c.asset_id).where(
                assets.c.enterprise_id == enterprise_id
            )
        rows = self.session.execute(query).all()
        index = pd.DatetimeIndex([r.ts for r in rows], name="ts").as_unit("us")
        index = index.tz_localize("UTC") if index.tz is None else index.tz_convert("UTC")
        return pd.DataFrame(
            {
                "power_mw": pd.Series([r.power_mw for r in rows], index=index, dtype="float64"),
                "energy_mwh": pd.Series([r.energy_mwh for r in rows], index=index, dtype="float64"),
                "quality": pd.Series([r.quality for r in rows], index=index, dtype="object"),
            },
            index=index,
        )

    def count(self, asset_id: str) -> int:
        """Number of stored points of one asset."""
        table = TELEMETRY
        query = sa.select(sa.func.count()).select_from(table).where(table.c.asset_id == asset_id)
        return int(self.session.execute(query).scalar_one())

    def _upsert_statement(self) -> Any:
        table = TELEMETRY
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            insert: Any = postgresql.insert(table)
        elif dialect == "sqlite":
            insert = sqlite.insert(table)
        else:
            raise InvalidInputError(f"telemetry upsert is not implemented for {dialect}")
        return insert.on_conflict_do_update(
            index_elements=["asset_id", "ts"],
            set_={name: insert.excluded[name] for name in COLUMNS},
        )

    def _require_assets(self, asset_ids: set[str]) -> None:
        table = ASSETS
        known = set(
            self.session.execute(sa.select(table.c.id).where(table.c.id.in_(asset_ids))).scalars()
        )
        if missing := sorted(asset_ids - known):
            raise NotFoundError(f"telemetry for unknown assets: {', '.join(missing)}")


def _batches(rows: list[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    for first in range(0, len(rows), size):
        yield rows[first : first + size]
