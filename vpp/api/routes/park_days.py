"""A park's delivery day as the operator sees it, and advancing its pipeline.

What the operator approves must be visible first: the bid curves and the assets they were
built from, the forecasts behind them, the awards and the setpoints with each device's
confirmation. ``advance`` runs every stage of a day that is due at a given instant, exactly as a
scheduler tick would (replays, catch-up, tests); it holds the same lock as the scheduler, so the
two never run stages at the same time in one process.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel
from sqlmodel import col, select

from vpp.api.deps import JSON_BODY, EngineDep, park_access, require
from vpp.api.security import Principal
from vpp.db.engine import session_scope
from vpp.db.job_tables import OutboxRow, PipelineRunRow
from vpp.db.repositories import (
    AuditRepository,
    AwardRepository,
    BidRepository,
    DispatchRepository,
    ForecastRepository,
    ParkRepository,
)
from vpp.domain.errors import NotFoundError
from vpp.jobs.pipeline import ADVANCE_LOCK
from vpp.jobs.run_records import stages_done
from vpp.jobs.runtime import build_pipeline
from vpp.services.day_ahead_cycle import run_key

router = APIRouter(prefix="/v1/parks/{park_id}", tags=["pipeline"])
Reader = Annotated[Principal, Depends(require("pipeline:read"))]
Operator = Annotated[Principal, Depends(require("bids:approve"))]


class AdvanceRequest(BaseModel):
    """Which delivery day to advance, and the instant to act at."""

    day: date
    at: AwareDatetime


class StageOutcomePublic(BaseModel):
    """One stage attempt of an advance."""

    stage: str
    status: str
    message: str


class AdvanceResult(BaseModel):
    """What an advance ran, and where the day's run stands now."""

    run_id: str
    status: str
    outcomes: list[StageOutcomePublic]


def _run(engine: Any, park_id: str, day: date) -> tuple[str, PipelineRunRow]:
    with session_scope(engine) as session:
        market_id = ParkRepository(session).get(park_id).market_id
        run_id = run_key(park_id, market_id, day)
        run = session.get(PipelineRunRow, run_id)
        if run is None:
            raise NotFoundError(
                f"park {park_id} has no pipeline run for {day}",
                hint="advance the pipeline to the day's forecast time first",
            )
        session.expunge(run)
    return run_id, run


@router.post(
    "/pipeline/advance",
    summary="Run the stages of a delivery day that are due at an instant",
    dependencies=[JSON_BODY],
)
def advance(
    park_id: str, body: AdvanceRequest, request: Request, engine: EngineDep, operator: Operator
) -> AdvanceResult:
    """Run every stage of ``day`` due at ``at`` (as the scheduler would), then report."""
    park_access(operator, park_id)
    settings = request.app.state.settings
    pipeline = build_pipeline(settings, engine, park_id)
    with ADVANCE_LOCK:
        outcomes = pipeline.advance(body.day, pd.Timestamp(body.at))
    run_id = pipeline.run_id(body.day)
    with session_scope(engine) as session:
        run = session.get(PipelineRunRow, run_id)
        status = run.status if run is not None else "not started"
        AuditRepository(session).record(
            operator.actor,
            "pipeline.advance",
            "pipeline_run",
            run_id,
            after={
                "at": body.at.isoformat(),
                "outcomes": [f"{o.stage}: {o.status}" for o in outcomes],
            },
        )
    return AdvanceResult(
        run_id=run_id,
        status=status,
        outcomes=[
            StageOutcomePublic(stage=o.stage, status=o.status, message=o.message) for o in outcomes
        ],
    )


@router.get("/days/{day}/bids", summary="The bids of a delivery day")
def bids(park_id: str, day: date, engine: EngineDep, reader: Reader) -> dict[str, Any]:
    """Status, the assets bid, and per product the curves (interval start, side, steps)."""
    park_access(reader, park_id)
    run_id, run = _run(engine, park_id, day)
    with session_scope(engine) as session:
        done = stages_done(session, run_id)
        if "bid" not in done:
            raise NotFoundError(f"{run_id} has no bids yet", hint=f"the run is {run.status}")
        bid_set = BidRepository(session).get(run_id)
    products: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for curve in bid_set.curves:
        products[curve.product_id].append(
            {
                "interval_start": curve.interval_start.isoformat(),
                "side": curve.side,
                "steps": [{"price": s.price, "quantity_mw": s.quantity_mw} for s in curve.segments],
            }
        )
    return {
        "run_id": run_id,
        "status": bid_set.status,
        "offered_mwh": done["bid"].get("offered_mwh"),
        "assets": done["bid"].get("assets", []),
        "excluded": done["bid"].get("excluded", {}),
        "products": dict(products),
    }


@router.get("/days/{day}/forecasts", summary="The forecasts a delivery day was bid on")
def forecasts(park_id: str, day: date, engine: EngineDep, reader: Reader) -> dict[str, Any]:
    """Each issued forecast: target, model, issue time, flags, quantiles per interval."""
    park_access(reader, park_id)
    run_id, run = _run(engine, park_id, day)
    with session_scope(engine) as session:
        stored = ForecastRepository(session).load(run_id)
    if not stored:
        raise NotFoundError(f"{run_id} has no forecasts yet", hint=f"the run is {run.status}")
    return {
        "run_id": run_id,
        "status": run.status,
        "issue_time": next(iter(stored.values())).issue_time.isoformat(),
        "forecasts": {
            key: {
                "target": f.target,
                "model": f.model,
                "issue_time": f.issue_time.isoformat(),
                "flags": list(f.flags),
                "intervals": [
                    {
                        "interval_start": ts.isoformat(),
                        "quantiles": {str(q): float(v) for q, v in row.items()},
                    }
                    for ts, row in f.quantiles.iterrows()
                ],
            }
            for key, f in stored.items()
        },
    }


@router.get("/days/{day}/awards", summary="The awards of a delivery day")
def awards(park_id: str, day: date, engine: EngineDep, reader: Reader) -> dict[str, Any]:
    """Per product: interval start, side, awarded MW and clearing price."""
    park_access(reader, park_id)
    run_id, run = _run(engine, park_id, day)
    with session_scope(engine) as session:
        if "awards" not in stages_done(session, run_id):
            raise NotFoundError(f"{run_id} has no awards yet", hint=f"the run is {run.status}")
        found = AwardRepository(session).list_for_bid_set(run_id)
    products: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for award in found:
        products[award.product_id].append(
            {
                "interval_start": award.interval_start.isoformat(),
                "side": award.side,
                "quantity_mw": award.quantity_mw,
                "price": award.price,
            }
        )
    return {"run_id": run_id, "status": run.status, "products": dict(products)}


@router.get("/days/{day}/setpoints", summary="The setpoints of a delivery day")
def setpoints(park_id: str, day: date, engine: EngineDep, reader: Reader) -> dict[str, Any]:
    """Per asset: its setpoints and whether its device confirmed them."""
    park_access(reader, park_id)
    run_id, run = _run(engine, park_id, day)
    with session_scope(engine) as session:
        done = stages_done(session, run_id)
        if "dispatch" not in done:
            raise NotFoundError(f"{run_id} has no setpoints yet", hint=f"the run is {run.status}")
        mine = set(done["dispatch"].get("asset_ids") or [])
        plan = DispatchRepository(session).get(run.market_id, day)
        outbox = {
            o.asset_id: o
            for o in session.exec(select(OutboxRow).where(col(OutboxRow.run_id) == run_id))
        }
    assets: dict[str, dict[str, Any]] = {}
    for point in plan.setpoints:
        if point.asset_id not in outbox and point.asset_id not in mine:
            continue  # another park's asset in the same market
        entry = assets.setdefault(
            point.asset_id,
            {
                "confirmation": outbox[point.asset_id].status if point.asset_id in outbox else None,
                "attempts": outbox[point.asset_id].attempts if point.asset_id in outbox else 0,
                "last_error": outbox[point.asset_id].last_error
                if point.asset_id in outbox
                else None,
                "setpoints": [],
            },
        )
        entry["setpoints"].append(
            {
                "interval_start": point.interval_start.isoformat(),
                "power_mw": point.power_mw,
                "reserve_up_mw": point.reserve_up_mw,
                "reserve_down_mw": point.reserve_down_mw,
            }
        )
    return {"run_id": run_id, "status": run.status, "assets": assets}
