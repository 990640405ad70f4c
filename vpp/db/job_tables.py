"""Tables of the scheduled pipeline: runs and their stages, job runs, alerts, the dispatch outbox.

* ``pipeline_runs`` holds one row per park, market and delivery day; ``pipeline_stages`` one
  row per finished stage, so a restarted scheduler knows exactly where each day stands.
* ``job_runs`` records every attempt of every stage with its status and timings, for the API.
* ``dispatch_outbox`` keeps each asset's setpoints of a day until the device confirms them:
  rows are written in the same transaction that marks the dispatch stage started, and drained
  afterwards, so a crash between the two loses nothing.
* ``apscheduler_jobs`` has the exact shape APScheduler's SQLAlchemy job store expects; creating
  it here keeps every table under the migrations.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from vpp.db.tables import ID
from vpp.db.types import UtcDateTime

RUN_ID = 200
"""Length of a pipeline run id (``park:market:day``)."""


class PipelineRunRow(SQLModel, table=True):
    __tablename__ = "pipeline_runs"

    id: str = Field(primary_key=True, max_length=RUN_ID)
    park_id: str = Field(max_length=ID, index=True)
    market_id: str = Field(max_length=ID)
    delivery_day: date = Field(index=True)
    status: str = Field(max_length=32)
    receipt: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class PipelineStageRow(SQLModel, table=True):
    __tablename__ = "pipeline_stages"

    run_id: str = Field(
        primary_key=True, foreign_key="pipeline_runs.id", ondelete="CASCADE", max_length=RUN_ID
    )
    stage: str = Field(primary_key=True, max_length=16)
    finished_at: datetime = Field(sa_type=UtcDateTime)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class JobRunRow(SQLModel, table=True):
    __tablename__ = "job_runs"
    __table_args__ = (sa.Index("ix_job_runs_run_id_stage", "run_id", "stage"),)

    id: int | None = Field(default=None, primary_key=True)
    job: str = Field(max_length=64)
    run_id: str | None = Field(default=None, max_length=RUN_ID)
    stage: str | None = Field(default=None, max_length=16)
    status: str = Field(max_length=16)
    started_at: datetime = Field(sa_type=UtcDateTime, index=True)
    finished_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    duration_ms: float | None = None
    message: str = Field(default="", sa_type=sa.Text)


class AlertRow(SQLModel, table=True):
    __tablename__ = "alerts"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UtcDateTime, index=True)
    kind: str = Field(max_length=32)
    run_id: str | None = Field(default=None, max_length=RUN_ID)
    message: str = Field(sa_type=sa.Text)
    webhook_status: str | None = Field(default=None, max_length=64)


class OutboxRow(SQLModel, table=True):
    __tablename__ = "dispatch_outbox"
    __table_args__ = (
        sa.UniqueConstraint("run_id", "asset_id"),
        sa.Index("ix_dispatch_outbox_status_next", "status", "next_attempt_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=RUN_ID)
    asset_id: str = Field(max_length=ID)
    market_id: str = Field(max_length=ID)
    delivery_day: date
    setpoints: list[dict[str, Any]] = Field(sa_type=sa.JSON)
    status: str = Field(max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UtcDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UtcDateTime)
    updated_at: datetime = Field(sa_type=UtcDateTime)


class SchedulerJobRow(SQLModel, table=True):
    __tablename__ = "apscheduler_jobs"

    id: str = Field(primary_key=True, max_length=191)
    next_run_time: float | None = Field(default=None, index=True, sa_type=sa.Float(25))
    job_state: bytes = Field(sa_type=sa.LargeBinary)
