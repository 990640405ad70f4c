"""The records of a pipeline run: finished stages, operator approvals (audited).

Each stage of a run is recorded in the same transaction as its effects
(:func:`finish_stage`); :func:`stages_done` reads them back, which is how a restarted service
knows where a day stands. :func:`approve_run` is the operator's approval, from the API and the
CLI alike, at the pipeline's instant and before the gate closes.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from vpp.db.engine import session_scope
from vpp.db.job_tables import JobRunRow, PipelineRunRow, PipelineStageRow
from vpp.db.repositories import AuditRepository, BidRepository
from vpp.domain.errors import ConflictError, GateClosedError, InvalidInputError, NotFoundError
from vpp.domain.pipeline import Stage

JOB = "day-ahead"
"""The job name of every stage attempt in ``job_runs``."""


def approve_run(
    engine: Engine,
    run_id: str,
    actor: str,
    gate_closure: pd.Timestamp,
    now: datetime | pd.Timestamp,
    request_id: str | None = None,
    reason: str | None = None,
) -> None:
    """Record (and audit) an operator's approval of run ``run_id``'s bid set at the pipeline's
    instant ``now``, before ``gate_closure`` (with the operator's ``reason``, if given)."""
    stamp = pd.Timestamp(now).tz_convert("UTC").floor("us")
    with session_scope(engine) as session:
        run = session.get(PipelineRunRow, run_id)
        if run is None:
            raise NotFoundError(f"pipeline run {run_id} not found")
        done = stages_done(session, run_id)
        if "bid" not in done:
            raise ConflictError(f"run {run_id} has no bid set yet", hint="wait for the bid stage")
        if "approve" in done or run.status == "missed":
            raise ConflictError(f"run {run_id} is {run.status}; there is nothing to approve")
        _before_gate(run, stamp, gate_closure, "approval")
        BidRepository(session).set_status(run_id, "approved", at=stamp.to_pydatetime())
        detail = {"by": actor, "operator": True, "offered_mwh": done["bid"]["offered_mwh"]}
        if reason:
            detail["reason"] = reason
        finish_stage(session, run_id, "approve", stamp, detail)
        _operator_attempt(
            session,
            run_id,
            stamp,
            "succeeded",
            f"approved by {actor}" + (f": {reason}" if reason else ""),
        )
        AuditRepository(session).record(
            actor,
            "bids.approve",
            "pipeline_run",
            run_id,
            before={"status": "review"},
            after={"status": "approve", "at": stamp.isoformat(), "reason": reason},
            at=datetime.now(UTC),
            request_id=request_id,
        )


def reject_run(
    engine: Engine,
    run_id: str,
    actor: str,
    reason: str,
    gate_closure: pd.Timestamp,
    now: datetime | pd.Timestamp,
    request_id: str | None = None,
) -> None:
    """Send run ``run_id``'s bid set in review back to bidding, with the operator's reason.

    The bid set returns to draft and the bid stage is undone, so the next advance (the
    scheduler's tick) builds the bids again from what is stored then: fix the asset, outage or
    data the reason names, and the day is bid again before its gate. Audited.
    """
    if not reason.strip():
        raise InvalidInputError(
            "a rejection needs a reason", hint="say what is wrong with the bids"
        )
    stamp = pd.Timestamp(now).tz_convert("UTC").floor("us")
    with session_scope(engine) as session:
        run = session.get(PipelineRunRow, run_id)
        if run is None:
            raise NotFoundError(f"pipeline run {run_id} not found")
        done = stages_done(session, run_id)
        if "bid" not in done or "approve" in done or run.status == "missed":
            raise ConflictError(f"run {run_id} is {run.status}; there is no bid set in review")
        _before_gate(run, stamp, gate_closure, "rejection")
        BidRepository(session).set_status(run_id, "draft", at=stamp.to_pydatetime())
        session.execute(
            sa.delete(PipelineStageRow).where(
                col(PipelineStageRow.run_id) == run_id, col(PipelineStageRow.stage) == "bid"
            )
        )
        run.status, run.updated_at = "forecast", stamp.to_pydatetime()
        session.add(run)
        _operator_attempt(session, run_id, stamp, "rejected", f"rejected by {actor}: {reason}")
        AuditRepository(session).record(
            actor,
            "bids.reject",
            "pipeline_run",
            run_id,
            before={"status": "review", "offered_mwh": done["bid"].get("offered_mwh")},
            after={"status": "draft", "at": stamp.isoformat(), "reason": reason},
            at=datetime.now(UTC),
            request_id=request_id,
        )


def _before_gate(
    run: PipelineRunRow, stamp: pd.Timestamp, gate_closure: pd.Timestamp, what: str
) -> None:
    if stamp >= gate_closure:
        raise GateClosedError(
            f"the gate for {run.delivery_day} closed at {gate_closure.isoformat()}; "
            f"{what} is too late"
        )


def _operator_attempt(
    session: Session, run_id: str, stamp: pd.Timestamp, status: str, message: str
) -> None:
    """The operator's decision on a run, as an instant attempt of its approve stage."""
    at = stamp.to_pydatetime()
    session.add(
        JobRunRow(
            job=JOB,
            run_id=run_id,
            stage="approve",
            status=status,
            started_at=at,
            finished_at=at,
            duration_ms=0.0,
            message=message,
        )
    )


def finish_stage(
    session: Session, run_id: str, stage: Stage, at: pd.Timestamp, detail: dict[str, Any]
) -> None:
    """Record ``stage`` of ``run_id`` as done at ``at``, in the caller's transaction."""
    session.add(
        PipelineStageRow(run_id=run_id, stage=stage, finished_at=at.to_pydatetime(), detail=detail)
    )
    run = session.get(PipelineRunRow, run_id)
    assert run is not None
    run.status, run.updated_at = stage, at.to_pydatetime()
    session.add(run)


def stages_done(session: Session, run_id: str) -> dict[str, dict[str, Any]]:
    """The finished stages of ``run_id`` and their details."""
    rows = session.exec(
        select(PipelineStageRow).where(col(PipelineStageRow.run_id) == run_id)
    ).all()
    return {row.stage: row.detail for row in rows}
