"""Issued forecasts and prepared bid problems of pipeline runs.

A forecast is stored whole with its issue time, model, flags and quantiles, so the operator sees
exactly what a bid was built on. A prepared bid problem (the optimiser's input and solution) is
stored serialised with :mod:`pickle`: it is written and read only by this service's own
pipeline, at the same version, to skip forecasting and solving again after a restart; a payload
that no longer loads (the service was upgraded in between) reads as missing, and the stage that
needs it says so instead of guessing.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session, col, select

from vpp.db.live_tables import IssuedForecastRow, PreparedBidsRow
from vpp.domain.forecast import Forecast

log = logging.getLogger(__name__)


def _quantiles_document(forecast: Forecast) -> dict[str, object]:
    frame = forecast.quantiles
    return {
        "levels": [float(c) for c in frame.columns],
        "index": [ts.isoformat() for ts in frame.index],
        "values": frame.to_numpy(dtype="float64").tolist(),
    }


def _forecast(row: IssuedForecastRow) -> Forecast:
    doc = row.quantiles
    index = pd.DatetimeIndex(pd.to_datetime(doc["index"], utc=True), name="ts")
    frame = pd.DataFrame(doc["values"], index=index, columns=[float(q) for q in doc["levels"]])
    issue = pd.Timestamp(row.issue_time)
    issue = issue.tz_localize("UTC") if issue.tzinfo is None else issue.tz_convert("UTC")
    return Forecast(row.target, issue, frame, row.model, tuple(row.flags))


class ForecastRepository:
    """The forecasts a run issued, by key (``price``, ``load:steel``, ``generation:pv-1`` ...)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, run_id: str, forecasts: Mapping[str, Forecast]) -> None:
        """Store (or replace) the run's forecasts."""
        self.session.execute(
            sa.delete(IssuedForecastRow).where(col(IssuedForecastRow.run_id) == run_id)
        )
        for key, forecast in forecasts.items():
            self.session.add(
                IssuedForecastRow(
                    run_id=run_id,
                    key=key,
                    target=forecast.target,
                    model=forecast.model,
                    issue_time=forecast.issue_time.to_pydatetime(),
                    flags=list(forecast.flags),
                    quantiles=_quantiles_document(forecast),
                )
            )
        self.session.flush()

    def load(self, run_id: str) -> dict[str, Forecast]:
        """The run's forecasts by key, in key order."""
        rows = self.session.exec(
            select(IssuedForecastRow)
            .where(col(IssuedForecastRow.run_id) == run_id)
            .order_by(col(IssuedForecastRow.key))
        ).all()
        return {row.key: _forecast(row) for row in rows}


class PreparedRepository:
    """The prepared bids of a run (forecasts, optimiser input and solution, bid set)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def save(self, run_id: str, prepared: object) -> None:
        """Store (or replace) the run's prepared bids."""
        row = self.session.get(PreparedBidsRow, run_id) or PreparedBidsRow(
            run_id=run_id, created_at=datetime.now(UTC), payload=b""
        )
        row.payload = pickle.dumps(prepared, protocol=pickle.HIGHEST_PROTOCOL)
        row.created_at = datetime.now(UTC)
        self.session.add(row)
        self.session.flush()

    def load(self, run_id: str) -> object | None:
        """The run's prepared bids, or ``None`` when none are stored (or they no longer load)."""
        row = self.session.get(PreparedBidsRow, run_id)
        if row is None:
            return None
        try:
            prepared: object = pickle.loads(row.payload)  # written by this service only
        except (pickle.UnpicklingError, AttributeError, ImportError, EOFError) as exc:
            log.warning(
                "prepared bids of %s do not load (%s); treating them as missing", run_id, exc
            )
            return None
        return prepared
