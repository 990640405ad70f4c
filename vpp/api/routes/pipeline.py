"""The day-ahead pipeline for operators: runs and their stages, job runs, alerts, approval.

Every scheduled stage attempt is a job run with its status and timings; an operator approves a
bid set that the auto-approval policy left waiting, until the gate closes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, Field
from sqlmodel import col, select

from vpp.api.deps import JSON_BODY, EngineDep, require
from vpp.api.schemas.common import Limit, Page
from vpp.api.security import Principal
from vpp.db.engine import session_scope
from vpp.db.job_tables import AlertRow, JobRunRow, OutboxRow, PipelineRunRow, PipelineStageRow
from vpp.domain.errors import NotFoundError
from vpp.domain.market import load_market_profile
from vpp.domain.pipeline import STAGES, load_pipeline_policy, pipeline_times
from vpp.jobs.run_records import approve_run, reject_run
from vpp.jobs.scheduler import pipeline_clock

router = APIRouter(tags=["pipeline"])
Reader = Annotated[Principal, Depends(require("pipeline:read"))]
Text = Annotated[str | None, Query(max_length=200)]


class StagePublic(BaseModel):
    """A finished stage and what it recorded."""

    stage: str
    finished_at: datetime
    detail: dict[str, Any]


class OutboxPublic(BaseModel):
    """One asset's setpoints of the day on their way to the device."""

    asset_id: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None


class PipelineRunPublic(BaseModel):
    """One park's day-ahead run for one delivery day."""

    id: str
    park_id: str
    market_id: str
    delivery_day: date
    status: str
    receipt: str | None
    next_stage: str | None
    stages: list[StagePublic]
    outbox: list[OutboxPublic]
    updated_at: datetime


class JobRunPublic(BaseModel):
    """One attempt of one stage: status, timings, message."""

    id: int
    job: str
    run_id: str | None
    stage: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None
    message: str


class AlertPublic(BaseModel):
    """A raised alert and whether its webhook got through."""

    id: int
    at: datetime
    kind: str
    run_id: str | None
    message: str
    webhook_status: str | None


def _run(engine: Any, run_id: str) -> PipelineRunPublic:
    with session_scope(engine) as session:
        run = session.get(PipelineRunRow, run_id)
        if run is None:
            raise NotFoundError(f"pipeline run {run_id} not found")
        stages = session.exec(
            select(PipelineStageRow).where(col(PipelineStageRow.run_id) == run_id)
        ).all()
        outbox = session.exec(
            select(OutboxRow)
            .where(col(OutboxRow.run_id) == run_id)
            .order_by(col(OutboxRow.asset_id))
        ).all()
    done = {s.stage for s in stages}
    ordered = sorted(stages, key=lambda s: STAGES.index(s.stage))
    return PipelineRunPublic(
        id=run.id,
        park_id=run.park_id,
        market_id=run.market_id,
        delivery_day=run.delivery_day,
        status=run.status,
        receipt=run.receipt,
        next_stage=next((s for s in STAGES if s not in done), None),
        stages=[StagePublic.model_validate(s, from_attributes=True) for s in ordered],
        outbox=[OutboxPublic.model_validate(o, from_attributes=True) for o in outbox],
        updated_at=run.updated_at,
    )


@router.get("/v1/pipeline/runs", summary="Day-ahead pipeline runs")
def list_runs(
    engine: EngineDep,
    _: Reader,
    park_id: Text = None,
    delivery_day: Annotated[date | None, Query()] = None,
    limit: Limit = 50,
) -> list[PipelineRunPublic]:
    """Runs, newest delivery day first, with their stages and outbox."""
    query = select(PipelineRunRow.id).order_by(col(PipelineRunRow.delivery_day).desc()).limit(limit)
    if park_id is not None:
        query = query.where(col(PipelineRunRow.park_id) == park_id)
    if delivery_day is not None:
        query = query.where(col(PipelineRunRow.delivery_day) == delivery_day)
    with session_scope(engine) as session:
        ids = session.exec(query).all()
    return [_run(engine, run_id) for run_id in ids]


@router.get("/v1/pipeline/runs/{run_id}", summary="One pipeline run")
def get_run(run_id: str, engine: EngineDep, _: Reader) -> PipelineRunPublic:
    """A run with its stages and each asset's dispatch state."""
    return _run(engine, run_id)


@router.post("/v1/pipeline/runs/{run_id}/approve", summary="Approve a run's bid set")
def approve(
    run_id: str,
    request: Request,
    engine: EngineDep,
    operator: Annotated[Principal, Depends(require("bids:approve"))],
    at: Annotated[
        AwareDatetime | None,
        Query(
            description="The instant of approval (replays driven by advance); default: the "
            "pipeline's clock."
        ),
    ] = None,
    reason: Annotated[str | None, Query(max_length=500, description="Why (audited).")] = None,
) -> PipelineRunPublic:
    """Approve the bid set waiting in review; refused once the gate has closed (409).

    The instant is the pipeline's clock: the replayed one when this process replays, else now.
    """
    before = _run(engine, run_id)
    now = pd.Timestamp(at) if at is not None else pipeline_clock().now()
    approve_run(engine, run_id, operator.actor, gate_closure(request, before), now, reason=reason)
    return _run(engine, run_id)


class RejectRequest(BaseModel):
    """Why the operator sends a bid set back."""

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    at: AwareDatetime | None = None
    """The instant of rejection (replays); default: the pipeline's clock."""


@router.post(
    "/v1/pipeline/runs/{run_id}/reject",
    summary="Send a run's bid set back to bidding",
    dependencies=[JSON_BODY],
)
def reject(
    run_id: str,
    body: RejectRequest,
    request: Request,
    engine: EngineDep,
    operator: Annotated[Principal, Depends(require("bids:approve"))],
) -> PipelineRunPublic:
    """Reject the bid set in review with a reason (audited); the next advance bids again.

    Refused once the gate has closed (409) or when no bid set waits in review (409).
    """
    before = _run(engine, run_id)
    now = pd.Timestamp(body.at) if body.at is not None else pipeline_clock().now()
    reject_run(engine, run_id, operator.actor, body.reason, gate_closure(request, before), now)
    return _run(engine, run_id)


def gate_closure(request: Request, run: PipelineRunPublic) -> pd.Timestamp:
    """The gate closure of ``run``'s delivery day in its market."""
    config_dir = request.app.state.settings.config_dir
    profile = load_market_profile(run.market_id, config_dir)
    policy = load_pipeline_policy(run.market_id, config_dir)
    return pipeline_times(profile, policy, run.delivery_day).gate_closure


@router.get("/v1/jobs/runs", summary="Job runs")
def job_runs(
    engine: EngineDep,
    _: Reader,
    run_id: Text = None,
    stage: Text = None,
    status: Text = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Limit = 100,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Page[JobRunPublic]:
    """Every stage attempt, oldest first: status, start, end, duration, message."""
    query = select(JobRunRow).order_by(col(JobRunRow.id)).limit(limit + 1)
    if cursor is not None:
        query = query.where(col(JobRunRow.id) > cursor)
    for column, value in (
        (JobRunRow.run_id, run_id),
        (JobRunRow.stage, stage),
        (JobRunRow.status, status),
    ):
        if value is not None:
            query = query.where(col(column) == value)
    if since is not None:
        query = query.where(col(JobRunRow.started_at) >= since)
    with session_scope(engine) as session:
        rows = session.exec(query).all()
    items = [JobRunPublic.model_validate(r, from_attributes=True) for r in rows[:limit]]
    return Page(items=items, next_cursor=str(items[-1].id) if len(rows) > limit else None)


@router.get("/v1/alerts", summary="Alerts")
def alerts(
    engine: EngineDep,
    _: Reader,
    kind: Text = None,
    run_id: Text = None,
    limit: Limit = 100,
) -> list[AlertPublic]:
    """Alerts, newest first: deadline risk, missed gates, devices that stayed silent."""
    query = select(AlertRow).order_by(col(AlertRow.id).desc()).limit(limit)
    if kind is not None:
        query = query.where(col(AlertRow.kind) == kind)
    if run_id is not None:
        query = query.where(col(AlertRow.run_id) == run_id)
    with session_scope(engine) as session:
        rows = session.exec(query).all()
    return [AlertPublic.model_validate(r, from_attributes=True) for r in rows]
