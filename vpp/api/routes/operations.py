"""Operations: the audit log for operators and Prometheus metrics for the platform."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime

from vpp.api.deps import EngineDep, require
from vpp.api.schemas.common import AuditEntryPublic, Limit, Page
from vpp.api.security import Principal
from vpp.db.engine import session_scope
from vpp.db.repositories import AuditRepository

router = APIRouter(tags=["operations"])
Text = Annotated[str | None, Query(max_length=200)]


@router.get("/v1/audit", summary="Query the audit log")
def audit_log(
    engine: EngineDep,
    _: Annotated[Principal, Depends(require("audit:read"))],
    entity: Text = None,
    entity_id: Text = None,
    actor: Text = None,
    request_id: Text = None,
    since: Annotated[AwareDatetime | None, Query()] = None,
    limit: Limit = 100,
    cursor: Annotated[int | None, Query(ge=0, le=2**62)] = None,
) -> Page[AuditEntryPublic]:
    """State-changing calls, oldest first: who, when, what, state before and after, and the
    ``X-Request-ID`` of the call (filter by it with ``request_id``)."""
    with session_scope(engine) as session:
        rows = AuditRepository(session).query(
            entity=entity,
            entity_id=entity_id,
            actor=actor,
            request_id=request_id,
            since=since,
            after_id=cursor,
            limit=limit + 1,
        )
    items = [AuditEntryPublic.model_validate(r, from_attributes=True) for r in rows[:limit]]
    more = len(rows) > limit
    return Page(items=items, next_cursor=str(items[-1].id) if more else None)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Request counts and latencies per route and status, telemetry points written."""
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
