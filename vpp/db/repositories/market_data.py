"""Stored market series and weather forecasts: long rows to and from UTC-indexed frames.

Market series are upserts keyed by ``(market, series, ts)``. Weather forecasts keep every issue:
:meth:`WeatherRepository.read` answers, for each instant, the value of the latest issue made at
or before ``as_of``, so a forecast for day D sees the weather forecast that existed when it was
issued and nothing later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.live_tables import MarketSeriesRow, WeatherForecastRow
from vpp.db.repositories.metering import _upsert, _utc
from vpp.domain.errors import InvalidInputError

MARKET_SERIES: sa.Table = MarketSeriesRow.__table__  # type: ignore[attr-defined]
WEATHER: sa.Table = WeatherForecastRow.__table__  # type: ignore[attr-defined]


def _long_rows(frame: pd.DataFrame, what: str) -> list[tuple[str, datetime, float]]:
    """``(column, ts, value)`` of every non-missing cell; refuses naive or non-finite values."""
    if not isinstance(frame.index, pd.DatetimeIndex) or frame.index.tz is None:
        raise InvalidInputError(f"{what} needs a tz-aware DatetimeIndex", hint="index in UTC")
    frame = frame[~frame.index.duplicated(keep="last")]  # an upsert batch holds each key once
    rows: list[tuple[str, datetime, float]] = []
    stamps = [_utc(ts) for ts in frame.index]
    for column in frame.columns:
        values = frame[column].to_numpy(dtype="float64")
        bad = np.isinf(values)
        if bad.any():
            raise InvalidInputError(f"{what} {column} @ {frame.index[bad][0]}: value is infinite")
        rows.extend(
            (str(column), ts, float(v)) for ts, v in zip(stamps, values, strict=True) if v == v
        )
    return rows


def _wide(rows: Sequence[Any], columns: Sequence[str] = ()) -> pd.DataFrame:
    """A UTC-indexed frame from ``(series, ts, value)`` rows."""
    if not rows:
        return pd.DataFrame(
            columns=list(columns), index=pd.DatetimeIndex([], tz="UTC", name="ts"), dtype="float64"
        )
    long = pd.DataFrame(rows, columns=["series", "ts", "value"])
    stamps = pd.DatetimeIndex(long["ts"]).as_unit("us")
    long["ts"] = stamps.tz_localize("UTC") if stamps.tz is None else stamps.tz_convert("UTC")
    wide = long.pivot_table(index="ts", columns="series", values="value", aggfunc="last")
    wide.columns.name = None
    return wide.sort_index()


class MarketSeriesRepository:
    """Market prices (and any other market series) by canonical series name."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(self, market_id: str, frame: pd.DataFrame) -> int:
        """Write every non-missing value of ``frame`` (columns = series names); return the count."""
        rows = [
            {"market_id": market_id, "series": series, "ts": ts, "value": value}
            for series, ts, value in _long_rows(frame, f"market series of {market_id}")
        ]
        rows.sort(key=lambda r: (r["series"], r["ts"]))
        return _upsert(self.session, MARKET_SERIES, ["market_id", "series", "ts"], rows)

    def read(
        self,
        market_id: str,
        start: datetime | pd.Timestamp,
        end: datetime | pd.Timestamp,
        series: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Values on ``[start, end)``, one column per series (only ``series`` when given)."""
        query = (
            select(MarketSeriesRow.series, MarketSeriesRow.ts, MarketSeriesRow.value)
            .where(
                col(MarketSeriesRow.market_id) == market_id,
                col(MarketSeriesRow.ts) >= _utc(start),
                col(MarketSeriesRow.ts) < _utc(end),
            )
            .order_by(col(MarketSeriesRow.ts))
        )
        if series is not None:
            query = query.where(col(MarketSeriesRow.series).in_(list(series)))
        return _wide(self.session.exec(query).all(), series or ())

    def names(self, market_id: str) -> list[str]:
        """The series stored for ``market_id``."""
        query = (
            select(MarketSeriesRow.series)
            .where(col(MarketSeriesRow.market_id) == market_id)
            .distinct()
        )
        return sorted(self.session.exec(query).all())


class WeatherRepository:
    """Weather forecasts per park site, every issue kept."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def upsert(
        self, park_id: str, site_id: str, issued_at: datetime | pd.Timestamp, frame: pd.DataFrame
    ) -> int:
        """Store one issue of a forecast (columns = variables); return the values written."""
        issued = _utc(issued_at)
        rows = [
            {
                "park_id": park_id,
                "site_id": site_id,
                "variable": variable,
                "issued_at": issued,
                "ts": ts,
                "value": value,
            }
            for variable, ts, value in _long_rows(frame, f"weather of {park_id}/{site_id}")
        ]
        keys = ["park_id", "site_id", "variable", "issued_at", "ts"]
        return _upsert(self.session, WEATHER, keys, rows)

    def upsert_issues(self, park_id: str, site_id: str, frame: pd.DataFrame) -> int:
        """Store many issues at once: ``frame`` has an ``issued_at`` column beside the variables."""
        written = 0
        for issued_at, part in frame.groupby("issued_at", sort=True):
            written += self.upsert(park_id, site_id, issued_at, part.drop(columns="issued_at"))
        return written

    def read(
        self,
        park_id: str,
        start: datetime | pd.Timestamp,
        end: datetime | pd.Timestamp,
        as_of: datetime | pd.Timestamp,
        site_id: str | None = None,
    ) -> pd.DataFrame:
        """Per instant in ``[start, end)`` and variable, the latest issue made by ``as_of``."""
        query = (
            select(
                WeatherForecastRow.variable,
                WeatherForecastRow.ts,
                WeatherForecastRow.value,
                WeatherForecastRow.issued_at,
            )
            .where(
                col(WeatherForecastRow.park_id) == park_id,
                col(WeatherForecastRow.ts) >= _utc(start),
                col(WeatherForecastRow.ts) < _utc(end),
                col(WeatherForecastRow.issued_at) <= _utc(as_of),
            )
            .order_by(col(WeatherForecastRow.issued_at))
        )
        if site_id is not None:
            query = query.where(col(WeatherForecastRow.site_id) == site_id)
        rows = [(r[0], r[1], r[2]) for r in self.session.exec(query).all()]
        return _wide(rows)  # issues ascend, so "last" keeps the latest known one
