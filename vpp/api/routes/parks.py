"""Parks and enterprises: operators register a park with its tenants; tenants read their own.

A key limited to parks reads and writes only those (any other park answers 404).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends

from vpp.api.deps import JSON_BODY, EngineDep, TenantRead, park_access, require
from vpp.api.security import Principal
from vpp.db.engine import session_scope
from vpp.db.repositories import AuditRepository, ParkRepository
from vpp.domain.errors import InvalidInputError, NotFoundError
from vpp.domain.park import Enterprise, Park

router = APIRouter(tags=["parks"])
PARK_EXAMPLE = {
    "id": "suzhou-1",
    "name": "Suzhou Zero-Carbon Park",
    "market_id": "cn-shandong",
    "import_limit_mw": 40.0,
    "export_limit_mw": 15.0,
    "enterprises": [
        {"id": "ent-a", "name": "Alpha Steel", "sites": [{"id": "a-main", "name": "Main works"}]},
        {"id": "ent-b", "name": "Beta Logistics"},
    ],
}


@router.put(
    "/v1/parks/{park_id}",
    summary="Register or update a park with its enterprises",
    dependencies=[JSON_BODY],
)
def put_park(
    park_id: str,
    park: Annotated[Park, Body(openapi_examples={"park": {"value": PARK_EXAMPLE}})],
    engine: EngineDep,
    operator: Annotated[Principal, Depends(require("parks:write"))],
) -> Park:
    """Insert or replace the park, its enterprises and their sites."""
    park_access(operator, park_id)
    if park.id != park_id:
        raise InvalidInputError(f"body id {park.id} differs from path id {park_id}")
    with session_scope(engine) as session:
        parks = ParkRepository(session)
        before = parks.get(park_id) if park_id in parks.list_ids() else None
        parks.save(park)
        saved = parks.get(park_id)
        AuditRepository(session).record(
            operator.actor, "park.put", "park", park_id, before=before, after=saved
        )
    return saved


@router.delete("/v1/parks/{park_id}", status_code=204, summary="Remove an empty park")
def delete_park(
    park_id: str,
    engine: EngineDep,
    operator: Annotated[Principal, Depends(require("parks:write"))],
) -> None:
    """Remove a park with nothing enrolled (409 otherwise); its scheduled jobs go with it on
    the scheduler's next tick."""
    park_access(operator, park_id)
    with session_scope(engine) as session:
        parks = ParkRepository(session)
        before = parks.get(park_id)
        parks.delete(park_id)
        AuditRepository(session).record(
            operator.actor, "park.delete", "park", park_id, before=before
        )


@router.get("/v1/parks/{park_id}", summary="One park")
def get_park(
    park_id: str,
    engine: EngineDep,
    caller: Annotated[Principal, Depends(require("parks:read"))],
) -> Park:
    """The park with its enterprises and sites."""
    park_access(caller, park_id)
    with session_scope(engine) as session:
        return ParkRepository(session).get(park_id)


@router.get("/v1/enterprises/{enterprise_id}", summary="One enterprise")
def get_enterprise(call: TenantRead, engine: EngineDep) -> Enterprise:
    """The enterprise with its sites (tenants see only their own)."""
    with session_scope(engine) as session:
        try:
            return ParkRepository(session).get_enterprise(call.enterprise_id)
        except NotFoundError:
            raise NotFoundError(f"enterprise {call.enterprise_id} not found") from None
